// Package ldap is the LDAP connector: the OpenICF LDAP connector's
// configuration (host, port, ssl, startTLS, principal, credentials,
// baseContexts, object classes, uidAttribute, paging; see Config) over
// github.com/go-ldap/ldap/v3, with the object types of the provisioner:
// nativeType __ACCOUNT__ (accountObjectClasses), __GROUP__
// (groupObjectClasses) or an object class of the server's.
//
// An object's _id is its DN (uidAttribute "dn") or its entryUUID (the
// default). Properties map to attributes by nativeName; __NAME__ is the
// DN. A property of type array holds every value, another the first.
//
// Queries go to the server as an LDAP filter that selects at least the
// matching entries (equality, substrings and presence of declared
// attributes; a part that has no exact LDAP form, such as a negation, an
// ordering or a filter on _id, selects everything), and every entry the
// server returns is then matched in Go by the query's own matcher, so the
// answer is exactly IDM's even where LDAP matching differs (LDAP compares
// most attributes ignoring case).
//
// With ssl (ldaps) or startTLS the server's certificate must chain to
// the system's roots or to a certificate of the PEM file
// trustedCertificates names, and be valid for host, the checks crypto/tls
// makes; a failure says which host and why.
//
// liveSync reads the server's changelog (cn=changelog, the root DSE's
// lastChangeNumber: OpenDJ, DSEE) unless useTimestampsForSync is set;
// without a changelog (OpenLDAP) it searches for entries whose
// modifyTimestamp or createTimestamp is at or after the token, IDM's
// timestamp strategy: the token is a GMT generalized time, changes come
// as CREATE_OR_UPDATE, and deletes are not detected (an entry that is gone
// leaves no timestamp), as with IDM. The token after a pass is the start
// of the pass by the connector's clock, so an entry changed during a pass
// is reported again by the next one (harmless: the change is applied
// twice).
package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"sundial/engine/config"
	"sundial/engine/connector"
)

// dialTimeout bounds a connection attempt.
const dialTimeout = 15 * time.Second

// Connector is one LDAP provisioner: a connection (made on first use,
// remade after it breaks) and its object types.
type Connector struct {
	name string
	cfg  Config
	sets map[string]*Set
	// roots verify the server's certificate with ssl or startTLS: the
	// system's and trustedCertificates'; nil for the system's alone.
	roots *x509.CertPool

	mu   sync.Mutex
	conn *goldap.Conn
}

// New returns the connector called name; objectTypes are the
// provisioner's.
func New(name string, cfg Config, objectTypes map[string]*config.ObjectType) (*Connector, error) {
	c := &Connector{name: name, cfg: cfg, sets: map[string]*Set{}}
	if cfg.TrustedCertificates != "" {
		roots, err := loadRoots(cfg.TrustedCertificates)
		if err != nil {
			return nil, fmt.Errorf("ldap connector %s: configurationProperties.trustedCertificates: %w", name, err)
		}
		c.roots = roots
	}
	for tname, t := range objectTypes {
		s := &Set{c: c, resource: "system/" + name + "/" + tname, nativeType: t.NativeType}
		switch t.NativeType {
		case "__ACCOUNT__":
			s.classes, s.extraFilter = cfg.AccountObjectClasses, cfg.AccountSearchFilter
			s.syncClasses = cfg.ObjectClassesToSynchronize
		case "__GROUP__":
			s.classes, s.extraFilter = cfg.GroupObjectClasses, cfg.GroupSearchFilter
			s.syncClasses = cfg.GroupObjectClasses
		case "":
			return nil, fmt.Errorf("ldap connector %s: object type %q has no nativeType", name, tname)
		default:
			s.classes = []string{t.NativeType}
			s.syncClasses = s.classes
		}
		for _, p := range t.Properties {
			prop := property{name: p.Name, attr: p.NativeName, array: p.Type == "array",
				notReadable:  p.HasFlag("NOT_READABLE") || p.NativeName == cfg.PasswordAttribute || p.NativeName == "__PASSWORD__",
				notCreatable: p.HasFlag("NOT_CREATABLE"), notUpdateable: p.HasFlag("NOT_UPDATEABLE")}
			if prop.attr == "__PASSWORD__" {
				prop.attr = cfg.PasswordAttribute
			}
			if prop.attr == "__NAME__" {
				s.nameProp = p.Name
				continue
			}
			s.props = append(s.props, prop)
		}
		c.sets[tname] = s
	}
	return c, nil
}

// Name is the provisioner's name.
func (c *Connector) Name() string { return c.name }

