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

// saveSnapshot writes r as a new snapshot and prunes old ones: its token
// is the time in ms, or one past the newest snapshot's.
func (s *Set) saveSnapshot(r *rows) (int64, error) {
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
	existing = append(existing, t)
	for len(existing) > s.cfg.SnapshotsKept {
		if err := os.Remove(s.snapshotPath(existing[0])); err != nil && !os.IsNotExist(err) {
			return 0, fmt.Errorf("%s: prune a liveSync snapshot: %w", s.resource, err)
		}
		existing = existing[1:]
	}
	return t, nil
}

func syncToken(t int64) connector.Token {
	return connector.Token{Value: json.Number(strconv.FormatInt(t, 10)), NativeType: "long"}
}

func parseToken(tok connector.Token) (int64, error) {
	switch v := tok.Value.(type) {
	case json.Number:
		return v.Int64()
	case string:
		return strconv.ParseInt(v, 10, 64)
	case int64:
		return v, nil
	case float64:
		return int64(v), nil
	}
	return 0, fmt.Errorf("want a number, got %T %v", tok.Value, tok.Value)
}

// LatestToken saves a snapshot of the file and returns its token.
func (s *Set) LatestToken(ctx context.Context) (connector.Token, error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	cur, err := s.readRows(ctx, s.cfg.File)
	if err != nil {
		return connector.Token{}, err
	}
	t, err := s.saveSnapshot(cur)
	if err != nil {
		return connector.Token{}, err
	}
	return syncToken(t), nil
}

// Sync diffs the file against the snapshot of since (see the package doc).
func (s *Set) Sync(ctx context.Context, since connector.Token, fn func(connector.Delta) error) (connector.Token, error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	t, err := parseToken(since)
	if err != nil {
		return since, fmt.Errorf("%s: sync token: %w", s.resource, err)
	}
	cur, err := s.readRows(ctx, s.cfg.File)
	if err != nil {
		return since, err
	}
	old, err := s.readRows(ctx, s.snapshotPath(t))
	if errors.Is(err, fs.ErrNotExist) {
		nt, err := s.saveSnapshot(cur)
		if err != nil {
			return since, err
		}
		return syncToken(nt), nil
	}
	if err != nil {
		return since, err
	}
	if !slices.Equal(old.header, cur.header) {
		return since, fmt.Errorf("%s: the header of %s (%s) differs from the snapshot's (%s): headers do not match",
			s.resource, s.cfg.File, strings.Join(cur.header, ","), strings.Join(old.header, ","))
	}
	var deltas []connector.Delta
	for _, uid := range old.order {
		if _, ok := cur.byUID[uid]; !ok {
			deltas = append(deltas, connector.Delta{Type: connector.DeltaDelete, UID: uid, Token: since})
		}
	}
	for _, uid := range cur.order {
		rec := cur.byUID[uid]
		prev, ok := old.byUID[uid]
		switch {
		case !ok:
			deltas = append(deltas, connector.Delta{Type: connector.DeltaCreate, UID: uid, Object: s.toObject(cur.header, rec), Token: since})
		case !slices.Equal(prev, rec):
			deltas = append(deltas, connector.Delta{Type: connector.DeltaUpdate, UID: uid, Object: s.toObject(cur.header, rec), Token: since})
		}
	}
	if len(deltas) == 0 {
		return since, nil
	}
	for i, d := range deltas {
		if err := ctx.Err(); err != nil {
			return s.partial(old, cur, deltas[:i], since, err)
		}
		if err := fn(d); err != nil {
			return s.partial(old, cur, deltas[:i], since, err)
		}
	}
	nt, err := s.saveSnapshot(cur)
	if err != nil {
		return since, err
	}
	return syncToken(nt), nil
}

// partial saves the snapshot of old with the accepted deltas applied and
// returns its token with fnErr; since when nothing was accepted.
func (s *Set) partial(old, cur *rows, accepted []connector.Delta, since connector.Token, fnErr error) (connector.Token, error) {
	if len(accepted) == 0 {
		return since, fnErr
	}
	state := &rows{header: old.header, byUID: map[string][]cell{}}
	for _, uid := range old.order {
		state.order = append(state.order, uid)
		state.byUID[uid] = old.byUID[uid]
	}
	for _, d := range accepted {
		switch d.Type {
		case connector.DeltaDelete:
			delete(state.byUID, d.UID)
		case connector.DeltaCreate:
			state.order = append(state.order, d.UID)
			state.byUID[d.UID] = cur.byUID[d.UID]
		default:
			state.byUID[d.UID] = cur.byUID[d.UID]
		}
	}
	state.order = slices.DeleteFunc(state.order, func(uid string) bool { _, ok := state.byUID[uid]; return !ok })
	nt, err := s.saveSnapshot(state)
	if err != nil {
		return since, fmt.Errorf("%w (and %v)", fnErr, err)
	}
	return syncToken(nt), fnErr
}
