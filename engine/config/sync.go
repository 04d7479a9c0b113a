package config

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"sundial/engine/query"
)

// Mapping is one entry of sync.json's mappings: how reconciliation and
// implicit sync carry the objects of a source set onto a target set. Defaults
// are IDM's. Scripts are kept as the blocks written (engine/sync parses them
// with engine/script's ParseSpec); conditions are a query filter, a script
// or an equality object.
type Mapping struct {
	Name   string
	Source string // "managed/user", "system/csv/account"
	Target string
	// Links is the mapping whose links this one shares; its own Name
	// when unset.
	Links string
	// File is the sync file's path relative to the conf directory; Line
	// is where the mapping starts in it.
	File string
	Line int

	Properties []PropertyMapping
	Policies   []Policy
	// Correlations are the correlation queries, per link qualifier.
	Correlations      []Correlation
	CorrelationScript Script
	// LinkQualifiers is the list of qualifiers (["default"] when unset),
	// unless LinkQualifiersScript computes them.
	LinkQualifiers       []string
	LinkQualifiersScript Script

	ValidSource, ValidTarget Script
	SourceCondition          Condition

	OnCreate, OnUpdate, OnDelete, OnLink, OnUnlink Script
	Result, OnRecon                                Script

	TaskThreads             int  // default 10; 0 runs the entries in the caller's goroutine
	PrefetchLinks           bool // default true
	AllowEmptySourceSet     bool // default false
	RunTargetPhase          bool // default true
	EnableSync              bool // default true
	EnableLinking           bool // default true
	SourceIDsCaseSensitive  bool // default true
	TargetIDsCaseSensitive  bool // default true
	CorrelateEmptyTargetSet bool // default false
	// SourceQuery and TargetQuery are the recon scopes (query
	// parameters such as _queryFilter); nil: every object.
	SourceQuery, TargetQuery map[string]any
}

// Script is a script block as written ({type, source | file, globals,
// ...}); nil when the key is absent.
type Script map[string]any

// Condition is a condition as IDM reads one: a query filter, a script, or
// (OpenIDM's old form) an object whose keys, JSON pointers, must equal
// their values. The zero Condition always holds.
type Condition struct {
	Filter string
	Script Script
	Equals map[string]any
}

// IsZero reports an absent condition.
func (c Condition) IsZero() bool { return c.Filter == "" && c.Script == nil && c.Equals == nil }

// PropertyMapping is one entry of a mapping's properties.
type PropertyMapping struct {
	// Source is a JSON pointer into the source object, written without
	// the leading "/" ("" is the whole object); HasSource is false when
	// the key is absent (the value is null).
	Source    string
	HasSource bool
	Target    string
	Transform Script
	Condition Condition
	// Default replaces a null value when HasDefault.
	Default    any
	HasDefault bool
}

// Policy is one entry of a mapping's policies.
type Policy struct {
	Situation string
	// Action is an action name, unless ActionScript computes it.
	Action       string
	ActionScript Script
	Condition    Condition
	PostAction   Script
}

// Correlation is one correlation query: a script returning query
// parameters, or the admin UI's expression tree (every or any of the
// target fields equals the value the mapping would write there).
type Correlation struct {
	LinkQualifier string // "default" when unset
	Script        Script
	// TreeAll is true for {"all": [...]}, false for {"any": [...]};
	// TreeFields is nil when Script is the query.
	TreeAll    bool
	TreeFields []string
}

// Situations are the situations a mapping's policies may name.
var Situations = []string{"CONFIRMED", "FOUND", "FOUND_ALREADY_LINKED", "ABSENT", "AMBIGUOUS", "MISSING",
	"SOURCE_MISSING", "UNQUALIFIED", "UNASSIGNED", "SOURCE_IGNORED", "TARGET_IGNORED", "LINK_ONLY", "ALL_GONE"}

// Mapping returns the mapping called name.
func (d *Desired) Mapping(name string) (*Mapping, bool) {
	for _, m := range d.Mappings {
		if m.Name == name {
			return m, true
		}
	}
	return nil, false
}