// ObjectTypes are the declared types, sorted.
func (c *Connector) ObjectTypes() []string {
	out := make([]string, 0, len(c.sets))
	for n := range c.sets {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Set returns one object type's set.
func (c *Connector) Set(objectType string) (connector.ObjectSet, error) {
	s, ok := c.sets[objectType]
	if !ok {
		return nil, fmt.Errorf("system/%s/%s: %w (types: %s)", c.name, objectType, connector.ErrNotFound, strings.Join(c.ObjectTypes(), ", "))
	}
	return s, nil
}

// Test connects, binds and reads the root DSE.
func (c *Connector) Test(ctx context.Context) error {
	_, err := c.rootDSE(ctx)
	return err
}

// Close closes the connection.
func (c *Connector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		err := c.conn.Close()
		c.conn = nil
		return err
	}
	return nil
}

// connection returns the bound connection, dialling when there is none or
// it broke.
func (c *Connector) connection() (*goldap.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil && !c.conn.IsClosing() {
		return c.conn, nil
	}
	addr := net.JoinHostPort(c.cfg.Host, strconv.Itoa(c.cfg.Port))
	scheme := "ldap://"
	tlsConf, untrusted := c.tlsConfig()
	opts := []goldap.DialOpt{goldap.DialWithDialer(&net.Dialer{Timeout: dialTimeout})}
	if c.cfg.SSL {
		scheme = "ldaps://"
		opts = append(opts, goldap.DialWithTLSConfig(tlsConf))
	}
	conn, err := goldap.DialURL(scheme+addr, opts...)
	if err != nil {
		return nil, c.tlsError("connect to "+scheme+addr, err, *untrusted)
	}
	if c.cfg.StartTLS {
		if err := conn.StartTLS(tlsConf); err != nil {
			conn.Close()
			return nil, c.tlsError("startTLS with "+addr, err, *untrusted)
		}
	}
	if c.cfg.Principal != "" {
		if err := conn.Bind(c.cfg.Principal, c.cfg.Credentials); err != nil {
			conn.Close()
			return nil, fmt.Errorf("system/%s: bind as %s: %w", c.name, c.cfg.Principal, err)
		}
	}
	c.conn = conn
	return conn, nil
}

// tlsConfig is the TLS configuration of one connection attempt, and
// where its certificate check leaves the reason it failed. The check is
// crypto/tls's own (the chain to a root, validity, the server-auth usage,
// host among the names), made in VerifyConnection so that its reason
// reaches the error even through StartTLS, which go-ldap reports as text.
func (c *Connector) tlsConfig() (*tls.Config, *error) {
	untrusted := new(error)
	conf := &tls.Config{
		ServerName: c.cfg.Host,
		MinVersion: tls.VersionTLS12,
		// Not skipped: VerifyConnection verifies.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				*untrusted = errors.New("the server sent no certificate")
				return *untrusted
			}
			opts := x509.VerifyOptions{DNSName: c.cfg.Host, Roots: c.roots, Intermediates: x509.NewCertPool()}
			for _, ic := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(ic)
			}
			if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
				*untrusted = err
				return err
			}
			return nil
		},
	}
	return conf, untrusted
}

// tlsError is the error of a failed connection step: why the server's
// certificate is not trusted when that is the cause.
func (c *Connector) tlsError(step string, err, untrusted error) error {
	if untrusted == nil {
		return fmt.Errorf("system/%s: %s: %w", c.name, step, err)
	}
	trusted := "the system's roots (configurationProperties.trustedCertificates adds a PEM file)"
	if c.cfg.TrustedCertificates != "" {
		trusted = "the system's roots and " + c.cfg.TrustedCertificates
	}
	return fmt.Errorf("system/%s: %s: the certificate of %s is not trusted: %w (trusted: %s)", c.name, step, c.cfg.Host, untrusted, trusted)
}

// loadRoots returns the system's roots with the certificates of the PEM
// file at path.
func loadRoots(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return roots, nil
}

// do runs op on the connection, once more on a fresh one when the first
// broke (a server restart, an idle timeout).
func (c *Connector) do(op func(*goldap.Conn) error) error {
	conn, err := c.connection()
	if err != nil {
		return err
	}
	err = op(conn)
	if err != nil && goldap.IsErrorWithCode(err, goldap.ErrorNetwork) {
		if conn, err2 := c.connection(); err2 == nil {
			return op(conn)
		}
	}
	return err
}

