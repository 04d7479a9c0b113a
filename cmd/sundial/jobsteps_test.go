package main

import (
	"bytes"
	"testing"
)

// TestJobStepsFromConf prints Get-JobSteps' lines byte for byte: a level
// larger than maxParallel is split into consecutive orders.
func TestJobStepsFromConf(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"job-steps", "-j", "nightly", "--conf", "testdata/validate/plan"}, &out, &errOut)
	want := "Task : Export_AD, Order : 0\nTask : Export_HR, Order : 0\nTask : Export_SAP, Order : 1\nTask : Sync_AD, Order : 2\n"
	if code != 0 || out.String() != want {
		t.Errorf("exit %d, stdout:\n%s\nstderr: %s\nwant:\n%s", code, out.String(), errOut.String(), want)
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"job-steps", "-j", "nope", "--conf", "testdata/validate/plan"}, &out, &errOut); code != 1 {
		t.Errorf("an unknown job: exit %d, want 1 (%s)", code, errOut.String())
	}
	if code := run([]string{"job-steps", "--conf", "testdata/validate/plan"}, &out, &errOut); code != 2 {
		t.Errorf("no -j: exit %d, want 2", code)
	}
}
