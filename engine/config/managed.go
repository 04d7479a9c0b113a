package config

import (
	"encoding/json"
	"fmt"
	"path/filepath"
)

// ManagedConfig is managed.json: the managed object types the conf
// directory declares (none without the file).
type ManagedConfig struct {
	// File is the file's path relative to the conf directory, "" without
	// one.
	File string
	// Objects are the declared types, in file order.
	Objects []ManagedObject
}

// ManagedObject is one declared type.
type ManagedObject struct {
	// Name is the <type> of managed/<type>/<id>.
	Name string
	// Config is the type's entry as written, after &{property}
	// substitution (schema, scripts, ...), for the services that interpret
	// it.
	Config json.RawMessage
}

// Type returns the declared type called name.
func (m ManagedConfig) Type(name string) (ManagedObject, bool) {
	for _, o := range m.Objects {
		if o.Name == name {
			return o, true
		}
	}
	return ManagedObject{}, false
}

// Names lists the declared types' names in file order.
func (m ManagedConfig) Names() []string {
	names := make([]string, len(m.Objects))
	for i, o := range m.Objects {
		names[i] = o.Name
	}
	return names
}

// loadManaged reads managed.json; on errors it keeps the previous
// declaration when there is one.
func (l *loader) loadManaged(paths []string, props *properties, used substituted) ManagedConfig {
	var fallback ManagedConfig
	if l.opts.Previous != nil {
		fallback = l.opts.Previous.Managed
	}
	if len(paths) == 0 {
		return ManagedConfig{}
	}
	rel, data, ok := l.readSingle("managed object", paths)
	if !ok {
		return fallback
	}
	c := &fileCtx{file: l.display(rel)}
	fileUsed := substituted{}
	m := parseManagedFile(c, data, filepath.Ext(rel) != ".json", props, fileUsed)
	m.File = rel
	l.addFile(rel, c.errs, c.warns)
	if len(c.errs) > 0 {
		return fallback
	}
	for k, v := range fileUsed {
		used[k] = v
	}
	return m
}

// parseManagedFile reads managed.json (or .yaml).
func parseManagedFile(c *fileCtx, data []byte, isYAML bool, props *properties, used substituted) ManagedConfig {
	var m ManagedConfig
	root := c.decode(data, isYAML, props, used)
	if root == nil {
		if len(c.errs) == 0 {
			c.errs = append(c.errs, &FileError{File: c.file, Line: 1, Col: 1, Err: errorf(ErrEmpty, "empty managed object file: delete it to declare no managed objects")})
		}
		return m
	}
	c.validateSchema("managed", root)
	if len(c.errs) > 0 {
		return m
	}
	objects := root.get("objects")
	seen := map[string]int{}
	for i, o := range objects.items {
		name := str(o.get("name"))
		ptr := fmt.Sprintf("/objects/%d/name", i)
		if j, dup := seen[name]; dup {
			c.errAt(o.get("name"), ptr, errorf(ErrDuplicateID, "managed object type %q is declared twice (objects %d and %d)", name, j, i))
			continue
		}
		seen[name] = i
		raw, err := json.Marshal(o.value())
		if err != nil {
			c.errAt(o, fmt.Sprintf("/objects/%d", i), errorf(ErrInvalidValue, "managed object type %q: %v", name, err))
			continue
		}
		m.Objects = append(m.Objects, ManagedObject{Name: name, Config: raw})
	}
	sortErrors(c.errs)
	sortErrors(c.warns)
	return m
}
