// Package system is the registry of the running connectors: it builds one
// connector per runnable provisioner of a config snapshot (dispatching on
// connectorRef.connectorName to engine/connector/csvfile or
// engine/connector/ldap), resolves IDM's "system/<name>/<type>" to an
// object set, and answers ?_action=test.
//
// Apply swaps connectors on a config change without disturbing work in
// progress: a connector whose provisioner is unchanged is kept; a changed
// or removed one leaves the registry at once (new acquisitions get the new
// one) and is closed when its last user releases it.
package system

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"sundial/engine/config"
	"sundial/engine/connector"
	"sundial/engine/connector/csvfile"
	"sundial/engine/connector/ldap"
)

// Registry holds the connectors of the applied snapshot. It is safe for
// concurrent use.
type Registry struct {
	log *slog.Logger

	mu      sync.Mutex
	entries map[string]*entry // by provisioner name
}

// entry is one provisioner and its connector.
type entry struct {
	prov *config.Provisioner
	conn connector.Connector // nil when not runnable or not built
	err  error               // why conn is nil, for a runnable provisioner
	// users counts the acquisitions not released; retired is set when
	// the entry left the registry. Both are guarded by Registry.mu.
	users   int
	retired bool
}

// New returns an empty registry.
func New(log *slog.Logger) *Registry {
	if log == nil {
		log = slog.Default()
	}
	return &Registry{log: log, entries: map[string]*entry{}}
}

// Apply makes the registry hold d's provisioners.
func (r *Registry) Apply(d *config.Desired) {
	project := filepath.Dir(absDir(d.Dir))
	next := map[string]*entry{}
	r.mu.Lock()
	old := r.entries
	r.mu.Unlock()
	for name, p := range d.Provisioners {
		if e := old[name]; e != nil && e.prov.Hash == p.Hash && bytes.Equal(e.prov.Config, p.Config) && e.prov.File == p.File {
			next[name] = e
			continue
		}
		e := &entry{prov: p}
		if p.Runnable {
			e.conn, e.err = build(p, project)
			if e.err != nil {
				r.log.Error("connector not started", "provisioner", name, "file", p.File, "err", e.err)
			}
		}
		next[name] = e
	}
	var closeNow []*entry
	r.mu.Lock()
	for name, e := range r.entries {
		if next[name] == e {
			continue
		}
		e.retired = true
		if e.users == 0 {
			closeNow = append(closeNow, e)
		}
	}
	r.entries = next
	r.mu.Unlock()
	for _, e := range closeNow {
		r.close(e)
	}
}

func absDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// build makes the connector of p.
func build(p *config.Provisioner, project string) (connector.Connector, error) {
	switch p.ConnectorRef.ConnectorName {
	case config.ConnectorCSV:
		cfg, err := csvfile.ParseConfig(p.ConfigurationProperties, project)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.File, err)
		}
		return csvfile.New(p.Name, cfg, p.ObjectTypes)
	case config.ConnectorLDAP:
		cfg, err := ldap.ParseConfig(p.ConfigurationProperties, project)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.File, err)
		}
		return ldap.New(p.Name, cfg, p.ObjectTypes)
	}
	return nil, fmt.Errorf("%s: %w: connector %s", p.File, connector.ErrNotSupported, p.ConnectorRef.ConnectorName)
}

func (r *Registry) close(e *entry) {
	if e.conn == nil {
		return
	}
	if err := e.conn.Close(); err != nil {
		r.log.Warn("closing a connector", "provisioner", e.prov.Name, "err", err)
	}
}

// Close closes every connector (for shutdown; in-use ones at release).
func (r *Registry) Close() {
	r.Apply(&config.Desired{})
}

// Names lists the provisioners, sorted.
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.entries))
	for n := range r.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ParseResource splits "system/<name>/<type>".
func ParseResource(resource string) (name, objectType string, err error) {
	parts := strings.Split(strings.Trim(resource, "/"), "/")
	if len(parts) != 3 || parts[0] != "system" || parts[1] == "" || parts[2] == "" {
		return "", "", fmt.Errorf("%q is not system/<connector>/<type>", resource)
	}
	return parts[1], parts[2], nil
}

