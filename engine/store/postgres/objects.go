package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"sundial/engine/store"
	"sundial/engine/store/internal/objquery"
)

var _ store.Objects = (*Store)(nil)

// CreateObjects inserts the objects with one statement. PostgreSQL's jsonb
// cannot hold the character NUL: an object with one is refused (its Err
// wraps ErrInvalid).
func (s *Store) CreateObjects(ctx context.Context, p store.CreateObjectsParams) ([]store.CreateObjectResult, error) {
	if err := objquery.CheckType(p.Type); err != nil {
		return nil, err
	}
	docs, ids, err := objquery.NewDocs(p)
	if err != nil {
		return nil, err
	}
	out := make([]store.CreateObjectResult, len(docs))
	var insIDs, insDocs []string
	for i, doc := range docs {
		if out[i].Err = checkNUL(p.Type, ids[i], doc); out[i].Err != nil {
			continue
		}
		insIDs = append(insIDs, ids[i])
		insDocs = append(insDocs, string(doc))
	}
	// inserted holds the documents as jsonb stored them (numbers and
	// key order are its own).
	inserted := map[string][]byte{}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		clear(inserted)
		rows, err := tx.Query(ctx, `INSERT INTO managed_objects (type, id, rev, doc)
			SELECT $1, u.id, 1, u.doc::jsonb FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(id, doc, n) ORDER BY u.n
			ON CONFLICT (type, id) DO NOTHING RETURNING id, doc::text`, p.Type, insIDs, insDocs)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, doc string
			if err := rows.Scan(&id, &doc); err != nil {
				rows.Close()
				return err
			}
			inserted[id] = []byte(doc)
		}
		rows.Close()
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("create managed/%s objects: %w", p.Type, err)
	}
	for i := range docs {
		doc := inserted[ids[i]]
		switch {
		case out[i].Err != nil:
		case doc != nil:
			delete(inserted, ids[i]) // a repeat of the id in the batch conflicts
			if out[i].Object, err = objquery.Decode(p.Type, objquery.Row{ID: ids[i], Rev: 1, Doc: doc}); err != nil {
				return nil, err
			}
		default:
			out[i].Err = objquery.ErrExists(p.Type, ids[i])
		}
	}
	return out, nil
}

// ReadObject reads one object.
func (s *Store) ReadObject(ctx context.Context, p store.ReadObjectParams) (store.Object, error) {
	r, err := readObject(ctx, s.pool, p.Type, p.ID, "")
	if err != nil {
		return store.Object{}, err
	}
	return objquery.Decode(p.Type, r)
}