// inlineMappingPtr is where a sync schedule's inline mapping is.
const inlineMappingPtr = "/invokeContext/mapping"

// InlineMapping returns the mapping a sync schedule's invokeContext
// writes inline ("mapping": {...a whole mapping...}, as IDM allows), read
// with the code of sync.json's mappings, its File the schedule's file;
// nil when "mapping" is not an object. The schedule was checked when it
// loaded, so an error is not expected.
func InlineMapping(s *Schedule) (*Mapping, error) {
	if s.InvokeService != "sync" || s.InvokeContext.IsZero() {
		return nil, nil
	}
	root, err := parseJSON([]byte(s.InvokeContext.JSON()))
	if err != nil {
		return nil, fmt.Errorf("%s: invokeContext: %w", s.File, err)
	}
	n := root.get("mapping")
	if n == nil || n.kind != kindObject {
		return nil, nil
	}
	c := &fileCtx{file: s.File, root: root}
	b := &builder{fileCtx: c, root: root, env: &scheduleEnv{}}
	m := b.mapping(n, inlineMappingPtr)
	if len(c.errs) > 0 {
		sortErrors(c.errs)
		return nil, c.errs[0]
	}
	m.File = s.File
	return m, nil
}

// loadSync reads sync.json and checks its mappings against res; on errors
// it keeps the previous mappings.
func (l *loader) loadSync(paths []string, env *scheduleEnv, used substituted, res *mappingResources) []*Mapping {
	var fallback []*Mapping
	if l.opts.Previous != nil {
		fallback = l.opts.Previous.Mappings
	}
	if len(paths) == 0 {
		return nil
	}
	rel, data, ok := l.readSingle("sync", paths)
	if !ok {
		return fallback
	}
	c := &fileCtx{file: l.display(rel)}
	fileUsed := substituted{}
	root := c.decode(data, filepath.Ext(rel) != ".json", env.props, fileUsed)
	var ms []*Mapping
	if root == nil {
		if len(c.errs) == 0 {
			c.errs = append(c.errs, &FileError{File: c.file, Line: 1, Col: 1, Err: errorf(ErrEmpty, "empty sync file: delete it to declare no mappings")})
		}
	} else {
		b := &builder{fileCtx: c, root: root, env: env, data: data, resources: res}
		ms = b.mappings(rel)
	}
	sortErrors(c.errs)
	sortErrors(c.warns)
	l.addFile(rel, c.errs, c.warns)
	if len(c.errs) > 0 {
		return fallback
	}
	for k, v := range fileUsed {
		used[k] = v
	}
	return ms
}

// mappings builds and checks the mappings of a decoded sync file.
func (b *builder) mappings(rel string) []*Mapping {
	b.validateSchema("sync", b.root)
	if len(b.errs) > 0 {
		return nil
	}
	var out []*Mapping
	seen := map[string]int{}
	for i, n := range itemsOf(b.root.get("mappings")) {
		ptr := fmt.Sprintf("/mappings/%d", i)
		m := b.mapping(n, ptr)
		m.File = rel
		if j, dup := seen[m.Name]; dup {
			b.errAt(n.get("name"), ptr+"/name", errorf(ErrDuplicateID, "mapping %q is declared twice (mappings %d and %d)", m.Name, j, i))
			continue
		}
		seen[m.Name] = i
		out = append(out, m)
	}
	for i, m := range out {
		if m.Links == m.Name {
			continue
		}
		other, ok := seen[m.Links]
		ptr := fmt.Sprintf("/mappings/%d/links", i)
		n := b.root.get("mappings").items[i].get("links")
		if !ok {
			b.errAt(n, ptr, errorf(ErrInvalidValue, "links: no mapping called %q", m.Links))
			continue
		}
		o := b.root.get("mappings").items[other]
		src, tgt := str(o.get("source")), str(o.get("target"))
		if !(src == m.Source && tgt == m.Target) && !(src == m.Target && tgt == m.Source) {
			b.errAt(n, ptr, errorf(ErrInvalidValue, "links: mapping %q goes from %s to %s, neither the same nor the reverse of this one", m.Links, src, tgt))
		}
	}
	return out
}

