// Package csvfile is the CSV file connector: the OpenICF CSV connector's
// configuration (both generations of its keys, see Config) over one CSV
// file whose rows are the objects of the object type "account"
// (__ACCOUNT__), keyed by the UID column.
//
// Reads stream the file; writes rewrite it whole into a temporary file in
// the same directory, fsync it and rename it over the original, so a
// reader (or a crash) sees the old file or the new one, never half of
// one. A Connector is safe for concurrent use within the process; it does
// not lock against other processes editing the file.
//
// Cells are read as the OpenICF connector reads them: whitespace around a
// field is trimmed (the samples write "a", "b"), an empty field without
// quotes is null and left out of the object, "" is an empty string.
// Written records quote every non-null field.
//
// liveSync compares the file with a snapshot of it saved at the previous
// pass: <file>.<13-digit token>, the token being a millisecond time as
// IDM's connector names its snapshots. Deletes (rows only in the
// snapshot) come first, then creates and updates. Two quirks of the
// OpenICF connector are fixed:
//
//   - OpenICF reports every unchanged row as an UPDATE (its row comparison
//     answers "different" for equal rows); here only rows whose cells
//     differ are reported.
//   - OpenICF's latest-token call returns a time without saving a
//     snapshot, so the second liveSync finds no snapshot for its token,
//     diffs the file against itself and misses every change made since the
//     first; here LatestToken saves the snapshot its token names.
//
// A pass with changes first saves the file as a new snapshot, then
// delivers the diff from the old snapshot to it. Each change's token names
// the state up to and including that change: "<old>:<new>:<k>", the old
// snapshot with the first k changes of that diff applied (a string token;
// the diff of two saved snapshots is always the same list), and the last
// change's token is the new snapshot's number (a long, as IDM's). So a
// pass stopped after any change, by a failing callback (Sync returns the
// last accepted change's token, "<old>:<new>:0" when it was the first)
// or by a crash (the caller stored it), resumes with the next change, and
// a change that fails again has the same token; changes made to the file
// meanwhile come in the pass after. The newest SnapshotsKept snapshots are kept, older
// ones deleted (OpenICF never deletes them), but never the snapshot a pass
// started from while that pass is unfinished. A token whose
// snapshot is gone cannot be diffed: Sync saves a new snapshot, reports
// nothing and returns its token (as OpenICF does), and logs nothing itself:
// the caller sees the token change.
package csvfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/text/transform"

	"sundial/engine/config"
	"sundial/engine/connector"
	"sundial/engine/query"
)

// ObjectType is the one object type of a CSV connector.
const ObjectType = "account"

// Connector is one CSV provisioner.
type Connector struct {
	name string
	cfg  Config
	set  *Set
}

// New returns the connector called name over cfg's file, its object type
// described by objectTypes["account"] (its properties' nativeName are
// column names, or __NAME__, __UID__, __PASSWORD__); without one every
// column is a property of its own name.
func New(name string, cfg Config, objectTypes map[string]*config.ObjectType) (*Connector, error) {
	c := &Connector{name: name, cfg: cfg}
	s := &Set{resource: "system/" + name + "/" + ObjectType, cfg: cfg}
	if t := objectTypes[ObjectType]; t != nil {
		for _, p := range t.Properties {
			col := p.NativeName
			switch col {
			case "__UID__":
				col = cfg.UID
			case "__NAME__":
				col = cfg.Name
			case "__PASSWORD__":
				col = cfg.Password
			}
			s.props = append(s.props, property{name: p.Name, column: col, array: p.Type == "array",
				writeOnly: p.NativeName == "__PASSWORD__" || p.HasFlag("NOT_READABLE")})
		}
	}
	for name := range objectTypes {
		if name != ObjectType {
			return nil, fmt.Errorf("csv connector %s: object type %q: the CSV connector has only %q", c.name, name, ObjectType)
		}
	}
	c.set = s
	return c, nil
}

// Name is the provisioner's name.
func (c *Connector) Name() string { return c.name }

// ObjectTypes is ["account"].
func (c *Connector) ObjectTypes() []string { return []string{ObjectType} }

