package crest

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"

	"sundial/engine/query"
)

// QueryResult is CREST's query envelope.
type QueryResult struct {
	Result                  []Resource `json:"result"`
	ResultCount             int        `json:"resultCount"`
	PagedResultsCookie      *string    `json:"pagedResultsCookie"`
	TotalPagedResultsPolicy string     `json:"totalPagedResultsPolicy"`
	TotalPagedResults       int        `json:"totalPagedResults"`
	RemainingPagedResults   int        `json:"remainingPagedResults"`
}

func (q QueryResult) write(e encoder) error {
	e.buf.WriteString(`{"result":[`)
	for i, r := range q.Result {
		if i > 0 {
			e.buf.WriteByte(',')
		}
		start := e.buf.Len()
		if err := r.write(e); err != nil {
			return err
		}
		if i == 0 {
			// Room for the others, taken as large as the first and a
			// little more, rather than a buffer doubled over and over.
			e.buf.Grow((e.buf.Len() - start + 1) * (len(q.Result) - 1) * 9 / 8)
		}
	}
	e.buf.WriteString(`],"resultCount":` + strconv.Itoa(q.ResultCount) + `,"pagedResultsCookie":`)
	if err := e.value(q.PagedResultsCookie); err != nil {
		return err
	}
	e.buf.WriteString(`,"totalPagedResultsPolicy":`)
	if err := e.value(q.TotalPagedResultsPolicy); err != nil {
		return err
	}
	e.buf.WriteString(`,"totalPagedResults":` + strconv.Itoa(q.TotalPagedResults) +
		`,"remainingPagedResults":` + strconv.Itoa(q.RemainingPagedResults) + `}`)
	return nil
}

// IDsQuery is the one _queryId served: each result is {"_id": …}.
const IDsQuery = "query-all-ids"

// Query runs a query in memory over resources: the filter is evaluated
// against each full resource (_id and _rev included), the matches sorted
// by the sort keys then _id ascending, paged (the cookie is the offset of
// the next page, null on the last; a cookie that is not an offset is a
// 400), and projected on fields. Totals are
// given for ESTIMATE and EXACT (exact either way), -1 otherwise.
func Query(resources []Resource, q QueryParams, fields []Field) (QueryResult, error) {
	if n, err := strconv.Atoi(q.Cookie); q.Cookie != "" && (err != nil || n < 0) {
		return QueryResult{}, BadRequest("Invalid paged results cookie")
	}
	var matched []Resource
	switch {
	case q.QueryID != "":
		if q.QueryID != IDsQuery {
			return QueryResult{}, BadRequest("only query-id of '%s' is supported.", IDsQuery)
		}
		for _, r := range resources {
			matched = append(matched, Resource{ID: r.ID})
		}
		fields = nil
	case q.Filter != nil:
		prog, err := query.Compile(q.Filter)
		if err != nil {
			return QueryResult{}, filterError(q.FilterText, err)
		}
		if lit, ok := q.Filter.(*query.Literal); ok {
			// true or false: every resource or none, without building
			// the maps a filter reads.
			if lit.Value {
				matched = slices.Clone(resources)
			}
			break
		}
		m := prog.Matcher()
		for _, r := range resources {
			if m.Match(r.Map()) {
				matched = append(matched, r)
			}
		}
	default:
		return QueryResult{}, BadRequest("A query needs _queryFilter or _queryId")
	}
	sortResources(matched, q.SortKeys)
	total := len(matched)
	start := min(q.Offset, total)
	end := total
	if q.PageSize > 0 {
		end = min(start+q.PageSize, total)
	}
	page := matched[start:end]
	out := QueryResult{
		Result:                  make([]Resource, len(page)),
		ResultCount:             len(page),
		TotalPagedResultsPolicy: "NONE",
		TotalPagedResults:       -1,
		RemainingPagedResults:   -1,
	}
	for i, r := range page {
		out.Result[i] = Project(r, fields)
	}
	if q.PageSize > 0 && end < total {
		c := strconv.Itoa(end)
		out.PagedResultsCookie = &c
	}
	if q.TotalPolicy == "ESTIMATE" || q.TotalPolicy == "EXACT" {
		out.TotalPagedResultsPolicy = "EXACT"
		out.TotalPagedResults = total
		out.RemainingPagedResults = total - end
	}
	return out, nil
}

func sortResources(rs []Resource, keys []SortKey) {
	maps := make(map[string]map[string]any, len(rs))
	if len(keys) > 0 {
		for _, r := range rs {
			maps[r.ID] = r.Map()
		}
	}
	slices.SortStableFunc(rs, func(a, b Resource) int {
		for _, k := range keys {
			va, oka := k.Field.Lookup(maps[a.ID])
			vb, okb := k.Field.Lookup(maps[b.ID])
			c := compareValues(va, oka, vb, okb)
			if k.Descending {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// compareValues orders absent and null first, then booleans, numbers and
// strings, each in its own order; other values compare equal.
func compareValues(a any, oka bool, b any, okb bool) int {
	ra, rb := rank(a, oka), rank(b, okb)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	if ra == 2 {
		x, _ := number(a)
		y, _ := number(b)
		return cmp.Compare(x, y)
	}
	switch x := a.(type) {
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case string:
		return cmp.Compare(x, b.(string))
	}
	return 0
}

func rank(v any, ok bool) int {
	if !ok || v == nil {
		return 0
	}
	if _, isNum := number(v); isNum {
		return 2
	}
	switch v.(type) {
	case bool:
		return 1
	case string:
		return 3
	}
	return 4
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}
