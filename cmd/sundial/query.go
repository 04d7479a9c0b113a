package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"sundial/engine/query"
)

func init() { register(newQueryCmd) }

func newQueryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Work with CREST _queryFilter expressions",
		Example: `  sundial query eval '/userName eq "bjensen"' --object '{"userName": "BJensen"}'
  sundial query explain '((/sunset/date lt "${Time.now + 1d}") AND !(/sunset/task-completed pr))'
  sundial query check cases.tsv`,
	}
	cmd.AddCommand(newQueryCheckCmd(), newQueryEvalCmd(), newQueryExplainCmd())
	return cmd
}

func newQueryCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE.tsv",
		Short: "Answer a file of filter cases: parse, canonical form, IDM and CREST match",
		Long: `Read lines "ID<TAB>FILTER<TAB>OBJECT[<TAB>…]" (FILTER a JSON string literal, OBJECT
one line of JSON; further columns, '#' lines and blank lines are ignored; FILE
"-" is stdin) and print one line per case:

  ID<TAB>PARSES<TAB>DETAIL<TAB>MATCHES<TAB>CREST

PARSES is true or false; DETAIL a JSON string, the canonical form of a filter
that parses or the error otherwise; MATCHES the IDM matcher's true or false
(what Sundial implements), or "-" when the filter does not parse; CREST the
answer of Common REST's in-memory backend (true, false or undefined), for
comparison. Macros are not expanded: FILTER is the
text the parser sees. The exit status is 0.`,
		Example: `  sundial query check engine/query/testdata/crest-query-public.tsv`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQueryCheck(args[0], cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
}

// openInput opens a file argument, "-" being in.
func openInput(path string, in io.Reader) (io.ReadCloser, error) {
	if path == "-" {
		return io.NopCloser(in), nil
	}
	return os.Open(path)
}

func runQueryCheck(path string, in io.Reader, out io.Writer) error {
	r, err := openInput(path, in)
	if err != nil {
		return err
	}
	defer r.Close()
	w := bufio.NewWriter(out)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.SplitN(line, "\t", 4)
		id := cols[0]
		if len(cols) < 3 {
			fmt.Fprintf(w, "%s\tfalse\t%s\t-\t-\n", id, jsonString("expected ID, FILTER and OBJECT separated by tabs"))
			continue
		}
		c := checkCase(cols[1], cols[2])
		fmt.Fprintf(w, "%s\t%t\t%s\t%s\t%s\n", id, c.parses, jsonString(c.detail), c.idm, c.crest)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return w.Flush()
}

// checkAnswer is the answer to one case.
type checkAnswer struct {
	parses     bool
	detail     string // the canonical form, or the error
	idm, crest string // the IDM and CREST matches, or "-"
}

// checkCase answers one case: whether the filter parses, its canonical form
// or the error, and the IDM and CREST matches ("-" if the filter does not
// parse or the object is not a JSON object).
func checkCase(filterJSON, objectJSON string) checkAnswer {
	var text string
	if err := json.Unmarshal([]byte(filterJSON), &text); err != nil {
		return checkAnswer{detail: "FILTER is not a JSON string literal: " + err.Error(), idm: "-", crest: "-"}
	}
	f, err := query.Parse(text)
	if err != nil {
		return checkAnswer{detail: err.Error(), idm: "-", crest: "-"}
	}
	c := checkAnswer{parses: true, detail: f.String(), idm: "-", crest: "-"}
	p, err := query.Compile(f)
	if err != nil {
		return c
	}
	obj, err := decodeObject([]byte(objectJSON))
	if err != nil {
		return c
	}
	c.idm = strconv.FormatBool(p.Match(obj))
	c.crest = query.MatchCREST(f, obj).String()
	return c
}

// decodeObject reads one JSON object, numbers as json.Number, as the
// matcher reads them exactly.
func decodeObject(data []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var obj map[string]any
	if err := d.Decode(&obj); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, errors.New("not a JSON object")
	}
	if d.More() {
		return nil, errors.New("more than one JSON value")
	}
	return obj, nil
}