// Set returns the account set.
func (c *Connector) Set(objectType string) (connector.ObjectSet, error) {
	if objectType != ObjectType {
		return nil, fmt.Errorf("system/%s/%s: %w (the CSV connector has only %q)", c.name, objectType, connector.ErrNotFound, ObjectType)
	}
	return c.set, nil
}

// Test reads the file's header.
func (c *Connector) Test(ctx context.Context) error {
	return c.set.scan(ctx, func([]string, []cell) error { return errStop })
}

// Close releases nothing: the connector holds no open file between calls.
func (c *Connector) Close() error { return nil }

// errStop ends a scan early without an error.
var errStop = errors.New("stop")

// property maps one IDM property to its column.
type property struct {
	name, column string
	array        bool
	writeOnly    bool // __PASSWORD__: written, never read back
}

// Set is the rows of the file, as connector.ObjectSet and
// connector.Syncer.
type Set struct {
	resource string
	cfg      Config
	props    []property // empty: every column as itself
	// mu orders the file's writers; readers go unlocked, since a write
	// replaces the file by a rename.
	mu sync.Mutex
	// syncMu orders liveSync passes and snapshots.
	syncMu sync.Mutex
}

var (
	_ connector.ObjectSet = (*Set)(nil)
	_ connector.Syncer    = (*Set)(nil)
)

// Resource is system/<name>/account.
func (s *Set) Resource() string { return s.resource }

// scan calls fn with the header and each row of the file.
func (s *Set) scan(ctx context.Context, fn func(header []string, rec []cell) error) error {
	return s.scanFile(ctx, s.cfg.File, fn)
}

func (s *Set) scanFile(ctx context.Context, path string, fn func(header []string, rec []cell) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", s.resource, err)
	}
	defer f.Close()
	rd := newReader(transform.NewReader(f, s.cfg.Encoding.NewDecoder()), s.cfg.Quote, s.cfg.Delimiter)
	hrec, err := rd.next()
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %s: no header line", s.resource, path)
	}
	if err != nil {
		return fmt.Errorf("%s: %s:%w", s.resource, path, err)
	}
	header := make([]string, len(hrec))
	uidAt := -1
	for i, h := range hrec {
		header[i] = h.value
		if h.value == s.cfg.UID {
			uidAt = i
		}
	}
	if uidAt < 0 {
		return fmt.Errorf("%s: %s: the header has no column %q (the uid column)", s.resource, path, s.cfg.UID)
	}
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line := rd.line
		rec, err := rd.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %s:%w", s.resource, path, err)
		}
		if len(rec) != len(header) {
			return fmt.Errorf("%s: %s:%d: %d fields, the header has %d", s.resource, path, line, len(rec), len(header))
		}
		if rec[uidAt].null {
			return fmt.Errorf("%s: %s:%d: no %s", s.resource, path, line, s.cfg.UID)
		}
		if err := fn(header, rec); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
	}
}

// column returns the index of name in header, or -1.
func column(header []string, name string) int {
	for i, h := range header {
		if h == name {
			return i
		}
	}
	return -1
}

// uidOf returns a row's uid.
func (s *Set) uidOf(header []string, rec []cell) string {
	return rec[column(header, s.cfg.UID)].value
}

// toObject turns a row into an object.
func (s *Set) toObject(header []string, rec []cell) connector.Object {
	obj := connector.Object{"_id": s.uidOf(header, rec)}
	if len(s.props) == 0 {
		for i, h := range header {
			if !rec[i].null {
				obj[h] = rec[i].value
			}
		}
		return obj
	}
	for _, p := range s.props {
		i := column(header, p.column)
		if p.writeOnly || i < 0 || rec[i].null {
			continue
		}
		v := rec[i].value
		switch {
		case p.array && s.cfg.Multivalue != "":
			parts := strings.Split(v, s.cfg.Multivalue)
			a := make([]any, len(parts))
			for j, x := range parts {
				a[j] = x
			}
			obj[p.name] = a
		case p.array:
			obj[p.name] = []any{v}
		default:
			obj[p.name] = v
		}
	}
	return obj
}

