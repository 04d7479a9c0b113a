package script

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// DefaultTimeout bounds a run when neither the spec nor the Config says
// otherwise.
const DefaultTimeout = 5 * time.Minute

// maxCallStackSize bounds JavaScript recursion, so runaway recursion fails
// with a RangeError instead of growing without limit.
const maxCallStackSize = 10000

// Sentinel errors, wrapped by *Error.
var (
	// ErrTimeout means the run exceeded its timeout and was interrupted.
	ErrTimeout = errors.New("script timed out")
	// ErrInterrupted means the run's context was cancelled (e.g. daemon
	// shutdown) and the script was interrupted, or never started.
	ErrInterrupted = errors.New("script interrupted")
)

// Config configures an Engine.
type Config struct {
	// ScriptsDir is the directory that Spec.File paths are relative to.
	ScriptsDir string
	// Properties are the boot properties (including openidm.node.id) served
	// by identityServer.getProperty. New copies the map.
	Properties map[string]string
	// Logger receives the scripts' logger.* records (nil discards them).
	Logger *slog.Logger
	// Stdout receives console.log and java.lang.System.out.println lines.
	// Writes are serialised. When nil, each line becomes an info record on
	// Logger with the attribute stream=stdout.
	Stdout io.Writer
	// DefaultTimeout bounds runs whose spec has no timeout (0 means
	// DefaultTimeout, 5 minutes).
	DefaultTimeout time.Duration
	// DefaultMemoryLimit bounds the memory of runs whose spec has no
	// memoryLimit, in bytes (0 means DefaultMemoryLimit, 64 MiB).
	DefaultMemoryLimit int64
	// Memory is the guard that enforces memory limits and holds the memory
	// ceiling of all runs together. Engines that replace one another (on
	// reload) should share one, made once by the daemon with
	// NewMemoryGuard(ceiling). Nil means a guard of the Engine's own with
	// DefaultMemoryCeiling.
	Memory *MemoryGuard
	// ScheduleResources serves the openidm functions of the scripts the
	// script service runs (InvokeSchedule); nil gives them no openidm.
	ScheduleResources Resources
}

// Engine runs scripts. It is safe for concurrent use; its only state is the
// cache of compiled programs (and the memory guard, which it may share).
type Engine struct {
	scriptsDir     string
	props          map[string]string
	logger         *slog.Logger
	stdout         *lockedWriter // nil: log lines instead
	defaultTimeout time.Duration
	defaultMemory  int64
	memory         *MemoryGuard
	install        string
	project        string
	working        string
	cache          *programCache
	scheduleRes    Resources // Config.ScheduleResources
}

// New returns an Engine for cfg.
func New(cfg Config) *Engine {
	e := &Engine{
		scriptsDir:     cfg.ScriptsDir,
		props:          make(map[string]string, len(cfg.Properties)),
		logger:         cfg.Logger,
		defaultTimeout: cfg.DefaultTimeout,
		defaultMemory:  cfg.DefaultMemoryLimit,
		memory:         cfg.Memory,
		cache:          newProgramCache(defaultCacheSize),
		scheduleRes:    cfg.ScheduleResources,
	}
	for k, v := range cfg.Properties {
		e.props[k] = v
	}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Stdout != nil {
		e.stdout = &lockedWriter{w: cfg.Stdout}
	}
	if e.defaultTimeout <= 0 {
		e.defaultTimeout = DefaultTimeout
	}
	if e.defaultMemory <= 0 {
		e.defaultMemory = DefaultMemoryLimit
	}
	if e.memory == nil {
		e.memory = NewMemoryGuard(0)
	}
	e.install = e.props["launcher.install.location"]
	if e.install == "" {
		e.install, _ = os.Getwd()
	}
	e.project = e.props["launcher.project.location"]
	if e.project == "" {
		e.project = e.install
	}
	e.working = e.props["launcher.working.location"]
	if e.working == "" {
		e.working = filepath.Join(e.project, "var")
	}
	return e
}

