package script

import (
	"container/list"
	"crypto/sha256"
	"errors"
	"sync"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// defaultCacheSize bounds the number of compiled programs kept. Old versions
// of edited files fall out of it.
const defaultCacheSize = 256

type cacheKey [sha256.Size]byte

// programCache is an LRU of compiled programs keyed by the SHA-256 of the
// script name and source. A *goja.Program can be run by many runtimes at once.
type programCache struct {
	mu      sync.Mutex
	max     int
	entries map[cacheKey]*list.Element // of *cacheEntry
	order   list.List                  // front = most recently used
	hits    uint64
	misses  uint64
}

type cacheEntry struct {
	key  cacheKey
	prog *goja.Program
}

func newProgramCache(size int) *programCache {
	if size <= 0 {
		size = defaultCacheSize
	}
	return &programCache{max: size, entries: make(map[cacheKey]*list.Element)}
}

func keyOf(name, src string) cacheKey {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(src))
	var k cacheKey
	h.Sum(k[:0])
	return k
}

// get returns the compiled program for name and src, compiling it on a miss.
// Compile errors are not cached: a broken script is recompiled (and fails
// again) at each run, which keeps the cache free of anything but programs.
func (c *programCache) get(name, src string) (*goja.Program, error) {
	k := keyOf(name, src)
	c.mu.Lock()
	if el, ok := c.entries[k]; ok {
		c.order.MoveToFront(el)
		c.hits++
		p := el.Value.(*cacheEntry).prog
		c.mu.Unlock()
		return p, nil
	}
	c.misses++
	c.mu.Unlock()

	// Compile outside the lock; two runs racing on a new script both compile
	// it, and the second insert is dropped.
	p, err := compile(name, src)
	if err != nil {
		return nil, err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[k]; ok {
		c.order.MoveToFront(el)
		return el.Value.(*cacheEntry).prog, nil
	}
	c.entries[k] = c.order.PushFront(&cacheEntry{key: k, prog: p})
	for c.order.Len() > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
	}
	return p, nil
}

// stats returns the cache's hit and miss counts.
func (c *programCache) stats() (hits, misses uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

// compile parses and compiles a script in sloppy mode (as Rhino runs IDM
// scripts). Source maps are disabled so that parsing never reads a file.
// Syntax errors come back as *Error with the line and column; a source
// larger than MaxScriptSize as an *Error wrapping ErrTooLarge.
func compile(name, src string) (*goja.Program, error) {
	if len(src) > MaxScriptSize {
		return nil, &Error{Script: name, Err: errTooLarge}
	}
	ast, err := parser.ParseFile(nil, name, src, 0, parser.WithDisableSourceMaps)
	if err != nil {
		var list parser.ErrorList
		if errors.As(err, &list) && len(list) > 0 {
			first := list[0]
			return nil, &Error{Script: name, Line: first.Position.Line, Column: first.Position.Column,
				Err: &SyntaxError{Message: first.Message}}
		}
		return nil, &Error{Script: name, Err: &SyntaxError{Message: err.Error()}}
	}
	prog, err := goja.CompileAST(ast, false)
	if err != nil {
		var se *goja.CompilerSyntaxError
		if errors.As(err, &se) {
			e := &Error{Script: name, Err: &SyntaxError{Message: se.Message}}
			if se.File != nil {
				pos := se.File.Position(se.Offset)
				e.Line, e.Column = pos.Line, pos.Column
			}
			return nil, e
		}
		return nil, &Error{Script: name, Err: err}
	}
	return prog, nil
}
