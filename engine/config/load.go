package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// LoadOptions configures Load.
type LoadOptions struct {
	// ScriptsDir is where invokeContext script "file" values are looked up
	// (see ResolveScriptPath). "" skips the check that they exist.
	ScriptsDir string
	// Env looks up environment variables; nil means os.LookupEnv.
	Env func(string) (string, bool)
	// Previous is the last good snapshot: a schedule file that now fails
	// keeps its previous version in Schedules (scheduler.json its previous
	// settings, and the access file its previous clients).
	Previous *Desired
	// Logger receives debug lines about ignored files; nil discards them.
	Logger *slog.Logger
	// CheckScript, when set, checks every script of the directory: each
	// inline "source" (name: the schedule file's path as shown in errors)
	// and each script "file" (name: its path under ScriptsDir; read as
	// config files are, a regular file of at most 1 MiB, once per Load).
	// An error makes the schedule invalid. When the error has a method
	// Position() (line, col int) (col in bytes of the line, as goja counts
	// it), it is reported at that place: path:line:col of a script file, or,
	// for an inline source, the place in the schedule file the script
	// position maps to (exact for JSON strings and YAML literal blocks;
	// see sourcePosition).
	CheckScript func(name string, src []byte) error
}

// Load reads the conf directory dir and returns its validated snapshot.
// It fails only when dir itself cannot be read; problems in files are in
// Desired.Errors and Desired.Warnings, and one bad file never hides the
// errors of another. Files are parsed in parallel.
func Load(dir string, opts LoadOptions) (*Desired, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	env := opts.Env
	if env == nil {
		env = os.LookupEnv
	}
	l := &loader{
		dir:      dir,
		opts:     opts,
		log:      log,
		errs:     map[string][]error{},
		warns:    map[string][]error{},
		fileHash: map[string]string{},
	}
	files := l.classify(entries)

	// boot.properties first: every other file may reference it.
	props := &properties{env: env, defaults: builtinProperties(hostname())}
	props.defaults["idm.instance.dir"] = projectDir(dir)
	props.defaults["launcher.project.location"] = projectDir(dir)
	props.boot = l.loadBoot(files.boot, props)
	allUsed := substituted{}

	zones := &zoneCache{}
	sc := l.loadScheduler(files.scheduler, props, allUsed, zones)

	senv := &scheduleEnv{props: props, scriptsDir: opts.ScriptsDir, loc: sc.Location, zones: zones, cache: newLoadCache(),
		checkScript: opts.CheckScript}
	schedules := l.loadSchedules(files.schedules, senv, allUsed)
	clients := l.loadAccess(files.access)
	managed := l.loadManaged(files.managed, props, allUsed)
	jobs := l.loadJobs(files.jobs, senv, allUsed, schedules)
	provisioners := l.loadProvisioners(files.provisioners, senv, allUsed)
	mappings := l.loadSync(files.sync, senv, allUsed, &mappingResources{managed: managed, provisioners: provisioners})

	d := &Desired{
		Dir:          dir,
		Scheduler:    sc,
		Schedules:    schedules,
		Clients:      clients,
		Managed:      managed,
		Jobs:         jobs,
		Mappings:     mappings,
		Provisioners: provisioners,
		Properties:   props.resolved(allUsed),
		Errors:       l.errs,
		Warnings:     l.warns,
	}
	for _, errs := range d.Errors {
		sortErrors(errs)
	}
	for _, warns := range d.Warnings {
		sortErrors(warns)
	}
	d.Hash = l.snapshotHash(d, allUsed)
	return d, nil
}

// loader holds the state of one Load.
type loader struct {
	dir      string
	opts     LoadOptions
	log      *slog.Logger
	errs     map[string][]error
	warns    map[string][]error
	fileHash map[string]string // boot.properties and scheduler.* → sha256
	// notRegular holds the files the directory listing shows as neither a
	// regular file nor a symlink (FIFOs, sockets, devices): they are
	// reported without being opened.
	notRegular map[string]bool
}

// Valid reports whether no file has an error.
func (d *Desired) Valid() bool { return len(d.Errors) == 0 }