// jsonString writes s as a JSON string the way the vector files do: only
// '"', '\' and control characters escaped, everything else as is.
func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if c < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// queryMacroOptions are the flags that fix what macros resolve to.
type queryMacroOptions struct {
	at, zone           string
	started, completed string
}

func (o *queryMacroOptions) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.at, "at", "", "the instant ${Time.now} resolves to, RFC 3339 (default: now)")
	cmd.Flags().StringVar(&o.zone, "tz", "UTC", "IANA zone of day, month and year arithmetic and of ${Time.nowWithOffset}")
	cmd.Flags().StringVar(&o.started, "task-started", "", "the pointer ${taskState.started} resolves to")
	cmd.Flags().StringVar(&o.completed, "task-completed", "", "the pointer ${taskState.completed} resolves to")
}

func (o *queryMacroOptions) context(now time.Time) (query.MacroContext, error) {
	c := query.MacroContext{Now: now, TaskStateStarted: o.started, TaskStateCompleted: o.completed}
	if o.at != "" {
		t, err := time.Parse(time.RFC3339Nano, o.at)
		if err != nil {
			return c, fmt.Errorf("--at %q: not an RFC 3339 time, e.g. 2026-11-22T10:00:00Z", o.at)
		}
		c.Now = t
	}
	zone, err := loadZone(o.zone)
	if err != nil {
		return c, err
	}
	c.Zone = zone
	return c, nil
}

// compileFilter expands the macros of text, parses and compiles it.
func compileFilter(text string, c query.MacroContext) (*query.Program, []query.Macro, error) {
	expanded, macros, err := query.ExpandMacros(text, c)
	if err != nil {
		return nil, nil, usageError(err)
	}
	f, err := query.Parse(expanded)
	if err != nil {
		return nil, nil, usageError(err)
	}
	p, err := query.Compile(f)
	if err != nil {
		return nil, nil, err
	}
	return p, macros, nil
}

// queryEvalOptions are the flags of `sundial query eval`.
type queryEvalOptions struct {
	macros queryMacroOptions
	object string
}

