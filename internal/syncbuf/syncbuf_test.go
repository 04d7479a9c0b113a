package syncbuf

import (
	"strings"
	"sync"
	"testing"
)

// TestConcurrentWriters writes from many goroutines while reading, for the
// race detector, and checks that no write is lost or torn.
func TestConcurrentWriters(t *testing.T) {
	var b Buffer
	const writers, lines = 8, 200
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < lines; i++ {
				if _, err := b.Write([]byte("line\n")); err != nil {
					t.Error(err)
					return
				}
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if got := strings.Count(b.String(), "line\n"); got != writers*lines {
		t.Fatalf("%d lines, want %d", got, writers*lines)
	}
	if len(b.String()) != writers*lines*len("line\n") {
		t.Fatalf("length %d, want %d", len(b.String()), writers*lines*len("line\n"))
	}
}
