package config

import (
	"bytes"
	"encoding/json"
)

// InvokeContext is a schedule's invokeContext (after property substitution
// and coercions), kept as canonical JSON: object keys sorted, no spaces.
// A snapshot of 100,000 schedules holds one short string per schedule
// rather than a tree of maps, and schedules of one Load with the same
// context share one string. The service that runs a schedule decodes it
// (Map) when it runs. The zero value is "no invokeContext".
type InvokeContext struct {
	json string
}

// JSON returns the canonical JSON text; "" for none.
func (c InvokeContext) JSON() string { return c.json }

// IsZero reports whether the schedule has no invokeContext.
func (c InvokeContext) IsZero() bool { return c.json == "" }

// Map decodes the context into the generic form services take
// (map[string]any, []any, string, int64 for integers, float64, bool, nil).
// Each call returns a new map, the caller's to modify; nil for none.
func (c InvokeContext) Map() map[string]any {
	if c.json == "" {
		return nil
	}
	n, err := parseJSON([]byte(c.json))
	if err != nil || n == nil {
		return nil // not reached: the text is what encodeContext wrote
	}
	m, _ := n.value().(map[string]any)
	return m
}

// ContextCache decodes each distinct invokeContext once: schedules of one
// Load share their context's text, so a view of many schedules built with
// one cache decodes a shared context once. Its maps are shared by every
// caller and must not be modified. It is meant to live as long as one
// view (a REST answer), not longer: it holds every context it decoded.
// The zero value is ready; it is not safe for concurrent use.
type ContextCache struct {
	maps map[string]map[string]any
}

// Map is InvokeContext.Map, the map shared with every other caller that
// asks for the same text.
func (c *ContextCache) Map(ic InvokeContext) map[string]any {
	if ic.json == "" {
		return nil
	}
	if m, ok := c.maps[ic.json]; ok {
		return m
	}
	m := ic.Map()
	if c.maps == nil {
		c.maps = make(map[string]map[string]any)
	}
	c.maps[ic.json] = m
	return m
}

// encodeContext returns the canonical JSON of an invokeContext value, the
// Load's shared copy when another schedule has the same (see loadCache).
func (c *loadCache) encodeContext(v map[string]any) InvokeContext {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return InvokeContext{} // not reached: v comes from a parsed document
	}
	text := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if c == nil {
		return InvokeContext{json: string(text)}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.contexts[string(text)]; ok {
		return InvokeContext{json: s}
	}
	s := string(text)
	c.contexts[s] = s
	return InvokeContext{json: s}
}