// fromObject writes obj's properties into rec (a row of header): the
// columns of the declared properties obj lacks become null, the others
// stay.
func (s *Set) fromObject(header []string, rec []cell, obj connector.Object) error {
	set := func(col string, v any, name string) error {
		i := column(header, col)
		if i < 0 {
			return fmt.Errorf("%s: property %q: the column %q is not in the header of %s", s.resource, name, col, s.cfg.File)
		}
		c, err := s.cellOf(v)
		if err != nil {
			return fmt.Errorf("%s: property %q: %w", s.resource, name, err)
		}
		rec[i] = c
		return nil
	}
	if len(s.props) == 0 {
		for k, v := range obj {
			if k == "_id" || k == "_rev" {
				continue
			}
			if err := set(k, v, k); err != nil {
				return err
			}
		}
		return nil
	}
	for k := range obj {
		if k == "_id" || k == "_rev" {
			continue
		}
		if !s.declared(k) {
			return fmt.Errorf("%s: unknown property %q (not in the provisioner's objectTypes)", s.resource, k)
		}
	}
	for _, p := range s.props {
		v, ok := obj[p.name]
		if !ok && p.column == s.cfg.UID {
			continue
		}
		if !ok && p.writeOnly {
			continue
		}
		if err := set(p.column, v, p.name); err != nil {
			return err
		}
	}
	return nil
}

func (s *Set) declared(name string) bool {
	for _, p := range s.props {
		if p.name == name {
			return true
		}
	}
	return false
}

// cellOf turns a property value into a cell.
func (s *Set) cellOf(v any) (cell, error) {
	switch v := v.(type) {
	case nil:
		return cell{null: true}, nil
	case string:
		return cell{value: v}, nil
	case []any:
		if len(v) == 0 {
			return cell{null: true}, nil
		}
		sep := s.cfg.Multivalue
		if sep == "" && len(v) > 1 {
			return cell{}, fmt.Errorf("%d values, and the connector has no multivalueDelimiter (usingMultivalue)", len(v))
		}
		parts := make([]string, len(v))
		for i, x := range v {
			c, err := s.cellOf(x)
			if err != nil {
				return cell{}, err
			}
			if _, nested := x.([]any); nested {
				return cell{}, fmt.Errorf("a nested array")
			}
			parts[i] = c.value
		}
		return cell{value: strings.Join(parts, sep)}, nil
	case map[string]any:
		return cell{}, fmt.Errorf("an object does not fit in a CSV cell")
	}
	return cell{value: fmt.Sprint(v)}, nil
}

