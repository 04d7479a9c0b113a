package daemon

import (
	"sundial/engine/api"
	"sundial/engine/store"
)

// managedTypes are the managed object types of the applied conf
// directory: each request reads the snapshot in force, so a reload that
// changes managed.json changes what /openidm/managed serves at once.
type managedTypes struct{ d *Daemon }

func (m managedTypes) Declared(name string) bool {
	cur := m.d.current.Load()
	if cur == nil {
		return false
	}
	_, ok := cur.Managed.Type(name)
	return ok
}

// managedAPI is what api.New needs for /openidm/managed: the types, and
// the database's managed objects (none without Options.DB, which makes
// the endpoints a 501).
func (d *Daemon) managedAPI() (store.Objects, api.ManagedTypes) {
	if d.opts.DB == nil {
		return nil, managedTypes{d}
	}
	objs, err := d.managedObjects()
	if err != nil {
		d.log.Warn("managed objects are not served: the store holds none", "err", err)
		return nil, managedTypes{d}
	}
	return objs, managedTypes{d}
}
