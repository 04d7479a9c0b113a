package objquery

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"sundial/engine/query"
	"sundial/engine/store"
	"sundial/engine/store/internal/sqlcommon"
)

// Row is one stored object as a backend reads it: Sure is the value of the
// translation's Sure condition on it.
type Row struct {
	ID   string
	Rev  int64
	Doc  []byte
	Sure bool
}

// Fetch reads the rows of the queried type where the translation's Maybe
// holds, with an id after after ("" for the first), in id order, at most
// limit of them.
type Fetch func(ctx context.Context, after string, limit int) ([]Row, error)

// chunk is how many rows a fetch asks for when the page size does not
// bound it.
const chunk = 1000

// Run answers a query from the rows fetch returns: rows that SQL did not
// decide are matched with engine/query's program, and the page is cut by
// id (no sort keys: the cookie holds the last id, and SQL reads from
// there) or after sorting every match in Go (the cookie holds an offset).
//
// countExact, when SQL decides the whole filter (t.Exact), counts the
// matches in SQL for CountTotal, reading no documents.
func Run(ctx context.Context, p store.QueryObjectsParams, t Translation, fetch Fetch, countExact func(ctx context.Context) (int, error)) (store.QueryObjectsResult, error) {
	res := store.QueryObjectsResult{Total: -1}
	var program *query.Program
	if p.Filter != nil && !t.Exact() {
		var err error
		if program, err = query.Compile(p.Filter); err != nil {
			return res, store.Invalidf("%v", err)
		}
	}
	keyset := byID(p)
	docs := DocsNeeded(p, t)
	matcher := func() func(Row) (store.Object, bool, error) {
		var m *query.Matcher
		if program != nil {
			m = program.Matcher()
		}
		return func(r Row) (store.Object, bool, error) {
			if p.IDsOnly && keyset && (r.Sure || !docs) {
				// Neither the filter nor the order needs the document.
				rev := strconv.FormatInt(r.Rev, 10)
				return store.Object{Type: p.Type, ID: r.ID, Rev: rev, Content: map[string]any{"_id": r.ID, "_rev": rev}}, true, nil
			}
			o, err := Decode(p.Type, r)
			if err != nil {
				return o, false, err
			}
			return o, r.Sure || m == nil || m.Match(o.Content), nil
		}
	}
	kind, value, err := decodeCookie(p.Cookie)
	if err != nil {
		return res, err
	}
	if keyset {
		if kind == 'o' {
			return res, store.Invalidf("paged results cookie %q is not one of this query's", p.Cookie)
		}
		page, err := scan(ctx, fetch, value, p.PageSize, matcher())
		if err != nil {
			return res, err
		}
		if p.PageSize > 0 && len(page) > p.PageSize {
			page = page[:p.PageSize]
			res.Cookie = encodeCookie('k', page[len(page)-1].ID)
		}
		res.Objects = page
		switch {
		case p.CountTotal && value == "" && res.Cookie == "":
			// The scan read every row to the end: the page is every match.
			res.Total = len(page)
		case p.CountTotal && (p.Filter == nil || t.Exact()):
			n, err := countExact(ctx)
			if err != nil {
				return res, err
			}
			res.Total = n
		case p.CountTotal:
			n, err := count(ctx, fetch, matcher())
			if err != nil {
				return res, err
			}
			res.Total = n
		}
		return res, nil
	}
	if kind == 'k' {
		return res, store.Invalidf("paged results cookie %q is not one of this query's", p.Cookie)
	}
	offset := 0
	if kind == 'o' {
		if offset, err = strconv.Atoi(value); err != nil || offset < 0 {
			return res, store.Invalidf("paged results cookie %q is not valid", p.Cookie)
		}
	}
	all, err := scan(ctx, fetch, "", 0, matcher())
	if err != nil {
		return res, err
	}
	Sort(all, p.SortKeys)
	if p.CountTotal {
		res.Total = len(all)
	}
	all = all[min(offset, len(all)):]
	if p.PageSize > 0 && len(all) > p.PageSize {
		all = all[:p.PageSize]
		res.Cookie = encodeCookie('o', strconv.Itoa(offset+p.PageSize))
	}
	res.Objects = all
	return res, nil
}

// byID: the query's order is the ids', which SQL reads in.
func byID(p store.QueryObjectsParams) bool {
	return len(p.SortKeys) == 0 ||
		len(p.SortKeys) == 1 && !p.SortKeys[0].Descending && slices.Equal(p.SortKeys[0].Field.Tokens, []string{"_id"})
}

