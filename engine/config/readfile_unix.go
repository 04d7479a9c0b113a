//go:build unix

package config

import (
	"io/fs"
	"syscall"
)

// readAtMost reads up to limit bytes of the regular file at path into buf.
// Loading a directory of thousands of files is dominated by system calls,
// so this makes four per small file (open, fstat, read, close) where
// os.ReadFile makes six or more (it also registers the descriptor with the
// poller).
//
// It never blocks on a FIFO or a device: the file is opened with
// O_NONBLOCK (opening a FIFO without a writer would otherwise wait for
// one), and anything the descriptor's fstat does not show as a regular file
// is refused with errNotRegular before a byte is read. Callers that know
// the type from the directory listing refuse such entries without opening
// them; the fstat covers a file replaced between the listing and the open.
func readAtMost(path string, limit int, buf []byte) ([]byte, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
	case syscall.S_IFDIR:
		return nil, errIsDir
	default:
		return nil, errNotRegular
	}
	if cap(buf) == 0 {
		buf = make([]byte, 0, min(max(int(st.Size)+1, 512), limit+1))
	}
	buf = buf[:0]
	for len(buf) < limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := syscall.Read(fd, buf[len(buf):min(cap(buf), limit)])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		case n == 0:
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
	return buf, nil
}
