package config

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"sundial/engine/query"
	"sundial/engine/trigger"
)

// ServicePrefix is prepended to invokeService names without a dot, as IDM
// does: "script" is shown as "org.forgerock.openidm.script".
const ServicePrefix = "org.forgerock.openidm."

// knownServices are the invokeService short names Sundial runs.
var knownServices = []string{"job", "provisioner", "script", "sync", "taskscanner"}

// IsKnownService reports whether short is a service Sundial runs.
func IsKnownService(short string) bool { return slices.Contains(knownServices, short) }

// ParseOptions configures ParseScheduleJSON.
type ParseOptions struct {
	// File is the name shown in error messages; "" shows positions only.
	File string
	// ScriptsDir is where script files are looked up; "" skips the check
	// that they exist.
	ScriptsDir string
	// Location is the zone of schedules without a timeZone; nil means
	// time.Local.
	Location *time.Location
	// PersistedDefault is the value of persisted when absent: false for
	// files, true for schedules created over REST, as in IDM.
	PersistedDefault bool
	// Lookup resolves &{key} references; nil leaves strings untouched.
	Lookup func(key string) (string, bool)
}

// ParseScheduleJSON parses and validates one schedule written as JSON (e.g.
// a REST body) with the same rules as a schedule file. It returns the
// schedule, or nil and every error found (each a *FileError). Warnings are
// in Schedule.Warnings. An empty body or {} is an error wrapping ErrEmpty.
func ParseScheduleJSON(id string, data []byte, opts ParseOptions) (*Schedule, []error) {
	env := &scheduleEnv{
		scriptsDir:       opts.ScriptsDir,
		loc:              opts.Location,
		persistedDefault: opts.PersistedDefault,
		zones:            &zoneCache{},
	}
	if env.loc == nil {
		env.loc = time.Local
	}
	if opts.Lookup != nil {
		env.props = &properties{direct: opts.Lookup}
	}
	r := parseSchedule(scheduleInput{id: id, display: opts.File, data: data}, env)
	if r.empty {
		return nil, []error{&FileError{File: opts.File, Err: errorf(ErrEmpty, "empty schedule")}}
	}
	if len(r.errs) > 0 {
		return nil, r.errs
	}
	return r.schedule, nil
}

// scheduleEnv is what every schedule of one load shares.
type scheduleEnv struct {
	props            *properties // nil: no substitution
	scriptsDir       string
	loc              *time.Location
	persistedDefault bool
	zones            *zoneCache
	cache            *loadCache                          // nil: nothing shared between schedules
	checkScript      func(name string, src []byte) error // LoadOptions.CheckScript; nil: scripts are not checked
}

type scheduleInput struct {
	id      string
	rel     string // path relative to the conf directory
	display string // path shown in messages
	data    []byte
	isYAML  bool
}

type scheduleResult struct {
	schedule    *Schedule
	errs, warns []error
	empty       bool
	used        substituted
}

// parseSchedule decodes, validates and builds one schedule.
func parseSchedule(in scheduleInput, env *scheduleEnv) scheduleResult {
	c := &fileCtx{file: in.display, cache: env.cache}
	used := substituted{}
	root := c.decode(in.data, in.isYAML, env.props, used)
	if root == nil || (root.kind == kindObject && len(root.keys) == 0) {
		if len(c.errs) == 0 {
			// An error, not "no schedule": a file truncated by an editor or a
			// half-done checkout must not remove a running schedule (its
			// last good version keeps running). Deleting the file removes it.
			if root == nil {
				c.errs = append(c.errs, &FileError{File: c.file, Line: 1, Col: 1, Err: errorf(ErrEmpty, "empty schedule file")})
			} else {
				c.errAt(root, "", errorf(ErrEmpty, "empty schedule file: {} defines nothing"))
			}
			return scheduleResult{errs: c.errs, warns: c.warns, empty: true, used: used}
		}
		return scheduleResult{errs: c.errs, warns: c.warns, used: used}
	}
	c.validateSchema("schedule", root)
	b := &builder{fileCtx: c, root: root, env: env, data: in.data}
	s := b.build(in.id, in.rel)
	sortErrors(c.errs)
	sortErrors(c.warns)
	if len(c.errs) > 0 {
		return scheduleResult{errs: c.errs, warns: c.warns, used: used}
	}
	s.Warnings = c.warns
	s.Hash = scheduleHash(in.data, used, s.Location)
	return scheduleResult{schedule: s, warns: c.warns, used: used}
}

