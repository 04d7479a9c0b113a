package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"sundial/schema"
)

// compiledSchemas are the embedded schemas, compiled once per process.
//
// A schedule is validated in two steps that together are the published
// schema: its keys against $defs/schedule, then its invokeContext against
// the $defs/<service>Context that the root's allOf rules name for its
// invokeService. Evaluating the if/then rules of every service on every
// file would double the cost of validation.
type compiledSchemas struct {
	byName   map[string]*jsonschema.Schema
	contexts map[string]*jsonschema.Schema // invokeService as written → its invokeContext schema
	raw      map[string]any                // schema URL → parsed document, to read annotations
}

var loadSchemas = sync.OnceValues(func() (*compiledSchemas, error) {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	cs := &compiledSchemas{byName: map[string]*jsonschema.Schema{}, raw: map[string]any{}}
	names := schema.Names()
	for _, name := range names {
		b, err := schema.Get(name)
		if err != nil {
			return nil, err
		}
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		cs.raw[schema.URL(name)] = doc
		if err := c.AddResource(schema.URL(name), bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
	}
	for _, name := range names {
		url := schema.URL(name)
		if name == "schedule" {
			url += "#/$defs/schedule"
		}
		s, err := c.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("compile schema %s: %w", name, err)
		}
		cs.byName[name] = s
	}
	rules, err := serviceRules(cs.raw[schema.URL("schedule")])
	if err != nil {
		return nil, err
	}
	cs.contexts = map[string]*jsonschema.Schema{}
	for service, ref := range rules {
		s, err := c.Compile(schema.URL("schedule") + ref)
		if err != nil {
			return nil, fmt.Errorf("compile schema schedule%s: %w", ref, err)
		}
		cs.contexts[service] = s
	}
	return cs, nil
})

// serviceRules reads the root allOf of the schedule schema: for each
// invokeService value, the $ref of its invokeContext schema.
func serviceRules(doc any) (map[string]string, error) {
	root, _ := doc.(map[string]any)
	rules, _ := root["allOf"].([]any)
	out := map[string]string{}
	for i, r := range rules {
		rule, _ := r.(map[string]any)
		svc := dig(rule, "if", "properties", "invokeService", "enum")
		ref, _ := dig(rule, "then", "properties", "invokeContext", "$ref").(string)
		enum, _ := svc.([]any)
		if len(enum) == 0 || ref == "" {
			return nil, fmt.Errorf("schedule schema: allOf/%d is not an invokeService rule", i)
		}
		for _, e := range enum {
			name, _ := e.(string)
			out[name] = ref
		}
	}
	return out, nil
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	return v
}

// validateSchema validates root against the named schema and records every
// violation at the position of the offending key or value.
func (c *fileCtx) validateSchema(name string, root *node) {
	cs, err := loadSchemas()
	if err != nil {
		// The schemas are embedded and tested: this is a build defect.
		panic(fmt.Sprintf("config: embedded schemas: %v", err))
	}
	value := root.valueWith(c.cache)
	c.value = value
	seen := map[string]bool{}
	c.report(cs, root, "", cs.byName[name].Validate(value), seen)
	if name != "schedule" {
		return
	}
	svc := root.get("invokeService")
	ctxSchema := cs.contexts[str(svc)]
	if ctxSchema == nil {
		return
	}
	ctx := root.get("invokeContext")
	if ctx == nil {
		c.errAt(root, "", errorf(ErrInvalidValue, "missing key \"invokeContext\": the %s service needs one", str(svc)))
		return
	}
	c.report(cs, ctx, "/invokeContext", ctxSchema.Validate(value.(map[string]any)["invokeContext"]), seen)
}

// report records the violations of err, a validation of the value of node
// n, whose JSON pointer in the document is prefix.
func (c *fileCtx) report(cs *compiledSchemas, n *node, prefix string, err error, seen map[string]bool) {
	if err == nil {
		return
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		c.errAt(n, prefix, errorf(ErrInvalidValue, "%v", err))
		return
	}
	c.schemaError(cs, n, prefix, ve, seen)
}

