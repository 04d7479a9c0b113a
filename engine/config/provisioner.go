package config

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
)

// The connectors Sundial runs, by their connectorRef.connectorName. Both
// generations of the OpenICF CSV connector (1.1 and 1.5+/2.x) carry the
// same name; their configurationProperties tell them apart.
const (
	ConnectorCSV  = "org.forgerock.openicf.csvfile.CSVFileConnector"
	ConnectorLDAP = "org.identityconnectors.ldap.LdapConnector"
)

// provisionerPrefix starts the name of a provisioner file:
// provisioner.openicf-<name>.json.
const provisionerPrefix = "provisioner.openicf-"

// Provisioner is one provisioner.openicf-<name>.json (or .yaml): a
// connector's configuration, IDM's format.
type Provisioner struct {
	// Name is the <name> of system/<name>/<type>: the file's "name" key,
	// else the <name> of its file name.
	Name string
	// File is the file's path relative to the conf directory.
	File string
	// Enabled is the "enabled" key (true when absent).
	Enabled bool
	// Runnable reports whether Sundial has the connector: a known
	// connectorName, and enabled. Other provisioners load with a warning.
	Runnable     bool
	ConnectorRef ConnectorRef
	// ConfigurationProperties are as written, after &{property}
	// substitution: strings, bools, int64 or float64 numbers, []any,
	// map[string]any.
	ConfigurationProperties map[string]any
	// ObjectTypes by their name (the <type> of system/<name>/<type>).
	ObjectTypes        map[string]*ObjectType
	SyncFailureHandler SyncFailureHandler
	// Config is the whole file as written, after property substitution
	// (poolConfigOption, operationTimeout, ... included), for
	// ?_action=test's "config".
	Config json.RawMessage
	// Hash is the sha256 hex of the file's bytes: equal hash, same
	// connector (property values are in Config).
	Hash string
}

// ConnectorRef names the connector a provisioner runs.
type ConnectorRef struct {
	ConnectorName string
	BundleName    string
	BundleVersion string
	// ConnectorHostRef names a remote connector server; "" runs locally.
	ConnectorHostRef string
}

// ObjectType is one entry of objectTypes.
type ObjectType struct {
	// Name is the entry's key ("account", "group").
	Name string
	// NativeType is the connector's object class: "__ACCOUNT__",
	// "__GROUP__", or an LDAP class; the entry's "nativeType", else its
	// "id".
	NativeType string
	// Properties by name, sorted by name.
	Properties []ObjectProperty
}

// Property returns the property called name.
func (t *ObjectType) Property(name string) (ObjectProperty, bool) {
	i := sort.Search(len(t.Properties), func(i int) bool { return t.Properties[i].Name >= name })
	if i < len(t.Properties) && t.Properties[i].Name == name {
		return t.Properties[i], true
	}
	return ObjectProperty{}, false
}

// ObjectProperty is one property of an object type.
type ObjectProperty struct {
	// Name is the property's name in IDM's objects.
	Name string
	// NativeName is the attribute's name in the system ("__NAME__" for
	// the object's name); Name when absent.
	NativeName string
	Type       string // JSON Schema type: "string", "array", "boolean", ...
	NativeType string // "string", "JAVA_TYPE_BIGINTEGER", ...
	// ItemsNativeType is the nativeType of an array's items.
	ItemsNativeType string
	Required        bool
	// Flags: NOT_CREATABLE, NOT_UPDATEABLE, NOT_READABLE,
	// NOT_RETURNED_BY_DEFAULT.
	Flags []string
}

// HasFlag reports whether the property carries flag.
func (p ObjectProperty) HasFlag(flag string) bool {
	for _, f := range p.Flags {
		if f == flag {
			return true
		}
	}
	return false
}

// SyncFailureHandler is what liveSync does with a change that keeps
// failing.
type SyncFailureHandler struct {
	// MaxRetries is the retries before PostRetryAction; -1 when absent
	// (IDM then retries forever).
	MaxRetries int
	// PostRetryAction is "logged-ignore", "dead-letter-queue", "script"
	// (then PostRetryScript holds the script), or "" when absent.
	PostRetryAction string
	PostRetryScript json.RawMessage
}