// Read returns the row whose uid is id.
func (s *Set) Read(ctx context.Context, id string) (connector.Object, error) {
	var found connector.Object
	err := s.scan(ctx, func(header []string, rec []cell) error {
		if s.uidOf(header, rec) == id {
			found = s.toObject(header, rec)
			return errStop
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("%s/%s: %w", s.resource, id, connector.ErrNotFound)
	}
	return found, nil
}

// Query streams the rows matching q.
func (s *Set) Query(ctx context.Context, q connector.Query, fn func(connector.Object) error) error {
	var prog *query.Program
	if q.Filter != nil {
		var err error
		if prog, err = query.Compile(q.Filter); err != nil {
			return fmt.Errorf("%s: %w", s.resource, err)
		}
	}
	var m *query.Matcher
	if prog != nil {
		m = prog.Matcher()
	}
	return s.scan(ctx, func(header []string, rec []cell) error {
		if m == nil && q.IDsOnly {
			return fn(connector.Object{"_id": s.uidOf(header, rec)})
		}
		obj := s.toObject(header, rec)
		if m != nil && !m.Match(obj) {
			return nil
		}
		if q.IDsOnly {
			obj = connector.Object{"_id": obj["_id"]}
		}
		return fn(obj)
	})
}

// Create appends a row; id "" takes it from the object's uid property.
func (s *Set) Create(ctx context.Context, id string, obj connector.Object) (connector.Object, error) {
	if id == "" {
		id = s.uidProperty(obj)
	}
	if id == "" {
		return nil, fmt.Errorf("%s: create: no id and no %s", s.resource, s.cfg.UID)
	}
	var created connector.Object
	err := s.rewrite(ctx, func(header []string, rec []cell) ([]cell, error) {
		if s.uidOf(header, rec) == id {
			return nil, fmt.Errorf("%s/%s: %w: it exists", s.resource, id, connector.ErrConflict)
		}
		return rec, nil
	}, func(header []string) ([]cell, error) {
		rec := make([]cell, len(header))
		for i := range rec {
			rec[i].null = true
		}
		if err := s.fromObject(header, rec, obj); err != nil {
			return nil, err
		}
		rec[column(header, s.cfg.UID)] = cell{value: id}
		created = s.toObject(header, rec)
		return rec, nil
	})
	if err != nil {
		return nil, err
	}
	return created, nil
}

// uidProperty returns the value obj gives the uid column, or "".
func (s *Set) uidProperty(obj connector.Object) string {
	if len(s.props) == 0 {
		v, _ := obj[s.cfg.UID].(string)
		return v
	}
	for _, p := range s.props {
		if p.column == s.cfg.UID {
			if v, ok := obj[p.name].(string); ok {
				return v
			}
		}
	}
	return ""
}

// Update replaces the row whose uid is id (rev is ignored: rows have no
// revisions). A new uid in obj renames the row.
func (s *Set) Update(ctx context.Context, id, rev string, obj connector.Object) (connector.Object, error) {
	newID := s.uidProperty(obj)
	if newID == "" {
		newID = id
	}
	var updated connector.Object
	err := s.rewrite(ctx, func(header []string, rec []cell) ([]cell, error) {
		uid := s.uidOf(header, rec)
		if uid == newID && newID != id {
			return nil, fmt.Errorf("%s/%s: rename to %s: %w: it exists", s.resource, id, newID, connector.ErrConflict)
		}
		if uid != id {
			return rec, nil
		}
		out := append([]cell(nil), rec...)
		if err := s.fromObject(header, out, obj); err != nil {
			return nil, err
		}
		out[column(header, s.cfg.UID)] = cell{value: newID}
		updated = s.toObject(header, out)
		return out, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	if updated == nil {
		return nil, fmt.Errorf("%s/%s: %w", s.resource, id, connector.ErrNotFound)
	}
	return updated, nil
}

// Delete removes the row whose uid is id (rev is ignored).
func (s *Set) Delete(ctx context.Context, id, rev string) error {
	found := false
	err := s.rewrite(ctx, func(header []string, rec []cell) ([]cell, error) {
		if s.uidOf(header, rec) == id {
			found = true
			return nil, nil
		}
		return rec, nil
	}, nil)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%s/%s: %w", s.resource, id, connector.ErrNotFound)
	}
	return nil
}

// rewrite writes the file anew: each row through edit (nil drops it),
// then the row of tail when tail is not nil. Nothing changes when either
// fails; an edit that changes nothing still rewrites the file.
func (s *Set) rewrite(ctx context.Context, edit func(header []string, rec []cell) ([]cell, error), tail func(header []string) ([]cell, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return writeAtomic(s.cfg.File, func(f io.Writer) error {
		enc := transform.NewWriter(f, s.cfg.Encoding.NewEncoder())
		w := newWriter(enc, s.cfg.Quote, s.cfg.Delimiter, s.cfg.Newline)
		var header []string
		err := s.scan(ctx, func(h []string, rec []cell) error {
			if header == nil {
				header = h
				if err := w.write(headerCells(h)); err != nil {
					return err
				}
			}
			out, err := edit(h, rec)
			if err != nil || out == nil {
				return err
			}
			return w.write(out)
		})
		if err != nil {
			return err
		}
		if header == nil { // no rows: the header alone
			if header, err = s.headerOf(ctx, s.cfg.File); err != nil {
				return err
			}
			if err := w.write(headerCells(header)); err != nil {
				return err
			}
		}
		if tail != nil {
			rec, err := tail(header)
			if err != nil {
				return err
			}
			if err := w.write(rec); err != nil {
				return err
			}
		}
		if err := w.flush(); err != nil {
			return err
		}
		return enc.Close()
	})
}

func headerCells(h []string) []cell {
	out := make([]cell, len(h))
	for i, v := range h {
		out[i] = cell{value: v}
	}
	return out
}

// writeAtomic replaces path by what fill writes: a temporary file in the
// same directory, fsynced, renamed over path, the directory fsynced. The
// file keeps path's permissions.
func writeAtomic(path string, fill func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = fill(tmp); err != nil {
		return err
	}
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
