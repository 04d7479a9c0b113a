//go:build !unix

package config

import (
	"io"
	"os"
)

// readAtMost reads up to limit bytes of the file at path.
func readAtMost(path string, limit int, _ []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(limit)))
}