func (b *builder) mapping(n *node, ptr string) *Mapping {
	m := &Mapping{
		Name: str(n.get("name")), Source: str(n.get("source")), Target: str(n.get("target")),
		Line:                    n.line,
		TaskThreads:             b.intKey(n, ptr, "taskThreads", 10),
		PrefetchLinks:           boolean(n.get("prefetchLinks"), true),
		AllowEmptySourceSet:     boolean(n.get("allowEmptySourceSet"), false),
		RunTargetPhase:          boolean(n.get("runTargetPhase"), true),
		EnableSync:              boolean(n.get("enableSync"), true),
		EnableLinking:           boolean(n.get("enableLinking"), true),
		SourceIDsCaseSensitive:  boolean(n.get("sourceIdsCaseSensitive"), true),
		TargetIDsCaseSensitive:  boolean(n.get("targetIdsCaseSensitive"), true),
		CorrelateEmptyTargetSet: boolean(n.get("correlateEmptyTargetSet"), false),
	}
	m.Links = m.Name
	if l := n.get("links"); l != nil {
		m.Links = l.s
	}
	for _, side := range []struct{ key, val string }{{"source", m.Source}, {"target", m.Target}} {
		switch {
		case validResource(side.val):
		case strings.Contains(side.val, "/") && !strings.HasPrefix(side.val, "managed/") && !strings.HasPrefix(side.val, "system/"):
			b.warnAt(n.get(side.key), ptr+"/"+side.key, errorf(ErrIgnored, "%s: %q is neither managed/<type> nor system/<name>/<type>: a recon of this mapping fails", side.key, side.val))
		default:
			b.errAt(n.get(side.key), ptr+"/"+side.key, errorf(ErrInvalidValue, "%s: %q is neither managed/<type> nor system/<name>/<type>", side.key, side.val))
		}
	}
	if m.TaskThreads < 0 {
		b.errAt(n.get("taskThreads"), ptr+"/taskThreads", errorf(ErrInvalidValue, "taskThreads: must not be negative"))
	}
	scripts := []struct {
		key string
		dst *Script
	}{{"correlationScript", &m.CorrelationScript}, {"validSource", &m.ValidSource}, {"validTarget", &m.ValidTarget},
		{"onCreate", &m.OnCreate}, {"onUpdate", &m.OnUpdate}, {"onDelete", &m.OnDelete}, {"onLink", &m.OnLink},
		{"onUnlink", &m.OnUnlink}, {"result", &m.Result}, {"onRecon", &m.OnRecon}}
	for _, s := range scripts {
		*s.dst = b.syncScript(n.get(s.key), ptr+"/"+s.key)
	}
	for _, k := range []string{"defaultMapping", "postMapping"} {
		b.syncScript(n.get(k), ptr+"/"+k)
	}
	if n.get("targetCorrelation") != nil {
		b.warnAt(n.keyNode("targetCorrelation"), ptr+"/targetCorrelation", errorf(ErrIgnored, "targetCorrelation: OpenIDM's 2011 correlation form is not supported: ignored (use correlationQuery)"))
	}
	if !n.get("correlationQuery").isNull() && !n.get("correlationScript").isNull() {
		b.errAt(n.keyNode("correlationScript"), ptr+"/correlationScript", errorf(ErrInvalidValue, "correlationScript: give either correlationQuery or correlationScript, not both"))
	}
	switch lq := n.get("linkQualifiers"); {
	case lq == nil:
		m.LinkQualifiers = []string{"default"}
	case lq.kind == kindArray:
		for _, q := range lq.items {
			m.LinkQualifiers = append(m.LinkQualifiers, q.s)
		}
	default:
		m.LinkQualifiersScript = b.syncScript(lq, ptr+"/linkQualifiers")
	}
	m.SourceCondition = b.condition(n.get("sourceCondition"), ptr+"/sourceCondition")
	if q := n.get("sourceQuery"); q != nil {
		m.SourceQuery, _ = q.value().(map[string]any)
		b.queryParams(q, ptr+"/sourceQuery")
	}
	if q := n.get("targetQuery"); q != nil {
		m.TargetQuery, _ = q.value().(map[string]any)
		b.queryParams(q, ptr+"/targetQuery")
	}
	if cq := n.get("correlationQuery"); !cq.isNull() {
		items, base := []*node{cq}, ptr+"/correlationQuery"
		if cq.kind == kindArray {
			items = cq.items
		}
		for i, it := range items {
			p := base
			if cq.kind == kindArray {
				p = fmt.Sprintf("%s/%d", base, i)
			}
			m.Correlations = append(m.Correlations, b.correlation(it, p))
		}
	}
	for i, p := range itemsOf(n.get("properties")) {
		m.Properties = append(m.Properties, b.propertyMapping(p, fmt.Sprintf("%s/properties/%d", ptr, i)))
	}
	for i, p := range itemsOf(n.get("policies")) {
		m.Policies = append(m.Policies, b.policy(p, fmt.Sprintf("%s/policies/%d", ptr, i)))
	}
	b.checkResources(m, n, ptr)
	return m
}

