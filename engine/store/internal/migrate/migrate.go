// Package migrate reads a backend's embedded, numbered schema migrations and
// decides which of them a database still needs. Each backend applies them in
// its own transaction and records them in its schema_migrations table.
package migrate

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"

	"sundial/engine/store"
)

// Migration is one numbered SQL file, e.g. migrations/0001_init.sql.
type Migration struct {
	Version int
	Name    string // "init"
	SQL     string
}

var fileRE = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// Load reads dir in fsys. Versions must run 1, 2, 3... without gaps or
// duplicates, so a mistake in a new migration fails the tests, not a node.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := fileRE.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: m[2], SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %04d_%s: want version %d (versions must be contiguous from 1)", m.Version, m.Name, i+1)
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("no migrations in %s", dir)
	}
	return ms, nil
}

// Latest is the newest version in ms.
func Latest(ms []Migration) int { return ms[len(ms)-1].Version }

// Pending returns the migrations a database at version current still needs,
// or a *store.SchemaVersionError if current is newer than any of them.
func Pending(ms []Migration, current int) ([]Migration, error) {
	if latest := Latest(ms); current > latest {
		return nil, &store.SchemaVersionError{Database: current, Supported: latest}
	}
	return ms[current:], nil
}

// VersionSQL reads the newest applied migration.
const VersionSQL = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"

// MustLoad is Load for a backend's embedded migrations, which cannot fail
// once the tests pass.
func MustLoad(fsys fs.FS, backend string) []Migration {
	ms, err := Load(fsys, "migrations")
	if err != nil {
		panic(backend + " store: " + err.Error())
	}
	return ms
}

// Apply brings a database at version current up to date: each pending
// migration is run with exec and recorded with record, in order.
func Apply(ms []Migration, current int, exec func(sql string) error, record func(Migration) error) error {
	pending, err := Pending(ms, current)
	if err != nil {
		return err
	}
	for _, m := range pending {
		if err := exec(m.SQL); err != nil {
			return fmt.Errorf("apply migration %04d_%s: %w", m.Version, m.Name, err)
		}
		if err := record(m); err != nil {
			return fmt.Errorf("record migration %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}
