package sync

import "testing"

func TestIDSet(t *testing.T) {
	var s idSet
	s.add("0190f3a2-7c1e-7b3a-9d2e-4f5a6b7c8d9e", "0190f3a2-7c1e-7b3a-9d2e-4f5a6b7c8d9e", "bjensen", "uid=x,ou=people")
	s.add("0190F3A2-7C1E-7B3A-9D2E-4F5A6B7C8D9F", "{0190f3a2-7c1e-7b3a-9d2e-4f5a6b7c8d90}")
	s.seal()
	for _, c := range []struct {
		id   string
		want bool
	}{
		{"0190f3a2-7c1e-7b3a-9d2e-4f5a6b7c8d9e", true},
		{"bjensen", true},
		{"uid=x,ou=people", true},
		// Other spellings of a UUID are other ids.
		{"0190F3A2-7C1E-7B3A-9D2E-4F5A6B7C8D9E", false},
		{"0190F3A2-7C1E-7B3A-9D2E-4F5A6B7C8D9F", true},
		{"0190f3a2-7c1e-7b3a-9d2e-4f5a6b7c8d9f", false},
		{"{0190f3a2-7c1e-7b3a-9d2e-4f5a6b7c8d90}", true},
		{"0190f3a2-7c1e-7b3a-9d2e-4f5a6b7c8d90", false},
		{"0190f3a27c1e7b3a9d2e4f5a6b7c8d9e", false},
		{"", false},
		{"BJENSEN", false},
	} {
		if got := s.has(c.id); got != c.want {
			t.Errorf("has(%q) = %v, want %v", c.id, got, c.want)
		}
	}
	if len(s.uuids) != 1 || len(s.others) != 4 {
		t.Errorf("%d UUIDs and %d other ids, want 1 and 4", len(s.uuids), len(s.others))
	}
}