// validResource reports managed/<type> and system/<name>/<type>.
func validResource(r string) bool {
	parts := strings.Split(r, "/")
	switch {
	case len(parts) == 2 && parts[0] == "managed":
		return parts[1] != ""
	case len(parts) == 3 && parts[0] == "system":
		return parts[1] != "" && parts[2] != ""
	}
	return false
}

// intKey reads an integer written as a number or a string.
func (b *builder) intKey(n *node, ptr, key string, def int) int {
	v := n.get(key)
	switch {
	case v == nil:
		return def
	case v.kind == kindInt:
		return int(v.i)
	case v.kind == kindString:
		i, err := strconv.Atoi(strings.TrimSpace(v.s))
		if err == nil {
			return i
		}
	}
	b.errAt(v, ptr+"/"+key, errorf(ErrInvalidValue, "%s: must be an integer", key))
	return def
}

// syncScript checks a script block and returns it as written (nil when
// absent). Groovy blocks are kept with a warning: Sundial runs JavaScript
// only, so a run that needs one fails.
func (b *builder) syncScript(n *node, ptr string) Script {
	if n.isNull() || n.kind != kindObject {
		return nil
	}
	if t := str(n.get("type")); t != "" && t != "text/javascript" {
		b.warnAt(n.get("type"), ptr+"/type", errorf(ErrIgnored, "%s: %s scripts cannot run in Sundial (JavaScript only): a recon that needs it fails", dottedPath(ptr), t))
		m, _ := n.value().(map[string]any)
		return m
	}
	b.script(n, ptr)
	m, _ := n.value().(map[string]any)
	return m
}

// condition reads a condition: a query filter, a script, or an equality
// object.
func (b *builder) condition(n *node, ptr string) Condition {
	switch {
	case n.isNull():
		return Condition{}
	case n.kind == kindString:
		if _, err := query.Parse(n.s); err != nil {
			b.errAt(n, ptr, errorw(ErrInvalidValue, err, "%s: %v", dottedPath(ptr), err))
		}
		return Condition{Filter: n.s}
	case n.kind == kindObject && (n.get("source") != nil || n.get("file") != nil || n.get("type") != nil):
		return Condition{Script: b.syncScript(n, ptr)}
	case n.kind == kindObject:
		m, _ := n.value().(map[string]any)
		return Condition{Equals: m}
	}
	return Condition{}
}

