package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"sundial/engine/query"
)

// durationPattern is a ForgeRock duration: an integer and a unit, with
// optional space ("10m", "0d", "30 seconds").
var durationPattern = regexp.MustCompile(`^\s*(\d+)\s*([a-zA-Z]+)\s*$`)

var durationUnits = map[string]time.Duration{
	"ms": time.Millisecond, "millisecond": time.Millisecond, "milliseconds": time.Millisecond,
	"s": time.Second, "sec": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
}

// ParseDuration reads a ForgeRock-style duration such as the task scanner's
// recovery.timeout: a non-negative integer and a unit (ms, s, m, h, d, or
// their long names), e.g. "10m", "0d", "30 seconds".
func ParseDuration(s string) (time.Duration, error) {
	m := durationPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, errors.New("expected an integer and a unit (ms, s, m, h, d), e.g. \"10m\"")
	}
	unit, ok := durationUnits[strings.ToLower(m[2])]
	if !ok {
		return 0, errors.New("unknown unit " + strconv.Quote(m[2]) + ": use ms, s, m, h or d")
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n > int64(1<<63-1)/int64(unit) {
		return 0, errors.New("duration out of range")
	}
	return time.Duration(n) * unit, nil
}

// checkMacros checks the ${…} blocks of a task-scan string by expanding
// them as the task scanner will (query.ExpandMacros, the one definition of
// the macros), with a sample instant and the scan's taskState pointers: a
// block the scanner would refuse is an error, and a block that is no
// macro (the scanner inserts its inside literally, as IDM does) earns a
// warning.
func checkMacros(s string, mc query.MacroContext) (errs, warns []string) {
	_, macros, err := query.ExpandMacros(s, mc)
	if me, ok := err.(*query.MacroError); ok {
		return []string{me.Msg}, nil
	}
	if err != nil {
		return []string{err.Error()}, nil
	}
	for _, m := range macros {
		if m.Literal {
			warns = append(warns, m.Text+" is not a macro: the task scanner inserts it literally as "+strconv.Quote(m.Value))
		}
	}
	return nil, warns
}

// ResolveScriptPath returns the file that a script's "file" value names
// under scriptsDir. The value must be a relative slash-separated path that
// stays inside scriptsDir. It is looked up as written, and then, when it
// starts with "script/" (IDM's project layout, where scripts live in
// <project>/script), without that prefix: "script/sunset.js" and
// "sunset.js" both find <scriptsDir>/sunset.js.
//
// The file found must be a regular file (a FIFO could block its reader), and
// once every symlink is resolved (filepath.EvalSymlinks) it must still be
// inside scriptsDir, itself resolved: a link to /etc/passwd or to a sibling
// directory is refused, as the script engine's os.Root refuses it at run
// time. The error wraps ErrScriptNotFound, ErrNotRegular, ErrRead or
// ErrInvalidValue.
func ResolveScriptPath(scriptsDir, file string) (string, error) {
	clean, err := cleanScriptPath(file)
	if err != nil {
		return "", err
	}
	candidates := []string{clean}
	if rest, ok := strings.CutPrefix(clean, "script/"); ok {
		candidates = append(candidates, rest)
	}
	tried := make([]string, 0, len(candidates))
	for _, c := range candidates {
		p := filepath.Join(scriptsDir, filepath.FromSlash(c))
		tried = append(tried, p)
		fi, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return "", readError(err)
		case !fi.Mode().IsRegular():
			return "", errorf(ErrNotRegular, "script file %q is not a regular file (%s)", file, p)
		}
		if err := insideAfterSymlinks(scriptsDir, p); err != nil {
			return "", errorw(ErrInvalidValue, err, "script file %q: %v", file, err)
		}
		return p, nil
	}
	return "", errorf(ErrScriptNotFound, "script file %q not found (looked for %s)", file, strings.Join(tried, " and "))
}

// insideAfterSymlinks checks that p, with every symlink resolved, is inside
// dir, with every symlink resolved.
func insideAfterSymlinks(dir, p string) error {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return fmt.Errorf("a symlink leads out of the scripts directory, to %s", real)
	}
	return nil
}

// cleanScriptPath checks that a script path is relative and stays inside
// the scripts directory, and returns it cleaned.
func cleanScriptPath(file string) (string, error) {
	f := strings.ReplaceAll(file, `\`, "/")
	if path.IsAbs(f) || filepath.IsAbs(file) || filepath.VolumeName(file) != "" {
		return "", errorf(ErrInvalidValue, "script file %q must be relative to the scripts directory", file)
	}
	clean := path.Clean(f)
	if clean == ".." || strings.HasPrefix(clean, "../") || clean == "." {
		return "", errorf(ErrInvalidValue, "script file %q must stay inside the scripts directory", file)
	}
	return clean, nil
}