// Request is what varies between runs of one spec.
type Request struct {
	// Name names the run in logs (the schedule id): the script logger is
	// org.forgerock.script.javascript.JavaScript.<Name>. Empty means the
	// script's name (its file, its name, or "inline").
	Name string
	// LogLevel is the threshold of the script's logger: trace, debug, info
	// (the default when empty), warn, error or fatal (only error passes), in
	// any case. Anything else fails the run before it starts.
	LogLevel string
	// Bindings are global variables for this run, e.g. context (fireId,
	// scheduledFireTime, actualFireTime, nextFireTime), object, or the task
	// scanner's input and objectID. They win over the spec's bindings.
	Bindings map[string]any
	// Logger receives the run's logger.* records and, when Config.Stdout is
	// nil, its console.log and println lines; nil means Config.Logger.
	// InvokeSchedule sets it to Config.Logger with the schedule and fireId
	// attributes.
	Logger *slog.Logger
	// Resources serves the script's openidm.create, read, update, patch,
	// query, delete and action; without it the script has no openidm.
	Resources Resources
}

// Error is a failed run: a missing file, a syntax error, an uncaught
// exception, a timeout, an interruption or the memory limit. Check returns
// one for a script that does not compile.
type Error struct {
	// Script is the file path as written in the spec, or the spec's name, or
	// "inline".
	Script string
	// Line and Column locate the error in the script (1-based); 0 when unknown.
	Line, Column int
	// Err is the cause: a *SyntaxError, an *Exception, an error wrapping
	// ErrTimeout, ErrInterrupted, ErrMemoryLimit or ErrMemoryCeiling, or a
	// file error (wrapping ErrBadPath, ErrTooLarge, ErrNotRegular or
	// fs.ErrNotExist, for instance).
	Err error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %v", e.Script, e.Line, e.Column, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Script, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Position returns the 1-based line and column of the error in the script,
// or 0, 0 when unknown.
func (e *Error) Position() (line, col int) { return e.Line, e.Column }

// SyntaxError is a script that does not compile.
type SyntaxError struct {
	Message string // the parser's message, e.g. "Unexpected token )"
}

func (e *SyntaxError) Error() string { return "syntax error: " + e.Message }

// Exception is a value thrown by a script and not caught.
type Exception struct {
	// Message is the thrown value as text: "TypeError: x is not a function"
	// for an Error, the string for a string, and "uncaught exception: " and
	// the value (JSON for a plain object or an array) otherwise.
	Message string
	// Value is the thrown value exported to Go.
	Value any
	cause error // a Go error thrown by a binding, if any
}

func (e *Exception) Error() string { return e.Message }

// Unwrap returns the Go error a binding threw, if that is what was thrown.
func (e *Exception) Unwrap() error { return e.cause }

// Run runs spec once and returns the script's completion value exported to
// Go (nil for undefined and null). It fails with an *Error for anything that
// goes wrong in the script, and with other errors for a bad request.
func (e *Engine) Run(ctx context.Context, spec Spec, req Request) (result any, err error) {
	name := spec.scriptName()
	// goja re-panics what it does not recognise (execute recovers from
	// what the run itself panics with); a run must not take the daemon
	// down with it.
	defer func() {
		if x := recover(); x != nil {
			result, err = nil, e.runError(name, x)
		}
	}()
	if err := ctx.Err(); err != nil {
		return nil, &Error{Script: name, Err: fmt.Errorf("%w before it started: %w", ErrInterrupted, context.Cause(ctx))}
	}
	threshold, err := parseLevel(req.LogLevel)
	if err != nil {
		return nil, err
	}
	prog, err := e.program(spec)
	if err != nil {
		return nil, err
	}
	result, exceeded, err := e.execute(ctx, name, prog, spec, req, threshold)
	if exceeded {
		// The runtime is unreachable now: return its memory at once rather
		// than at the next collection and the scavenger's pace.
		debug.FreeOSMemory()
	}
	return result, err
}

// execute runs prog in a fresh runtime under the timeout, ctx and the
// memory guard. exceeded reports that the guard interrupted it.
func (e *Engine) execute(ctx context.Context, name string, prog *goja.Program, spec Spec, req Request, threshold slog.Level) (result any, exceeded bool, err error) {
	vm := goja.New()
	limit := spec.MemoryLimit
	if limit <= 0 {
		limit = e.defaultMemory
	}
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = e.defaultTimeout
	}
	intr := &interrupter{vm: vm, interrupted: make(chan struct{})}
	defer intr.detach()
	guarded, err := e.memory.start(ctx, intr, limit, timeout)
	if err != nil {
		return nil, false, &Error{Script: name, Err: err}
	}
	defer func() {
		e.memory.finish(guarded)
		exceeded = guarded.exceeded.Load()
	}()
	defer func() {
		if x := recover(); x != nil {
			result, err = nil, e.runError(name, x)
		}
	}()
	vm.SetMaxCallStackSize(maxCallStackSize)
	vm.SetParserOptions(parser.WithDisableSourceMaps) // eval and new Function too
	logName := req.Name
	if logName == "" {
		logName = name
	}
	logger := req.Logger
	if logger == nil {
		logger = e.logger
	}
	env := &runEnv{
		e:         e,
		vm:        vm,
		ctx:       ctx,
		logger:    logger.With("logger", loggerPrefix+logName),
		threshold: threshold,
		resources: req.Resources,
	}
	if err := env.install(spec, req); err != nil {
		return nil, false, &Error{Script: name, Err: err}
	}

	env.interrupted = intr.interrupted
	timer := time.AfterFunc(timeout, func() {
		intr.interrupt(fmt.Errorf("%w after %s", ErrTimeout, timeout))
	})
	defer timer.Stop()
	stop := context.AfterFunc(ctx, func() {
		intr.interrupt(fmt.Errorf("%w: %w", ErrInterrupted, context.Cause(ctx)))
	})
	defer stop()
	// The interrupts stay armed until the result and any thrown value have
	// been turned into Go values: that can call back into JavaScript (getters,
	// toString, toJSON), and an interrupt there panics into the recover above.
	v, runErr := vm.RunProgram(prog)
	if runErr != nil {
		return nil, false, e.runError(name, runErr)
	}
	return v.Export(), false, nil
}

