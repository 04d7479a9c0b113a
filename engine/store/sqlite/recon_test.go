package sqlite_test

import (
	"testing"

	"sundial/engine/store/storetest"
)

func TestRecons(t *testing.T) {
	t.Parallel()
	storetest.ExerciseRecons(t, newStore)
}
