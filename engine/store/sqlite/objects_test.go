package sqlite_test

import (
	"testing"

	"sundial/engine/store/storetest"
)

func TestObjects(t *testing.T) {
	t.Parallel()
	storetest.ExerciseObjects(t, newStore)
}

func TestScanRuns(t *testing.T) { storetest.ExerciseScanRuns(t, newStore(t)) }
