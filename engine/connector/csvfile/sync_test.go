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
	got, t2 := deltas(t, s, t2)
	if strings.Join(got, "; ") != "CREATE c C; CREATE d D" {
		t.Errorf("resumed pass: %q", got)
	}
	// a failure on the first change keeps the state, and the change its
	// token in the next pass
	writeFile(t, s, "uid,name\nz,Z\n")
	var failed []connector.Token
	failFirst := func(d connector.Delta) error { failed = append(failed, d.Token); return fail }
	t3, err := s.Sync(ctx, t2, failFirst)
	if !errors.Is(err, fail) || t3.Value != strings.TrimSuffix(fmt.Sprint(failed[0].Value), ":1")+":0" {
		t.Errorf("a first change failing: %v, token %v (the change's %v)", err, t3, failed[0])
	}
	writeFile(t, s, "uid,name\nz,Z\ny,Y\n")
	if t4, err := s.Sync(ctx, t3, failFirst); !errors.Is(err, fail) || t4 != t3 || failed[1] != failed[0] {
		t.Errorf("failing again: %v, token %v want %v, change tokens %v", err, t4, t3, failed)
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

// TestSyncTokenPerChange: each change carries a token naming the state
// up to and including it. A pass stopped at the k-th change, by a failing
// callback (Sync's returned token) or by a crash (the token of the last
// change the callback accepted, which liveSync stores), resumes with
// exactly the changes from the k-th on, even after the file changed again
// and with one snapshot kept.
func TestSyncTokenPerChange(t *testing.T) {
	const before = "uid,name\na,A\nb,B\nc,C\n"
	const after = "uid,name\nb,B2\nc,C\nd,D\ne,E\n"
	all := []string{"DELETE a", "UPDATE b B2", "CREATE d D", "CREATE e E"}
	for _, stop := range []string{"failure", "crash"} {
		for k := 1; k <= len(all); k++ {
			t.Run(fmt.Sprintf("%s at change %d", stop, k), func(t *testing.T) {
				ctx := context.Background()
				s := newSet(t, before, map[string]any{"csvFile": "data.csv", "syncFileRetentionCount": int64(1)}, nil)
				start, err := s.LatestToken(ctx)
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, s, after)
				crash := errors.New("crash")
				var seen []string
				accepted := start // what liveSync stores after each change
				n := 0
				next, err := s.Sync(ctx, start, func(d connector.Delta) error {
					n++
					if n == k {
						if stop == "crash" {
							return crash
						}
						return errors.New("target down")
					}
					seen = append(seen, strings.TrimSuffix(fmt.Sprintf("%s %s %v", d.Type, d.UID, d.Object["name"]), " <nil>"))
					accepted = d.Token
					return nil
				})
				if err == nil {
					t.Fatal("the pass did not fail")
				}
				// before any change, a token of the starting state
				if k > 1 && next != accepted {
					t.Errorf("Sync returned %v, the last accepted change's token is %v", next, accepted)
				}
				if strings.Join(seen, "; ") != strings.Join(all[:k-1], "; ") {
					t.Errorf("before the stop: %q", seen)
				}
				resume := next
				if stop == "crash" {
					resume = accepted
					// the file changes again before the restart
					writeFile(t, s, after+"f,F\n")
				}
				want := all[k-1:]
				later := "CREATE f F"
				if stop == "crash" && k == 1 {
					// nothing was accepted: the pass starts over on the
					// file as it is now
					want, later = append(want[:len(want):len(want)], later), ""
				}
				got, end := deltas(t, s, resume)
				if strings.Join(got, "; ") != strings.Join(want, "; ") {
					t.Errorf("resumed pass: %q, want %q", got, want)
				}
				if end.NativeType != "long" {
					t.Errorf("a finished pass's token %+v, want a long", end)
				}
				if stop == "failure" {
					later = ""
				}
				if got, _ = deltas(t, s, end); strings.Join(got, "; ") != later {
					t.Errorf("the next pass: %q, want %q", got, later)
				}
			})
		}
	}
}

// TestSyncPerChangeTokens: the tokens of one pass are distinct, the last
// is the pass's end, and a token past the pass's changes is an error.
func TestSyncPerChangeTokens(t *testing.T) {
	ctx := context.Background()
	s := newSet(t, "uid,name\na,A\n", map[string]any{"csvFile": "data.csv"}, nil)
	start, _ := s.LatestToken(ctx)
	writeFile(t, s, "uid,name\nb,B\nc,C\n")
	var toks []connector.Token
	end, err := s.Sync(ctx, start, func(d connector.Delta) error { toks = append(toks, d.Token); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 3 || toks[0] == toks[1] || toks[2] != end || toks[0].NativeType != "string" {
		t.Fatalf("tokens %v, end %v", toks, end)
	}
	base, _, _ := strings.Cut(toks[0].Value.(string), ":")
	past := connector.Token{Value: base + ":" + fmt.Sprint(end.Value) + ":4", NativeType: "string"}
	if _, err := s.Sync(ctx, past, func(connector.Delta) error { return nil }); err == nil || !strings.Contains(err.Error(), "4 changes done, the pass has 3") {
		t.Errorf("a token past the pass: %v", err)
	}
	for _, bad := range []string{"1:2", "1:x:3", "1:0:1", "1:2:-1"} {
		if _, err := s.Sync(ctx, connector.Token{Value: bad}, func(connector.Delta) error { return nil }); err == nil {
			t.Errorf("token %q: no error", bad)
		}
	}
}
