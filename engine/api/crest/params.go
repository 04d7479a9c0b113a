package crest

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"sundial/engine/query"
)

// Params are a request's CREST query parameters. Their names are matched
// case-insensitively; unknown parameters are kept in Extra.
type Params struct {
	Action string
	Fields []Field // nil: every field
	Pretty bool
	Query  QueryParams
	Extra  map[string]string
}

// QueryParams are the parameters of a query request.
type QueryParams struct {
	// Filter is the parsed _queryFilter; nil when none was given.
	Filter     query.Filter
	FilterText string
	QueryID    string
	SortKeys   []SortKey
	PageSize   int // <= 0: every result
	// Offset is where the page starts: _pagedResultsOffset, or the
	// _pagedResultsCookie when it is an offset (Query's cookies are).
	Offset int
	// Cookie is the _pagedResultsCookie as given ("" for none): an offset
	// for Query, opaque to stores that page by key.
	Cookie      string
	TotalPolicy string // NONE, ESTIMATE or EXACT
}

// SortKey is one _sortKeys entry.
type SortKey struct {
	Field      Field
	Descending bool
}

// ParseParams reads the CREST parameters of r. A bad value is a 400.
func ParseParams(r *http.Request) (Params, error) {
	p := Params{Query: QueryParams{TotalPolicy: "NONE"}}
	var cookie, offset string
	var haveCookie bool
	exclusive := map[string]bool{}
	for name, values := range r.URL.Query() {
		if len(values) == 0 {
			continue
		}
		v := values[0]
		switch strings.ToLower(name) {
		case "_action":
			p.Action = v
		case "_fields":
			p.Fields = parseFields(v)
		case "_prettyprint":
			p.Pretty = strings.EqualFold(v, "true") || v == ""
		case "_queryfilter":
			p.Query.FilterText = v
			exclusive["_queryFilter"] = true
		case "_queryid":
			p.Query.QueryID = v
			exclusive["_queryId"] = true
		case "_queryexpression":
			exclusive["_queryExpression"] = true
		case "_sortkeys":
			for _, k := range strings.Split(v, ",") {
				if k == "" {
					continue
				}
				sk := SortKey{}
				switch k[0] {
				case '-':
					sk.Descending = true
					k = k[1:]
				case '+':
					k = k[1:]
				}
				sk.Field = ParseField(k)
				p.Query.SortKeys = append(p.Query.SortKeys, sk)
			}
		case "_pagesize":
			n, err := strconv.Atoi(v)
			if err != nil {
				return p, BadRequest("The value '%s' for parameter '_pageSize' could not be parsed as a valid integer", v)
			}
			p.Query.PageSize = n
		case "_pagedresultscookie":
			cookie, haveCookie = v, v != ""
		case "_pagedresultsoffset":
			offset = v
		case "_totalpagedresultspolicy":
			switch up := strings.ToUpper(v); up {
			case "NONE", "ESTIMATE", "EXACT":
				p.Query.TotalPolicy = up
			default:
				return p, BadRequest("The value '%s' for parameter '_totalPagedResultsPolicy' is not one of NONE, ESTIMATE, EXACT", v)
			}
		default:
			if p.Extra == nil {
				p.Extra = map[string]string{}
			}
			p.Extra[name] = v
		}
	}
	if len(exclusive) > 1 {
		return p, BadRequest("The parameters _queryFilter, _queryId and _queryExpression are mutually exclusive")
	}
	if offset != "" {
		n, err := strconv.Atoi(offset)
		if err != nil {
			return p, BadRequest("The value '%s' for parameter '_pagedResultsOffset' could not be parsed as a valid integer", offset)
		}
		if n > 0 && haveCookie {
			return p, BadRequest("The parameters _pagedResultsOffset and _pagedResultsCookie are mutually exclusive")
		}
		if n > 0 {
			p.Query.Offset = n
		}
	}
	if haveCookie {
		p.Query.Cookie = cookie
		if n, err := strconv.Atoi(cookie); err == nil && n >= 0 {
			p.Query.Offset = n
		}
	}
	if p.Query.FilterText != "" || hasParam(r, "_queryfilter") {
		f, err := query.Parse(p.Query.FilterText)
		if err != nil {
			return p, filterError(p.Query.FilterText, err)
		}
		p.Query.Filter = f
	}
	return p, nil
}

// IsQuery reports whether the request asked for a query.
func (q QueryParams) IsQuery() bool { return q.Filter != nil || q.QueryID != "" }

func hasParam(r *http.Request, lower string) bool {
	for name := range r.URL.Query() {
		if strings.ToLower(name) == lower {
			return true
		}
	}
	return false
}

func filterError(text string, err error) error {
	var se *query.SyntaxError
	if errors.As(err, &se) {
		return BadRequest("The value '%s' for parameter '_queryFilter' could not be parsed as a valid query filter: %s at position %d", text, se.Msg, se.Offset)
	}
	return BadRequest("The value '%s' for parameter '_queryFilter' could not be parsed as a valid query filter: %v", text, err)
}

// parseFields reads a _fields list; "" (or only commas) is every field.
func parseFields(v string) []Field {
	var out []Field
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		out = append(out, ParseField(s))
	}
	return out
}