// scheduleHash covers everything a schedule is built from: the file's bytes,
// the values of the properties it references, and its effective zone.
func scheduleHash(data []byte, used substituted, loc *time.Location) string {
	h := sha256.New()
	h.Write(data)
	for _, kv := range used.sortedPairs() {
		h.Write([]byte{0})
		h.Write([]byte(kv))
	}
	h.Write([]byte("\x00zone="))
	h.Write([]byte(loc.String()))
	return hex.EncodeToString(h.Sum(nil))
}

// builder reads a schema-checked document into a Schedule. Values of the
// wrong type were already reported by the schema, so its getters fall back
// to defaults instead of reporting twice.
type builder struct {
	*fileCtx
	root *node
	env  *scheduleEnv
	data []byte // the file, for mapping script positions into it
	// resources are what a sync file's mappings may name; nil for the
	// other files.
	resources *mappingResources
}

func boolean(n *node, def bool) bool {
	switch {
	case n == nil:
		return def
	case n.kind == kindBool:
		return n.b
	case n.kind == kindString && strings.EqualFold(strings.TrimSpace(n.s), "true"):
		return true
	case n.kind == kindString && strings.EqualFold(strings.TrimSpace(n.s), "false"):
		return false
	}
	return def
}

func integer(n *node) (int64, bool) {
	switch {
	case n == nil:
		return 0, false
	case n.kind == kindInt:
		return n.i, true
	case n.kind == kindFloat && n.f == float64(int64(n.f)):
		return int64(n.f), true
	case n.kind == kindString:
		i, err := strconv.ParseInt(strings.TrimSpace(n.s), 10, 64)
		return i, err == nil
	}
	return 0, false
}

func str(n *node) string {
	if n == nil || n.kind != kindString {
		return ""
	}
	return n.s
}

func (b *builder) build(id, rel string) *Schedule {
	r := b.root
	s := &Schedule{
		ID:                  id,
		File:                rel,
		Enabled:             boolean(r.get("enabled"), true),
		Persisted:           boolean(r.get("persisted"), b.env.persistedDefault),
		Recoverable:         boolean(r.get("recoverable"), false),
		ConcurrentExecution: boolean(r.get("concurrentExecution"), false),
		Type:                constant(str(r.get("type")), TypeCron, TypeCron, TypeSimple),
		Description:         str(r.get("description")),
		InvokeLogLevel:      constant(strings.ToLower(str(r.get("invokeLogLevel"))), "info", logLevels...),
		MisfirePolicy:       constant(str(r.get("misfirePolicy")), "", MisfireFireAndProceed, MisfireDoNothing),
	}
	b.zone(s)
	b.trigger(s)
	b.times(s)
	b.checkTrigger(s)
	b.service(s)
	return s
}