// rootDSE reads the root DSE's attributes.
func (c *Connector) rootDSE(ctx context.Context) (*goldap.Entry, error) {
	var entry *goldap.Entry
	err := c.do(func(conn *goldap.Conn) error {
		res, err := conn.Search(goldap.NewSearchRequest("", goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1, 0, false,
			"(objectClass=*)", []string{"*", "+"}, nil))
		if err != nil {
			return err
		}
		if len(res.Entries) == 0 {
			return fmt.Errorf("no root DSE")
		}
		entry = res.Entries[0]
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("system/%s: read the root DSE: %w", c.name, err)
	}
	return entry, ctx.Err()
}

// property maps one IDM property to its attribute.
type property struct {
	name, attr                               string
	array                                    bool
	notReadable, notCreatable, notUpdateable bool
}

// Set is one object type of the directory.
type Set struct {
	c           *Connector
	resource    string
	nativeType  string
	classes     []string // the entries' object classes; new entries get them all
	syncClasses []string
	extraFilter string
	nameProp    string // the property holding the DN (__NAME__), "" when none
	props       []property
}

var (
	_ connector.ObjectSet = (*Set)(nil)
	_ connector.Syncer    = (*Set)(nil)
)

// Resource is system/<name>/<type>.
func (s *Set) Resource() string { return s.resource }

// byDN reports whether objects are keyed by DN.
func (s *Set) byDN() bool { return strings.EqualFold(s.c.cfg.UIDAttribute, "dn") }

// classFilter selects the set's entries: every object class, and the
// configured search filter.
func (s *Set) classFilter() string {
	var b strings.Builder
	b.WriteString("(&")
	for _, oc := range s.classes {
		fmt.Fprintf(&b, "(objectClass=%s)", goldap.EscapeFilter(oc))
	}
	if f := s.extraFilter; f != "" {
		if !strings.HasPrefix(f, "(") {
			f = "(" + f + ")"
		}
		b.WriteString(f)
	}
	b.WriteString(")")
	return b.String()
}

// attributes are the attributes a search asks for.
func (s *Set) attributes() []string {
	attrs := []string{"entryUUID", "modifyTimestamp", "createTimestamp"}
	if len(s.props) == 0 {
		return append(attrs, "*")
	}
	for _, p := range s.props {
		if !p.notReadable {
			attrs = append(attrs, p.attr)
		}
	}
	return attrs
}

// toObject maps an entry to an object.
func (s *Set) toObject(e *goldap.Entry) connector.Object {
	obj := connector.Object{}
	if s.byDN() {
		obj["_id"] = e.DN
	} else {
		obj["_id"] = e.GetAttributeValue(s.c.cfg.UIDAttribute)
	}
	if s.nameProp != "" {
		obj[s.nameProp] = e.DN
	}
	if len(s.props) == 0 {
		for _, a := range e.Attributes {
			if strings.EqualFold(a.Name, "modifyTimestamp") || strings.EqualFold(a.Name, "createTimestamp") {
				continue
			}
			obj[a.Name] = values(a.Values, len(a.Values) > 1)
		}
		return obj
	}
	for _, p := range s.props {
		if p.notReadable {
			continue
		}
		vs := e.GetEqualFoldAttributeValues(p.attr)
		if len(vs) == 0 {
			if p.array {
				obj[p.name] = []any{}
			}
			continue
		}
		obj[p.name] = values(vs, p.array)
	}
	return obj
}

func values(vs []string, array bool) any {
	if !array {
		return vs[0]
	}
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// attrValues turns a property value into attribute values.
func attrValues(name string, v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		if v == "" {
			return nil, nil
		}
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			vs, err := attrValues(name, x)
			if err != nil {
				return nil, err
			}
			out = append(out, vs...)
		}
		return out, nil
	case bool:
		return []string{strings.ToUpper(strconv.FormatBool(v))}, nil
	case map[string]any:
		return nil, fmt.Errorf("property %q: an object is not an attribute value", name)
	}
	return []string{fmt.Sprint(v)}, nil
}

