package benchenv

import "testing"

// TestPeakRSS: the peak is read, and grows with memory the process
// touches after a reset.
func TestPeakRSS(t *testing.T) {
	if PeakRSS() <= 0 || !ResetPeakRSS() {
		t.Skip("no VmHWM in /proc/self/status, or no clear_refs")
	}
	before := PeakRSS()
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	if after := PeakRSS(); after-before < 32<<20 {
		t.Errorf("peak RSS %d after touching 64 MiB, %d before", after, before)
	}
	_ = buf[len(buf)-1]
}

func TestUsers(t *testing.T) {
	t.Setenv(UsersVar, "")
	if n := Users(t, 7); n != 7 {
		t.Errorf("unset: %d, want 7", n)
	}
	t.Setenv(UsersVar, "1000000")
	if n := Users(t, 7); n != 1_000_000 {
		t.Errorf("set: %d, want 1000000", n)
	}
}