// loadProvisioners reads every provisioner file; a file with errors keeps
// its previous version when there is one.
func (l *loader) loadProvisioners(paths []string, env *scheduleEnv, used substituted) map[string]*Provisioner {
	out := map[string]*Provisioner{}
	byFile := map[string]*Provisioner{}
	if prev := l.opts.Previous; prev != nil {
		for _, p := range prev.Provisioners {
			byFile[p.File] = p
		}
	}
	sort.Strings(paths)
	for _, rel := range paths {
		data, err := l.read(rel, nil)
		if err != nil {
			l.addFile(rel, []error{readFailure(l.display(rel), err)}, nil)
			if p := byFile[rel]; p != nil {
				out[p.Name] = p
			}
			continue
		}
		l.fileHash[rel] = hashBytes(data)
		c := &fileCtx{file: l.display(rel)}
		fileUsed := substituted{}
		p := parseProvisionerFile(c, rel, data, filepath.Ext(rel) != ".json", env, fileUsed)
		if p != nil && len(c.errs) == 0 {
			if other, dup := out[p.Name]; dup {
				c.errs = append(c.errs, &FileError{File: c.file, Line: 1, Col: 1, Err: errorf(ErrDuplicateID, "provisioner %q is declared twice (%s and %s)", p.Name, other.File, rel)})
			}
		}
		l.addFile(rel, c.errs, c.warns)
		if len(c.errs) > 0 {
			if old := byFile[rel]; old != nil {
				if _, taken := out[old.Name]; !taken {
					out[old.Name] = old
				}
			}
			continue
		}
		for k, v := range fileUsed {
			used[k] = v
		}
		out[p.Name] = p
	}
	return out
}

// parseProvisionerFile reads one provisioner file; rel is its path
// relative to the conf directory.
// Its syncFailureHandler's script is checked as a mapping's scripts are
// (env's scripts directory and script check).
func parseProvisionerFile(c *fileCtx, rel string, data []byte, isYAML bool, env *scheduleEnv, used substituted) *Provisioner {
	root := c.decode(data, isYAML, env.props, used)
	if root == nil {
		if len(c.errs) == 0 {
			c.errs = append(c.errs, &FileError{File: c.file, Line: 1, Col: 1, Err: errorf(ErrEmpty, "empty provisioner file: delete it to declare no connector")})
		}
		return nil
	}
	c.validateSchema("provisioner", root)
	if len(c.errs) > 0 {
		sortErrors(c.errs)
		return nil
	}
	base := filepath.Base(rel)
	fileName := strings.TrimSuffix(strings.TrimPrefix(base, provisionerPrefix), filepath.Ext(base))
	p := &Provisioner{Name: fileName, File: rel, Enabled: true, Hash: hashBytes(data),
		SyncFailureHandler: SyncFailureHandler{MaxRetries: -1}}
	if n := root.get("name"); n != nil {
		p.Name = n.s
		if n.s != fileName {
			c.warnAt(n, "/name", errorf(ErrIgnored, "the name %q differs from the file name's %q: the connector is system/%s", n.s, fileName, n.s))
		}
	}
	if e := root.get("enabled"); e != nil {
		p.Enabled = e.b
	}
	value := c.value.(map[string]any)
	raw, err := json.Marshal(value)
	if err != nil {
		c.errAt(root, "", errorf(ErrInvalidValue, "provisioner %q: %v", p.Name, err))
		return nil
	}
	p.Config = raw
	ref := root.get("connectorRef")
	p.ConnectorRef = ConnectorRef{
		ConnectorName:    str(ref.get("connectorName")),
		BundleName:       str(ref.get("bundleName")),
		BundleVersion:    str(ref.get("bundleVersion")),
		ConnectorHostRef: str(ref.get("connectorHostRef")),
	}
	if cp, ok := value["configurationProperties"].(map[string]any); ok {
		p.ConfigurationProperties = cp
	} else {
		p.ConfigurationProperties = map[string]any{}
	}
	p.ObjectTypes = parseObjectTypes(root.get("objectTypes"))
	p.SyncFailureHandler = parseSyncFailureHandler(root.get("syncFailureHandler"))
	if p.SyncFailureHandler.PostRetryScript != nil {
		b := &builder{fileCtx: c, root: root, env: env, data: data}
		b.syncScript(root.get("syncFailureHandler").get("postRetryAction").get("script"), "/syncFailureHandler/postRetryAction/script")
	}
	switch name := p.ConnectorRef.ConnectorName; {
	case ref == nil:
		c.warnAt(root, "", errorf(ErrIgnored, "provisioner %q has no connectorRef: it does not run", p.Name))
	case remoteHost(p.ConnectorRef.ConnectorHostRef):
		c.warnAt(ref.get("connectorHostRef"), "/connectorRef/connectorHostRef", errorf(ErrIgnored, "provisioner %q uses the remote connector server %q, which Sundial does not reach: it does not run", p.Name, p.ConnectorRef.ConnectorHostRef))
	case name != ConnectorCSV && name != ConnectorLDAP:
		c.warnAt(ref.get("connectorName"), "/connectorRef/connectorName", errorf(ErrIgnored, "provisioner %q: Sundial does not run the connector %s (it runs %s and %s): system/%s has no objects", p.Name, name, ConnectorCSV, ConnectorLDAP, p.Name))
	default:
		p.Runnable = p.Enabled
	}
	sortErrors(c.errs)
	sortErrors(c.warns)
	return p
}

