package csvfile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/transform"

	"sundial/engine/connector"
)

// snapshotDigits is the width of a snapshot's token in its file name,
// as OpenICF writes a millisecond time.
const snapshotDigits = 13

// rows is a file's content: its header and rows by uid, in file order.
type rows struct {
	header []string
	order  []string
	byUID  map[string][]cell
}

func (s *Set) readRows(ctx context.Context, path string) (*rows, error) {
	r := &rows{byUID: map[string][]cell{}}
	err := s.scanFile(ctx, path, func(header []string, rec []cell) error {
		r.header = header
		uid := s.uidOf(header, rec)
		if _, dup := r.byUID[uid]; dup {
			return fmt.Errorf("%s: %s: the uid %q is on two rows", s.resource, path, uid)
		}
		r.order = append(r.order, uid)
		r.byUID[uid] = slices.Clone(rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if r.header == nil {
		if r.header, err = s.headerOf(ctx, path); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (s *Set) headerOf(ctx context.Context, path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.resource, err)
	}
	defer f.Close()
	rec, err := newReader(transform.NewReader(f, s.cfg.Encoding.NewDecoder()), s.cfg.Quote, s.cfg.Delimiter).next()
	if err != nil {
		return nil, fmt.Errorf("%s: %s: no header line: %v", s.resource, path, err)
	}
	h := make([]string, len(rec))
	for i, c := range rec {
		h[i] = c.value
	}
	return h, nil
}

// writeRows writes r to path atomically.
func (s *Set) writeRows(path string, r *rows) error {
	return writeAtomic(path, func(f io.Writer) error {
		enc := transform.NewWriter(f, s.cfg.Encoding.NewEncoder())
		w := newWriter(enc, s.cfg.Quote, s.cfg.Delimiter, s.cfg.Newline)
		if err := w.write(headerCells(r.header)); err != nil {
			return err
		}
		for _, uid := range r.order {
			if err := w.write(r.byUID[uid]); err != nil {
				return err
			}
		}
		if err := w.flush(); err != nil {
			return err
		}
		return enc.Close()
	})
}

func (s *Set) snapshotPath(token int64) string {
	return fmt.Sprintf("%s.%0*d", s.cfg.File, snapshotDigits, token)
}

// snapshots returns the tokens of the saved snapshots, oldest first.
func (s *Set) snapshots() ([]int64, error) {
	dir, base := filepath.Split(s.cfg.File)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), base+".")
		if !ok || len(rest) != snapshotDigits {
			continue
		}
		if t, err := strconv.ParseInt(rest, 10, 64); err == nil {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out, nil
}

// saveSnapshot writes r as a new snapshot and prunes old ones, never
// keep: its token is the time in ms, or one past the newest snapshot's.
func (s *Set) saveSnapshot(r *rows, keep int64) (int64, error) {
	existing, err := s.snapshots()
	if err != nil {
		return 0, err
	}
	t := time.Now().UnixMilli()
	if n := len(existing); n > 0 && existing[n-1] >= t {
		t = existing[n-1] + 1
	}
	if err := s.writeRows(s.snapshotPath(t), r); err != nil {
		return 0, fmt.Errorf("%s: save a liveSync snapshot: %w", s.resource, err)
	}
	if err := s.prune(append(existing, t), keep); err != nil {
		return 0, err
	}
	return t, nil
}

// prune deletes the oldest of the snapshots (sorted tokens) beyond
// SnapshotsKept, except keep and the newest.
func (s *Set) prune(snapshots []int64, keep int64) error {
	excess := len(snapshots) - s.cfg.SnapshotsKept
	for i, t := range snapshots {
		if excess <= 0 || i == len(snapshots)-1 {
			break
		}
		if t == keep {
			continue
		}
		if err := os.Remove(s.snapshotPath(t)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("%s: prune a liveSync snapshot: %w", s.resource, err)
		}
		excess--
	}
	return nil
}

// position is a place in the change stream: the state of the snapshot
// base with the first done changes of the diff from base to the snapshot
// next applied. next is 0 for base itself, the token of a finished pass.
type position struct {
	base, next int64
	done       int
}

// token is p as a sync token: base's number alone (IDM's CSV token, a
// long), else "base:next:done", a string.
func (p position) token() connector.Token {
	if p.next == 0 {
		return syncToken(p.base)
	}
	return connector.Token{Value: fmt.Sprintf("%d:%d:%d", p.base, p.next, p.done), NativeType: "string"}
}

func syncToken(t int64) connector.Token {
	return connector.Token{Value: json.Number(strconv.FormatInt(t, 10)), NativeType: "long"}
}

func parseToken(tok connector.Token) (position, error) {
	switch v := tok.Value.(type) {
	case json.Number:
		t, err := v.Int64()
		return position{base: t}, err
	case string:
		if !strings.Contains(v, ":") {
			t, err := strconv.ParseInt(v, 10, 64)
			return position{base: t}, err
		}
		parts := strings.Split(v, ":")
		if len(parts) != 3 {
			return position{}, fmt.Errorf("want base:next:done, got %q", v)
		}
		var p position
		var errs [3]error
		p.base, errs[0] = strconv.ParseInt(parts[0], 10, 64)
		p.next, errs[1] = strconv.ParseInt(parts[1], 10, 64)
		p.done, errs[2] = strconv.Atoi(parts[2])
		if err := errors.Join(errs[:]...); err != nil || p.next <= 0 || p.done < 0 {
			return position{}, fmt.Errorf("want base:next:done, got %q", v)
		}
		return p, nil
	case int64:
		return position{base: v}, nil
	case float64:
		return position{base: int64(v)}, nil
	}
	return position{}, fmt.Errorf("want a number, got %T %v", tok.Value, tok.Value)
}

// LatestToken saves a snapshot of the file and returns its token.
func (s *Set) LatestToken(ctx context.Context) (connector.Token, error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	cur, err := s.readRows(ctx, s.cfg.File)
	if err != nil {
		return connector.Token{}, err
	}
	t, err := s.saveSnapshot(cur, 0)
	if err != nil {
		return connector.Token{}, err
	}
	return syncToken(t), nil
}

// Sync diffs the file against the snapshot of since (see the package doc).
// A pass with changes first saves the file as the snapshot it moves to,
// so each change's token names the state up to and including it: a pass
// that stops after any change (a failing callback, a crash) resumes with
// the next one.
func (s *Set) Sync(ctx context.Context, since connector.Token, fn func(connector.Delta) error) (connector.Token, error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	pos, err := parseToken(since)
	if err != nil {
		return since, fmt.Errorf("%s: sync token: %w", s.resource, err)
	}
	old, err := s.readRows(ctx, s.snapshotPath(pos.base))
	if errors.Is(err, fs.ErrNotExist) {
		cur, err := s.readRows(ctx, s.cfg.File)
		if err != nil {
			return since, err
		}
		nt, err := s.saveSnapshot(cur, 0)
		if err != nil {
			return since, err
		}
		return syncToken(nt), nil
	}
	if err != nil {
		return since, err
	}
	var cur *rows
	if pos.next != 0 {
		cur, err = s.readRows(ctx, s.snapshotPath(pos.next))
		if errors.Is(err, fs.ErrNotExist) {
			// The pass's target is gone: diff from its start again, which
			// reports the changes already delivered once more.
			pos, cur = position{base: pos.base}, nil
		} else if err != nil {
			return since, err
		}
	}
	if cur == nil {
		if cur, err = s.readRows(ctx, s.cfg.File); err != nil {
			return since, err
		}
	}
	if !slices.Equal(old.header, cur.header) {
		return since, fmt.Errorf("%s: the header of %s (%s) differs from the snapshot's (%s): headers do not match",
			s.resource, s.cfg.File, strings.Join(cur.header, ","), strings.Join(old.header, ","))
	}
	deltas := s.diff(old, cur)
	if pos.next == 0 {
		if len(deltas) == 0 {
			return since, nil
		}
		if pos.next, err = s.saveSnapshot(cur, pos.base); err != nil {
			return since, err
		}
	}
	if pos.done > len(deltas) {
		return since, fmt.Errorf("%s: sync token %v: %d changes done, the pass has %d", s.resource, since.Value, pos.done, len(deltas))
	}
	// Stopped before any change, the pass still names its target, so a
	// retried change keeps its token.
	last := pos.token()
	for i := pos.done; i < len(deltas); i++ {
		d := deltas[i]
		d.Token = position{base: pos.base, next: pos.next, done: i + 1}.token()
		if i+1 == len(deltas) {
			d.Token = syncToken(pos.next)
		}
		if err := ctx.Err(); err != nil {
			return last, err
		}
		if err := fn(d); err != nil {
			return last, err
		}
		last = d.Token
	}
	snaps, err := s.snapshots()
	if err == nil {
		err = s.prune(snaps, pos.next)
	}
	if err != nil {
		return last, fmt.Errorf("%s: prune liveSync snapshots: %w", s.resource, err)
	}
	return syncToken(pos.next), nil
}

// diff lists the changes from old to cur, in a fixed order: deletes in
// old's row order, then creates and updates in cur's.
func (s *Set) diff(old, cur *rows) []connector.Delta {
	var deltas []connector.Delta
	for _, uid := range old.order {
		if _, ok := cur.byUID[uid]; !ok {
			deltas = append(deltas, connector.Delta{Type: connector.DeltaDelete, UID: uid})
		}
	}
	for _, uid := range cur.order {
		rec := cur.byUID[uid]
		prev, ok := old.byUID[uid]
		switch {
		case !ok:
			deltas = append(deltas, connector.Delta{Type: connector.DeltaCreate, UID: uid, Object: s.toObject(cur.header, rec)})
		case !slices.Equal(prev, rec):
			deltas = append(deltas, connector.Delta{Type: connector.DeltaUpdate, UID: uid, Object: s.toObject(cur.header, rec)})
		}
	}
	return deltas
}
