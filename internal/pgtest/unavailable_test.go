package pgtest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that records how a test would have ended.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Skipf(format string, a ...any)  { r.skipped = fmt.Sprintf(format, a...) }
func (r *recorder) Fatalf(format string, a ...any) { r.failed = fmt.Sprintf(format, a...) }

// TestUnavailable: without PostgreSQL a test is skipped, unless
// SUNDIAL_REQUIRE_POSTGRES=1 asks for it, when it fails saying what to
// install; a server that does not start fails either way.
func TestUnavailable(t *testing.T) {
	missing := fmt.Errorf("look for binaries: %w", ErrNoPostgres)
	broken := errors.New("initdb: exit status 1")
	for _, tc := range []struct {
		name                string
		err                 error
		required            bool
		wantSkip, wantFatal string
	}{
		{"missing", missing, false, "set SUNDIAL_REQUIRE_POSTGRES=1 to make this a failure", ""},
		{"missing/required", missing, true, "", "apt-get install postgresql"},
		{"broken", broken, false, "", "initdb: exit status 1"},
		{"broken/required", broken, true, "", "initdb: exit status 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			unavailable(r, tc.err, tc.required)
			if tc.wantSkip != "" && !strings.Contains(r.skipped, tc.wantSkip) || tc.wantSkip == "" && r.skipped != "" {
				t.Errorf("skip message %q, want one containing %q", r.skipped, tc.wantSkip)
			}
			if tc.wantFatal != "" && !strings.Contains(r.failed, tc.wantFatal) || tc.wantFatal == "" && r.failed != "" {
				t.Errorf("failure message %q, want one containing %q", r.failed, tc.wantFatal)
			}
		})
	}
}