// Load reads a file spec's script and returns the spec with Source set, File
// cleared and Name set to the file path (so errors still name the file),
// after checking that it compiles; a spec with Source is returned as it is,
// after the same check. A missing file or a syntax error comes back as the
// *Error that Run would return.
//
// Validation calls Load to report a broken script before it is scheduled. A
// task scan runs the loaded spec for every object, so that the whole scan sees
// one version of the script and no run pays for reading the file.
func (e *Engine) Load(spec Spec) (Spec, error) {
	if spec.File != "" {
		b, err := e.readFile(spec.File)
		if err != nil {
			return spec, &Error{Script: spec.File, Err: err}
		}
		spec.Name, spec.Source, spec.File = spec.File, string(b), ""
	}
	if _, err := e.cache.get(spec.scriptName(), spec.Source); err != nil {
		return spec, err
	}
	return spec, nil
}

// scriptName names the script in errors and positions.
func (s Spec) scriptName() string {
	switch {
	case s.File != "":
		return s.File
	case s.Name != "":
		return s.Name
	default:
		return "inline"
	}
}

// program returns the compiled program for spec, reading its file.
func (e *Engine) program(spec Spec) (*goja.Program, error) {
	name := spec.scriptName()
	src := spec.Source
	if spec.File != "" {
		b, err := e.readFile(spec.File)
		if err != nil {
			return nil, &Error{Script: name, Err: err}
		}
		src = string(b)
	}
	return e.cache.get(name, src)
}