// find returns the entry of id, or an error wrapping ErrNotFound.
func (s *Set) find(ctx context.Context, id string) (*goldap.Entry, error) {
	var req *goldap.SearchRequest
	if s.byDN() {
		req = goldap.NewSearchRequest(id, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1, 0, false, s.classFilter(), s.attributes(), nil)
	}
	var found *goldap.Entry
	bases := s.c.cfg.BaseContexts
	if req != nil {
		bases = []string{id}
	}
	for _, base := range bases {
		if req == nil || base != id {
			filter := fmt.Sprintf("(&%s(%s=%s))", s.classFilter(), s.c.cfg.UIDAttribute, goldap.EscapeFilter(id))
			req = goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 2, 0, false, filter, s.attributes(), nil)
		}
		err := s.c.do(func(conn *goldap.Conn) error {
			res, err := conn.Search(req)
			if err != nil {
				return err
			}
			if len(res.Entries) > 1 {
				return fmt.Errorf("%s: %d entries have %s=%s", s.resource, len(res.Entries), s.c.cfg.UIDAttribute, id)
			}
			if len(res.Entries) == 1 {
				found = res.Entries[0]
			}
			return nil
		})
		if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) || goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidDNSyntax) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", s.resource, id, err)
		}
		if found != nil {
			return found, ctx.Err()
		}
	}
	return nil, fmt.Errorf("%s/%s: %w", s.resource, id, connector.ErrNotFound)
}

// Read returns the object of id.
func (s *Set) Read(ctx context.Context, id string) (connector.Object, error) {
	e, err := s.find(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.toObject(e), nil
}

// readDN reads the entry at dn as an object.
func (s *Set) readDN(ctx context.Context, dn string) (connector.Object, error) {
	var e *goldap.Entry
	err := s.c.do(func(conn *goldap.Conn) error {
		res, err := conn.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1, 0, false, "(objectClass=*)", s.attributes(), nil))
		if err != nil {
			return err
		}
		if len(res.Entries) == 0 {
			return connector.ErrNotFound
		}
		e = res.Entries[0]
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: read back %s: %w", s.resource, dn, err)
	}
	return s.toObject(e), ctx.Err()
}

// declared returns the property called name.
func (s *Set) declared(name string) (property, bool) {
	for _, p := range s.props {
		if p.name == name {
			return p, true
		}
	}
	return property{}, false
}

// Create adds an entry. Its DN is the object's __NAME__ property, else id
// when objects are keyed by DN.
func (s *Set) Create(ctx context.Context, id string, obj connector.Object) (connector.Object, error) {
	dn := ""
	if s.nameProp != "" {
		dn, _ = obj[s.nameProp].(string)
	}
	if dn == "" && s.byDN() {
		dn = id
	}
	if dn == "" {
		return nil, fmt.Errorf("%s: create: no DN (the %s property, __NAME__)", s.resource, s.nameProp)
	}
	req := goldap.NewAddRequest(dn, nil)
	hasClass := false
	for k, v := range obj {
		if k == "_id" || k == "_rev" || k == s.nameProp {
			continue
		}
		attr := k
		if len(s.props) > 0 {
			p, ok := s.declared(k)
			if !ok {
				return nil, fmt.Errorf("%s: unknown property %q (not in the provisioner's objectTypes)", s.resource, k)
			}
			if p.notCreatable {
				return nil, fmt.Errorf("%s: property %q is not creatable", s.resource, k)
			}
			attr = p.attr
		}
		vs, err := attrValues(k, v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.resource, err)
		}
		if len(vs) == 0 {
			continue
		}
		hasClass = hasClass || strings.EqualFold(attr, "objectClass")
		req.Attribute(attr, vs)
	}
	if !hasClass {
		req.Attribute("objectClass", s.classes)
	}
	err := s.c.do(func(conn *goldap.Conn) error { return conn.Add(req) })
	if goldap.IsErrorWithCode(err, goldap.LDAPResultEntryAlreadyExists) {
		return nil, fmt.Errorf("%s: create %s: %w: it exists", s.resource, dn, connector.ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: create %s: %w", s.resource, dn, err)
	}
	return s.readDN(ctx, dn)
}

