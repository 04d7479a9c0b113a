//go:build !unix

package config

import (
	"io"
	"os"
)

// readAtMost reads up to limit bytes of the regular file at path; anything
// else (a directory, a device, a pipe) is refused before it is read.
func readAtMost(path string, limit int, _ []byte) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, errIsDir
	}
	if !fi.Mode().IsRegular() {
		return nil, errNotRegular
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, errNotRegular
	}
	return io.ReadAll(io.LimitReader(f, int64(limit)))
}
