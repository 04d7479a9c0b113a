package api

import (
	"testing"

	"sundial/engine/query"
)

// TestReconIDOf: only a top-level reconId equality, or one operand of a
// top-level and, names the one run a query reads.
func TestReconIDOf(t *testing.T) {
	for _, tc := range []struct{ filter, want string }{
		{`reconId eq "r1"`, "r1"},
		{`reconId eq "r1" and situation eq "ABSENT"`, "r1"},
		{`situation eq "ABSENT" and (reconId eq "r2" and action eq "CREATE")`, "r2"},
		{`reconId eq "r1" or situation eq "ABSENT"`, ""},
		{`!(reconId eq "r1")`, ""},
		{`reconId sw "r1"`, ""},
		{`reconId eq 1`, ""},
		{`reconId/x eq "r1"`, ""},
		{`true`, ""},
	} {
		f, err := query.Parse(tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		if got := reconIDOf(f); got != tc.want {
			t.Errorf("reconIDOf(%s) = %q, want %q", tc.filter, got, tc.want)
		}
	}
}
