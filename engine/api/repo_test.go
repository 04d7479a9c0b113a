package api

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"testing"

	"sundial/engine/auth"
	"sundial/engine/store"
	"sundial/engine/store/sqlite"
)

// repoDLQ serves one collection, a dead-letter queue, from a real store.
type repoDLQ struct{ objs store.Objects }

func (r repoDLQ) Collection(path string) (store.Objects, string, bool, error) {
	if path != "synchronisation/deadLetterQueue/hr" {
		return nil, "", false, nil
	}
	return r.objs, "dlq:hr", true, nil
}

// TestRepoAccess: a reader queries and reads repo objects, only a writer
// deletes them; a refused delete leaves the object, and the write is
// audited.
func TestRepoAccess(t *testing.T) {
	endpoints := []struct {
		name string
		c    call
		perm auth.Perm
	}{
		{"query", call{method: "GET", target: "/openidm/repo/synchronisation/deadLetterQueue/hr?_queryFilter=true"}, auth.PermRead},
		{"read", call{method: "GET", target: "/openidm/repo/synchronisation/deadLetterQueue/hr/42"}, auth.PermRead},
		{"delete", call{method: "DELETE", target: "/openidm/repo/synchronisation/deadLetterQueue/hr/42"}, auth.PermWrite},
	}
	roles := map[string]auth.Role{"admin": auth.RoleAdmin, "operator": auth.RoleOperator, "reader": auth.RoleReader}
	for _, e := range endpoints {
		for client, role := range roles {
			t.Run(e.name+"/"+client, func(t *testing.T) {
				db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "sundial.db"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				if _, err := db.CreateObjects(t.Context(), store.CreateObjectsParams{Type: "dlq:hr",
					Objects: []store.NewObject{{ID: "42", Content: map[string]any{"failureCause": "no mail"}}}}); err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				h := &harness{h: NewRepo(RepoOptions{Repo: repoDLQ{db}, Auth: fixedAuth{}, Logger: slog.New(slog.NewTextHandler(&buf, nil))}), log: &buf}
				checkAccess(t, h, h.do(client, e.c), role, e.perm)
				if _, err := db.ReadObject(t.Context(), store.ReadObjectParams{Type: "dlq:hr", ID: "42"}); (err == nil) != (e.perm == auth.PermRead || !role.Allows(e.perm)) {
					t.Errorf("the entry after %s by %s: %v", e.name, client, err)
				}
			})
		}
	}
}
