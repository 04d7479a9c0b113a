package ldap

import (
	"context"
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"sundial/engine/connector"
	"sundial/engine/query"
)

// Query streams the objects matching q: the server selects by the LDAP
// form of the filter (see ldapFilter), the query's matcher decides.
func (s *Set) Query(ctx context.Context, q connector.Query, fn func(connector.Object) error) error {
	filter := s.classFilter()
	var m *query.Matcher
	if q.Filter != nil {
		prog, err := query.Compile(q.Filter)
		if err != nil {
			return fmt.Errorf("%s: %w", s.resource, err)
		}
		m = prog.Matcher()
		if f := s.ldapFilter(q.Filter); f != "" {
			filter = "(&" + filter + f + ")"
		}
	}
	attrs := s.attributes()
	if q.IDsOnly && m == nil {
		attrs = []string{s.c.cfg.UIDAttribute}
		if s.byDN() {
			attrs = []string{"1.1"} // no attributes
		}
	}
	return s.search(ctx, s.c.cfg.BaseContexts, filter, attrs, func(e *goldap.Entry) error {
		obj := s.toObject(e)
		if m != nil && !m.Match(obj) {
			return nil
		}
		if q.IDsOnly {
			obj = connector.Object{"_id": obj["_id"]}
		}
		return fn(obj)
	})
}

// ldapFilter returns an LDAP filter that every entry matching f passes
// (more may pass), or "" for no restriction.
func (s *Set) ldapFilter(f query.Filter) string {
	switch f := f.(type) {
	case *query.Literal:
		if f.Value {
			return ""
		}
		return "(!(objectClass=*))"
	case *query.And:
		var parts []string
		for _, o := range f.Operands {
			if p := s.ldapFilter(o); p != "" {
				parts = append(parts, p)
			}
		}
		switch len(parts) {
		case 0:
			return ""
		case 1:
			return parts[0]
		}
		return "(&" + strings.Join(parts, "") + ")"
	case *query.Or:
		var parts []string
		for _, o := range f.Operands {
			p := s.ldapFilter(o)
			if p == "" {
				return "" // one unrestricted operand: all of it
			}
			parts = append(parts, p)
		}
		return "(|" + strings.Join(parts, "") + ")"
	case *query.Present:
		if attr := s.attrOf(f.Field); attr != "" {
			return "(" + attr + "=*)"
		}
	case *query.Comparison:
		attr := s.attrOf(f.Field)
		if attr == "" || f.Value.Kind != query.KindString || f.Value.Str == "" {
			return ""
		}
		v := goldap.EscapeFilter(f.Value.Str)
		switch f.Operator {
		case query.OpEqual:
			return "(" + attr + "=" + v + ")"
		case query.OpStartsWith:
			return "(" + attr + "=" + v + "*)"
		case query.OpContains:
			return "(" + attr + "=*" + v + "*)"
		}
	}
	return ""
}

// attrOf returns the attribute of a one-token field naming a declared
// readable property (or, without declared properties, any attribute), or
// "".
func (s *Set) attrOf(p query.Pointer) string {
	if len(p.Tokens) != 1 {
		return ""
	}
	name := p.Tokens[0]
	if name == "_id" {
		if s.byDN() {
			return ""
		}
		return s.c.cfg.UIDAttribute
	}
	if len(s.props) == 0 {
		if name == s.nameProp {
			return ""
		}
		return name
	}
	if prop, ok := s.declared(name); ok && !prop.notReadable {
		return prop.attr
	}
	return ""
}
