package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// mappingResources are the object sets a conf directory declares, which a
// mapping's source and target must name: managed.json's types and the
// provisioner files' object types. A mapping is checked against them at
// load, so that `sundial validate` finds a misspelt resource or property
// before a recon fails on it.
type mappingResources struct {
	managed      ManagedConfig
	provisioners map[string]*Provisioner
	// managedProps caches each managed type's schema properties (nil
	// slice: the type declares none).
	managedProps map[string][]string
}

// resourceCheck is what checking a mapping's source or target found.
type resourceCheck struct {
	// props are the resource's declared property names, sorted; nil when
	// its type declares none, so that any property goes.
	props []string
	// problem says why the resource is unknown ("" when it is known);
	// warnOnly makes it a warning: a conf directory without managed.json
	// (the object sets come from elsewhere, as in a library's tests or a
	// partial export) cannot say which managed types exist.
	problem  string
	warnOnly bool
}

// checkResource checks a mapping's source or target resource, one of
// managed/<type> and system/<name>/<type>.
func (r *mappingResources) checkResource(resource string) resourceCheck {
	parts := strings.Split(resource, "/")
	switch parts[0] {
	case "managed":
		if r.managed.File == "" {
			return resourceCheck{problem: fmt.Sprintf("%s is not declared: there is no managed.json, so the daemon serves no managed objects and a recon of this mapping fails", resource), warnOnly: true}
		}
		t, ok := r.managed.Type(parts[1])
		if !ok {
			return resourceCheck{problem: fmt.Sprintf("%s is not declared in %s%s", resource, r.managed.File, hint(parts[1], r.managed.Names()))}
		}
		return resourceCheck{props: r.managedSchema(t)}
	case "system":
		p, ok := r.provisioners[parts[1]]
		if !ok {
			return resourceCheck{problem: fmt.Sprintf("no provisioner called %q (a provisioner.openicf-%s.json file)%s", parts[1], parts[1], hint(parts[1], slices.Sorted(maps.Keys(r.provisioners))))}
		}
		t, ok := p.ObjectTypes[parts[2]]
		switch {
		case !ok && p.ConnectorRef.ConnectorName == ConnectorCSV && len(p.ObjectTypes) == 0 && parts[2] == "account":
			// The CSV connector's one type, every column a property.
			return resourceCheck{}
		case !ok:
			types := slices.Sorted(maps.Keys(p.ObjectTypes))
			return resourceCheck{problem: fmt.Sprintf("provisioner %q (%s) has no object type %q%s", p.Name, p.File, parts[2], hint(parts[2], types))}
		case len(t.Properties) == 0:
			return resourceCheck{}
		}
		names := make([]string, len(t.Properties))
		for i, prop := range t.Properties {
			names[i] = prop.Name
		}
		return resourceCheck{props: names}
	}
	return resourceCheck{}
}

// managedSchema is the sorted property names of a managed type's
// schema.properties; nil when it has none.
func (r *mappingResources) managedSchema(t ManagedObject) []string {
	if props, done := r.managedProps[t.Name]; done {
		return props
	}
	var entry struct {
		Schema struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"schema"`
	}
	_ = json.Unmarshal(t.Config, &entry) // Config is the marshalled entry: it always decodes
	var names []string                   // nil without properties
	if len(entry.Schema.Properties) > 0 {
		names = slices.Sorted(maps.Keys(entry.Schema.Properties))
	}
	if r.managedProps == nil {
		r.managedProps = map[string][]string{}
	}
	r.managedProps[t.Name] = names
	return names
}

// hint is a " (did you mean "x"?)" suffix, or "" without a close name.
func hint(s string, candidates []string) string {
	if h := suggest(s, candidates); h != "" {
		return fmt.Sprintf(" (did you mean %q?)", h)
	}
	return ""
}

// propertyRoot is the top-level property a property mapping's target
// names: "name" for "name/givenName" and "/name".
func propertyRoot(target string) string {
	root, _, _ := strings.Cut(strings.TrimPrefix(target, "/"), "/")
	return root
}

// checkResources checks a mapping's source and target against the
// declared resources, and its property targets against the target's
// declared properties.
func (b *builder) checkResources(m *Mapping, n *node, ptr string) {
	if b.resources == nil {
		return
	}
	var targetProps []string
	for _, side := range []struct{ key, val string }{{"source", m.Source}, {"target", m.Target}} {
		if !validResource(side.val) {
			continue // reported already
		}
		rc := b.resources.checkResource(side.val)
		switch {
		case rc.problem != "" && rc.warnOnly:
			b.warnAt(n.get(side.key), ptr+"/"+side.key, errorf(ErrIgnored, "%s: %s", side.key, rc.problem))
		case rc.problem != "":
			b.errAt(n.get(side.key), ptr+"/"+side.key, errorf(ErrInvalidValue, "%s: %s", side.key, rc.problem))
		case side.key == "target":
			targetProps = rc.props
		}
	}
	if targetProps == nil {
		return
	}
	for i, p := range itemsOf(n.get("properties")) {
		tn := p.get("target")
		root := propertyRoot(str(tn))
		if tn == nil || root == "" || root == "_id" || root == "_rev" {
			continue // every object has its id and revision
		}
		if _, found := sort.Find(len(targetProps), func(j int) int { return strings.Compare(root, targetProps[j]) }); found {
			continue
		}
		pp := fmt.Sprintf("%s/properties/%d/target", ptr, i)
		b.errAt(tn, pp, errorf(ErrInvalidValue, "%s: %s has no property %q%s", dottedPath(pp), m.Target, root, hint(root, targetProps)))
	}
}
