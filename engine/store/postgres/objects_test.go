package postgres_test

import (
	"testing"

	"sundial/engine/store"
	"sundial/engine/store/storetest"
	"sundial/internal/pgtest"
)

func TestObjects(t *testing.T) {
	t.Parallel()
	storetest.ExerciseObjects(t, func(t *testing.T) store.Store { return openDSN(t, pgtest.DSN(t)) })
}

func TestScanRuns(t *testing.T) { storetest.ExerciseScanRuns(t, openDSN(t, pgtest.DSN(t))) }