// IDs returns the schedule ids, sorted.
func (d *Desired) IDs() []string {
	ids := make([]string, 0, len(d.Schedules))
	for id := range d.Schedules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// JobIDs returns the job ids, sorted.
func (d *Desired) JobIDs() []string {
	ids := make([]string, 0, len(d.Jobs))
	for id := range d.Jobs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// AllErrors returns every error, ordered by file, line and column.
func (d *Desired) AllErrors() []error { return flatten(d.Errors) }

// AllWarnings returns every warning, ordered by file, line and column.
func (d *Desired) AllWarnings() []error { return flatten(d.Warnings) }

func flatten(m map[string][]error) []error {
	files := make([]string, 0, len(m))
	for f := range m {
		files = append(files, f)
	}
	sort.Strings(files)
	var out []error
	for _, f := range files {
		out = append(out, m[f]...)
	}
	return out
}

type scheduleFile struct {
	id, rel string
	isYAML  bool
}

type dirFiles struct {
	boot      []string // relative paths, in priority order
	scheduler []string
	access    []string
	schedules []scheduleFile
	managed   []string
	jobs      []scheduleFile
	sync      []string
	// provisioners are the provisioner.openicf-<name> files.
	provisioners []string
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_.@-]+$`)

// classify sorts the directory's entries into the files Sundial reads.
// Hidden files and editor leftovers are skipped silently; other files are
// not Sundial's and are skipped with a debug line.
func (l *loader) classify(entries []fs.DirEntry) dirFiles {
	var f dirFiles
	for _, e := range entries {
		name := e.Name()
		if editorLeftover(name) {
			continue
		}
		if t := e.Type(); t&^(fs.ModeDir|fs.ModeSymlink) != 0 {
			if l.notRegular == nil {
				l.notRegular = map[string]bool{}
			}
			l.notRegular[name] = true
		}
		if e.IsDir() && !looksLikeConf(name) {
			if name == "boot" {
				if _, err := os.Stat(filepath.Join(l.dir, "boot", "boot.properties")); err == nil {
					f.boot = append(f.boot, filepath.Join("boot", "boot.properties"))
				}
				continue
			}
			l.log.Debug("ignoring directory", "dir", filepath.Join(l.dir, name))
			continue
		}
		ext := filepath.Ext(name)
		base := strings.TrimSuffix(name, ext)
		isConf := ext == ".json" || ext == ".yaml" || ext == ".yml"
		switch {
		case name == "boot.properties":
			f.boot = append([]string{name}, f.boot...)
		case isConf && base == "scheduler":
			f.scheduler = append(f.scheduler, name)
		case isConf && base == "access":
			f.access = append(f.access, name)
		case isConf && base == "managed":
			f.managed = append(f.managed, name)
		case isConf && base == "sync":
			f.sync = append(f.sync, name)
		case isConf && strings.HasPrefix(base, provisionerPrefix):
			f.provisioners = append(f.provisioners, name)
		case isConf && strings.HasPrefix(base, "schedule-"):
			id := strings.TrimPrefix(base, "schedule-")
			if !idPattern.MatchString(id) {
				l.errs[name] = append(l.errs[name], &FileError{File: l.display(name), Err: errorf(ErrInvalidID, "invalid schedule id %q in the file name: use letters, digits and _ . @ -", id)})
				continue
			}
			f.schedules = append(f.schedules, scheduleFile{id: id, rel: name, isYAML: ext != ".json"})
		case isConf && strings.HasPrefix(base, "job-"):
			id := strings.TrimPrefix(base, "job-")
			if !idPattern.MatchString(id) {
				l.errs[name] = append(l.errs[name], &FileError{File: l.display(name), Err: errorf(ErrInvalidID, "invalid job id %q in the file name: use letters, digits and _ . @ -", id)})
				continue
			}
			f.jobs = append(f.jobs, scheduleFile{id: id, rel: name, isYAML: ext != ".json"})
		case isConf && strings.HasPrefix(base, "scheduler-"):
			l.warns[name] = append(l.warns[name], &FileError{File: l.display(name), Err: errorf(ErrLegacyFileName,
				"legacy file name: rename it to schedule-%s%s to make it a schedule; until then it is ignored, as IDM does", strings.TrimPrefix(base, "scheduler-"), ext)})
		default:
			l.log.Debug("ignoring file that is not Sundial's", "file", filepath.Join(l.dir, name))
		}
	}
	// boot/boot.properties (IDM's layout) is used when there is no
	// boot.properties at the top.
	if len(f.boot) > 1 {
		l.warns[f.boot[1]] = append(l.warns[f.boot[1]], &FileError{File: l.display(f.boot[1]), Err: errorf(ErrIgnored, "ignored: %s takes precedence", f.boot[0])})
		f.boot = f.boot[:1]
	}
	return f
}

// looksLikeConf reports names of the files Sundial reads, so that a
// directory with such a name is reported rather than skipped.
func looksLikeConf(name string) bool {
	ext := filepath.Ext(name)
	return (ext == ".json" || ext == ".yaml" || ext == ".yml") && strings.HasPrefix(name, "schedule")
}

// editorLeftover reports hidden files and editor swap and backup files.
func editorLeftover(name string) bool {
	switch {
	case strings.HasPrefix(name, "."), strings.HasPrefix(name, "#"),
		strings.HasSuffix(name, "~"), strings.HasSuffix(name, ".swp"),
		strings.HasSuffix(name, ".swo"), strings.HasSuffix(name, ".swx"),
		strings.HasSuffix(name, ".bak"), strings.HasSuffix(name, ".orig"),
		strings.HasSuffix(name, ".tmp"):
		return true
	}
	return false
}

// display is the path of a file as shown in messages: the conf directory as
// given, joined with the file's relative path.
func (l *loader) display(rel string) string { return filepath.Join(l.dir, rel) }

// Reasons readAtMost refuses a file before reading it.
var (
	errIsDir      = errors.New("is a directory")
	errNotRegular = errors.New("not a regular file")
)

// readFile reads one configuration or script file, refusing directories,
// anything that is not a regular file (a FIFO, a socket or a device, which
// could block the reader for good) and files over 1 MiB; unreadable files
// (permissions, symlink loops) get an error. The bytes are read into buf
// (reused when large enough); the caller owns the result until it passes it
// again.
func readFile(path string, buf []byte) ([]byte, error) {
	data, err := readAtMost(path, maxFileSize+1, buf)
	if err != nil {
		switch {
		case errors.Is(err, errIsDir), errors.Is(err, syscall.EISDIR):
			return nil, errorf(ErrRead, "cannot read: is a directory")
		case errors.Is(err, errNotRegular):
			return nil, errorf(ErrNotRegular, "not a regular file")
		}
		return nil, readError(err)
	}
	if len(data) > maxFileSize {
		return nil, errorf(ErrTooLarge, "file is larger than %d bytes (1 MiB)", maxFileSize)
	}
	return data, nil
}

// read reads the file rel of the conf directory with readFile; a file the
// listing showed as not regular is refused without being opened.
func (l *loader) read(rel string, buf []byte) ([]byte, error) {
	if l.notRegular[rel] {
		return nil, errorf(ErrNotRegular, "not a regular file")
	}
	return readFile(l.display(rel), buf)
}

// readFailure is the error of a file that could not be read. A file that is
// not regular, or empty, gets the position 1:1, as a problem of its content.
func readFailure(file string, err error) *FileError {
	fe := &FileError{File: file, Err: err}
	if errors.Is(err, ErrNotRegular) || errors.Is(err, ErrEmpty) {
		fe.Line, fe.Col = 1, 1
	}
	return fe
}

func readError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return errorw(ErrRead, err, "cannot read: %v", pe.Err)
	}
	return errorw(ErrRead, err, "cannot read: %v", err)
}

func (l *loader) addFile(rel string, errs, warns []error) {
	if len(errs) > 0 {
		l.errs[rel] = append(l.errs[rel], errs...)
	}
	if len(warns) > 0 {
		l.warns[rel] = append(l.warns[rel], warns...)
	}
}

// loadBoot reads boot.properties. A file with a bad line is not applied at
// all; the previous snapshot's properties stay.
func (l *loader) loadBoot(paths []string, props *properties) map[string]string {
	if len(paths) == 0 {
		return nil
	}
	rel := paths[0]
	data, err := l.read(rel, nil)
	if err != nil {
		l.addFile(rel, []error{readFailure(l.display(rel), err)}, nil)
		if l.opts.Previous != nil {
			return l.opts.Previous.Properties
		}
		return nil
	}
	l.fileHash[rel] = hashBytes(data)
	raw, positions, serrs := parseProperties(data)
	for _, se := range serrs {
		l.addFile(rel, []error{&FileError{File: l.display(rel), Line: se.line, Col: se.col, Err: errorf(ErrSyntax, "syntax error: %s", se.msg)}}, nil)
	}
	var values map[string]string
	if len(serrs) == 0 {
		var perrs []propertyError
		values, perrs = resolveBoot(raw, positions, props)
		for _, pe := range perrs {
			at := positions[pe.key]
			l.addFile(rel, []error{&FileError{File: l.display(rel), Line: at.line, Col: at.col, Err: pe.err}}, nil)
		}
	}
	if values == nil {
		// A bad file applies none of its lines: the last good version stands,
		// or, on a first load, only the built-in defaults.
		if l.opts.Previous != nil {
			return l.opts.Previous.Properties
		}
		return nil
	}
	return values
}

// loadScheduler reads scheduler.json; on errors it keeps the previous
// settings when there are some.
func (l *loader) loadScheduler(paths []string, props *properties, used substituted, zones *zoneCache) SchedulerConfig {
	fallback := DefaultSchedulerConfig()
	if l.opts.Previous != nil {
		fallback = l.opts.Previous.Scheduler
	}
	if len(paths) == 0 {
		return DefaultSchedulerConfig()
	}
	rel, data, ok := l.readSingle("scheduler", paths)
	if !ok {
		return fallback
	}
	c := &fileCtx{file: l.display(rel)}
	fileUsed := substituted{}
	sc := parseSchedulerFile(c, data, filepath.Ext(rel) != ".json", props, fileUsed, zones)
	l.addFile(rel, c.errs, c.warns)
	if len(c.errs) > 0 {
		return fallback
	}
	for k, v := range fileUsed {
		used[k] = v
	}
	return sc
}

// loadSchedules parses the schedule files on all CPUs and assembles the
// schedule set, keeping the previous version of files that fail.
func (l *loader) loadSchedules(files []scheduleFile, env *scheduleEnv, used substituted) map[string]*Schedule {
	results := make([]scheduleResult, len(files))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Go(func() {
			// The file's bytes are dead once parsed (nodes copy their
			// strings), so each worker reads into one buffer.
			var buf []byte
			for {
				i := int(next.Add(1) - 1)
				if i >= len(files) {
					return
				}
				f := files[i]
				display := l.display(f.rel)
				data, err := l.read(f.rel, buf)
				buf = data[:0]
				if err != nil {
					results[i] = scheduleResult{errs: []error{readFailure(display, err)}}
					continue
				}
				results[i] = parseSchedule(scheduleInput{id: f.id, rel: f.rel, display: display, data: data, isYAML: f.isYAML}, env)
				if r := &results[i]; r.schedule != nil && l.opts.Previous != nil {
					// An unchanged file gives the schedule already in the
					// previous snapshot: a reload holds one copy of what
					// did not change, and the new parse is garbage at once.
					if prev := l.opts.Previous.Schedules[f.id]; prev != nil && sameSchedule(prev, r.schedule) {
						r.schedule = prev
					}
				}
			}
		})
	}
	wg.Wait()

	byID := make(map[string][]int, len(files))
	for i, f := range files {
		byID[f.id] = append(byID[f.id], i)
	}
	schedules := make(map[string]*Schedule, len(files))
	for i, f := range files {
		r := results[i]
		if same := byID[f.id]; len(same) > 1 {
			others := make([]string, 0, len(same)-1)
			for _, j := range same {
				if j != i {
					others = append(others, files[j].rel)
				}
			}
			r.errs = append(r.errs, &FileError{File: l.display(f.rel), Err: errorf(ErrDuplicateID, "duplicate schedule id %q: also defined by %s", f.id, strings.Join(others, ", "))})
			r.schedule = nil
		}
		l.addFile(f.rel, r.errs, r.warns)
		for k, v := range r.used {
			used[k] = v
		}
		switch {
		case r.schedule != nil:
			schedules[f.id] = r.schedule
		case len(r.errs) > 0 && l.opts.Previous != nil && l.opts.Previous.Schedules[f.id] != nil:
			schedules[f.id] = l.opts.Previous.Schedules[f.id]
			l.log.Info("schedule file has errors; keeping its last good version", "file", l.display(f.rel), "schedule", f.id)
		}
	}
	return schedules
}

// snapshotHash hashes the schedules' hashes, the other files' bytes and the
// property values the files referenced.
func (l *loader) snapshotHash(d *Desired, used substituted) string {
	h := sha256.New()
	for _, kv := range used.sortedPairs() {
		fmt.Fprintf(h, "property %s\n", kv)
	}
	for _, id := range d.IDs() {
		fmt.Fprintf(h, "schedule %s %s\n", id, d.Schedules[id].Hash)
	}
	for _, id := range d.JobIDs() {
		fmt.Fprintf(h, "job %s %s\n", id, d.Jobs[id].Hash)
	}
	rels := make([]string, 0, len(l.fileHash))
	for rel := range l.fileHash {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	for _, rel := range rels {
		fmt.Fprintf(h, "file %s %s\n", rel, l.fileHash[rel])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sameSchedule reports whether b, just parsed, is a as parsed before: same
// hash (bytes, property values, zone), same file, same warnings.
func sameSchedule(a, b *Schedule) bool {
	if a.Hash != b.Hash || a.File != b.File || a.ID != b.ID || len(a.Warnings) != len(b.Warnings) {
		return false
	}
	for i := range a.Warnings {
		if a.Warnings[i].Error() != b.Warnings[i].Error() {
			return false
		}
	}
	return true
}

func hashBytes(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
