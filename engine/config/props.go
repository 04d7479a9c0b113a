package config

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// builtinProperties are the defaults of IDM's standard boot properties, so
// that real ForgeRock files load without a boot.properties. The node id
// defaults to the host name.
func builtinProperties(hostname string) map[string]string {
	return map[string]string{
		"openidm.scheduler.execute.persistent.schedules": "true",
		"openidm.node.id":                      hostname,
		"openidm.instance.type":                "standalone",
		"openidm.host":                         "localhost",
		"openidm.port.http":                    "8080",
		"openidm.port.https":                   "8443",
		"openidm.port.mutualauth":              "8444",
		"openidm.taskscanner.maxcompletedruns": "100",
		"openidm.policy.enforcement.enabled":   "true",
	}
}

// EnvName is the environment variable that overrides the property key: the
// key upper-cased, with '.' and '-' replaced by '_'
// (openidm.node.id → OPENIDM_NODE_ID).
func EnvName(key string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '.' || r == '-':
			return '_'
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, key)
}

// properties resolves &{key} references: the environment first, then
// boot.properties, then the built-in defaults.
type properties struct {
	direct   func(string) (string, bool) // ParseOptions.Lookup: used alone when set
	env      func(string) (string, bool)
	boot     map[string]string
	defaults map[string]string
}

func (p *properties) lookup(key string) (string, bool) {
	if p.direct != nil {
		return p.direct(key)
	}
	if p.env != nil {
		if v, ok := p.env(EnvName(key)); ok {
			return v, true
		}
	}
	if v, ok := p.boot[key]; ok {
		return v, true
	}
	v, ok := p.defaults[key]
	return v, ok
}

// resolved returns every boot and default property with its effective value
// (the environment applied), plus the extra keys given.
func (p *properties) resolved(extra map[string]string) map[string]string {
	out := make(map[string]string, len(p.defaults)+len(p.boot)+len(extra))
	for k := range p.defaults {
		out[k], _ = p.lookup(k)
	}
	for k := range p.boot {
		out[k], _ = p.lookup(k)
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// parseProperties reads a Java .properties file: key=value, key: value or
// key value; # and ! comments; a trailing backslash continues the line;
// \t \n \r \f \uXXXX escapes. Files that are not UTF-8 are read as
// ISO-8859-1, Java's encoding for properties. Errors carry the line.
// It also returns where each key's value starts (line and column, 1-based,
// of the first line of the entry), for errors about a value.
func parseProperties(data []byte) (map[string]string, map[string]textPos, []*syntaxError) {
	text := string(data)
	if !utf8.ValidString(text) {
		runes := make([]rune, len(data))
		for i, b := range data {
			runes[i] = rune(b)
		}
		text = string(runes)
	}
	text = strings.TrimPrefix(text, "\uFEFF")
	props := map[string]string{}
	positions := map[string]textPos{}
	var errs []*syntaxError
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		first := i + 1
		line := strings.TrimLeft(lines[i], " \t\f")
		indent := utf8.RuneCountInString(lines[i][:len(lines[i])-len(line)])
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		// Join continuation lines: an odd number of trailing backslashes.
		for endsWithContinuation(line) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + strings.TrimLeft(lines[i], " \t\f")
		}
		if endsWithContinuation(line) {
			line = line[:len(line)-1]
		}
		key, value := splitProperty(line)
		k, err1 := unescapeProperty(key)
		v, err2 := unescapeProperty(value)
		if err1 != "" || err2 != "" {
			errs = append(errs, &syntaxError{line: first, col: 1, msg: err1 + err2})
			continue
		}
		props[k] = v
		positions[k] = textPos{line: first, col: indent + utf8.RuneCountInString(line[:len(line)-len(value)]) + 1}
	}
	return props, positions, errs
}

// textPos is a line and a column, 1-based.
type textPos struct{ line, col int }