// Acquire returns the set of "system/<name>/<type>" and the function that
// releases it; the set's connector stays open until then, even if a config
// change replaces it meanwhile. The error wraps connector.ErrNotFound for
// an unknown connector or type, connector.ErrNotSupported for a connector
// Sundial does not run.
func (r *Registry) Acquire(resource string) (connector.ObjectSet, func(), error) {
	name, typ, err := ParseResource(resource)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", connector.ErrNotFound, err)
	}
	r.mu.Lock()
	e := r.entries[name]
	if e == nil || e.conn == nil {
		r.mu.Unlock()
		switch {
		case e == nil:
			return nil, nil, fmt.Errorf("system/%s: %w: no provisioner.openicf-%s file", name, connector.ErrNotFound, name)
		case e.err != nil:
			return nil, nil, fmt.Errorf("system/%s: connector not started: %w", name, e.err)
		case !e.prov.Enabled:
			return nil, nil, fmt.Errorf("system/%s: %w: the connector is disabled", name, connector.ErrNotSupported)
		}
		return nil, nil, fmt.Errorf("system/%s: %w: the connector %s is not one Sundial runs", name, connector.ErrNotSupported, e.prov.ConnectorRef.ConnectorName)
	}
	set, err := e.conn.Set(typ)
	if err != nil {
		r.mu.Unlock()
		return nil, nil, err
	}
	e.users++
	r.mu.Unlock()
	var once sync.Once
	return set, func() { once.Do(func() { r.release(e) }) }, nil
}

func (r *Registry) release(e *entry) {
	r.mu.Lock()
	e.users--
	closeIt := e.retired && e.users == 0
	r.mu.Unlock()
	if closeIt {
		r.close(e)
	}
}

// TestResult is one connector's answer to ?_action=test, in IDM's shape.
type TestResult struct {
	Name         string            `json:"name"`
	Enabled      bool              `json:"enabled"`
	Config       string            `json:"config"`
	ObjectTypes  []string          `json:"objectTypes"`
	ConnectorRef map[string]string `json:"connectorRef"`
	DisplayName  string            `json:"displayName"`
	OK           bool              `json:"ok"`
	Error        string            `json:"error,omitempty"`
}

// displayNames are IDM's labels of the connectors.
var displayNames = map[string]string{
	config.ConnectorCSV:  "CSV File Connector",
	config.ConnectorLDAP: "LDAP Connector",
}

// Test checks the connector called name; the error wraps
// connector.ErrNotFound for an unknown name. A connector that does not
// answer is a result with ok false, not an error.
func (r *Registry) Test(ctx context.Context, name string) (TestResult, error) {
	r.mu.Lock()
	e := r.entries[name]
	if e != nil {
		e.users++
	}
	r.mu.Unlock()
	if e == nil {
		return TestResult{}, fmt.Errorf("system/%s: %w", name, connector.ErrNotFound)
	}
	defer r.release(e)
	p := e.prov
	res := TestResult{
		Name: p.Name, Enabled: p.Enabled, Config: "config/provisioner.openicf/" + p.Name,
		ObjectTypes: sortedTypes(p), DisplayName: displayNames[p.ConnectorRef.ConnectorName],
		ConnectorRef: map[string]string{"connectorName": p.ConnectorRef.ConnectorName, "bundleName": p.ConnectorRef.BundleName, "bundleVersion": p.ConnectorRef.BundleVersion},
	}
	if res.DisplayName == "" {
		res.DisplayName = p.ConnectorRef.ConnectorName
	}
	var err error
	switch {
	case e.conn != nil:
		err = e.conn.Test(ctx)
	case e.err != nil:
		err = e.err
	case !p.Enabled:
		err = errors.New("the connector is disabled")
	default:
		err = fmt.Errorf("the connector %s is not one Sundial runs", p.ConnectorRef.ConnectorName)
	}
	res.OK = err == nil
	if err != nil {
		res.Error = err.Error()
	}
	return res, nil
}

// TestAll tests every connector, sorted by name.
func (r *Registry) TestAll(ctx context.Context) []TestResult {
	var out []TestResult
	for _, n := range r.Names() {
		if res, err := r.Test(ctx, n); err == nil {
			out = append(out, res)
		}
	}
	return out
}

func sortedTypes(p *config.Provisioner) []string {
	out := make([]string, 0, len(p.ObjectTypes))
	for n := range p.ObjectTypes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