// checkTrigger runs the schedule's conversion to a trigger (Schedule.Trigger,
// the trigger package's rules) and reports a rule it breaks at the key at
// fault, unless that key has an error already (a cron expression that does
// not parse, a negative repeatCount the schema reported).
func (b *builder) checkTrigger(s *Schedule) {
	if s.Type == TypeCron && s.Cron == nil {
		return // no valid expression: reported with its reason
	}
	_, err := s.Trigger(TriggerOptions{DefaultLocation: b.env.loc})
	if err == nil {
		return
	}
	key, sentinel := "type", ErrInvalidValue
	if se, ok := err.(*trigger.SpecError); ok {
		switch se.Field {
		case trigger.FieldMisfirePolicy:
			key = "misfirePolicy"
		case trigger.FieldCalendar:
			key = "schedule"
		case trigger.FieldRepeatInterval:
			key = "repeatInterval"
		case trigger.FieldRepeatCount:
			key = "repeatCount"
		case trigger.FieldEnd:
			key, sentinel = "endTime", ErrInvalidTime
		}
	}
	ptr := "/" + key
	for _, e := range b.errs {
		// An end time before the start needs both times read, so it is
		// never a repeat of an endTime error (e.g. its offset).
		if fe, ok := e.(*FileError); ok && fe.Pointer == ptr && key != "endTime" {
			return
		}
	}
	n := b.root.get(key)
	if n == nil {
		n = b.root
	}
	b.errAt(n, ptr, errorw(sentinel, err, "%s: %v", key, err))
}

// logLevels are the values of invokeLogLevel, lower case.
var logLevels = []string{"trace", "debug", "info", "warn", "error", "fatal"}

// constant returns the element of known equal to v, so that a snapshot does
// not hold a copy of such a value per schedule; def when v is empty; v
// itself otherwise.
func constant(v, def string, known ...string) string {
	if v == "" {
		return def
	}
	for _, k := range known {
		if k == v {
			return k
		}
	}
	return v
}

// zone reads timeZone.
func (b *builder) zone(s *Schedule) {
	s.Location = b.env.loc
	n := b.root.get("timeZone")
	tz := str(n)
	if tz == "" {
		return
	}
	loc, err := b.env.zones.load(tz)
	if err != nil {
		b.errAt(n, "/timeZone", prefixed("timeZone", err))
		return
	}
	s.TimeZone, s.Location = tz, loc
	if loc.String() == tz {
		s.TimeZone = loc.String() // the zone's own copy of the name, shared
	}
}

// trigger reads the cron or simple trigger keys.
func (b *builder) trigger(s *Schedule) {
	r := b.root
	schedNode := r.get("schedule")
	riNode, rcNode := r.get("repeatInterval"), r.get("repeatCount")
	ri, _ := integer(riNode)
	rc, rcSet := integer(rcNode)
	switch s.Type {
	case TypeCron:
		if s.MisfirePolicy == "" {
			s.MisfirePolicy = MisfireFireAndProceed
		}
		b.cron(s, schedNode)
		if ri > 0 || rc > 0 {
			n, p := riNode, "/repeatInterval"
			if ri <= 0 {
				n, p = rcNode, "/repeatCount"
			}
			b.warnAt(n, p, errorf(ErrIgnored, "repeatInterval and repeatCount are ignored for cron schedules"))
		}
	case TypeSimple:
		switch s.MisfirePolicy {
		case "", MisfireFireAndProceed, MisfireDoNothing:
		default:
			b.warnAt(r.get("misfirePolicy"), "/misfirePolicy", errorf(ErrIgnored, "misfirePolicy: unknown policy %q is ignored for a simple schedule; using fireAndProceed", s.MisfirePolicy))
			s.MisfirePolicy = ""
		}
		if s.MisfirePolicy == "" {
			s.MisfirePolicy = MisfireFireAndProceed
		}
		if str(schedNode) != "" {
			b.warnAt(schedNode, "/schedule", errorf(ErrIgnored, "schedule is ignored for simple schedules"))
		}
		if ri < 0 || rc < -1 {
			return // reported by the schema
		}
		switch {
		case !rcSet || rcNode.isNull():
			// IDM 6.5+: a repeatInterval without repeatCount repeats
			// forever; OpenIDM 5's simple trigger (no interval) fires once.
			rc = -1
			if ri == 0 {
				rc = 0
			}
		}
		if ri > int64(time.Duration(1<<63-1)/time.Millisecond) {
			b.errAt(riNode, "/repeatInterval", errorf(ErrInvalidValue, "repeatInterval: %d ms is out of range", ri))
			return
		}
		s.RepeatInterval = time.Duration(ri) * time.Millisecond
		s.RepeatCount = int(rc)
		if ri > 0 && ri < minQuietInterval && rc != 0 {
			b.warnAt(riNode, "/repeatInterval", errorf(ErrFrequent,
				"repeatInterval: %d ms is below %d ms: the schedule fires more than once a second, and every fire is a run in the history", ri, minQuietInterval))
		}
	}
}

