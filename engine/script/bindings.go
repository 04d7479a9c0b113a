package script

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// LevelTrace is the slog level of logger.trace records.
const LevelTrace = slog.LevelDebug - 4

// loggerPrefix is the SLF4J logger name prefix of IDM's JavaScript scripts.
const loggerPrefix = "org.forgerock.script.javascript.JavaScript."

// maxBindingDepth bounds the nesting of a binding value.
const maxBindingDepth = 100

// parseLevel maps an invokeLogLevel to the threshold of the script logger.
func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "info":
		return slog.LevelInfo, nil
	case "trace":
		return LevelTrace, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error", "fatal":
		return slog.LevelError, nil
	default:
		return 0, fmt.Errorf("unknown log level %q (want trace, debug, info, warn, error or fatal)", s)
	}
}

// runEnv is the per-run state the bindings close over. It belongs to one run
// and is used only on the goroutine running it.
type runEnv struct {
	e         *Engine
	vm        *goja.Runtime
	ctx       context.Context
	logger    *slog.Logger
	threshold slog.Level
	// interrupted is closed when the run is interrupted (timeout or
	// cancellation), so that a sleeping native call returns at once.
	interrupted <-chan struct{}
	// resources serves openidm.*; without it there is no openidm.
	resources Resources
}

// install sets the global bindings: the spec's bindings, its globals, the
// request's bindings, then the built-ins, which nothing may shadow.
func (r *runEnv) install(spec Spec, req Request) error {
	for _, m := range []map[string]any{spec.Bindings, spec.Globals, req.Bindings} {
		for _, k := range sortedKeys(m) {
			if builtinNames[k] {
				return fmt.Errorf("binding %q would shadow the built-in binding", k)
			}
			v, err := toJS(r.vm, m[k], 0)
			if err != nil {
				return fmt.Errorf("binding %q: %w", k, err)
			}
			if err := r.vm.Set(k, v); err != nil {
				return fmt.Errorf("binding %q: %w", k, err)
			}
		}
	}

	for name := range builtinNames {
		if name == "openidm" && r.resources == nil {
			continue // no openidm without resources to serve it
		}
		if err := r.vm.Set(name, r.newLazy(name)); err != nil {
			return err
		}
	}
	return nil
}

// builtinMembers lists the members of each built-in object. Members are made
// on first use (see lazyObject); a member that is not a function names
// another built-in object.
var builtinMembers = map[string][]string{
	"logger":               {"trace", "debug", "info", "warn", "error"},
	"identityServer":       {"getProperty", "getInstallLocation", "getProjectLocation", "getWorkingLocation"},
	"console":              {"log"},
	"java":                 {"lang", "util"},
	"java.lang":            {"System", "Thread"},
	"java.lang.Thread":     {"sleep"},
	"java.lang.System":     {"out", "currentTimeMillis"},
	"java.lang.System.out": {"println"},
	"java.util":            {"Date"},
	"openidm":              {"create", "read", "update", "patch", "query", "delete", "action"},
}

// member makes the member key of the built-in object obj.
func (r *runEnv) member(obj, key string) goja.Value {
	switch obj + "." + key {
	case "logger.trace":
		return r.vm.ToValue(r.logFunc(LevelTrace))
	case "logger.debug":
		return r.vm.ToValue(r.logFunc(slog.LevelDebug))
	case "logger.info":
		return r.vm.ToValue(r.logFunc(slog.LevelInfo))
	case "logger.warn":
		return r.vm.ToValue(r.logFunc(slog.LevelWarn))
	case "logger.error":
		return r.vm.ToValue(r.logFunc(slog.LevelError))
	case "identityServer.getProperty":
		return r.vm.ToValue(r.getProperty)
	case "identityServer.getInstallLocation":
		return r.constString(r.e.install)
	case "identityServer.getProjectLocation":
		return r.constString(r.e.project)
	case "identityServer.getWorkingLocation":
		return r.constString(r.e.working)
	case "console.log":
		return r.vm.ToValue(r.consoleLog)
	case "java.lang.System.out.println":
		return r.vm.ToValue(r.outPrintln)
	case "java.lang.System.currentTimeMillis":
		return r.vm.ToValue(func(goja.FunctionCall) goja.Value {
			return r.vm.ToValue(time.Now().UnixMilli())
		})
	case "java.lang.Thread.sleep":
		return r.vm.ToValue(r.sleep)
	case "java.util.Date":
		return r.vm.Get("Date")
	case "openidm.create", "openidm.read", "openidm.update", "openidm.patch",
		"openidm.query", "openidm.delete", "openidm.action":
		return r.vm.ToValue(r.openidmFunc(key))
	}
	return r.newLazy(obj + "." + key)
}

