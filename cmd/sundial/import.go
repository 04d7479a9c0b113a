package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"sundial/engine/config"
	"sundial/engine/managed"
	"sundial/engine/store"
)

func init() { register(newImportCmd) }

// importOptions are the inputs of `sundial import`.
type importOptions struct {
	conf, store string
	format      string
	idField     string
	batch       int
	progress    string // auto, bar, lines, none
}

func newImportCmd() *cobra.Command {
	opts := importOptions{conf: "conf", format: "auto", batch: managed.DefaultBatchSize, progress: "auto"}
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
goes to stderr: a bar on a terminal, a line per 10 batches otherwise.`,
		Example: "  sundial import managed/user users.jsonl\n  sundial import --store postgres://sundial@db/sundial --conf conf/ managed/user hr.csv",
		Args:    cobra.ExactArgs(2),
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

	objs, closeStore, err := openObjects(ctx, opts.conf, opts.store, "an import needs a store that keeps what it is given")
	if err != nil {
		return err
	}
	defer closeStore()

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
	if err != nil {
		return fmt.Errorf("import %s: %w", name, err)
	}
	if len(res.Rejected) > 0 {
		return &exitError{code: 1}
	}
	return nil
}

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
	so := serveOptions{conf: conf, store: storeFlag}
	dataDir, err := resolveDataDir(so)
	if err != nil {
		return nil, nil, err
	}
	dsn, err := storeDSN(so, dataDir)
	if err != nil {
		return nil, nil, err
	}
	if dsn == "memory" {
		return nil, nil, usageError(fmt.Errorf("--store memory: %s", whyNotMemory))
	}
	octx, cancel := context.WithTimeout(ctx, storeOpenTimeout)
	db, err := store.Open(octx, dsn)
	cancel()
	if err != nil {
		return nil, nil, fmt.Errorf("open the store: %w", err)
	}
	objs, err := store.ObjectsOf(db)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return objs, func() { db.Close() }, nil
}