// minQuietInterval is the repeatInterval, in milliseconds, below which a
// simple schedule gets a warning.
const minQuietInterval = 1000

// cron parses the schedule key of a cron schedule.
func (b *builder) cron(s *Schedule, n *node) {
	spec := str(n)
	if spec == "" {
		return // reported by the schema
	}
	expr, err := b.env.cache.parseCron(spec)
	if err == nil {
		s.CronSpec, s.Cron = spec, expr
		if expr.String() == spec {
			s.CronSpec = expr.String() // shared with the other schedules
		}
		return
	}
	if fixed, ok := quartz1Increments(spec); ok {
		if expr, err2 := b.env.cache.parseCron(fixed); err2 == nil {
			b.warnAt(n, "/schedule", errorw(ErrLegacyCron, err,
				"schedule: Quartz 2 rejects %q (%v); read as OpenIDM's Quartz 1 did, %q: write that instead", spec, err, fixed))
			s.CronSpec, s.Cron = fixed, expr
			return
		}
	}
	b.errAt(n, "/schedule", errorw(ErrInvalidCron, err, "schedule: %v", err))
}

var (
	localTimeShape  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$`)
	offsetTimeShape = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$`)
)

// times reads startTime and endTime.
func (b *builder) times(s *Schedule) {
	startN, endN := b.root.get("startTime"), b.root.get("endTime")
	start, startOff, okStart := b.parseTime(startN, "startTime", s.Location)
	end, endOff, okEnd := b.parseTime(endN, "endTime", s.Location)
	s.StartTime, s.EndTime = start, end
	s.startForm = formOf(str(startN), start, s.Location)
	s.endForm = formOf(str(endN), end, s.Location)
	if !okStart || !okEnd || start.IsZero() || end.IsZero() {
		return
	}
	if startOff != "" && endOff != "" && startOff != endOff {
		b.errAt(endN, "/endTime", errorf(ErrInvalidTime, "endTime: offset %s differs from the offset %s of startTime", endOff, startOff))
	}
}

// parseTime reads yyyy-MM-ddTHH:mm:ss in loc, or with an offset. It returns
// the zero time for an absent value, and the offset as written ("" when
// none); ok is false when the value was invalid.
func (b *builder) parseTime(n *node, key string, loc *time.Location) (t time.Time, offset string, ok bool) {
	v := str(n)
	if v == "" {
		return time.Time{}, "", true
	}
	var err error
	switch {
	case localTimeShape.MatchString(v):
		t, err = time.ParseInLocation("2006-01-02T15:04:05", v, loc)
	case offsetTimeShape.MatchString(v):
		t, err = time.Parse(time.RFC3339, v)
		offset = strings.Replace(v[19:], "Z", "+00:00", 1)
	default:
		return time.Time{}, "", false // reported by the schema
	}
	if err != nil {
		msg := err.Error()
		if pe, isPE := err.(*time.ParseError); isPE && pe.Message != "" {
			msg = strings.TrimPrefix(pe.Message, ": ")
		}
		b.errAt(n, "/"+key, errorw(ErrInvalidTime, err, "%s: invalid time %q: %s", key, v, msg))
		return time.Time{}, "", false
	}
	return t, offset, true
}