// sleep is java.lang.Thread.sleep(millis): it blocks the run, without
// using the CPU, until the time has passed or the run is interrupted (its
// timeout, or the scheduler stopping), which then throws as usual.
func (r *runEnv) sleep(call goja.FunctionCall) goja.Value {
	ms := call.Argument(0).ToInteger()
	if ms < 0 {
		panic(r.vm.NewTypeError("java.lang.Thread.sleep: timeout value is negative"))
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.interrupted:
	}
	return goja.Undefined()
}

// constString returns a function returning s.
func (r *runEnv) constString(s string) goja.Value {
	v := r.vm.ToValue(s)
	return r.vm.ToValue(func(goja.FunctionCall) goja.Value { return v })
}

// consoleLog is console.log(...values).
func (r *runEnv) consoleLog(call goja.FunctionCall) goja.Value {
	parts := make([]string, len(call.Arguments))
	for i, a := range call.Arguments {
		parts[i] = formatValue(a)
	}
	r.println(strings.Join(parts, " "))
	return goja.Undefined()
}

// outPrintln is java.lang.System.out.println(value).
func (r *runEnv) outPrintln(call goja.FunctionCall) goja.Value {
	line := ""
	if len(call.Arguments) > 0 {
		line = formatValue(call.Arguments[0])
	}
	r.println(line)
	return goja.Undefined()
}

// logFunc returns logger.<level>(message, ...params).
func (r *runEnv) logFunc(level slog.Level) func(goja.FunctionCall) goja.Value {
	return func(call goja.FunctionCall) goja.Value {
		if level < r.threshold || !r.logger.Enabled(r.ctx, level) {
			return goja.Undefined()
		}
		msg := ""
		if len(call.Arguments) > 0 {
			msg = formatValue(call.Arguments[0])
		}
		var params []goja.Value
		if len(call.Arguments) > 1 {
			params = call.Arguments[1:]
		}
		r.logger.Log(r.ctx, level, formatMessage(msg, params))
		return goja.Undefined()
	}
}

// getProperty is identityServer.getProperty(name[, default[, useCache]]).
func (r *runEnv) getProperty(call goja.FunctionCall) goja.Value {
	name := call.Argument(0).String()
	if v, ok := r.e.props[name]; ok {
		return r.vm.ToValue(v)
	}
	if def := call.Argument(1); !goja.IsUndefined(def) {
		return def
	}
	return goja.Null()
}

// println writes one line of script output.
func (r *runEnv) println(line string) {
	if r.e.stdout != nil {
		r.e.stdout.writeLine(line)
		return
	}
	r.logger.Log(r.ctx, slog.LevelInfo, line, "stream", "stdout")
}

