package config

import (
	"sync"

	"sundial/engine/cron"
)

// loadCache is what the schedules of one Load share, so that a snapshot
// holds one copy of what many schedules have in common: parsed cron
// expressions (immutable, safe to share) and the short strings of their
// invokeContext. The parsing workers use it concurrently.
type loadCache struct {
	mu    sync.Mutex
	crons map[string]*cron.Expression // by spec as written and by normalised spec
	strs  map[string]any              // boxed strings, by value
	files scriptChecks                // CheckScript's results for script files
	// contexts holds the invokeContext texts, so that schedules with the
	// same context share one string.
	contexts map[string]string
}

// scriptChecks returns the Load's script file checks; nil (no sharing)
// for a nil cache.
func (c *loadCache) scriptChecks() *scriptChecks {
	if c == nil {
		return nil
	}
	return &c.files
}

func newLoadCache() *loadCache {
	return &loadCache{crons: map[string]*cron.Expression{}, strs: map[string]any{}, contexts: map[string]string{}}
}

// parseCron parses a cron expression once per Load: identical specs, and
// specs that normalise to the same text, share one *cron.Expression. A nil
// cache parses every time. Errors are not cached.
func (c *loadCache) parseCron(spec string) (*cron.Expression, error) {
	if c == nil {
		return cron.Parse(spec)
	}
	c.mu.Lock()
	e := c.crons[spec]
	c.mu.Unlock()
	if e != nil {
		return e, nil
	}
	e, err := cron.Parse(spec)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if shared := c.crons[e.String()]; shared != nil {
		e = shared
	} else {
		c.crons[e.String()] = e
	}
	c.crons[spec] = e
	c.mu.Unlock()
	return e, nil
}

// maxInterned bounds the strings the cache keeps: long values (script
// sources, queries) are rarely shared, and not worth a lookup.
const maxInterned = 64

// boxString returns s as an interface value, one per distinct short string
// in a Load: converting a string to any allocates, and keys and values such
// as "script", "type" and "text/javascript" repeat in every schedule.
func (c *loadCache) boxString(s string) any {
	if c == nil || len(s) > maxInterned {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.strs[s]
	if !ok {
		v = s
		c.strs[s] = v
	}
	return v
}

// str returns the Load's copy of s (see boxString).
func (c *loadCache) str(s string) string {
	if c == nil || len(s) > maxInterned {
		return s
	}
	return c.boxString(s).(string)
}
