package watch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unicode/utf8"
)

// maxLinks bounds the symlinks followed while resolving one path, as the
// kernel's ELOOP limit does.
const maxLinks = 40

// resolution is where a watched path leads right now.
type resolution struct {
	// target is the real directory the path resolves to: absolute, clean, with
	// no symlink in it. It is "" when the path does not resolve to a directory.
	target string
	// names are the paths whose replacement changes the resolution: every
	// symlink followed on the way, and the component that was missing or not a
	// directory, if any. Each is written with its parent directory resolved,
	// the form in which fsnotify reports events in that parent.
	names map[string]struct{}
	// err says why target is "".
	err error
}

// resolve follows path component by component, as the kernel does, recording
// each symlink it crosses. Unlike filepath.EvalSymlinks it keeps the links, so
// the watcher can watch the directories that hold them.
func resolve(path string) resolution {
	res := resolution{names: map[string]struct{}{}}
	vol := filepath.VolumeName(path)
	cur := vol + string(filepath.Separator)
	todo := splitPath(path[len(vol):])
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, c)
		fi, err := os.Lstat(next)
		if err != nil {
			res.names[next] = struct{}{}
			res.err = err
			return res
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		res.names[next] = struct{}{}
		if links++; links > maxLinks {
			res.err = fmt.Errorf("resolve %s: too many levels of symbolic links", path)
			return res
		}
		dest, err := os.Readlink(next)
		if err != nil {
			res.err = err
			return res
		}
		if filepath.IsAbs(dest) {
			v := filepath.VolumeName(dest)
			cur = v + string(filepath.Separator)
			dest = dest[len(v):]
		}
		todo = append(splitPath(dest), todo...)
	}
	fi, err := os.Stat(cur)
	if err != nil {
		res.names[cur] = struct{}{}
		res.err = err
		return res
	}
	if !fi.IsDir() {
		// Watch for it being replaced by a directory.
		res.names[cur] = struct{}{}
		res.err = fmt.Errorf("resolve %s: %s is not a directory", path, cur)
		return res
	}
	res.target = cur
	return res
}

// anchors returns the directories holding the names: watching them (not
// recursively) reports any name being created, removed or replaced.
func (r resolution) anchors() map[string]struct{} {
	out := make(map[string]struct{}, len(r.names))
	for n := range r.names {
		out[filepath.Dir(n)] = struct{}{}
	}
	return out
}

// same reports whether two resolutions lead to the same place by the same
// links.
func (r resolution) same(o resolution) bool {
	if r.target != o.target || (r.err == nil) != (o.err == nil) || len(r.names) != len(o.names) {
		return false
	}
	for n := range r.names {
		if _, ok := o.names[n]; !ok {
			return false
		}
	}
	return true
}

func splitPath(p string) []string {
	return strings.FieldsFunc(p, func(r rune) bool { return r < utf8.RuneSelf && os.IsPathSeparator(uint8(r)) })
}

// within reports whether path is dir or lies under it. Both must be clean.
func within(path, dir string) bool {
	if path == dir {
		return true
	}
	if !strings.HasSuffix(dir, string(filepath.Separator)) {
		dir += string(filepath.Separator)
	}
	return strings.HasPrefix(path, dir)
}

// vanished reports whether err means the path is gone or is no longer a
// directory: the state changed under us, and an event will say so.
func vanished(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