func endsWithContinuation(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitProperty splits a logical line at the first unescaped '=', ':' or
// white space, as java.util.Properties does.
func splitProperty(line string) (key, value string) {
	i := 0
	for i < len(line) {
		c := line[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			break
		}
		i++
	}
	if i > len(line) {
		i = len(line)
	}
	key, rest := line[:i], line[i:]
	rest = strings.TrimLeft(rest, " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	return key, rest
}

// unescapeProperty applies .properties escapes; on a malformed \u escape it
// returns a non-empty message.
func unescapeProperty(s string) (string, string) {
	if !strings.Contains(s, `\`) {
		return s, ""
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", `malformed \uXXXX escape`
			}
			v, err := strconv.ParseUint(s[i+1:i+5], 16, 32)
			if err != nil {
				return "", `malformed \uXXXX escape`
			}
			b.WriteRune(rune(v))
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), ""
}

// substituted tracks the properties a file referenced, for its content hash.
type substituted map[string]string

func (s substituted) sortedPairs() []string {
	out := make([]string, 0, len(s))
	for k, v := range s {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// substitute replaces every &{key} and &{key|default} in s. A backslash
// before &{ keeps it literally (the backslash is removed). It returns the
// new string or an error message for an unterminated reference or an
// undefined property.
func (p *properties) substitute(s string, used substituted) (string, error) {
	return expand(s, func(key string) (string, bool, error) {
		v, ok := p.lookup(key)
		return v, ok, nil
	}, used)
}

// expand replaces the references in s with what lookup returns for their
// keys (the |default when it finds nothing), recording each key's value in
// used; an error of lookup stops it.
func expand(s string, lookup func(key string) (string, bool, error), used substituted) (string, error) {
	if !strings.Contains(s, "&{") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "&{")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '\\' {
			b.WriteString(s[:i-1])
			b.WriteString("&{")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return "", errorf(ErrInvalidValue, "unterminated property reference %q: expected &{key} or &{key|default}", s[i:])
		}
		ref := s[i+2 : i+2+end]
		key, def, hasDef := strings.Cut(ref, "|")
		key = strings.TrimSpace(key)
		if key == "" {
			return "", errorf(ErrInvalidValue, "empty property reference &{%s}", ref)
		}
		v, ok, err := lookup(key)
		switch {
		case err != nil:
			return "", err
		case ok:
			used[key] = v
		case hasDef:
			v = def
			used[key] = v
		default:
			return "", errorf(ErrUndefinedProperty, "property %q is not defined: set it in boot.properties or the environment variable %s, or write &{%s|default}", key, EnvName(key), key)
		}
		b.WriteString(v)
		s = s[i+2+end+1:]
	}
}

// maxReferenceDepth bounds how deep boot.properties values may reference
// each other (a → b → c … counts one per arrow).
const maxReferenceDepth = 32

// propertyError is a problem with one boot.properties value.
type propertyError struct {
	key string
	err error
}

// resolveBoot resolves the &{key} references inside boot.properties values:
// a key is looked up as everywhere else (the environment, then
// boot.properties, itself resolved, then the built-in defaults; values from
// the environment and the defaults are taken literally). It returns the
// resolved values, or the problems, each reported once, at the key whose
// value has it: an undefined key, a reference cycle (named in full, at the
// first of its keys in the file) or a chain of references deeper than
// maxReferenceDepth (at the key it starts from).
func resolveBoot(raw map[string]string, pos map[string]textPos, p *properties) (map[string]string, []propertyError) {
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return pos[keys[i]].line < pos[keys[j]].line })
	out := make(map[string]string, len(raw))
	reported := map[string]bool{} // keys with an error already
	var errs []propertyError
	var stack []string
	var resolve func(key string) (string, error)
	resolve = func(key string) (string, error) {
		if v, ok := out[key]; ok {
			return v, nil
		}
		if i := slices.Index(stack, key); i >= 0 {
			return "", &cycleError{keys: append(slices.Clone(stack[i:]), key)}
		}
		if len(stack) > maxReferenceDepth {
			return "", &keyError{key: stack[0], err: errorf(ErrInvalidValue, "property references nested deeper than %d: %s",
				maxReferenceDepth, strings.Join(append(slices.Clone(stack), key), " → "))}
		}
		stack = append(stack, key)
		defer func() { stack = stack[:len(stack)-1] }()
		v, err := expand(raw[key], func(ref string) (string, bool, error) {
			if p.env != nil {
				if v, ok := p.env(EnvName(ref)); ok {
					return v, true, nil
				}
			}
			if _, ok := raw[ref]; ok {
				v, err := resolve(ref)
				return v, err == nil, err
			}
			v, ok := p.defaults[ref]
			return v, ok, nil
		}, substituted{})
		switch err.(type) {
		case nil:
			out[key] = v
			return v, nil
		case *cycleError, *keyError:
			return "", err
		}
		return "", &keyError{key: key, err: err}
	}
	for _, k := range keys {
		_, err := resolve(k)
		var at string
		var msg error
		switch e := err.(type) {
		case nil:
			continue
		case *cycleError:
			at = e.keys[0]
			for _, c := range e.keys {
				if pos[c].line < pos[at].line {
					at = c
				}
			}
			msg = errorf(ErrInvalidValue, "property %q: reference cycle %s", at, e.from(at))
		case *keyError:
			at, msg = e.key, prefixed(fmt.Sprintf("property %q", e.key), e.err)
		}
		if !reported[at] {
			reported[at] = true
			errs = append(errs, propertyError{key: at, err: msg})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// keyError is a problem with the value of one boot.properties key.
type keyError struct {
	key string
	err error
}

func (e *keyError) Error() string { return e.err.Error() }

// cycleError is a cycle of boot.properties references: keys[0] references
// keys[1], …, and the last is keys[0] again.
type cycleError struct{ keys []string }

func (e *cycleError) Error() string { return "reference cycle " + strings.Join(e.keys, " → ") }

// from writes the cycle starting and ending at key, which is on it.
func (e *cycleError) from(key string) string {
	ring := e.keys[:len(e.keys)-1]
	i := slices.Index(ring, key)
	path := append(slices.Clone(ring[i:]), ring[:i]...)
	return "&{" + strings.Join(append(path, key), "} → &{") + "}"
}

// hostname returns the host name, or "localhost" when it is unknown.
func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}