// service reads invokeService and checks invokeContext for the known
// services.
func (b *builder) service(s *Schedule) {
	n := b.root.get("invokeService")
	raw := strings.TrimSpace(str(n))
	if raw == "" {
		return // reported by the schema
	}
	short := strings.TrimPrefix(raw, ServicePrefix)
	switch {
	case IsKnownService(short):
		s.InvokeService = constant(short, "", knownServices...)
	default:
		s.InvokeService = raw
		if hint := suggest(short, knownServices); hint != "" {
			b.errAt(n, "/invokeService", errorf(ErrUnknownService, "invokeService: unknown service %q (did you mean %q?)", raw, hint))
			return
		}
		b.warnAt(n, "/invokeService", errorf(ErrUnknownService, "invokeService: unknown service %q: its fires will be recorded as skipped (service not found)", raw))
	}
	ctxNode := b.root.get("invokeContext")
	if ctxNode != nil && ctxNode.kind == kindObject {
		// The schema check already converted the document: encode its
		// invokeContext rather than converting it again.
		var m map[string]any
		if doc, ok := b.value.(map[string]any); ok {
			m, _ = doc["invokeContext"].(map[string]any)
		}
		if m == nil {
			m, _ = ctxNode.valueWith(b.cache).(map[string]any)
		}
		s.InvokeContext = b.cache.encodeContext(m)
	}
	switch s.InvokeService {
	case "script":
		b.script(ctxNode.get("script"), "/invokeContext/script")
	case "taskscanner":
		b.taskScan(ctxNode)
	case "sync":
		if m := ctxNode.get("mapping"); m != nil && m.kind == kindObject {
			b.mapping(m, inlineMappingPtr) // checked here; built again when it runs (InlineMapping)
		}
		if a := ctxNode.get("action"); str(a) == "reconByQuery" {
			// IDM declares it and refuses it when the run starts.
			b.warnAt(a, "/invokeContext/action", errorf(ErrIgnored, "invokeContext.action: reconByQuery is not supported (reconcile, recon or reconById): its fires fail"))
		}
	}
}

// script checks a script block: exactly one of source and file (or its old
// spelling name), a file that exists, a valid timeout.
func (b *builder) script(n *node, ptr string) {
	if n == nil || n.kind != kindObject {
		return // reported by the schema
	}
	source, file, name := n.get("source"), n.get("file"), n.get("name")
	fileKey := "file"
	if file.isNull() && !name.isNull() {
		file, fileKey = name, "name"
	}
	switch {
	case source.isNull() && file.isNull():
		b.errAt(n, ptr, errorf(ErrInvalidValue, "%s: needs source (inline JavaScript) or file (a script under the scripts directory)", dottedPath(ptr)))
	case !source.isNull() && !file.isNull() && fileKey == "file":
		b.errAt(n.keyNode("file"), ptr+"/file", errorf(ErrInvalidValue, "%s: give either source or file, not both", dottedPath(ptr)))
	case !file.isNull() && file.kind == kindString && source.isNull():
		if b.env.scriptsDir == "" {
			if _, err := cleanScriptPath(file.s); err != nil {
				b.errAt(file, ptr+"/"+fileKey, prefixed(dottedPath(ptr+"/"+fileKey), err))
			}
			break
		}
		path, err := ResolveScriptPath(b.env.scriptsDir, file.s)
		switch {
		case err != nil:
			b.errAt(file, ptr+"/"+fileKey, prefixed(dottedPath(ptr+"/"+fileKey), err))
		case b.env.checkScript != nil:
			b.checkScriptFile(file, ptr+"/"+fileKey, path)
		}
	case !source.isNull() && source.kind == kindString && b.env.checkScript != nil && !b.failed[source]:
		b.checkInlineScript(source, ptr+"/source")
	}
	if t := n.get("timeout"); t != nil && t.kind == kindString {
		if _, err := ParseDuration(t.s); err != nil {
			b.errAt(t, ptr+"/timeout", errorw(ErrInvalidValue, err, "%s.timeout: %v", dottedPath(ptr), err))
		}
	}
}

// prefixed puts a key path in front of a detail error's message.
func prefixed(path string, err error) error {
	if d, ok := err.(*detail); ok {
		return &detail{msg: path + ": " + d.msg, sentinel: d.sentinel, cause: d.cause}
	}
	return errorw(ErrInvalidValue, err, "%s: %v", path, err)
}