func (c *fileCtx) schemaError(cs *compiledSchemas, root *node, prefix string, ve *jsonschema.ValidationError, seen map[string]bool) {
	keyword, parent := cs.resolveKeyword(ve.AbsoluteKeywordLocation)
	if len(ve.Causes) > 0 {
		// anyOf/oneOf: one message for the whole choice when the schema
		// has one, rather than one per failed branch.
		if (keyword == "anyOf" || keyword == "oneOf") && parent["x-message"] != nil {
			c.leafError(root, prefix, ve, keyword, parent, seen)
			return
		}
		for _, cause := range ve.Causes {
			c.schemaError(cs, root, prefix, cause, seen)
		}
		return
	}
	c.leafError(root, prefix, ve, keyword, parent, seen)
}

func (c *fileCtx) leafError(root *node, prefix string, ve *jsonschema.ValidationError, keyword string, parent map[string]any, seen map[string]bool) {
	val, _, _ := root.at(ve.InstanceLocation)
	ptr := prefix + ve.InstanceLocation
	report := func(n *node, p string, err error) {
		id := fmt.Sprintf("%d:%d:%v", lineOf(n), colOf(n), err)
		if seen[id] {
			return
		}
		seen[id] = true
		c.errAt(n, p, err)
	}
	switch keyword {
	case "additionalProperties":
		known := propertyNames(parent)
		for _, k := range val.keys {
			if _, ok := known[k.s]; ok {
				continue
			}
			msg := fmt.Sprintf("unknown key %q", k.s)
			if s := suggest(k.s, keys(known)); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			report(k, ptr+"/"+escapePointerToken(k.s), errorf(ErrUnknownKey, "%s", withPath(ptr, msg)))
		}
		return
	case "required":
		req, _ := parent["required"].([]any)
		props, _ := parent["properties"].(map[string]any)
		for _, r := range req {
			name, _ := r.(string)
			if val.keyNode(name) != nil {
				continue
			}
			msg := fmt.Sprintf("missing key %q", name)
			if p, ok := props[name].(map[string]any); ok {
				if xm, ok := p["x-message"].(string); ok {
					msg += ": " + xm
				}
			}
			report(val, ptr, errorf(ErrInvalidValue, "%s", withPath(ptr, msg)))
		}
		return
	}
	msg := ve.Message
	if xm, ok := parent["x-message"].(string); ok {
		msg = xm
		if val.kind != kindObject && val.kind != kindArray {
			msg += ", got " + render(val)
		}
	}
	report(val, ptr, errorf(ErrInvalidValue, "%s", withPath(ptr, msg)))
}

func lineOf(n *node) int {
	if n == nil {
		return 0
	}
	return n.line
}

func colOf(n *node) int {
	if n == nil {
		return 0
	}
	return n.col
}

// withPath prefixes a message with the dotted path of a JSON pointer
// ("/invokeContext/scan" → "invokeContext.scan: msg").
func withPath(ptr, msg string) string {
	if ptr == "" {
		return msg
	}
	return dottedPath(ptr) + ": " + msg
}

func dottedPath(ptr string) string {
	toks := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	for i, t := range toks {
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return strings.Join(toks, ".")
}

// resolveKeyword splits an absolute keyword location ("<url>#/a/b/keyword")
// into the keyword and the schema object that holds it.
func (cs *compiledSchemas) resolveKeyword(loc string) (string, map[string]any) {
	url, frag, _ := strings.Cut(loc, "#")
	doc := cs.raw[url]
	toks := strings.Split(strings.TrimPrefix(frag, "/"), "/")
	if len(toks) == 0 || doc == nil {
		return "", nil
	}
	keyword := toks[len(toks)-1]
	cur := doc
	for _, t := range toks[:len(toks)-1] {
		t = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
		switch v := cur.(type) {
		case map[string]any:
			cur = v[t]
		case []any:
			i := 0
			if _, err := fmt.Sscanf(t, "%d", &i); err != nil || i < 0 || i >= len(v) {
				return keyword, nil
			}
			cur = v[i]
		default:
			return keyword, nil
		}
	}
	m, _ := cur.(map[string]any)
	return keyword, m
}

func propertyNames(s map[string]any) map[string]struct{} {
	props, _ := s["properties"].(map[string]any)
	out := make(map[string]struct{}, len(props))
	for k := range props {
		out[k] = struct{}{}
	}
	return out
}

func keys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
