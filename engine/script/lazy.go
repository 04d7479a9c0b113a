package script

import (
	"slices"

	"github.com/dop251/goja"
)

// lazyObject is a built-in object (logger, java.lang.System, ...) whose
// members are made on first use. A script touches one or two of the dozen
// built-in functions, and each native function costs a JavaScript object, so
// making them all up front was most of the cost of a run. To the script it is
// an ordinary object: members can be read, replaced, added and deleted.
type lazyObject struct {
	r    *runEnv
	name string                // key of builtinMembers
	vals map[string]goja.Value // made or assigned members; nil marks a deleted one
}

var _ goja.DynamicObject = (*lazyObject)(nil)

func (r *runEnv) newLazy(name string) *goja.Object {
	return r.vm.NewDynamicObject(&lazyObject{r: r, name: name})
}

func (o *lazyObject) builtin(key string) bool {
	return slices.Contains(builtinMembers[o.name], key)
}

// Get implements goja.DynamicObject.
func (o *lazyObject) Get(key string) goja.Value {
	if v, ok := o.vals[key]; ok {
		return v
	}
	if !o.builtin(key) {
		return nil
	}
	v := o.r.member(o.name, key)
	o.Set(key, v)
	return v
}

// Set implements goja.DynamicObject.
func (o *lazyObject) Set(key string, v goja.Value) bool {
	if o.vals == nil {
		o.vals = make(map[string]goja.Value, 2)
	}
	o.vals[key] = v
	return true
}

// Has implements goja.DynamicObject.
func (o *lazyObject) Has(key string) bool {
	if v, ok := o.vals[key]; ok {
		return v != nil
	}
	return o.builtin(key)
}

// Delete implements goja.DynamicObject.
func (o *lazyObject) Delete(key string) bool {
	o.Set(key, nil)
	return true
}

// Keys implements goja.DynamicObject.
func (o *lazyObject) Keys() []string {
	var keys []string
	for _, k := range builtinMembers[o.name] {
		if v, ok := o.vals[k]; !ok || v != nil {
			keys = append(keys, k)
		}
	}
	for k, v := range o.vals {
		if v != nil && !o.builtin(k) {
			keys = append(keys, k)
		}
	}
	return keys
}
