//go:build race

package script

// raceEnabled: the race detector keeps shadow memory for the heap, which
// freeing the heap does not return, so RSS figures mean nothing under it.
const raceEnabled = true
