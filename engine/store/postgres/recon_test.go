package postgres_test

import (
	"testing"

	"sundial/engine/store"
	"sundial/engine/store/storetest"
	"sundial/internal/pgtest"
)

func TestRecons(t *testing.T) {
	t.Parallel()
	storetest.ExerciseRecons(t, func(t *testing.T) store.Store { return openDSN(t, pgtest.DSN(t)) })
}
