package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"sundial/engine/query"
	"sundial/engine/store"
	"sundial/engine/store/internal/objquery"
)

var _ store.Objects = (*Store)(nil)

// CreateObjects inserts the objects in one write transaction.
func (s *Store) CreateObjects(ctx context.Context, p store.CreateObjectsParams) ([]store.CreateObjectResult, error) {
	if err := objquery.CheckType(p.Type); err != nil {
		return nil, err
	}
	docs, ids, err := objquery.NewDocs(p)
	if err != nil {
		return nil, err
	}
	var out []store.CreateObjectResult
	err = s.write(ctx, func(tx *sql.Tx) error {
		out = make([]store.CreateObjectResult, len(docs))
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO managed_objects (type, id, rev, doc) VALUES (?, ?, 1, jsonb(?))
			ON CONFLICT (type, id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, doc := range docs {
			res, err := stmt.ExecContext(ctx, p.Type, ids[i], string(doc))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				out[i].Err = objquery.ErrExists(p.Type, ids[i])
				continue
			}
			out[i].Object, err = objquery.Decode(p.Type, objquery.Row{ID: ids[i], Rev: 1, Doc: doc})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create managed/%s objects: %w", p.Type, err)
	}
	return out, nil
}

// ReadObject reads one object.
func (s *Store) ReadObject(ctx context.Context, p store.ReadObjectParams) (store.Object, error) {
	st, _ := s.readerStmts.get(ctx, sqlReadObject)
	r, err := readObject(ctx, st, p.Type, p.ID)
	if err != nil {
		return store.Object{}, err
	}
	return objquery.Decode(p.Type, r)
}

// readObjectsChunk is how many ids one statement of ReadObjects asks for.
const readObjectsChunk = 500

// ReadObjects reads the objects among p.IDs that exist, a chunk of ids
// per statement.
func (s *Store) ReadObjects(ctx context.Context, p store.ReadObjectsParams) ([]store.Object, error) {
	found := make(map[string]objquery.Row, len(p.IDs))
	for start := 0; start < len(p.IDs); start += readObjectsChunk {
		chunk := p.IDs[start:min(start+readObjectsChunk, len(p.IDs))]
		args, in := inList([]any{p.Type}, chunk)
		if err := s.scanRows(ctx, "SELECT id, rev, json(doc) FROM managed_objects WHERE type = ? AND id IN "+in, args, found); err != nil {
			return nil, fmt.Errorf("read managed/%s objects: %w", p.Type, err)
		}
	}
	return objquery.DecodeFound(p.Type, p.IDs, found)
}

// scanRows adds the (id, rev, doc) rows of q to found.
func (s *Store) scanRows(ctx context.Context, q string, args []any, found map[string]objquery.Row) error {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r objquery.Row
		var doc string
		if err := rows.Scan(&r.ID, &r.Rev, &doc); err != nil {
			return err
		}
		r.Doc = []byte(doc)
		found[r.ID] = r
	}
	return rows.Err()
}

// readObject reads an object with st, sqlReadObject prepared.
func readObject(ctx context.Context, st *sql.Stmt, typ, id string) (objquery.Row, error) {
	rows, err := st.QueryContext(ctx, typ, id)
	if err != nil {
		return objquery.Row{}, fmt.Errorf("read managed/%s/%s: %w", typ, id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return objquery.Row{}, fmt.Errorf("read managed/%s/%s: %w", typ, id, err)
		}
		return objquery.Row{}, objquery.ErrMissing(typ, id)
	}
	r := objquery.Row{ID: id}
	var doc string
	if err := rows.Scan(&r.Rev, &doc); err != nil {
		return r, fmt.Errorf("read managed/%s/%s: %w", typ, id, err)
	}
	r.Doc = []byte(doc)
	return r, nil
}

// UpdateObject replaces an object's content.
func (s *Store) UpdateObject(ctx context.Context, p store.UpdateObjectParams) (store.Object, error) {
	return s.ModifyObject(ctx, store.ModifyObjectParams{Type: p.Type, ID: p.ID, IfRev: p.IfRev,
		Modify: func(map[string]any) (map[string]any, error) { return p.Content, nil }})
}

// ModifyObject reads, changes and writes an object in one write
// transaction.
func (s *Store) ModifyObject(ctx context.Context, p store.ModifyObjectParams) (store.Object, error) {
	var out store.Object
	err := s.write(ctx, func(tx *sql.Tx) error {
		var itemErr, err error
		out, itemErr, err = s.modifyObject(ctx, tx, p)
		if err != nil {
			return err
		}
		return itemErr
	})
	return out, err
}

// ModifyObjects changes the objects in one write transaction.
func (s *Store) ModifyObjects(ctx context.Context, p store.ModifyObjectsParams) ([]store.ModifyObjectResult, error) {
	var out []store.ModifyObjectResult
	err := s.write(ctx, func(tx *sql.Tx) error {
		out = make([]store.ModifyObjectResult, len(p.Items))
		for _, i := range objquery.LockOrder(p.Items) {
			it := p.Items[i]
			var err error
			out[i].Object, out[i].Err, err = s.modifyObject(ctx, tx, store.ModifyObjectParams{Type: p.Type, ID: it.ID, IfRev: it.IfRev, Modify: it.Modify})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("modify managed/%s objects: %w", p.Type, err)
	}
	return out, nil
}

// modifyObject reads, changes and writes one object in tx: itemErr is the
// object's own failure (missing, a revision conflict, Modify's error), and
// nothing of it is written; err is the transaction's.
func (s *Store) modifyObject(ctx context.Context, tx *sql.Tx, p store.ModifyObjectParams) (out store.Object, itemErr, err error) {
	r, err := readObject(ctx, s.writerStmts.in(ctx, tx, sqlReadObject), p.Type, p.ID)
	if errors.Is(err, store.ErrNotFound) {
		return out, err, nil
	}
	if err != nil {
		return out, nil, err
	}
	next, err := objquery.Modify(p, r)
	if err != nil {
		return out, err, nil
	}
	if _, err := s.writerStmts.in(ctx, tx, sqlUpdateObject).ExecContext(ctx, next.Rev, string(next.Doc), p.Type, p.ID); err != nil {
		return out, nil, fmt.Errorf("update managed/%s/%s: %w", p.Type, p.ID, err)
	}
	out, err = objquery.Decode(p.Type, next)
	return out, nil, err
}

// DeleteObject removes an object.
func (s *Store) DeleteObject(ctx context.Context, p store.DeleteObjectParams) (store.Object, error) {
	var out store.Object
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := readObject(ctx, s.writerStmts.in(ctx, tx, sqlReadObject), p.Type, p.ID)
		if err != nil {
			return err
		}
		if err := objquery.CheckRev(p.Type, p.ID, p.IfRev, r.Rev); err != nil {
			return err
		}
		if _, err := s.writerStmts.in(ctx, tx, sqlDeleteObject).ExecContext(ctx, p.Type, p.ID); err != nil {
			return fmt.Errorf("delete managed/%s/%s: %w", p.Type, p.ID, err)
		}
		out, err = objquery.Decode(p.Type, r)
		return err
	})
	return out, err
}

// QueryObjects answers a query with SQLite's JSON functions, and Go for
// what they cannot decide exactly.
func (s *Store) QueryObjects(ctx context.Context, p store.QueryObjectsParams) (store.QueryObjectsResult, error) {
	t := objquery.Translate(dialect{}, p.Filter)
	from := "managed_objects"
	if hint, ok := userNameHint(p.Filter); ok {
		from += " INDEXED BY managed_objects_username"
		t.Maybe = "(" + t.Maybe + ") AND " + hint
	}
	doc := "json(doc)"
	if !objquery.DocsNeeded(p, t) {
		doc = "''"
	}
	q := "SELECT id, rev, " + doc + ", " + t.Sure + " FROM " + from + " WHERE type = ? AND id > ? AND (" + t.Maybe + ") ORDER BY id LIMIT ?"
	res, err := objquery.Run(ctx, p, t, func(ctx context.Context, after string, limit int) ([]objquery.Row, error) {
		st, err := s.readerStmts.get(ctx, q)
		if err != nil {
			return nil, err
		}
		var rows *sql.Rows
		if st != nil {
			rows, err = st.QueryContext(ctx, p.Type, after, limit)
		} else {
			rows, err = s.reader.QueryContext(ctx, q, p.Type, after, limit)
		}
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return objquery.ScanRows(rows)
	}, func(ctx context.Context) (n int, err error) {
		err = s.reader.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+from+" WHERE type = ? AND ("+t.Maybe+")", p.Type).Scan(&n)
		return n, err
	})
	if err != nil && !errors.Is(err, store.ErrInvalid) {
		return res, fmt.Errorf("query managed/%s: %w", p.Type, err)
	}
	return res, err
}