// taskScan checks what the schema cannot: a query, the scan-tasks
// parameters, the ${Time.now} macros and the recovery timeout.
func (b *builder) taskScan(ctx *node) {
	scan := ctx.get("scan")
	if scan == nil || scan.kind != kindObject {
		b.script(ctx.get("task").get("script"), "/invokeContext/task/script")
		return
	}
	const sp = "/invokeContext/scan"
	queryID := ""
	hasQuery := false
	for _, k := range []string{"_queryFilter", "queryFilter", "_queryId", "queryId", "_query-id", "_queryExpression"} {
		if v := scan.get(k); v != nil && v.kind == kindString && v.s != "" {
			hasQuery = true
			if strings.Contains(strings.ToLower(k), "id") {
				queryID = v.s
			}
		}
	}
	if !hasQuery {
		b.errAt(scan, sp, errorf(ErrInvalidValue, "invokeContext.scan: needs _queryFilter (or the legacy _queryId \"scan-tasks\" with property and condition.before)"))
	}
	if queryID == "scan-tasks" {
		if str(scan.get("property")) == "" {
			b.errAt(scan, sp, errorf(ErrInvalidValue, "invokeContext.scan: the scan-tasks query needs property"))
		}
		if str(scan.get("condition").get("before")) == "" {
			b.errAt(scan, sp, errorf(ErrInvalidValue, "invokeContext.scan: the scan-tasks query needs condition.before"))
		}
	}
	b.macros(scan, sp, scanMacroContext(scan))
	b.queryFilters(scan, sp)
	if t := scan.get("recovery").get("timeout"); t != nil && t.kind == kindString {
		if _, err := ParseDuration(t.s); err != nil {
			b.errAt(t, sp+"/recovery/timeout", errorw(ErrInvalidValue, err, "invokeContext.scan.recovery.timeout: %v", err))
		}
	}
	b.script(ctx.get("task").get("script"), "/invokeContext/task/script")
}

// macros checks the ${…} blocks of every string under n.
func (b *builder) macros(n *node, ptr string, mc query.MacroContext) {
	switch n.kind {
	case kindString:
		errs, warns := checkMacros(n.s, mc)
		for _, e := range errs {
			b.errAt(n, ptr, errorf(ErrInvalidValue, "%s: %s", dottedPath(ptr), e))
		}
		for _, w := range warns {
			b.warnAt(n, ptr, errorf(ErrIgnored, "%s: %s", dottedPath(ptr), w))
		}
	case kindObject:
		for i, k := range n.keys {
			b.macros(n.items[i], ptr+"/"+escapePointerToken(k.s), mc)
		}
	case kindArray:
		for i, it := range n.items {
			b.macros(it, ptr+"/"+strconv.Itoa(i), mc)
		}
	}
}

// Config returns the normalised ForgeRock resource shape of the schedule
// (enabled, persisted, misfirePolicy, schedule, type, invokeService expanded
// to org.forgerock.openidm.<name>, invokeContext, invokeLogLevel, timeZone,
// startTime, endTime, concurrentExecution, …) for the REST API. It is built
// on each call, not kept: a snapshot of many schedules would otherwise hold
// a map per schedule that only the API reads. The map, invokeContext
// included, is the caller's.
func (s *Schedule) Config() map[string]any {
	return s.config(s.InvokeContext.Map())
}

// SharedConfig is Config with the invokeContext map from contexts, shared
// with the other schedules of the same context: the config map is the
// caller's, its invokeContext is not to be modified.
func (s *Schedule) SharedConfig(contexts *ContextCache) map[string]any {
	return s.config(contexts.Map(s.InvokeContext))
}

