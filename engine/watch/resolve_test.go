package watch

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	base := tempDir(t)
	j := func(p ...string) string { return filepath.Join(append([]string{base}, p...)...) }
	mkdir(t, j("dir", "..2026_rev1", "sub"))
	symlink(t, "..2026_rev1", j("dir", "..data"))
	symlink(t, filepath.Join("dir", "..data"), j("conf"))
	symlink(t, j("dir"), j("abs"))
	symlink(t, "dir/..data/../..2026_rev1/sub", j("up"))
	symlink(t, "loop2", j("loop1"))
	symlink(t, "loop1", j("loop2"))
	write(t, j("file"), "x")
	symlink(t, "nowhere", j("dangling"))

	for _, tc := range []struct {
		path    string
		target  string
		names   []string
		anchors []string
		err     string
	}{
		{path: j("dir"), target: j("dir")},
		{
			path:    j("conf"),
			target:  j("dir", "..2026_rev1"),
			names:   []string{j("conf"), j("dir", "..data")},
			anchors: []string{base, j("dir")},
		},
		{
			// A link in the middle of the path, then "..": resolved against
			// the link's target, as the kernel does.
			path:    base + "/conf/sub/../sub",
			target:  j("dir", "..2026_rev1", "sub"),
			names:   []string{j("conf"), j("dir", "..data")},
			anchors: []string{base, j("dir")},
		},
		{
			// The same inside a link's target.
			path:    j("up"),
			target:  j("dir", "..2026_rev1", "sub"),
			names:   []string{j("dir", "..data"), j("up")},
			anchors: []string{base, j("dir")},
		},
		{
			path:    j("abs", "..data"),
			target:  j("dir", "..2026_rev1"),
			names:   []string{j("abs"), j("dir", "..data")},
			anchors: []string{base, j("dir")},
		},
		{
			// The first missing component is watched for.
			path:    j("missing", "conf"),
			names:   []string{j("missing")},
			anchors: []string{base},
			err:     "no such file or directory",
		},
		{
			path:    j("dangling"),
			names:   []string{j("dangling"), j("nowhere")},
			anchors: []string{base},
			err:     "no such file or directory",
		},
		{
			path:    j("file"),
			names:   []string{j("file")},
			anchors: []string{base},
			err:     "is not a directory",
		},
		{
			path:    j("loop1"),
			names:   []string{j("loop1"), j("loop2")},
			anchors: []string{base},
			err:     "too many levels of symbolic links",
		},
	} {
		t.Run(strings.TrimPrefix(tc.path, base), func(t *testing.T) {
			res := resolve(tc.path)
			if res.target != tc.target {
				t.Errorf("target %q, want %q", res.target, tc.target)
			}
			if got := slices.Sorted(maps.Keys(res.names)); !slices.Equal(got, tc.names) && len(got)+len(tc.names) > 0 {
				t.Errorf("names %q, want %q", got, tc.names)
			}
			if got := slices.Sorted(maps.Keys(res.anchors())); !slices.Equal(got, tc.anchors) && len(got)+len(tc.anchors) > 0 {
				t.Errorf("anchors %q, want %q", got, tc.anchors)
			}
			switch {
			case tc.err == "" && res.err != nil:
				t.Errorf("error %v, want none", res.err)
			case tc.err != "" && (res.err == nil || !strings.Contains(res.err.Error(), tc.err)):
				t.Errorf("error %v, want one containing %q", res.err, tc.err)
			}
			if !res.same(resolve(tc.path)) {
				t.Error("resolution not the same as itself")
			}
		})
	}
}

func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		path, dir string
		want      bool
	}{
		{"/a/b", "/a/b", true},
		{"/a/b/c", "/a/b", true},
		{"/a/bc", "/a/b", false},
		{"/a", "/a/b", false},
		{"/a", "/", true},
	} {
		if got := within(tc.path, tc.dir); got != tc.want {
			t.Errorf("within(%q, %q) = %v, want %v", tc.path, tc.dir, got, tc.want)
		}
	}
}