// userNameKey is the expression of the managed_objects_username index
// (migration 0007), letter for letter: a document's userName folded as
// the filter translation folds strings (the last letter replaced is the
// Kelvin sign, U+212A), "[" for an array.
const userNameKey = `(CASE json_type(doc, '$."userName"') WHEN 'array' THEN '[' ELSE lower(replace(replace(replace(replace((doc ->> '$."userName"'), 'ı', 'i'), 'İ', 'i'), 'ſ', 's'), 'K', 'k')) END)`

// userNameHint is a condition that every match of f satisfies and that
// the userName index answers, when f requires userName eq "<ASCII>" (the
// whole filter or one operand of its top-level and): the name folded, or
// an array to match element by element. The translation's exact
// condition still decides; the hint only narrows the rows read.
func userNameHint(f query.Filter) (string, bool) {
	switch f := f.(type) {
	case *query.And:
		for _, o := range f.Operands {
			if h, ok := userNameHint(o); ok {
				return h, true
			}
		}
	case *query.Comparison:
		if f.Operator != query.OpEqual || f.Value.Kind != query.KindString ||
			len(f.Field.Tokens) != 1 || f.Field.Tokens[0] != "userName" {
			return "", false
		}
		for i := 0; i < len(f.Value.Str); i++ {
			if c := f.Value.Str[i]; c == 0 || c >= 0x80 {
				return "", false
			}
		}
		d := dialect{}
		return userNameKey + " IN (" + d.Quote(strings.ToLower(f.Value.Str)) + ", '[')", true
	}
	return "", false
}