// remoteHost reports whether a connectorHostRef names a remote connector
// server: "", "#LOCAL" and IDM's OSGi connector manager are local.
func remoteHost(ref string) bool {
	return ref != "" && ref != "#LOCAL" && !strings.HasPrefix(ref, "osgi:")
}

// parseObjectTypes reads objectTypes, which the schema has checked.
func parseObjectTypes(n *node) map[string]*ObjectType {
	out := map[string]*ObjectType{}
	if n == nil {
		return out
	}
	for i, k := range n.keys {
		o := n.items[i]
		t := &ObjectType{Name: k.s, NativeType: str(o.get("nativeType"))}
		if t.NativeType == "" {
			t.NativeType = str(o.get("id"))
		}
		if props := o.get("properties"); props != nil {
			for j, pk := range props.keys {
				pn := props.items[j]
				prop := ObjectProperty{
					Name:            pk.s,
					NativeName:      str(pn.get("nativeName")),
					Type:            str(pn.get("type")),
					NativeType:      str(pn.get("nativeType")),
					ItemsNativeType: str(pn.get("items").get("nativeType")),
				}
				if prop.NativeName == "" {
					prop.NativeName = prop.Name
				}
				if r := pn.get("required"); r != nil {
					prop.Required = r.b
				}
				if fl := pn.get("flags"); fl != nil {
					for _, f := range fl.items {
						prop.Flags = append(prop.Flags, f.s)
					}
				}
				t.Properties = append(t.Properties, prop)
			}
			sort.Slice(t.Properties, func(a, b int) bool { return t.Properties[a].Name < t.Properties[b].Name })
		}
		out[t.Name] = t
	}
	return out
}

// parseSyncFailureHandler reads syncFailureHandler in IDM's shape
// (maxRetries, postRetryAction) or OpenIDM 2's (syncFailureRetries,
// postRetryHandler.strategy "dead-letter").
func parseSyncFailureHandler(n *node) SyncFailureHandler {
	h := SyncFailureHandler{MaxRetries: -1}
	if n == nil {
		return h
	}
	for _, key := range []string{"maxRetries", "syncFailureRetries"} {
		if r := n.get(key); r != nil && r.kind == kindInt {
			h.MaxRetries = int(r.i)
		}
	}
	if a := n.get("postRetryAction"); a != nil {
		if a.kind == kindString {
			h.PostRetryAction = a.s
		} else if s := a.get("script"); s != nil {
			h.PostRetryAction = "script"
			h.PostRetryScript, _ = json.Marshal(s.value()) // a decoded value always marshals
		}
	}
	if ph := n.get("postRetryHandler"); ph != nil && h.PostRetryAction == "" {
		switch str(ph.get("strategy")) {
		case "dead-letter":
			h.PostRetryAction = "dead-letter-queue"
		default:
			h.PostRetryAction = "logged-ignore"
		}
	}
	return h
}

// RunnableProvisioners lists the provisioners Sundial runs, sorted by
// name.
func (d *Desired) RunnableProvisioners() []*Provisioner {
	var out []*Provisioner
	for _, p := range d.Provisioners {
		if p.Runnable {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// projectDir is IDM's project directory (&{idm.instance.dir},
// &{launcher.project.location}): the directory holding the conf
// directory.
func projectDir(confDir string) string {
	abs, err := filepath.Abs(confDir)
	if err != nil {
		abs = confDir
	}
	return filepath.Dir(abs)
}
