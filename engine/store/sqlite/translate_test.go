package sqlite

import (
	"testing"

	"sundial/engine/query"
	"sundial/engine/store/internal/objquery"
)

// TestTranslateExact lists filters that SQL decides alone, and some it
// leaves to Go.
func TestTranslateExact(t *testing.T) {
	for _, tc := range []struct {
		filter string
		exact  bool
	}{
		{`userName eq "u123456"`, true},
		{`((/sunset/date lt "2024-05-01T10:15:30.123Z") AND !(/sunset/task-completed pr))`, true},
		{`userName sw "bj" or mail co "EXAMPLE"`, true},
		{`/active eq true and age gt 17 and age le 65.5`, true},
		{`/x ext "y"`, true},
		{`userName eq "Jürgen"`, false},
		{`age gt 0`, false},
		{`/roles/0 eq "admin"`, false},
	} {
		f, err := query.Parse(tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		if got := objquery.Translate(dialect{}, f).Exact(); got != tc.exact {
			t.Errorf("%s: exact = %v, want %v", tc.filter, got, tc.exact)
		}
	}
}