// formatMessage replaces SLF4J "{}" placeholders in msg with params, in
// order. "\{}" is a literal "{}" and "\\{}" a backslash followed by a
// replacement, as in SLF4J's MessageFormatter. Placeholders without a param
// stay as they are; params without a placeholder are ignored.
func formatMessage(msg string, params []goja.Value) string {
	if len(params) == 0 || !strings.Contains(msg, "{}") {
		return msg
	}
	var b strings.Builder
	b.Grow(len(msg) + 16*len(params))
	i, next := 0, 0
	for next < len(params) {
		j := strings.Index(msg[i:], "{}")
		if j < 0 {
			break
		}
		j += i
		escaped := j > 0 && msg[j-1] == '\\'
		doubleEscaped := escaped && j > 1 && msg[j-2] == '\\'
		switch {
		case escaped && !doubleEscaped:
			b.WriteString(msg[i : j-1]) // drop the escape
			b.WriteString("{}")
		case doubleEscaped:
			b.WriteString(msg[i : j-1]) // keep one backslash
			b.WriteString(formatValue(params[next]))
			next++
		default:
			b.WriteString(msg[i:j])
			b.WriteString(formatValue(params[next]))
			next++
		}
		i = j + 2
	}
	b.WriteString(msg[i:])
	return b.String()
}

// formatValue renders a value for a log line or an output line: plain
// objects and arrays as JSON, everything else as String(value). It may call
// into the script (toJSON, toString); exceptions from those propagate to the
// script as they would in JavaScript.
func formatValue(v goja.Value) string {
	if v == nil {
		return "undefined"
	}
	if o, ok := v.(*goja.Object); ok {
		if c := o.ClassName(); c == "Object" || c == "Array" {
			if b, err := o.MarshalJSON(); err == nil {
				return string(b)
			}
		}
	}
	return v.String()
}

// toJS deep-copies a Go value (as decoded from JSON or YAML) into a native
// JavaScript value, so that nothing a script does reaches the Go value.
func toJS(vm *goja.Runtime, v any, depth int) (goja.Value, error) {
	if depth > maxBindingDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxBindingDepth)
	}
	switch t := v.(type) {
	case nil:
		return goja.Null(), nil
	case string, bool, float64, float32, int, int8, int16, int32, int64,
		uint, uint8, uint16, uint32, uint64:
		return vm.ToValue(t), nil
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return nil, err
		}
		return vm.ToValue(f), nil
	case time.Time:
		return vm.ToValue(t.UTC().Format("2006-01-02T15:04:05.000Z")), nil
	case *time.Time:
		if t == nil {
			return goja.Null(), nil
		}
		return vm.ToValue(t.UTC().Format("2006-01-02T15:04:05.000Z")), nil
	case map[string]any:
		obj := vm.NewObject()
		for _, k := range sortedKeys(t) {
			cv, err := toJS(vm, t[k], depth+1)
			if err != nil {
				return nil, err
			}
			if err := obj.Set(k, cv); err != nil {
				return nil, err
			}
		}
		return obj, nil
	case []any:
		items := make([]any, len(t))
		for i, e := range t {
			cv, err := toJS(vm, e, depth+1)
			if err != nil {
				return nil, err
			}
			items[i] = cv
		}
		return vm.NewArray(items...), nil
	}
	return reflectToJS(vm, reflect.ValueOf(v), depth)
}

// reflectToJS handles typed maps, slices and scalars of named types; other
// values (structs) go through JSON.
func reflectToJS(vm *goja.Runtime, rv reflect.Value, depth int) (goja.Value, error) {
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return goja.Null(), nil
		}
		return toJS(vm, rv.Elem().Interface(), depth+1)
	case reflect.Bool:
		return vm.ToValue(rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return vm.ToValue(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return vm.ToValue(rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return vm.ToValue(rv.Float()), nil
	case reflect.String:
		return vm.ToValue(rv.String()), nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		m := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			m[it.Key().String()] = it.Value().Interface()
		}
		return toJS(vm, m, depth)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return goja.Null(), nil
		}
		s := make([]any, rv.Len())
		for i := range s {
			s[i] = rv.Index(i).Interface()
		}
		return toJS(vm, s, depth)
	}
	b, err := json.Marshal(rv.Interface())
	if err != nil {
		return nil, fmt.Errorf("cannot bind a %s: %w", rv.Type(), err)
	}
	var decoded any
	if err := json.Unmarshal(b, &decoded); err != nil {
		return nil, err
	}
	return toJS(vm, decoded, depth+1)
}

func sortedKeys(m map[string]any) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