// Update replaces the declared attributes of id's entry with obj's (a
// declared readable attribute obj lacks is removed) and moves the entry
// when obj's __NAME__ is another DN. rev is ignored: entries have no
// revisions.
func (s *Set) Update(ctx context.Context, id, rev string, obj connector.Object) (connector.Object, error) {
	e, err := s.find(ctx, id)
	if err != nil {
		return nil, err
	}
	mod := goldap.NewModifyRequest(e.DN, nil)
	if len(s.props) == 0 {
		for k, v := range obj {
			if k == "_id" || k == "_rev" || k == s.nameProp {
				continue
			}
			vs, err := attrValues(k, v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.resource, err)
			}
			mod.Replace(k, vs)
		}
	} else {
		for k := range obj {
			if _, ok := s.declared(k); !ok && k != "_id" && k != "_rev" && k != s.nameProp {
				return nil, fmt.Errorf("%s: unknown property %q (not in the provisioner's objectTypes)", s.resource, k)
			}
		}
		for _, p := range s.props {
			v, given := obj[p.name]
			if p.notUpdateable || (!given && (p.notReadable || strings.EqualFold(p.attr, "objectClass"))) {
				continue
			}
			vs, err := attrValues(p.name, v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.resource, err)
			}
			old := e.GetEqualFoldAttributeValues(p.attr)
			if len(vs) == 0 && len(old) == 0 || !p.notReadable && sameValues(old, vs) {
				continue
			}
			mod.Replace(p.attr, vs)
		}
	}
	if len(mod.Changes) > 0 {
		if err := s.c.do(func(conn *goldap.Conn) error { return conn.Modify(mod) }); err != nil {
			return nil, fmt.Errorf("%s: update %s: %w", s.resource, e.DN, err)
		}
	}
	dn := e.DN
	if newDN, _ := obj[s.nameProp].(string); s.nameProp != "" && newDN != "" && !strings.EqualFold(newDN, e.DN) {
		if err := s.rename(e.DN, newDN); err != nil {
			return nil, err
		}
		dn = newDN
	}
	return s.readDN(ctx, dn)
}

// rename moves the entry at from to to.
func (s *Set) rename(from, to string) error {
	parsed, err := goldap.ParseDN(to)
	if err != nil || len(parsed.RDNs) == 0 {
		return fmt.Errorf("%s: rename %s: bad DN %q: %v", s.resource, from, to, err)
	}
	rdn, parent, _ := strings.Cut(to, ",")
	oldParent := ""
	if _, p, ok := strings.Cut(from, ","); ok {
		oldParent = p
	}
	newSup := ""
	if !strings.EqualFold(parent, oldParent) {
		newSup = parent
	}
	err = s.c.do(func(conn *goldap.Conn) error {
		return conn.ModifyDN(goldap.NewModifyDNRequest(from, rdn, true, newSup))
	})
	if goldap.IsErrorWithCode(err, goldap.LDAPResultEntryAlreadyExists) {
		return fmt.Errorf("%s: rename %s to %s: %w: it exists", s.resource, from, to, connector.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("%s: rename %s to %s: %w", s.resource, from, to, err)
	}
	return nil
}

// sameValues compares attribute values as sets.
func sameValues(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, v := range a {
		seen[v]++
	}
	for _, v := range b {
		if seen[v] == 0 {
			return false
		}
		seen[v]--
	}
	return true
}

// Delete removes id's entry.
func (s *Set) Delete(ctx context.Context, id, rev string) error {
	e, err := s.find(ctx, id)
	if err != nil {
		return err
	}
	err = s.c.do(func(conn *goldap.Conn) error { return conn.Del(goldap.NewDelRequest(e.DN, nil)) })
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		return fmt.Errorf("%s/%s: %w", s.resource, id, connector.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s: delete %s: %w", s.resource, e.DN, err)
	}
	return nil
}

// search streams the entries of filter under every base context.
func (s *Set) search(ctx context.Context, bases []string, filter string, attrs []string, fn func(*goldap.Entry) error) error {
	for _, base := range bases {
		if err := s.searchBase(ctx, base, filter, attrs, fn); err != nil {
			return err
		}
	}
	return nil
}

func (s *Set) searchBase(ctx context.Context, base, filter string, attrs []string, fn func(*goldap.Entry) error) error {
	conn, err := s.c.connection()
	if err != nil {
		return err
	}
	if !s.c.cfg.UsePagedResultControl {
		req := goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		res := conn.SearchAsync(ctx, req, 64)
		for res.Next() {
			if err := fn(res.Entry()); err != nil {
				return err
			}
		}
		if err := res.Err(); err != nil {
			return fmt.Errorf("%s: search %s %s: %w", s.resource, base, filter, err)
		}
		return ctx.Err()
	}
	paging := goldap.NewControlPaging(uint32(s.c.cfg.BlockSize))
	for {
		req := goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false, filter, attrs, []goldap.Control{paging})
		res, err := conn.Search(req)
		if err != nil {
			return fmt.Errorf("%s: search %s %s: %w", s.resource, base, filter, err)
		}
		for _, e := range res.Entries {
			if err := fn(e); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		ctrl, _ := goldap.FindControl(res.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging)
		if ctrl == nil || len(ctrl.Cookie) == 0 {
			return nil
		}
		paging.SetCookie(ctrl.Cookie)
	}
}
