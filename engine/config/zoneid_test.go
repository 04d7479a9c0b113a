package config

import (
	"testing"
	"time"
)

// TestZoneID: zones are named as Java names them; the machine's zone by
// its IANA name, never Go's "Local".
func TestZoneID(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	if got := ZoneID(paris); got != "Europe/Paris" {
		t.Errorf("ZoneID(Europe/Paris) = %q", got)
	}
	t.Setenv("TZ", "America/New_York")
	if got := localZone(); got != "America/New_York" {
		t.Errorf("with TZ=America/New_York: %q", got)
	}
	t.Setenv("TZ", "")
	if got := localZone(); got == "" || got == "Local" && time.Now().In(time.Local).Format("-07:00") == "+00:00" {
		t.Errorf("without TZ: %q", got)
	}
}
