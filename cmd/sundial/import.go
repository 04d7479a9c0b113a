package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"sundial/engine/config"
	"sundial/engine/connector"
	"sundial/engine/managed"
	"sundial/engine/store"
	syncsvc "sundial/engine/sync"
	"sundial/engine/system"
)

func init() { register(newImportCmd) }

// importOptions are the inputs of `sundial import`.
type importOptions struct {
	conf, store string
	scripts     string
	format      string
	idField     string
	batch       int
	progress    string // auto, bar, lines, none
	// sync runs the implicit sync of each object imported, through the
	// mappings whose source is managed/TYPE, with the conf's connectors.
	sync bool
}

func newImportCmd() *cobra.Command {
	opts := importOptions{conf: "conf", scripts: "scripts", format: "auto", batch: managed.DefaultBatchSize, progress: "auto"}
	cmd := &cobra.Command{
		Use:   "import [flags] managed/TYPE FILE",
		Short: "Load managed objects from a JSON, JSON-lines or CSV file into the store",
		Long: `Import streams the objects of FILE into the store as managed/TYPE/<_id>, in
transactions of --batch objects: a batch is written whole or not at all. TYPE must be
declared in the conf directory's managed.json. FILE is a JSON array of objects, one
JSON object per line, or CSV with a header line of field names (values are strings;
an empty value leaves its field out); by default the format follows the extension
(.json, .jsonl or .ndjson, .csv), or the first byte ('[' is a JSON array). An object's
"_id" is its id (without one it gets a UUID); "_rev" is ignored. FILE "-" is stdin.

Lines that are not objects, or whose id exists already, are rejected: each is reported
on stderr as FILE:LINE: reason, the rest is imported, and the exit status is 1. Progress
goes to stderr: a bar on a terminal, a line per 10 batches otherwise.

An import writes the store only: the mappings of sync.json whose source is managed/TYPE
(with enableSync) are not run, so that an initial load of a million users is not pushed
one by one to LDAP. It then prints those mappings and the command that pushes the
objects imported, a reconciliation of each on the running daemon. With --sync, each
object imported is synchronized at once instead, as the daemon's writes are (implicit
sync, with the conf's connectors and scripts): an object whose sync fails stays
imported, is reported on stderr as managed/TYPE/ID: imported; reason, and the exit
status is 1.`,
		Example: "  sundial import managed/user users.jsonl\n" +
			"  sundial import --store postgres://sundial@db/sundial --conf conf/ managed/user hr.csv\n" +
			"  sundial import --sync managed/user new-hires.csv",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImport(cmd.Context(), opts, args[0], args[1], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.conf, "conf", opts.conf, "the conf directory whose managed.json declares the types")
	f.StringVar(&opts.store, "store", "", "the store, as serve's --store: a SQLite file path (default: var/sundial.db beside the conf directory), sqlite:<path> or postgres://...")
	f.StringVar(&opts.format, "format", opts.format, "json, jsonl, csv or auto")
	f.StringVar(&opts.idField, "id-field", "", "the field holding the id of objects without an _id (e.g. uid); without it they get UUIDs")
	f.IntVar(&opts.batch, "batch", opts.batch, "objects per transaction")
	f.StringVar(&opts.progress, "progress", opts.progress, "auto (a bar on a terminal, lines otherwise), bar, lines or none")
	f.BoolVar(&opts.sync, "sync", false, "synchronize each object imported through the mappings whose source is managed/TYPE (implicit sync), with the conf's connectors")
	f.StringVar(&opts.scripts, "scripts", opts.scripts, "with --sync: the directory of the scripts the mappings reference by \"file\"")
	return cmd
}

func runImport(ctx context.Context, opts importOptions, target, file string, stdout, stderr io.Writer) error {
	typ, ok := strings.CutPrefix(target, "managed/")
	if !ok || typ == "" || strings.Contains(typ, "/") {
		return usageError(fmt.Errorf("import %s: want managed/TYPE, e.g. managed/user", target))
	}
	format, err := importFormat(opts.format, file)
	if err != nil {
		return usageError(err)
	}
	if opts.batch < 1 {
		return usageError(fmt.Errorf("--batch %d: want at least 1", opts.batch))
	}
	d, err := config.Load(opts.conf, config.LoadOptions{})
	if err != nil {
		return err
	}
	if d.Managed.File != "" {
		for _, e := range d.Errors[d.Managed.File] {
			fmt.Fprintln(stderr, e)
		}
		if len(d.Errors[d.Managed.File]) > 0 {
			return fmt.Errorf("import: %s has errors", filepath.Join(opts.conf, d.Managed.File))
		}
	}
	if _, ok := d.Managed.Type(typ); !ok {
		declared := "none"
		if names := d.Managed.Names(); len(names) > 0 {
			declared = strings.Join(names, ", ")
		}
		return fmt.Errorf("import: managed/%s is not declared in %s (declared: %s)", typ, filepath.Join(opts.conf, "managed.json"), declared)
	}

	in, size, name, err := openImportFile(file)
	if err != nil {
		return err
	}
	defer in.Close()

	if opts.sync {
		if err := syncConfErrors(d, opts.conf, stderr); err != nil {
			return err
		}
	}

	db, err := openStoreOf(ctx, opts.conf, opts.store, "an import needs a store that keeps what it is given")
	if err != nil {
		return err
	}
	defer db.Close()
	objs, err := store.ObjectsOf(db)
	if err != nil {
		return err
	}
	var synced *importSync
	if opts.sync {
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		if synced, err = newImportSync(d, db, objs, importSyncOptions{scriptsDir: opts.scripts, log: log}); err != nil {
			return err
		}
		defer synced.close()
		objs = synced
	}

	prog := newProgressReporter(opts.progress, stderr, size)
	start := time.Now()
	res, err := managed.Import(ctx, managed.ImportParams{
		Objects: objs, Type: typ, Input: in, Format: format, BatchSize: opts.batch, IDField: opts.idField,
		Progress: prog.update,
	})
	prog.done()
	for _, r := range res.Rejected {
		fmt.Fprintf(stderr, "%s:%d: %s\n", name, r.Line, r.Reason)
	}
	elapsed := time.Since(start)
	fmt.Fprintf(stdout, "imported %d objects into managed/%s in %s (%.0f/s), rejected %d lines\n",
		res.Imported, typ, elapsed.Round(time.Millisecond), float64(res.Imported)/max(elapsed.Seconds(), 1e-9), len(res.Rejected))
	failedSyncs := 0
	if synced != nil {
		for _, f := range synced.failed {
			fmt.Fprintf(stderr, "managed/%s/%s: imported; %v\n", typ, f.id, f.err)
		}
		failedSyncs = len(synced.failed)
		if maps := syncMappings(d, typ); len(maps) == 0 {
			fmt.Fprintf(stdout, "synchronized nothing: no mapping with enableSync has managed/%s as its source\n", typ)
		} else {
			fmt.Fprintf(stdout, "synchronized %d objects through %s, %d failed\n", res.Imported-failedSyncs, mappingNames(maps), failedSyncs)
		}
	} else {
		printUnsynced(stdout, syncMappings(d, typ))
	}
	if err != nil {
		return fmt.Errorf("import %s: %w", name, err)
	}
	if len(res.Rejected) > 0 || failedSyncs > 0 {
		return &exitError{code: 1}
	}
	return nil
}

// syncMappings are the mappings an import of managed/typ skips without
// --sync: those with enableSync whose source it is, in file order.
func syncMappings(d *config.Desired, typ string) []*config.Mapping {
	var out []*config.Mapping
	for _, m := range d.Mappings {
		if m.Source == "managed/"+typ && m.EnableSync {
			out = append(out, m)
		}
	}
	return out
}

func mappingNames(maps []*config.Mapping) string {
	names := make([]string, len(maps))
	for i, m := range maps {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

// printUnsynced says which mappings the import did not run, and how to
// push the objects it wrote through them.
func printUnsynced(w io.Writer, maps []*config.Mapping) {
	if len(maps) == 0 {
		return
	}
	fmt.Fprintf(w, "not synchronized through %s, whose source is %s; to push the objects imported, reconcile on the running daemon:\n", mappingNames(maps), maps[0].Source)
	for _, m := range maps {
		fmt.Fprintf(w, "  sundial recon %s    # %s -> %s\n", m.Name, m.Source, m.Target)
	}
	fmt.Fprintln(w, "or import with --sync to synchronize each object as it is written")
}

// syncConfErrors prints the errors of the files an import with --sync
// runs (sync.json, the provisioners) and fails when there are some.
func syncConfErrors(d *config.Desired, conf string, stderr io.Writer) error {
	var bad []string
	for file, errs := range d.Errors {
		base := filepath.Base(file)
		if len(errs) == 0 || !(strings.HasPrefix(base, "sync.") || strings.HasPrefix(base, "provisioner.openicf-")) {
			continue
		}
		bad = append(bad, filepath.Join(conf, file))
		for _, e := range errs {
			fmt.Fprintln(stderr, e)
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("import --sync: %s: errors", strings.Join(bad, ", "))
	}
	return nil
}

// importSync is the store's managed objects written with implicit sync,
// as the daemon writes them, over the conf's connectors. A create whose
// sync failed is written: it is recorded in failed, not rejected.
type importSync struct {
	store.Objects
	systems *system.Registry
	failed  []failedSync
}

type failedSync struct {
	id  string
	err error
}

// importSyncOptions are where an import's syncs find their scripts and
// say what goes wrong.
type importSyncOptions struct {
	scriptsDir string
	log        *slog.Logger
}

func newImportSync(d *config.Desired, db store.Store, objs store.Objects, opts importSyncOptions) (*importSync, error) {
	is := &importSync{systems: system.New(opts.log)}
	is.systems.Apply(d)
	synced := syncsvc.SyncedObjects{Objects: objs, InitiatedBy: "import",
		Activity: func() bool { return syncsvc.ActivityEnabled(d.Properties) }, Logger: opts.log}
	declared := func(typ string) bool { _, ok := d.Managed.Type(typ); return ok }
	svc, err := syncsvc.NewService(syncsvc.Config{
		Store:    db,
		Mappings: func() []*config.Mapping { return d.Mappings },
		Resolve: func(resource string) (connector.ObjectSet, func(), error) {
			if strings.HasPrefix(resource, "system/") {
				return is.systems.Acquire(resource)
			}
			typ, ok := strings.CutPrefix(resource, "managed/")
			if !ok || strings.Contains(typ, "/") || !declared(typ) {
				return nil, nil, fmt.Errorf("%w: %s: neither a managed/<type> of managed.json nor system/<name>/<type>", connector.ErrNotFound, resource)
			}
			return managed.NewSet(synced, typ), nil, nil
		},
		ScriptsDir: opts.scriptsDir,
		Resources:  managed.Resources{Objects: synced, Declared: declared},
		Logger:     opts.log,
	})
	if err != nil {
		is.systems.Close()
		return nil, err
	}
	synced.Service = func() *syncsvc.Service { return svc }
	is.Objects = synced
	return is, nil
}

// CreateObjects creates and syncs; a sync that failed is not the
// create's error.
func (is *importSync) CreateObjects(ctx context.Context, p store.CreateObjectsParams) ([]store.CreateObjectResult, error) {
	res, err := is.Objects.CreateObjects(ctx, p)
	for i := range res {
		if errors.Is(res[i].Err, syncsvc.ErrSyncFailed) {
			is.failed = append(is.failed, failedSync{res[i].Object.ID, res[i].Err})
			res[i].Err = nil
		}
	}
	return res, err
}

func (is *importSync) close() { is.systems.Close() }

// importFormat is --format, or the format FILE's extension names.
func importFormat(flag, file string) (managed.Format, error) {
	switch flag {
	case "json":
		return managed.FormatJSONArray, nil
	case "jsonl":
		return managed.FormatJSONLines, nil
	case "csv":
		return managed.FormatCSV, nil
	case "auto":
	default:
		return "", fmt.Errorf("--format %s: want json, jsonl, csv or auto", flag)
	}
	switch strings.ToLower(filepath.Ext(file)) {
	case ".csv":
		return managed.FormatCSV, nil
	case ".jsonl", ".ndjson":
		return managed.FormatJSONLines, nil
	}
	return "", nil // the first byte decides
}

// openImportFile opens FILE ("-": stdin) and says its size (0 when unknown).
func openImportFile(file string) (io.ReadCloser, int64, string, error) {
	if file == "-" {
		return io.NopCloser(os.Stdin), 0, "stdin", nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, 0, file, fmt.Errorf("import: %w", err)
	}
	var size int64
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return f, size, file, nil
}

// progressReporter draws the import's progress on stderr.
type progressReporter struct {
	w       io.Writer
	bar     bool
	off     bool
	size    int64
	start   time.Time
	batches int
	drawn   bool
}

func newProgressReporter(mode string, w io.Writer, size int64) *progressReporter {
	p := &progressReporter{w: w, size: size, start: time.Now()}
	switch mode {
	case "bar":
		p.bar = true
	case "none":
		p.off = true
	case "lines":
	default:
		p.bar = isTerminal(w)
	}
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (p *progressReporter) update(s managed.ImportProgress) {
	if p.off {
		return
	}
	p.batches++
	rate := float64(s.Imported) / max(time.Since(p.start).Seconds(), 1e-9)
	if !p.bar {
		if p.batches%10 == 0 {
			fmt.Fprintf(p.w, "import: line %d, %d imported, %d rejected, %.0f objects/s\n", s.Line, s.Imported, s.Rejected, rate)
		}
		return
	}
	const width = 30
	frac := 0.0
	if p.size > 0 {
		frac = min(float64(s.Bytes)/float64(p.size), 1)
	}
	filled := int(frac * width)
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%% %d imported, %d rejected, %.0f/s ",
		strings.Repeat("#", filled), strings.Repeat("-", width-filled), frac*100, s.Imported, s.Rejected, rate)
	p.drawn = true
}

func (p *progressReporter) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

// openObjects opens the managed objects of the store that --conf and
// --store name, as serve would (the default SQLite file of the data
// directory). With --store memory it is a usage error ending with why.
func openObjects(ctx context.Context, conf, storeFlag, whyNotMemory string) (store.Objects, func(), error) {
	db, err := openStoreOf(ctx, conf, storeFlag, whyNotMemory)
	if err != nil {
		return nil, nil, err
	}
	objs, err := store.ObjectsOf(db)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return objs, func() { db.Close() }, nil
}

// openStoreOf opens the store that --conf and --store name, as serve would.
// With --store memory it is a usage error ending with why.
func openStoreOf(ctx context.Context, conf, storeFlag, whyNotMemory string) (store.Store, error) {
	so := serveOptions{conf: conf, store: storeFlag}
	dataDir, err := resolveDataDir(so)
	if err != nil {
		return nil, err
	}
	dsn, err := storeDSN(so, dataDir)
	if err != nil {
		return nil, err
	}
	if dsn == "memory" {
		return nil, usageError(fmt.Errorf("--store memory: %s", whyNotMemory))
	}
	octx, cancel := context.WithTimeout(ctx, storeOpenTimeout)
	db, err := store.Open(octx, dsn)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("open the store: %w", err)
	}
	return db, nil
}
