package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"sundial/engine/store"
)

// TestDeferredSync checks that a write under store.WithDeferredSync runs at
// synchronous=NORMAL and leaves the writer connection at FULL for the
// writes after it.
func TestDeferredSync(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "sundial.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	level := func(ctx context.Context) int {
		t.Helper()
		var n int
		if err := s.write(ctx, func(tx *sql.Tx) error {
			return tx.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&n)
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const normal, full = 1, 2
	for i, tc := range []struct {
		ctx  context.Context
		want int
	}{
		{ctx, full},
		{store.WithDeferredSync(ctx), normal},
		{ctx, full},
		{store.WithDeferredSync(ctx), normal},
		{store.WithDeferredSync(ctx), normal},
		{ctx, full},
	} {
		if got := level(tc.ctx); got != tc.want {
			t.Errorf("write %d: synchronous = %d, want %d", i, got, tc.want)
		}
	}
}
