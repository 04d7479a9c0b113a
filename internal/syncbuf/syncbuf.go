// Package syncbuf holds Buffer, a bytes.Buffer that many goroutines may write
// to and read from at once: the log sink and process-output collector of
// Sundial's tests. It is imported by tests only.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer keeps everything written to it. Its zero value is ready to use, and
// its methods are safe for concurrent use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p; it never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