// readFile reads a script file under the scripts directory, by the rules
// of config.ResolveScriptPath: the path as given, then, when it starts with
// "script/", without that prefix. The directory is opened as an os.Root at
// each call, so a symlink flip of the directory is seen at the next run and
// no path, symlinks included, can leave it. The file must be a regular file
// of at most MaxScriptSize bytes; a candidate that is not (a directory, a
// FIFO) is passed over as config.ResolveScriptPath does, and reported if no
// other is found.
func (e *Engine) readFile(file string) ([]byte, error) {
	clean, err := cleanPath(file)
	if err != nil {
		return nil, err
	}
	if e.scriptsDir == "" {
		return nil, errors.New("no scripts directory configured")
	}
	root, err := os.OpenRoot(e.scriptsDir)
	if err != nil {
		return nil, fmt.Errorf("open scripts directory: %w", err)
	}
	defer root.Close()
	tried := candidatePaths(clean)
	var notRegular error // a candidate that exists but is not a file
	for _, p := range tried {
		b, err := readScript(root, filepath.FromSlash(p))
		switch {
		case err == nil:
			return b, nil
		case errors.Is(err, ErrNotRegular):
			if notRegular == nil {
				notRegular = fmt.Errorf("read %s in %s: %w", p, e.scriptsDir, err)
			}
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("read %s in %s: %w", p, e.scriptsDir, err)
		}
	}
	if notRegular != nil {
		return nil, notRegular
	}
	return nil, fmt.Errorf("script not found in %s (tried %s): %w", e.scriptsDir, strings.Join(tried, ", "), fs.ErrNotExist)
}

// readScript reads one script file in root. It opens the file without
// blocking, so that a FIFO is an error and not a hang, and reads at most
// one byte more than MaxScriptSize.
func readScript(root *os.Root, name string) ([]byte, error) {
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, ErrNotRegular
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxScriptSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxScriptSize {
		return nil, errTooLarge
	}
	return b, nil
}

// runError turns what RunProgram returned, or a panic, into an *Error.
func (e *Engine) runError(name string, x any) error {
	switch ex := x.(type) {
	case *goja.InterruptedError:
		err, ok := ex.Value().(error)
		if !ok {
			err = fmt.Errorf("%w: %v", ErrInterrupted, ex.Value())
		}
		return withPosition(&Error{Script: name, Err: err}, name, ex.Stack())
	case *goja.StackOverflowError:
		return withPosition(&Error{Script: name, Err: &Exception{Message: "RangeError: Maximum call stack size exceeded"}}, name, ex.Stack())
	case *goja.Exception:
		return withPosition(&Error{Script: name, Err: thrown(ex)}, name, ex.Stack())
	case *Error:
		return ex
	case error:
		return &Error{Script: name, Err: fmt.Errorf("script engine: %w", ex)}
	default:
		return &Error{Script: name, Err: fmt.Errorf("script engine panic: %v", ex)}
	}
}

// thrown describes an uncaught exception. It may call into the runtime
// (toString, toJSON), which the caller keeps interruptible.
func thrown(ex *goja.Exception) *Exception {
	v := ex.Value()
	out := &Exception{cause: ex.Unwrap()}
	if v == nil {
		out.Message = "exception"
		return out
	}
	out.Message = formatValue(v)
	out.Value = v.Export()
	plain := false // an Error or a string speaks for itself
	if o, ok := v.(*goja.Object); ok {
		plain = o.ClassName() == "Error"
	} else {
		_, plain = out.Value.(string)
	}
	if !plain {
		out.Message = "uncaught exception: " + out.Message
	}
	return out
}

// withPosition sets e's line and column from the innermost stack frame in
// the script itself.
func withPosition(e *Error, name string, stack []goja.StackFrame) *Error {
	for i := range stack {
		if stack[i].SrcName() != name {
			continue
		}
		if p := stack[i].Position(); p.Line > 0 {
			e.Line, e.Column = p.Line, p.Column
			return e
		}
	}
	return e
}

// interrupter interrupts a run from the timeout timer, the context or the
// memory guard, and wakes a sleeping java.lang.Thread.sleep. It lets go of
// the runtime when the run ends: a stopped timer can stay in the Go
// runtime's timer heap until its time, and must not keep the run's memory
// reachable until then.
type interrupter struct {
	mu          sync.Mutex
	vm          *goja.Runtime // nil once the run has ended
	interrupted chan struct{} // closed at the first interrupt
}

func (i *interrupter) interrupt(cause error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.vm == nil {
		return
	}
	i.vm.Interrupt(cause)
	select {
	case <-i.interrupted:
	default:
		close(i.interrupted)
	}
}

func (i *interrupter) detach() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.vm = nil
}

// lockedWriter serialises writes from concurrent runs.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) writeLine(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, s+"\n")
}