func (s *Schedule) config(invokeContext map[string]any) map[string]any {
	nullable := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	service := s.InvokeService
	if service != "" && !strings.Contains(service, ".") {
		service = ServicePrefix + service
	}
	var ctx any
	if invokeContext != nil {
		ctx = invokeContext
	}
	cfg := map[string]any{
		"enabled":             s.Enabled,
		"persisted":           s.Persisted,
		"recoverable":         s.Recoverable,
		"concurrentExecution": s.ConcurrentExecution,
		"type":                s.Type,
		"schedule":            nullable(s.CronSpec),
		"repeatInterval":      s.RepeatInterval.Milliseconds(),
		"repeatCount":         s.RepeatCount,
		"misfirePolicy":       s.MisfirePolicy,
		"invokeService":       service,
		"invokeContext":       ctx,
		"invokeLogLevel":      s.InvokeLogLevel,
		"timeZone":            nullable(s.TimeZone),
		"startTime":           s.startForm.text(s.StartTime, s.Location),
		"endTime":             s.endForm.text(s.EndTime, s.Location),
	}
	if s.Type == TypeCron {
		cfg["repeatCount"] = 0
	}
	if s.Description != "" {
		cfg["description"] = s.Description
	}
	return cfg
}

// timeForm is how a startTime or endTime was written, so that Config can
// show it as written without the schedule keeping the text.
type timeForm uint8

const (
	formLocal     timeForm = iota // 2006-01-02T15:04:05, in the schedule's zone
	formOffset                    // with "Z" or a non-zero offset
	formPlusZero                  // with "+00:00"
	formMinusZero                 // with "-00:00"
)

const localLayout = "2006-01-02T15:04:05"

// formOf returns the form of the time t written as v in zone loc. A local
// time that does not read back as written (a wall time skipped by a DST
// change) is shown with its offset.
func formOf(v string, t time.Time, loc *time.Location) timeForm {
	switch {
	case t.IsZero() || localTimeShape.MatchString(v) && formLocal.text(t, loc) == v:
		return formLocal
	case strings.HasSuffix(v, "+00:00"):
		return formPlusZero
	case strings.HasSuffix(v, "-00:00"):
		return formMinusZero
	}
	return formOffset
}

// text renders t in form f; nil for the zero time.
func (f timeForm) text(t time.Time, loc *time.Location) any {
	if t.IsZero() {
		return nil
	}
	switch f {
	case formLocal:
		if loc != nil {
			t = t.In(loc)
		}
		return t.Format(localLayout)
	case formPlusZero:
		return t.UTC().Format(localLayout) + "+00:00"
	case formMinusZero:
		return t.UTC().Format(localLayout) + "-00:00"
	}
	return t.Format(time.RFC3339)
}

// zoneCache loads each time zone once per load: time.LoadLocation parses
// the zone database on every call.
type zoneCache struct {
	m sync.Map // name → *time.Location
}

// load returns the zone named name (see ParseZone), parsing each name
// once.
func (z *zoneCache) load(name string) (*time.Location, error) {
	if v, ok := z.m.Load(name); ok {
		return v.(*time.Location), nil
	}
	loc, err := ParseZone(name)
	if err != nil {
		return nil, err
	}
	z.m.Store(name, loc)
	return loc, nil
}

// quartz1Increments rewrites the increments that Quartz 2 rejects but
// OpenIDM's Quartz 1 accepted: an increment larger than the seconds,
// minutes or hours range ("0 0/60 * * * ?", seen in production IDM
// configurations) only ever matched its start value, so "0/60" becomes "0".
// It reports whether it changed anything.
func quartz1Increments(spec string) (string, bool) {
	fields := strings.Fields(spec)
	changed := false
	for i, max := range []int{59, 59, 23} {
		if i >= len(fields) {
			break
		}
		parts := strings.Split(fields[i], ",")
		for j, p := range parts {
			start, incr, ok := strings.Cut(p, "/")
			if !ok {
				continue
			}
			n, err := strconv.Atoi(incr)
			if err != nil || n <= max {
				continue
			}
			start, _, _ = strings.Cut(start, "-")
			if start == "*" || start == "" {
				start = "0"
			}
			parts[j], changed = start, true
		}
		fields[i] = strings.Join(parts, ",")
	}
	return strings.Join(fields, " "), changed
}
