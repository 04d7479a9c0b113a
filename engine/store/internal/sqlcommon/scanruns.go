package sqlcommon

import (
	"fmt"
	"strings"

	"sundial/engine/store"
)

// ScanRunSQL are the statements of the scan_runs table in a dialect whose
// n-th placeholder (from 1) is ph(n).
type ScanRunSQL struct {
	Put, List, Read, Prune, Interrupt string
}

// scanRunCols are scan_runs' columns, in the order ScanRun scans them.
const scanRunCols = "id, name, node, state, processed, total, successes, failures, started, ended"

// NewScanRunSQL spells the statements with ph (numbered placeholders:
// Prune uses its first twice); Interrupt takes
// placeholders 1 (new state), 2 (ended), 3 (node), then 4… for the states
// to interrupt, states of them.
func NewScanRunSQL(ph func(n int) string, states int) ScanRunSQL {
	vals := make([]string, 10)
	for i := range vals {
		vals[i] = ph(i + 1)
	}
	in := make([]string, states)
	for i := range in {
		in[i] = ph(i + 4)
	}
	return ScanRunSQL{
		Put: "INSERT INTO scan_runs (" + scanRunCols + ") VALUES (" + strings.Join(vals, ", ") + `)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, node = excluded.node, state = excluded.state,
			processed = excluded.processed, total = excluded.total, successes = excluded.successes,
			failures = excluded.failures, started = excluded.started, ended = excluded.ended`,
		List: "SELECT " + scanRunCols + " FROM scan_runs ORDER BY started, id",
		Read: "SELECT " + scanRunCols + " FROM scan_runs WHERE id = " + ph(1),
		Prune: "DELETE FROM scan_runs WHERE state = " + ph(1) + " AND id NOT IN (SELECT id FROM scan_runs WHERE state = " + ph(1) +
			" ORDER BY started DESC, id DESC LIMIT " + ph(2) + ")",
		Interrupt: "UPDATE scan_runs SET state = " + ph(1) + ", ended = " + ph(2) + " WHERE node = " + ph(3) +
			" AND state IN (" + strings.Join(in, ", ") + ")",
	}
}

// ScanRunArgs are Put's arguments for r.
func ScanRunArgs(r store.ScanRun) []any {
	return []any{r.ID, r.Name, r.Node, r.State, r.Processed, r.Total, r.Successes, r.Failures,
		store.UnixMillis(r.Started), store.UnixMillis(r.Ended)}
}

// InterruptArgs are Interrupt's arguments for p.
func InterruptArgs(p store.InterruptScanRunsParams) []any {
	args := []any{p.State, store.UnixMillis(p.At), p.Node}
	for _, s := range p.States {
		args = append(args, s)
	}
	return args
}

// ScanRun scans a row of scan_runs.
func ScanRun(row Scanner) (store.ScanRun, error) {
	var r store.ScanRun
	var started, ended int64
	if err := row.Scan(&r.ID, &r.Name, &r.Node, &r.State, &r.Processed, &r.Total, &r.Successes, &r.Failures, &started, &ended); err != nil {
		return r, err
	}
	r.Started, r.Ended = store.FromUnixMillis(started), store.FromUnixMillis(ended)
	return r, nil
}

// ScanRunMissing is ReadScanRun's error for an id not stored.
func ScanRunMissing(id string) error {
	return fmt.Errorf("task scan run %s: %w", id, store.ErrNotFound)
}
