package script

import (
	"errors"
	"fmt"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// TypeJavaScript is the only script type Sundial runs.
const TypeJavaScript = "text/javascript"

// Spec is a parsed invokeContext.script block. It is immutable once ParseSpec
// returns it; its maps are shared with the block it was parsed from and are
// never modified.
type Spec struct {
	// Name is the block's "name", or File when "name" is absent (as IDM does).
	Name string
	// Source is the inline script ("source"); empty when File is set.
	Source string
	// File is the script file ("file"), slash-separated and relative to the
	// scripts directory; empty when Source is set.
	File string
	// Globals are the entries of "globals", bound as global variables.
	Globals map[string]any
	// Bindings are the other keys of the block (all but name, type, source,
	// file, globals, visibility, timeout, memoryLimit and keys starting with
	// "_"), bound as global variables.
	Bindings map[string]any
	// Timeout bounds a run ("timeout": a Go duration such as "30s" or "5m", or
	// a number of milliseconds); zero means Config.DefaultTimeout.
	Timeout time.Duration
	// MemoryLimit bounds the heap growth of a run, in bytes ("memoryLimit":
	// a number of bytes, or a size such as "64MiB", "256MB" or "1GiB"; see
	// MemoryGuard for what is measured); zero means
	// Config.DefaultMemoryLimit.
	MemoryLimit int64
}

// SpecError is a problem with one key of a script block.
type SpecError struct {
	// Key is the offending key of the block ("type", "source", "file",
	// "globals", "timeout", "memoryLimit" or a binding name); empty for the
	// block itself.
	Key string
	Err error
}

func (e *SpecError) Error() string {
	if e.Key == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("%q: %v", e.Key, e.Err)
}

func (e *SpecError) Unwrap() error { return e.Err }

// ErrBadPath is returned for a script file path that is absolute or climbs
// out of the scripts directory.
var ErrBadPath = errors.New("script path must be relative to the scripts directory")

// reservedKeys are the block keys that are not bindings.
var reservedKeys = map[string]bool{
	"name": true, "type": true, "source": true, "file": true,
	"globals": true, "visibility": true, "timeout": true, "memoryLimit": true,
}

// builtinNames are the bindings every script gets; a spec may not shadow them.
var builtinNames = map[string]bool{
	"logger": true, "identityServer": true, "console": true, "java": true,
	"openidm": true,
}

// ParseSpec parses an invokeContext.script block: {type: "text/javascript",
// source | file, globals, timeout, memoryLimit, name, visibility,
// ...bindings}. A block with neither source nor file names its file with
// "name", as OpenIDM 2.x samples do.
func ParseSpec(block map[string]any) (Spec, error) {
	var s Spec
	if block == nil {
		return s, &SpecError{Err: errors.New("script block is missing")}
	}

	src, hasSource := block["source"]
	file, hasFile := block["file"]
	if !hasSource && !hasFile {
		// OpenIDM 2.x samples name the file with "name".
		if n, ok := block["name"].(string); ok {
			file, hasFile = n, true
		}
	}
	switch {
	case hasSource && hasFile:
		return s, &SpecError{Key: "file", Err: errors.New(`"source" and "file" are mutually exclusive`)}
	case !hasSource && !hasFile:
		return s, &SpecError{Err: errors.New(`script block needs "source" or "file"`)}
	case hasSource:
		str, ok := src.(string)
		if !ok {
			return s, &SpecError{Key: "source", Err: fmt.Errorf("must be a string, got %s", typeName(src))}
		}
		s.Source = str
	default:
		str, ok := file.(string)
		if !ok {
			return s, &SpecError{Key: "file", Err: fmt.Errorf("must be a string, got %s", typeName(file))}
		}
		if _, err := cleanPath(str); err != nil {
			return s, &SpecError{Key: "file", Err: err}
		}
		s.File = str
	}

	switch t := block["type"].(type) {
	case string:
		if t != TypeJavaScript {
			return s, &SpecError{Key: "type", Err: fmt.Errorf("unsupported script type %q (only %q is supported)", t, TypeJavaScript)}
		}
	case nil:
		// IDM requires a type; a file named *.js is unambiguous enough.
		if s.File == "" || !strings.HasSuffix(s.File, ".js") {
			return s, &SpecError{Key: "type", Err: fmt.Errorf("missing (want %q)", TypeJavaScript)}
		}
	default:
		return s, &SpecError{Key: "type", Err: fmt.Errorf("must be a string, got %s", typeName(t))}
	}

	switch n := block["name"].(type) {
	case string:
		s.Name = n
	case nil:
		s.Name = s.File
	default:
		return s, &SpecError{Key: "name", Err: fmt.Errorf("must be a string, got %s", typeName(n))}
	}

	switch g := block["globals"].(type) {
	case nil:
	case map[string]any:
		for k := range g {
			if builtinNames[k] {
				return s, &SpecError{Key: "globals", Err: fmt.Errorf("%q would shadow the built-in binding", k)}
			}
		}
		if len(g) > 0 {
			s.Globals = g
		}
	default:
		return s, &SpecError{Key: "globals", Err: fmt.Errorf("must be an object, got %s", typeName(g))}
	}

	if t, ok := block["timeout"]; ok && t != nil {
		d, err := parseTimeout(t)
		if err != nil {
			return s, &SpecError{Key: "timeout", Err: err}
		}
		s.Timeout = d
	}

	if m, ok := block["memoryLimit"]; ok && m != nil {
		n, err := parseMemoryLimit(m)
		if err != nil {
			return s, &SpecError{Key: "memoryLimit", Err: err}
		}
		s.MemoryLimit = n
	}

	keys := make([]string, 0, len(block))
	for k := range block {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic first error
	for _, k := range keys {
		if reservedKeys[k] || strings.HasPrefix(k, "_") {
			continue
		}
		if builtinNames[k] {
			return s, &SpecError{Key: k, Err: errors.New("would shadow the built-in binding")}
		}
		if s.Bindings == nil {
			s.Bindings = make(map[string]any)
		}
		s.Bindings[k] = block[k]
	}
	return s, nil
}

// parseTimeout reads a Go duration string, or a number of milliseconds given
// as a number or a string of digits.
func parseTimeout(v any) (time.Duration, error) {
	var d time.Duration
	switch t := v.(type) {
	case string:
		if ms, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64); err == nil {
			d = time.Duration(ms) * time.Millisecond
			break
		}
		var err error
		if d, err = time.ParseDuration(strings.TrimSpace(t)); err != nil {
			return 0, fmt.Errorf("invalid duration %q (want e.g. \"30s\", \"5m\" or milliseconds)", t)
		}
	case float64:
		if t != math.Trunc(t) || t > float64(math.MaxInt64/int64(time.Millisecond)) {
			return 0, fmt.Errorf("invalid number of milliseconds %v", t)
		}
		d = time.Duration(t) * time.Millisecond
	case int:
		d = time.Duration(t) * time.Millisecond
	case int64:
		d = time.Duration(t) * time.Millisecond
	default:
		return 0, fmt.Errorf("must be a duration string or milliseconds, got %s", typeName(v))
	}
	if d <= 0 {
		return 0, fmt.Errorf("must be positive, got %v", v)
	}
	return d, nil
}

// cleanPath validates a script file path and returns it cleaned.
func cleanPath(p string) (string, error) {
	if p == "" {
		return "", errors.New("empty script path")
	}
	if path.IsAbs(p) || strings.HasPrefix(p, `\`) || (len(p) > 1 && p[1] == ':') {
		return "", fmt.Errorf("%w: %q is absolute", ErrBadPath, p)
	}
	c := path.Clean(strings.ReplaceAll(p, `\`, "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%w: %q escapes it", ErrBadPath, p)
	}
	if c == "." {
		return "", fmt.Errorf("%w: %q names the directory itself", ErrBadPath, p)
	}
	return c, nil
}

// candidatePaths returns the paths to try for a cleaned script path: as
// given, then, when it starts with "script/" (IDM's project layout), without
// that prefix. These are the rules of config.ResolveScriptPath.
func candidatePaths(clean string) []string {
	if rest, ok := strings.CutPrefix(clean, "script/"); ok {
		return []string{clean, rest}
	}
	return []string{clean}
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, int, int64:
		return "a number"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	default:
		return fmt.Sprintf("%T", v)
	}
}
