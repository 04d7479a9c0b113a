package config

import (
	"os"
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
func parseProperties(data []byte) (map[string]string, []*syntaxError) {
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
	var errs []*syntaxError
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		first := i + 1
		line := strings.TrimLeft(lines[i], " \t\f")
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
	}
	return props, errs
}

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
		v, ok := p.lookup(key)
		switch {
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

// hostname returns the host name, or "localhost" when it is unknown.
func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}