// DocsNeeded reports whether Run needs the rows' documents: not for an
// ids-only query in id order whose filter SQL decides, whose rows a
// backend may then fetch with an empty Doc.
func DocsNeeded(p store.QueryObjectsParams, t Translation) bool {
	return !p.IDsOnly || !byID(p) || (p.Filter != nil && !t.Exact())
}

// scan collects the matches after id after, up to pageSize+1 of them (all
// when pageSize <= 0).
func scan(ctx context.Context, fetch Fetch, after string, pageSize int, match func(Row) (store.Object, bool, error)) ([]store.Object, error) {
	var out []store.Object
	want := 0
	if pageSize > 0 {
		want = pageSize + 1
	}
	for {
		limit := chunk
		if want > 0 {
			limit = max(want-len(out), 64)
		}
		rows, err := fetch(ctx, after, limit)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			o, ok, err := match(r)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, o)
				if want > 0 && len(out) == want {
					return out, nil
				}
			}
		}
		if len(rows) < limit {
			return out, nil
		}
		after = rows[len(rows)-1].ID
	}
}

// count counts every match, decoding only the rows SQL did not decide.
func count(ctx context.Context, fetch Fetch, match func(Row) (store.Object, bool, error)) (int, error) {
	n, after := 0, ""
	for {
		rows, err := fetch(ctx, after, chunk)
		if err != nil {
			return 0, err
		}
		for _, r := range rows {
			if r.Sure {
				n++
				continue
			}
			if _, ok, err := match(r); err != nil {
				return 0, err
			} else if ok {
				n++
			}
		}
		if len(rows) < chunk {
			return n, nil
		}
		after = rows[len(rows)-1].ID
	}
}

// ScanRows reads the rows of a backend's fetch query: id, rev, the
// document as JSON text and the Sure condition.
func ScanRows(rows sqlcommon.Rows) ([]Row, error) {
	var out []Row
	for rows.Next() {
		var (
			r   Row
			doc string
		)
		if err := rows.Scan(&r.ID, &r.Rev, &doc, &r.Sure); err != nil {
			return nil, err
		}
		r.Doc = []byte(doc)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Decode turns a row into an object; its document holds _id and _rev.
func Decode(typ string, r Row) (store.Object, error) {
	content, err := DecodeContent(r.Doc)
	if err != nil {
		return store.Object{}, fmt.Errorf("managed/%s/%s: stored document: %w", typ, r.ID, err)
	}
	return store.Object{Type: typ, ID: r.ID, Rev: strconv.FormatInt(r.Rev, 10), Content: content}, nil
}

// DecodeFound decodes the rows found for ids, in the order of ids, each
// once; an id without a row is left out.
func DecodeFound(typ string, ids []string, found map[string]Row) ([]store.Object, error) {
	out := make([]store.Object, 0, len(found))
	for _, id := range ids {
		r, ok := found[id]
		if !ok {
			continue
		}
		delete(found, id)
		o, err := Decode(typ, r)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// DecodeContent reads a JSON object with numbers as json.Number.
func DecodeContent(doc []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	return m, nil
}

// Encode is the stored document of content under id and rev: content's
// fields with "_id" and "_rev" set.
func Encode(id string, rev int64, content map[string]any) ([]byte, error) {
	doc := make(map[string]any, len(content)+2)
	for k, v := range content {
		doc[k] = v
	}
	doc["_id"] = id
	doc["_rev"] = strconv.FormatInt(rev, 10)
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, store.Invalidf("managed object %s: %v", id, err)
	}
	return b, nil
}

// ParseRev reads a revision; ok is false for one this store never wrote,
// which therefore matches no object.
func ParseRev(rev string) (int64, bool) {
	n, err := strconv.ParseInt(rev, 10, 64)
	return n, err == nil && n > 0 && strconv.FormatInt(n, 10) == rev
}

// CheckType checks an object type name: managed/<type>/<id> must not be
// ambiguous.
func CheckType(typ string) error {
	if typ == "" || strings.ContainsAny(typ, "/") {
		return store.Invalidf("object type %q: want a non-empty name without '/'", typ)
	}
	return nil
}

func encodeCookie(kind byte, value string) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte{kind}, value...))
}

func decodeCookie(c string) (kind byte, value string, err error) {
	if c == "" {
		return 0, "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 || b[0] != 'k' && b[0] != 'o' {
		return 0, "", store.Invalidf("paged results cookie %q is not valid", c)
	}
	return b[0], string(b[1:]), nil
}