func newQueryEvalCmd() *cobra.Command {
	var opts queryEvalOptions
	cmd := &cobra.Command{
		Use:   "eval FILTER (--object JSON | FILE.json | FILE.jsonl | -)",
		Short: "Match JSON objects against a filter, as IDM does",
		Long: `Expand the filter's macros, parse it and match objects with IDM's semantics.
With --object, or a FILE.json holding one object, print true or false. With a
FILE.json holding an array, print each matching element on its own line; with
a FILE.jsonl (or "-", stdin), print each matching line. A filter that does not
parse is reported on stderr with exit status 2.`,
		Example: `  sundial query eval '/userName eq "bjensen"' --object '{"userName": "BJensen"}'
  sundial query eval --at 2024-05-01T00:00:00Z '/sunset/date lt "${Time.now}"' users.jsonl`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && opts.object != "" || len(args) == 2 && opts.object == "" {
				return nil
			}
			return usageError(errors.New(cmd.UseLine() + ": give the filter and either --object or one file"))
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQueryEval(opts, args, time.Now(), cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	opts.macros.register(cmd)
	cmd.Flags().StringVar(&opts.object, "object", "", "one JSON object to match")
	return cmd
}

func runQueryEval(opts queryEvalOptions, args []string, now time.Time, in io.Reader, out io.Writer) error {
	mc, err := opts.macros.context(now)
	if err != nil {
		return usageError(err)
	}
	p, _, err := compileFilter(args[0], mc)
	if err != nil {
		return err
	}
	if opts.object != "" {
		obj, err := decodeObject([]byte(opts.object))
		if err != nil {
			return usageError(fmt.Errorf("--object: %w", err))
		}
		_, err = fmt.Fprintln(out, p.Match(obj))
		return err
	}
	path := args[1]
	r, err := openInput(path, in)
	if err != nil {
		return err
	}
	defer r.Close()
	if path == "-" || strings.HasSuffix(path, ".jsonl") {
		return evalLines(p, path, r, out)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return evalDocument(p, path, data, out)
}

// evalLines prints the lines of r whose object matches.
func evalLines(p *query.Program, path string, r io.Reader, out io.Writer) error {
	w := bufio.NewWriter(out)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		obj, err := decodeObject(line)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if p.Match(obj) {
			w.Write(line)
			w.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return w.Flush()
}

// evalDocument answers a JSON file: true or false for one object, the
// matching elements for an array.
func evalDocument(p *query.Program, path string, data []byte, out io.Writer) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var doc any
	if err := d.Decode(&doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	switch doc := doc.(type) {
	case map[string]any:
		_, err := fmt.Fprintln(out, p.Match(doc))
		return err
	case []any:
		w := bufio.NewWriter(out)
		for i, e := range doc {
			obj, ok := e.(map[string]any)
			if !ok {
				return fmt.Errorf("%s: element %d is not a JSON object", path, i)
			}
			if p.Match(obj) {
				line, err := json.Marshal(obj)
				if err != nil {
					return err
				}
				w.Write(line)
				w.WriteByte('\n')
			}
		}
		return w.Flush()
	}
	return fmt.Errorf("%s: expected a JSON object or an array of objects", path)
}

func newQueryExplainCmd() *cobra.Command {
	var opts queryMacroOptions
	cmd := &cobra.Command{
		Use:     "explain FILTER",
		Short:   "Show a filter's canonical form, its tree, its macros and its expr program",
		Example: `  sundial query explain --at 2024-05-01T10:15:30Z '((/sunset/date lt "${Time.now + 1d}") AND !(/sunset/task-completed pr))'`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQueryExplain(opts, args[0], time.Now(), cmd.OutOrStdout())
		},
	}
	opts.register(cmd)
	return cmd
}

func runQueryExplain(opts queryMacroOptions, text string, now time.Time, out io.Writer) error {
	mc, err := opts.context(now)
	if err != nil {
		return usageError(err)
	}
	p, macros, err := compileFilter(text, mc)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "canonical: %s\n", p.Filter())
	if len(macros) > 0 {
		b.WriteString("macros:\n")
		for _, m := range macros {
			fmt.Fprintf(&b, "  %s (offset %d) = %s\n", m.Text, m.Offset, m.Value)
		}
	}
	b.WriteString("tree:\n")
	writeFilterTree(&b, p.Filter(), "  ")
	fmt.Fprintf(&b, "expr: %s\n", p.Source())
	for _, c := range p.Bindings() {
		fmt.Fprintf(&b, "  %s = %s\n", c.Name, c.Text)
	}
	_, err = io.WriteString(out, b.String())
	return err
}

// writeFilterTree writes one node per line, operands indented under their
// operator.
func writeFilterTree(b *strings.Builder, f query.Filter, indent string) {
	switch f := f.(type) {
	case *query.And:
		fmt.Fprintf(b, "%sand\n", indent)
		for _, o := range f.Operands {
			writeFilterTree(b, o, indent+"  ")
		}
	case *query.Or:
		fmt.Fprintf(b, "%sor\n", indent)
		for _, o := range f.Operands {
			writeFilterTree(b, o, indent+"  ")
		}
	case *query.Not:
		fmt.Fprintf(b, "%snot\n", indent)
		writeFilterTree(b, f.Operand, indent+"  ")
	case *query.Comparison:
		note := ""
		if f.Operator.Extended() {
			note = "  (extended operator: never matches)"
		}
		fmt.Fprintf(b, "%s%s%s\n", indent, f, note)
	default:
		fmt.Fprintf(b, "%s%s\n", indent, f)
	}
}
