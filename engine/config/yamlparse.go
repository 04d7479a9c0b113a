package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// yamlLine extracts the line number yaml.v3 puts in its error messages.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses one YAML document into nodes. yaml.v3 keeps the line and
// column of every node. Aliases, custom tags, non-string keys and several
// documents in one file are rejected: a schedule file has no use for them,
// and aliases would let a small file expand into a huge one.
// An empty document returns nil, nil.
func parseYAML(data []byte) (n *node, err error) {
	defer func() {
		// yaml.v3 has panicked on hostile input before; a bad file must
		// never take the loader down.
		if r := recover(); r != nil {
			n, err = nil, &syntaxError{msg: fmt.Sprintf("unparsable YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlSyntaxError(err)
	}
	var second yaml.Node
	if err := dec.Decode(&second); err == nil {
		return nil, &syntaxError{line: second.Line, col: second.Column, msg: "more than one YAML document in the file"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlSyntaxError(err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return fromYAML(doc.Content[0], 0)
}

func yamlSyntaxError(err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &syntaxError{line: line, msg: m[2]}
	}
	return &syntaxError{msg: strings.TrimPrefix(msg, "yaml: ")}
}

func fromYAML(y *yaml.Node, depth int) (*node, error) {
	n := &node{line: y.Line, col: y.Column}
	if depth > maxDepth {
		return nil, &syntaxError{line: y.Line, col: y.Column, msg: fmt.Sprintf("nesting deeper than %d levels", maxDepth)}
	}
	switch y.Kind {
	case yaml.AliasNode:
		return nil, &syntaxError{line: y.Line, col: y.Column, msg: "YAML aliases are not supported"}
	case yaml.MappingNode:
		n.kind = kindObject
		for i := 0; i+1 < len(y.Content); i += 2 {
			ky := y.Content[i]
			if ky.Kind != yaml.ScalarNode {
				return nil, &syntaxError{line: ky.Line, col: ky.Column, msg: "keys must be strings"}
			}
			v, err := fromYAML(y.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, &node{kind: kindString, s: ky.Value, line: ky.Line, col: ky.Column})
			n.items = append(n.items, v)
		}
		return n, nil
	case yaml.SequenceNode:
		n.kind = kindArray
		for _, c := range y.Content {
			v, err := fromYAML(c, depth+1)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, v)
		}
		return n, nil
	case yaml.ScalarNode:
		return n, scalarFromYAML(n, y)
	}
	return nil, &syntaxError{line: y.Line, col: y.Column, msg: "unsupported YAML node"}
}

func scalarFromYAML(n *node, y *yaml.Node) error {
	bad := func(format string, args ...any) error {
		return &syntaxError{line: y.Line, col: y.Column, msg: fmt.Sprintf(format, args...)}
	}
	switch y.ShortTag() {
	case "!!str", "!!timestamp":
		// An unquoted 2026-01-01T10:00:00 is a YAML timestamp; Sundial
		// reads times itself, so keep the text.
		n.kind, n.s = kindString, y.Value
	case "!!null":
		n.kind = kindNull
	case "!!bool":
		b, err := strconv.ParseBool(strings.ToLower(y.Value))
		if err != nil {
			return bad("invalid boolean %q", y.Value)
		}
		n.kind, n.b = kindBool, b
	case "!!int":
		text := strings.ReplaceAll(y.Value, "_", "")
		if i, err := strconv.ParseInt(text, 0, 64); err == nil {
			n.kind, n.i = kindInt, i
			return nil
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(f, 0) {
			return bad("integer %s is out of range", y.Value)
		}
		n.kind, n.f = kindFloat, f
	case "!!float":
		f, err := strconv.ParseFloat(strings.ReplaceAll(y.Value, "_", ""), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return bad("number %s is not a finite number", y.Value)
		}
		n.kind, n.f = kindFloat, f
	default:
		return bad("unsupported YAML tag %s", y.Tag)
	}
	return nil
}
