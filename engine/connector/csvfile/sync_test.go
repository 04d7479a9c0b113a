package csvfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sundial/engine/connector"
)

// deltas runs one pass and returns its changes as "TYPE uid" lines.
func deltas(t *testing.T, s *Set, since connector.Token) ([]string, connector.Token) {
	t.Helper()
	var got []string
	next, err := s.Sync(context.Background(), since, func(d connector.Delta) error {
		line := fmt.Sprintf("%s %s", d.Type, d.UID)
		if d.Object != nil {
			line += fmt.Sprintf(" %v", d.Object["name"])
		}
		got = append(got, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, next
}

func writeFile(t *testing.T, s *Set, content string) {
	t.Helper()
	if err := os.WriteFile(s.cfg.File, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSyncFixesOpenICFQuirks: the changes made between the first liveSync
// (which only takes the latest token) and the second are all reported,
// and an unchanged row is not reported as an update.
func TestSyncFixesOpenICFQuirks(t *testing.T) {
	ctx := context.Background()
	s := newSet(t, "uid,name\na,A\nb,B\nd,D\n", map[string]any{"csvFile": "data.csv"}, nil)
	t1, err := s.LatestToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if t1.NativeType != "long" {
		t.Errorf("token %+v", t1)
	}
	writeFile(t, s, "uid,name\na,A2\nd,D\nc,C\n")
	got, t2 := deltas(t, s, t1)
	if want := []string{"DELETE b", "UPDATE a A2", "CREATE c C"}; strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("got %q, want %q", got, want)
	}
	if t2 == t1 {
		t.Error("the token did not move")
	}
	if got, t3 := deltas(t, s, t2); len(got) != 0 || t3 != t2 {
		t.Errorf("an unchanged file: %q, token %v → %v", got, t2, t3)
	}
	// the connector's own writes are changes like any other
	if _, err := s.Create(ctx, "e", connector.Object{"name": "E"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := deltas(t, s, t2); strings.Join(got, "; ") != "CREATE e E" {
		t.Errorf("after a create: %q", got)
	}
}

// TestSyncResumesAfterAFailure: a pass whose callback fails returns a
// token after the accepted changes; the next pass starts with the failed
// change.
func TestSyncResumesAfterAFailure(t *testing.T) {
	ctx := context.Background()
	s := newSet(t, "uid,name\na,A\nb,B\n", map[string]any{"csvFile": "data.csv"}, nil)
	t1, _ := s.LatestToken(ctx)
	writeFile(t, s, "uid,name\nb,B2\nc,C\nd,D\n")
	fail := errors.New("target down")
	var seen []string
	t2, err := s.Sync(ctx, t1, func(d connector.Delta) error {
		if d.UID == "c" {
			return fail
		}
		seen = append(seen, string(d.Type)+" "+d.UID)
		return nil
	})
	if !errors.Is(err, fail) || t2 == t1 || strings.Join(seen, "; ") != "DELETE a; UPDATE b" {
		t.Fatalf("failed pass: %v, token %v, seen %q", err, t2, seen)
	}
	got, _ := deltas(t, s, t2)
	if strings.Join(got, "; ") != "CREATE c C; CREATE d D" {
		t.Errorf("resumed pass: %q", got)
	}
	// a failure on the first change keeps the token
	writeFile(t, s, "uid,name\nz,Z\n")
	t3, err := s.Sync(ctx, t2, func(connector.Delta) error { return fail })
	if !errors.Is(err, fail) || t3 != t2 {
		t.Errorf("a first change failing: %v, token %v want %v", err, t3, t2)
	}
}

func TestSyncSnapshots(t *testing.T) {
	ctx := context.Background()
	s := newSet(t, "uid,name\na,A\n", map[string]any{"csvFile": "data.csv", "syncFileRetentionCount": int64(2)}, nil)
	tok, _ := s.LatestToken(ctx)
	for i := range 5 {
		writeFile(t, s, fmt.Sprintf("uid,name\na,A%d\n", i))
		var got []string
		got, tok = deltas(t, s, tok)
		if len(got) != 1 {
			t.Fatalf("pass %d: %q", i, got)
		}
	}
	snaps, _ := filepath.Glob(s.cfg.File + ".*")
	if len(snaps) != 2 {
		t.Errorf("snapshots kept: %v", snaps)
	}
	// a token whose snapshot is gone: nothing reported, a fresh token
	gone := connector.Token{Value: "1000000000000", NativeType: "long"}
	got, next := deltas(t, s, gone)
	if len(got) != 0 || next == gone {
		t.Errorf("missing snapshot: %q %v", got, next)
	}
	writeFile(t, s, "uid,mail\na,x\n")
	if _, err := s.Sync(ctx, next, func(connector.Delta) error { return nil }); err == nil || !strings.Contains(err.Error(), "headers do not match") {
		t.Errorf("a changed header: %v", err)
	}
	if _, err := s.Sync(ctx, connector.Token{Value: true}, func(connector.Delta) error { return nil }); err == nil {
		t.Error("a bad token")
	}
}