// queryParams checks a sourceQuery or targetQuery: only _queryFilter is
// supported.
func (b *builder) queryParams(n *node, ptr string) {
	for i, k := range n.keys {
		switch k.s {
		case "_queryFilter", "queryFilter":
			v := n.items[i]
			if _, err := query.Parse(v.s); v.kind != kindString || err != nil {
				b.errAt(v, ptr+"/"+k.s, errorf(ErrInvalidValue, "%s: not a query filter: %v", dottedPath(ptr+"/"+k.s), err))
			}
		case "resourceName":
		case "_queryId":
			if str(n.items[i]) != "query-all-ids" {
				b.errAt(n.items[i], ptr+"/_queryId", errorf(ErrInvalidValue, "%s: only query-all-ids is supported; use _queryFilter", dottedPath(ptr+"/_queryId")))
			}
		default:
			b.errAt(k, ptr+"/"+k.s, errorf(ErrUnknownKey, "%s: unknown query parameter %q (use _queryFilter)", dottedPath(ptr), k.s))
		}
	}
}

func (b *builder) correlation(n *node, ptr string) Correlation {
	c := Correlation{LinkQualifier: "default"}
	if q := n.get("linkQualifier"); q != nil {
		c.LinkQualifier = q.s
	}
	if t := n.get("expressionTree"); t != nil {
		all, any := t.get("all"), t.get("any")
		switch {
		case all != nil && all.kind == kindArray:
			c.TreeAll = true
			for _, f := range all.items {
				c.TreeFields = append(c.TreeFields, f.s)
			}
		case any != nil && any.kind == kindArray:
			for _, f := range any.items {
				c.TreeFields = append(c.TreeFields, f.s)
			}
		default:
			b.errAt(t, ptr+"/expressionTree", errorf(ErrInvalidValue, "%s: needs \"all\" or \"any\": a list of target fields", dottedPath(ptr+"/expressionTree")))
		}
		if c.TreeFields == nil {
			c.TreeFields = []string{}
		}
		return c
	}
	block, _ := n.value().(map[string]any)
	delete(block, "linkQualifier")
	c.Script = block
	if t := str(n.get("type")); t != "" && t != "text/javascript" {
		b.warnAt(n.get("type"), ptr+"/type", errorf(ErrIgnored, "%s: %s scripts cannot run in Sundial (JavaScript only): a recon that needs it fails", dottedPath(ptr), t))
		return c
	}
	b.script(n, ptr)
	return c
}

func (b *builder) propertyMapping(n *node, ptr string) PropertyMapping {
	p := PropertyMapping{Target: str(n.get("target"))}
	if s := n.get("source"); s != nil {
		p.Source, p.HasSource = s.s, true
	}
	if d := n.get("default"); d != nil {
		p.Default, p.HasDefault = jsonValue(d), true
	}
	p.Transform = b.syncScript(n.get("transform"), ptr+"/transform")
	p.Condition = b.condition(n.get("condition"), ptr+"/condition")
	return p
}

func (b *builder) policy(n *node, ptr string) Policy {
	p := Policy{Situation: str(n.get("situation"))}
	if a := n.get("action"); a.kind == kindString {
		p.Action = a.s
	} else {
		p.ActionScript = b.syncScript(a, ptr+"/action")
	}
	p.Condition = b.condition(n.get("condition"), ptr+"/condition")
	p.PostAction = b.syncScript(n.get("postAction"), ptr+"/postAction")
	return p
}

// jsonValue converts a node to the values encoding/json decodes with
// UseNumber (numbers as json.Number), as the object sets hold them.
func jsonValue(n *node) any {
	switch n.kind {
	case kindInt:
		return json.Number(strconv.FormatInt(n.i, 10))
	case kindFloat:
		return json.Number(strconv.FormatFloat(n.f, 'g', -1, 64))
	case kindObject:
		m := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			m[k.s] = jsonValue(n.items[i])
		}
		return m
	case kindArray:
		a := make([]any, len(n.items))
		for i, it := range n.items {
			a[i] = jsonValue(it)
		}
		return a
	}
	return n.value()
}

// itemsOf is the elements of an array node; nil for anything else.
func itemsOf(n *node) []*node {
	if n == nil || n.kind != kindArray {
		return nil
	}
	return n.items
}
