package store

import (
	"context"
	"fmt"
	"time"
)

// ScanRuns stores the task scanner's runs and their progress. Both SQL
// backends implement it; ScanRunsOf finds it behind a Store.
type ScanRuns interface {
	// PutScanRun inserts a run or replaces the one with its id.
	PutScanRun(ctx context.Context, run ScanRun) error
	// ListScanRuns returns every run stored, oldest start first.
	ListScanRuns(ctx context.Context) ([]ScanRun, error)
	// ReadScanRun returns one run (ErrNotFound when there is none).
	ReadScanRun(ctx context.Context, id string) (ScanRun, error)
	// PruneScanRuns deletes the oldest runs in state keepState beyond the
	// newest keep of them.
	PruneScanRuns(ctx context.Context, params PruneScanRunsParams) error
	// InterruptScanRuns ends the runs of Node that are still in one of
	// States: they become State, ended at At. It returns how many.
	InterruptScanRuns(ctx context.Context, params InterruptScanRunsParams) (int, error)
}

// ScanRun is one task-scan run as stored.
type ScanRun struct {
	ID, Name, Node, State                 string
	Processed, Total, Successes, Failures int64
	Started                               time.Time
	Ended                                 time.Time // zero while the run goes on
}

// PruneScanRunsParams bound the runs kept in one state.
type PruneScanRunsParams struct {
	State string
	Keep  int
}

// InterruptScanRunsParams name the runs a node left unfinished.
type InterruptScanRunsParams struct {
	Node   string
	States []string
	State  string
	At     time.Time
}

// ScanRunsOf returns the task-scan run store of s.
func ScanRunsOf(s Store) (ScanRuns, error) {
	r, ok := s.(ScanRuns)
	if !ok {
		return nil, fmt.Errorf("%w: the %T store does not hold task-scan runs", ErrInvalid, s)
	}
	return r, nil
}

// UnixMillis is t as stored (0 for the zero time); FromUnixMillis is its
// inverse.
func UnixMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// FromUnixMillis is the time UnixMillis stored as ms.
func FromUnixMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