// ReadObjects reads the objects among p.IDs that exist in one statement.
func (s *Store) ReadObjects(ctx context.Context, p store.ReadObjectsParams) ([]store.Object, error) {
	found := make(map[string]objquery.Row, len(p.IDs))
	rows, err := s.pool.Query(ctx, "SELECT id, rev, doc::text FROM managed_objects WHERE type = $1 AND id = ANY($2)", p.Type, p.IDs)
	if err != nil {
		return nil, fmt.Errorf("read managed/%s objects: %w", p.Type, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r objquery.Row
		var doc string
		if err := rows.Scan(&r.ID, &r.Rev, &doc); err != nil {
			return nil, fmt.Errorf("read managed/%s objects: %w", p.Type, err)
		}
		r.Doc = []byte(doc)
		found[r.ID] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read managed/%s objects: %w", p.Type, err)
	}
	return objquery.DecodeFound(p.Type, p.IDs, found)
}

func readObject(ctx context.Context, q querier, typ, id, lock string) (objquery.Row, error) {
	r := objquery.Row{ID: id}
	var doc string
	err := q.QueryRow(ctx, "SELECT rev, doc::text FROM managed_objects WHERE type = $1 AND id = $2"+lock, typ, id).Scan(&r.Rev, &doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, objquery.ErrMissing(typ, id)
	}
	if err != nil {
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

// ModifyObject reads the object FOR UPDATE, changes it and writes it in
// one transaction.
func (s *Store) ModifyObject(ctx context.Context, p store.ModifyObjectParams) (store.Object, error) {
	var out store.Object
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var itemErr, err error
		out, itemErr, err = modifyObject(ctx, tx, p)
		if err != nil {
			return err
		}
		return itemErr
	})
	return out, err
}

// ModifyObjects changes the objects in one transaction, locking them FOR
// UPDATE in id order.
func (s *Store) ModifyObjects(ctx context.Context, p store.ModifyObjectsParams) ([]store.ModifyObjectResult, error) {
	var out []store.ModifyObjectResult
	err := s.tx(ctx, func(tx pgx.Tx) error {
		out = make([]store.ModifyObjectResult, len(p.Items))
		for _, i := range objquery.LockOrder(p.Items) {
			it := p.Items[i]
			var err error
			out[i].Object, out[i].Err, err = modifyObject(ctx, tx, store.ModifyObjectParams{Type: p.Type, ID: it.ID, IfRev: it.IfRev, Modify: it.Modify})
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

// modifyObject reads one object FOR UPDATE in tx, changes it and writes
// it: itemErr is the object's own failure (missing, a revision conflict,
// Modify's error, a NUL), and nothing of it is written; err is the
// transaction's.
func modifyObject(ctx context.Context, tx pgx.Tx, p store.ModifyObjectParams) (out store.Object, itemErr, err error) {
	r, err := readObject(ctx, tx, p.Type, p.ID, " FOR UPDATE")
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
	if err := checkNUL(p.Type, p.ID, next.Doc); err != nil {
		return out, err, nil
	}
	var doc string
	if err := tx.QueryRow(ctx, "UPDATE managed_objects SET rev = $1, doc = $2::jsonb WHERE type = $3 AND id = $4 RETURNING doc::text",
		next.Rev, string(next.Doc), p.Type, p.ID).Scan(&doc); err != nil {
		return out, nil, fmt.Errorf("update managed/%s/%s: %w", p.Type, p.ID, err)
	}
	next.Doc = []byte(doc)
	out, err = objquery.Decode(p.Type, next)
	return out, nil, err
}

// DeleteObject removes an object.
func (s *Store) DeleteObject(ctx context.Context, p store.DeleteObjectParams) (store.Object, error) {
	var out store.Object
	err := s.tx(ctx, func(tx pgx.Tx) error {
		r, err := readObject(ctx, tx, p.Type, p.ID, " FOR UPDATE")
		if err != nil {
			return err
		}
		if err := objquery.CheckRev(p.Type, p.ID, p.IfRev, r.Rev); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM managed_objects WHERE type = $1 AND id = $2", p.Type, p.ID); err != nil {
			return fmt.Errorf("delete managed/%s/%s: %w", p.Type, p.ID, err)
		}
		out, err = objquery.Decode(p.Type, r)
		return err
	})
	return out, err
}

// QueryObjects answers a query with jsonb operators, and Go for what they
// cannot decide exactly.
func (s *Store) QueryObjects(ctx context.Context, p store.QueryObjectsParams) (store.QueryObjectsResult, error) {
	t := objquery.Translate(dialect{}, p.Filter)
	// The pages walk the primary key from the cookie: with the hints the
	// planner would rather read every remaining match through a field's
	// index and sort them, page after page. The count reads the matches
	// through the index.
	doc := "doc::text"
	if !objquery.DocsNeeded(p, t) {
		doc = "''"
	}
	q := "SELECT id, rev, " + doc + ", " + t.Sure + " FROM managed_objects WHERE type = $1 AND id > $2 AND (" + t.Maybe + ") ORDER BY id LIMIT $3"
	res, err := objquery.Run(ctx, p, t, func(ctx context.Context, after string, limit int) ([]objquery.Row, error) {
		rows, err := s.pool.Query(ctx, q, p.Type, after, limit)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return objquery.ScanRows(rows)
	}, func(ctx context.Context) (n int, err error) {
		err = s.pool.QueryRow(ctx, "SELECT COUNT(*) FROM managed_objects WHERE type = $1 AND ("+t.Maybe+")"+hintSQL(p.Filter), p.Type).Scan(&n)
		return n, err
	})
	if err != nil && !errors.Is(err, store.ErrInvalid) {
		return res, fmt.Errorf("query managed/%s: %w", p.Type, err)
	}
	return res, err
}

// dialect is PostgreSQL's spelling of the filter translation: doc #> path
// and jsonb_typeof, arrays by jsonb_array_elements, text compared in
// COLLATE "C" (code-point order, ASCII-only lower()).
type dialect struct{}

func (dialect) Path(tokens []string) (objquery.Value, bool) {
	if len(tokens) == 0 {
		return objquery.Value{}, false
	}
	quoted := make([]string, len(tokens))
	for i, t := range tokens {
		if !objquery.PlainToken(t) {
			return objquery.Value{}, false
		}
		quoted[i] = `"` + t + `"`
	}
	return objquery.Value{JSON: "(doc #> '{" + strings.Join(quoted, ",") + "}')"}, true
}

func (dialect) Present(v objquery.Value) string {
	return "COALESCE(jsonb_typeof(" + v.JSON + "), 'null') <> 'null'"
}

func (dialect) Is(v objquery.Value, k objquery.Kind) string {
	t := "COALESCE(jsonb_typeof(" + v.JSON + "), '')"
	switch k {
	case objquery.KindString:
		return t + " = 'string'"
	case objquery.KindNumber:
		return t + " = 'number'"
	case objquery.KindTrue:
		return "(" + t + " = 'boolean' AND " + v.JSON + "::text = 'true')"
	case objquery.KindFalse:
		return "(" + t + " = 'boolean' AND " + v.JSON + "::text = 'false')"
	}
	return t + " = 'array'"
}

func (dialect) Text(v objquery.Value) string { return "(" + v.JSON + " #>> '{}')" }

// Number converts through numeric, exactly, to a double (correctly
// rounded); values a double cannot hold would fail the cast, so the guard
// leaves them, and the tiniest, to Go.
func (dialect) Number(v objquery.Value) (string, string) {
	n := "(" + v.JSON + ")::numeric"
	return "(" + n + ")::float8", "(abs(" + n + ") < 1e308 AND (" + n + " = 0 OR abs(" + n + ") > 1e-307))"
}

func (dialect) AnyElement(v objquery.Value, cond func(objquery.Value) string) string {
	return "EXISTS (SELECT 1 FROM jsonb_array_elements(" + v.JSON + ") AS e(ev) WHERE " + cond(objquery.Value{JSON: "e.ev"}) + ")"
}

func (dialect) Ordered(text string) string { return "(" + text + ") COLLATE \"C\"" }

func (dialect) Contains(text, sub string) string { return "strpos(" + text + ", " + sub + ") > 0" }

func (dialect) Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// checkNUL refuses a document holding the character NUL, which jsonb
// cannot hold (the error wraps ErrInvalid).
func checkNUL(typ, id string, doc []byte) error {
	if bytes.Contains(doc, []byte(`\u0000`)) {
		return fmt.Errorf("managed/%s/%s: %w", typ, id, store.Invalidf("postgres cannot store the character NUL (\\u0000) in a JSON document"))
	}
	return nil
}

// CommitObjectUnits locks every object the units write FOR UPDATE in one
// query, in one order, then writes the units in one transaction: those
// that only update and delete in one round trip (once checked under the
// locks they cannot fail), each that creates under a savepoint.
func (s *Store) CommitObjectUnits(ctx context.Context, p store.CommitObjectUnitsParams) ([]error, error) {
	var out []error
	err := s.tx(ctx, func(tx pgx.Tx) error {
		out = make([]error, len(p.Units))
		revs, err := lockUnitRevs(ctx, tx, objquery.UnitKeys(p.Units))
		if err != nil {
			return err
		}
		var batch pgx.Batch
		for i, u := range p.Units {
			rows, err := objquery.PlanUnit(u, revs)
			if err == nil {
				err = checkUnitNUL(rows)
			}
			if err != nil {
				out[i] = err
				continue
			}
			if !slices.ContainsFunc(rows, func(r objquery.UnitRow) bool { return r.Insert }) {
				for _, r := range rows {
					if r.Doc == nil {
						batch.Queue("DELETE FROM managed_objects WHERE type = $1 AND id = $2", r.Type, r.ID)
					} else {
						batch.Queue("UPDATE managed_objects SET rev = $1, doc = $2::jsonb WHERE type = $3 AND id = $4", r.Rev, string(r.Doc), r.Type, r.ID)
					}
				}
				objquery.Applied(revs, rows)
				continue
			}
			if err := sendBatch(ctx, tx, &batch); err != nil {
				return err
			}
			if out[i], err = writeUnit(ctx, tx, rows); err != nil {
				return err
			}
			if out[i] == nil {
				objquery.Applied(revs, rows)
			}
		}
		return sendBatch(ctx, tx, &batch)
	})
	if err != nil {
		return nil, fmt.Errorf("commit managed object units: %w", err)
	}
	return out, nil
}

// lockUnitRevs locks the objects of keys FOR UPDATE, in keys' order, and
// returns their revisions (none for an object that does not exist).
func lockUnitRevs(ctx context.Context, tx pgx.Tx, keys []objquery.Key) (map[objquery.Key]int64, error) {
	types, ids := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		types[i], ids[i] = k.Type, k.ID
	}
	rows, err := tx.Query(ctx, `SELECT o.type, o.id, o.rev FROM managed_objects o
		JOIN unnest($1::text[], $2::text[]) AS k(type, id) ON o.type = k.type AND o.id = k.id
		ORDER BY o.type COLLATE "C", o.id COLLATE "C" FOR UPDATE OF o`, types, ids)
	if err != nil {
		return nil, fmt.Errorf("lock managed objects: %w", err)
	}
	defer rows.Close()
	revs := make(map[objquery.Key]int64, len(keys))
	for rows.Next() {
		var k objquery.Key
		var rev int64
		if err := rows.Scan(&k.Type, &k.ID, &rev); err != nil {
			return nil, fmt.Errorf("lock managed objects: %w", err)
		}
		revs[k] = rev
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lock managed objects: %w", err)
	}
	return revs, nil
}

// sendBatch runs the queued statements in one round trip and empties b.
func sendBatch(ctx context.Context, tx pgx.Tx, b *pgx.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	err := tx.SendBatch(ctx, b).Close()
	*b = pgx.Batch{}
	if err != nil {
		return fmt.Errorf("write managed objects: %w", err)
	}
	return nil
}

func checkUnitNUL(rows []objquery.UnitRow) error {
	for _, r := range rows {
		if r.Doc != nil {
			if err := checkNUL(r.Type, r.ID, r.Doc); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeUnit writes one unit's rows under a savepoint: a create that finds
// the object inserted meanwhile (by a transaction that committed after
// the locks were taken) rolls the unit back and is its conflict.
func writeUnit(ctx context.Context, tx pgx.Tx, rows []objquery.UnitRow) (unitErr, err error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = sp.Rollback(ctx) }()
	for _, r := range rows {
		var tag pgconn.CommandTag
		switch {
		case r.Doc == nil:
			tag, err = sp.Exec(ctx, "DELETE FROM managed_objects WHERE type = $1 AND id = $2", r.Type, r.ID)
		case r.Insert:
			tag, err = sp.Exec(ctx, "INSERT INTO managed_objects (type, id, rev, doc) VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (type, id) DO NOTHING",
				r.Type, r.ID, r.Rev, string(r.Doc))
		default:
			tag, err = sp.Exec(ctx, "UPDATE managed_objects SET rev = $1, doc = $2::jsonb WHERE type = $3 AND id = $4", r.Rev, string(r.Doc), r.Type, r.ID)
		}
		if err != nil {
			return nil, fmt.Errorf("write managed/%s/%s: %w", r.Type, r.ID, err)
		}
		if tag.RowsAffected() == 0 {
			return objquery.ErrExists(r.Type, r.ID), nil
		}
	}
	return nil, sp.Commit(ctx)
}