// dialect is SQLite's spelling of the filter translation: JSON paths
// $."a"."b" read by json_type and ->>, arrays by json_each, all on the
// stored JSONB (parsed once, when written).
type dialect struct{}

func (dialect) Path(tokens []string) (objquery.Value, bool) {
	if len(tokens) == 0 {
		return objquery.Value{}, false
	}
	var b strings.Builder
	b.WriteString("'$")
	for _, t := range tokens {
		if !objquery.PlainToken(t) {
			return objquery.Value{}, false
		}
		b.WriteString(`."`)
		b.WriteString(strings.ReplaceAll(t, "'", "''"))
		b.WriteString(`"`)
	}
	b.WriteString("'")
	path := b.String()
	return objquery.Value{Type: "json_type(doc, " + path + ")", SQL: "(doc ->> " + path + ")", JSON: path}, true
}

func (dialect) Present(v objquery.Value) string { return "COALESCE(" + v.Type + ", 'null') <> 'null'" }

func (dialect) Is(v objquery.Value, k objquery.Kind) string {
	t := "COALESCE(" + v.Type + ", '')"
	switch k {
	case objquery.KindString:
		return t + " = 'text'"
	case objquery.KindNumber:
		return t + " IN ('integer', 'real')"
	case objquery.KindTrue:
		return t + " = 'true'"
	case objquery.KindFalse:
		return t + " = 'false'"
	}
	return t + " = 'array'"
}

func (dialect) Text(v objquery.Value) string { return v.SQL }

func (dialect) Number(v objquery.Value) (string, string) { return "CAST(" + v.SQL + " AS REAL)", "" }

func (dialect) AnyElement(v objquery.Value, cond func(objquery.Value) string) string {
	return "EXISTS (SELECT 1 FROM json_each(doc, " + v.JSON + ") AS e WHERE " +
		cond(objquery.Value{Type: "e.type", SQL: "e.value"}) + ")"
}

func (dialect) Ordered(text string) string { return text }

func (dialect) Contains(text, sub string) string { return "instr(" + text + ", " + sub + ") > 0" }

func (dialect) Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// CommitObjectUnits checks and writes the units in one write transaction
// (the only writer, so what a unit checks holds until it is written).
func (s *Store) CommitObjectUnits(ctx context.Context, p store.CommitObjectUnitsParams) ([]error, error) {
	var out []error
	err := s.write(ctx, func(tx *sql.Tx) error {
		out = make([]error, len(p.Units))
		revs := map[objquery.Key]int64{}
		readRev := s.writerStmts.in(ctx, tx, sqlReadRev)
		del, ins, upd := s.writerStmts.in(ctx, tx, sqlDeleteObject), s.writerStmts.in(ctx, tx, sqlInsertObject), s.writerStmts.in(ctx, tx, sqlUpdateObject)
		for _, k := range objquery.UnitKeys(p.Units) {
			var rev int64
			err := readRev.QueryRowContext(ctx, k.Type, k.ID).Scan(&rev)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("read managed/%s/%s: %w", k.Type, k.ID, err)
			}
			revs[k] = rev
		}
		for i, u := range p.Units {
			rows, err := objquery.PlanUnit(u, revs)
			if err != nil {
				out[i] = err
				continue
			}
			for _, r := range rows {
				var err error
				switch {
				case r.Doc == nil:
					_, err = del.ExecContext(ctx, r.Type, r.ID)
				case r.Insert:
					_, err = ins.ExecContext(ctx, r.Type, r.ID, r.Rev, string(r.Doc))
				default:
					_, err = upd.ExecContext(ctx, r.Rev, string(r.Doc), r.Type, r.ID)
				}
				if err != nil {
					return fmt.Errorf("write managed/%s/%s: %w", r.Type, r.ID, err)
				}
			}
			objquery.Applied(revs, rows)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("commit managed object units: %w", err)
	}
	return out, nil
}
