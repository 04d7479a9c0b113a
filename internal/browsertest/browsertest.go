// Package browsertest drives a real headless Chromium from tests, through
// chromedp. Start starts one browser for a test (its profile in a fresh
// directory under the test's temporary directory) and stops it when the test
// ends; NewPage opens a tab in a browser context of its own, so two pages of
// one test are two users with their own cookies.
//
// The browser is the one SUNDIAL_CHROMIUM names, else the first found of
// the usual paths (Debian's chromium and chromium-headless-shell, Google
// Chrome). Without one the test is skipped with a message saying so, or
// fails when SUNDIAL_REQUIRE_BROWSER=1 (CI sets it).
//
// Every wait has a deadline and polls a condition in the page; none sleeps.
// When a test fails, each of its pages leaves a full-page screenshot and its
// HTML in the test's artifact directory, and the test log says where (and
// lists what the page logged to its console).
//
// It is imported by tests only.
package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Environment variables the package reads.
const (
	// EnvExecPath names the browser binary to run.
	EnvExecPath = "SUNDIAL_CHROMIUM"
	// EnvRequire, when "1", makes a missing browser fail the test rather
	// than skip it.
	EnvRequire = "SUNDIAL_REQUIRE_BROWSER"
)

// usualPaths are where Debian's packages and Google's put the browser, in
// the order they are tried.
var usualPaths = []string{
	"/usr/bin/chromium",
	"/usr/bin/chromium-headless-shell",
	"/usr/lib/chromium/chromium",
	"/usr/bin/google-chrome",
}

// ExecPath returns the browser to run: $SUNDIAL_CHROMIUM when set (a path,
// or a name looked up in PATH), else the first of the usual paths that is
// an executable file.
func ExecPath() (string, error) {
	if p := os.Getenv(EnvExecPath); p != "" {
		found, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvExecPath, p, err)
		}
		return found, nil
	}
	for _, p := range usualPaths {
		if found, err := exec.LookPath(p); err == nil {
			return found, nil
		}
	}
	return "", fmt.Errorf("no browser at %s (set %s to one)", strings.Join(usualPaths, ", "), EnvExecPath)
}

// DefaultTimeout bounds each page action that is not a wait with a deadline
// of its own (navigation, a click, reading a value).
const DefaultTimeout = 30 * time.Second

// Browser is one headless Chromium process, stopped when its test ends.
type Browser struct {
	ctx context.Context // the first tab's context: it owns the process
}

// Start starts a headless Chromium for t and stops it when t ends. A
// missing browser skips t, or fails it when SUNDIAL_REQUIRE_BROWSER=1.
func Start(t testing.TB) *Browser {
	t.Helper()
	path, err := ExecPath()
	if err != nil {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("browser test with %s=1: %v", EnvRequire, err)
		}
		t.Skipf("skipping browser test: %v (install Debian's chromium)", err)
	}
	profile := filepath.Join(t.TempDir(), "chromium-profile")
	out := &outputTail{}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("no-sandbox", os.Getuid() == 0),
		chromedp.UserDataDir(profile),
		chromedp.CombinedOutput(out),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// The first run starts the process; it must not carry a deadline, which
	// would stop the browser when it passes.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err = <-started:
	case <-time.After(60 * time.Second):
		err = errors.New("no answer within 60s")
	}
	if err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("starting %s: %v\n%s", path, err, out.String())
	}
	t.Cleanup(func() {
		stop, cancelStop := context.WithTimeout(ctx, 10*time.Second)
		defer cancelStop()
		_ = chromedp.Cancel(stop)
		cancel()
		cancelAlloc()
	})
	return &Browser{ctx: ctx}
}

// PageParams are the options of a new page.
type PageParams struct {
	// Width and Height are the viewport in CSS pixels; 0 for 1280 by 800.
	Width, Height int
	// Mobile emulates a phone: a mobile viewport with touch.
	Mobile bool
	// ColorScheme is the prefers-color-scheme the page sees: "light",
	// "dark", or "" for the browser's default.
	ColorScheme string
}

// Page is one tab in a browser context of its own (its own cookies and
// storage). Its methods fail the test on an error.
type Page struct {
	t   testing.TB
	ctx context.Context

	mu      sync.Mutex
	console []string // what the page logged, for the failure report
}

// pageCount numbers the pages of a process, to name their failure files.
var pageCount struct {
	sync.Mutex
	n int
}

// NewPage opens a tab for t, closed when t ends. When t fails, the tab's
// screenshot and HTML are saved first.
func (b *Browser) NewPage(t testing.TB, params PageParams) *Page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	p := &Page{t: t, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("opening a tab: %v", err)
	}
	t.Cleanup(cancel)
	if err := chromedp.Listen(ctx, p.record); err != nil {
		t.Fatalf("listening to the tab: %v", err)
	}
	pageCount.Lock()
	pageCount.n++
	name := fmt.Sprintf("page%d", pageCount.n)
	pageCount.Unlock()
	// Registered after cancel, so it runs before the tab closes.
	t.Cleanup(func() {
		if t.Failed() {
			p.saveFailure(name)
		}
	})

	w, h := params.Width, params.Height
	if w == 0 {
		w = 1280
	}
	if h == 0 {
		h = 800
	}
	var vopts []chromedp.EmulateViewportOption
	if params.Mobile {
		vopts = append(vopts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, cdplog.Enable, cdp.Empty{})
			return err
		}),
		chromedp.EmulateViewport(int64(w), int64(h), vopts...),
	}
	if params.ColorScheme != "" {
		steps = append(steps, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: params.ColorScheme}},
			})
			return err
		}))
	}
	p.Do("set up the tab", steps...)
	return p
}

// record keeps the console lines, uncaught exceptions and browser log
// entries (Content-Security-Policy refusals among them) of the page. It runs
// on chromedp's event goroutine, so it only appends.
func (p *Page) record(ev any) {
	var line string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var args []string
		for _, a := range ev.Args {
			if a.Value != nil {
				args = append(args, string(a.Value))
			} else {
				args = append(args, a.Description)
			}
		}
		line = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " "))
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		line = fmt.Sprintf("exception at %s:%d:%d: %s", d.URL, d.LineNumber+1, d.ColumnNumber+1, text)
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		line = fmt.Sprintf("%s %s: %s", e.Source, e.Level, e.Text)
		if e.URL != "" {
			line += " (" + e.URL + ")"
		}
	default:
		return
	}
	p.mu.Lock()
	p.console = append(p.console, line)
	p.mu.Unlock()
}

// Console returns what the page has logged so far: console calls, uncaught
// exceptions and the browser's own log entries, one line each.
func (p *Page) Console() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.console...)
}

// saveFailure writes the page's screenshot and HTML to the test's artifact
// directory and logs where, with the page's URL and console.
func (p *Page) saveFailure(name string) {
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	dir := p.t.ArtifactDir()
	var saved []string
	url, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		p.t.Logf("%s: the tab did not answer (%v); no screenshot", name, err)
		return
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err != nil {
		p.t.Logf("%s: screenshot: %v", name, err)
	} else if path := filepath.Join(dir, name+".png"); os.WriteFile(path, png, 0o644) == nil {
		saved = append(saved, path)
	}
	if html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`)); err != nil {
		p.t.Logf("%s: html: %v", name, err)
	} else if path := filepath.Join(dir, name+".html"); os.WriteFile(path, []byte(html), 0o644) == nil {
		saved = append(saved, path)
	}
	p.t.Logf("%s at %s on failure: saved %s%s", name, url, strings.Join(saved, ", "), keptNote())
	if c := p.Console(); len(c) > 0 {
		p.t.Logf("%s console:\n\t%s", name, strings.Join(c, "\n\t"))
	}
}

// keptNote says whether the artifact directory outlives the test: only
// with go test's -artifacts flag.
func keptNote() string {
	if f := flagValue("test.artifacts"); f == "true" {
		return ""
	}
	return " (removed when the test ends: run go test with -artifacts to keep them)"
}

// Do runs actions in order, each within DefaultTimeout, and fails the test
// with what on the first error.
func (p *Page) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, DefaultTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// Run runs one action that returns a value, within DefaultTimeout, and
// fails the test with what on an error.
func Run[T any](p *Page, what string, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, DefaultTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// Eval evaluates a JavaScript expression in the page and decodes its value
// into T.
func Eval[T any](p *Page, expr string) T {
	p.t.Helper()
	return Run(p, "evaluate "+expr, chromedp.Evaluate[T](expr))
}

// Navigate loads url and waits for its load event.
func (p *Page) Navigate(url string) {
	p.t.Helper()
	p.Do("navigate to "+url, chromedp.Navigate(url))
}

// URL returns the page's current address.
func (p *Page) URL() string {
	p.t.Helper()
	return Run(p, "read the location", chromedp.Location())
}

// WaitVisible waits until an element matching the CSS selector is visible.
func (p *Page) WaitVisible(within time.Duration, css string) {
	p.t.Helper()
	p.wait(within, "a visible "+css, chromedp.WaitVisible(chromedp.CSS(css)))
}

// WaitGone waits until no element matches the CSS selector.
func (p *Page) WaitGone(within time.Duration, css string) {
	p.t.Helper()
	p.wait(within, "no "+css, chromedp.WaitNotPresent(chromedp.CSS(css)))
}

// WaitTrue waits until the JavaScript expression is truthy in the page,
// evaluating it every 50ms; what says in the failure what was awaited. A
// navigation meanwhile (a form post, a reload) does not end the wait: the
// expression is evaluated again in the new page.
func (p *Page) WaitTrue(within time.Duration, what, expr string) {
	p.t.Helper()
	WaitValue[chromedp.Void](p, within, what, expr)
}

// WaitValue waits as WaitTrue does and returns the truthy value, decoded
// into T (an object, to return a value that may be falsy, such as "").
func WaitValue[T any](p *Page, within time.Duration, what, expr string) T {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			p.t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		var v T
		err := p.try(left, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			var err error
			v, err = chromedp.Poll[T](expr,
				chromedp.WithPollingInterval(50*time.Millisecond),
				chromedp.WithPollingTimeout(left))(ctx, tg)
			return chromedp.Void{}, err
		})
		switch {
		case err == nil:
			return v
		case isTimeout(err):
			p.t.Fatalf("timed out after %s waiting for %s", within, what)
		case !isNavigation(err):
			p.t.Fatalf("waiting for %s: %v", what, err)
		}
	}
}

// isNavigation tells the errors of an evaluation that a navigation cut
// short: the page it ran in is gone.
func isNavigation(err error) bool {
	msg := err.Error()
	for _, s := range []string{"navigated or closed", "context was destroyed", "Cannot find context"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func isTimeout(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, chromedp.ErrPollingTimeout)
}

// wait runs a waiting action under a deadline of within and fails the test
// saying what it waited for.
func (p *Page) wait(within time.Duration, what string, a chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := p.try(within, a); err != nil {
		if isTimeout(err) {
			p.t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		p.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// try runs a waiting action under a deadline of within. The context
// outlives a poll's own timeout a little, so that the poll's answer, not
// the context's, says why the wait ended.
func (p *Page) try(within time.Duration, a chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(p.ctx, within+2*time.Second)
	defer cancel()
	return chromedp.Do(ctx, a)
}

// Click clicks the first element matching the CSS selector with the
// mouse, once it is visible.
func (p *Page) Click(css string) {
	p.t.Helper()
	p.Do("click "+css, chromedp.Click(chromedp.CSS(css), chromedp.NodeVisible))
}

// ClickLive clicks the first element matching the CSS selector, once it is
// visible, from the page's own JavaScript (element.click()): finding it and
// clicking it are one step. It is for elements that live updates replace at
// any moment, such as a button in a table row that server-sent events
// rewrite: a mouse click aims at where the element was when it was found,
// which a new version of its row may have moved.
func (p *Page) ClickLive(css string) {
	p.t.Helper()
	p.WaitVisible(DefaultTimeout, css)
	clicked := Eval[bool](p, fmt.Sprintf(`(e => e !== null && (e.click(), true))(document.querySelector(%s))`, JSString(css)))
	if !clicked {
		p.t.Fatalf("click %s: it is gone", css)
	}
}

// Type clears the input matching the CSS selector and types text into it.
func (p *Page) Type(css, text string) {
	p.t.Helper()
	p.Do("type into "+css, chromedp.Clear(chromedp.CSS(css)), chromedp.SendKeys(chromedp.CSS(css), text))
}

// SetValue sets the value of the input or select matching the CSS
// selector.
func (p *Page) SetValue(css, value string) {
	p.t.Helper()
	p.Do("set the value of "+css, chromedp.SetValue(chromedp.CSS(css), value, chromedp.NodeReady))
}

// Text returns the text content of the first element matching the CSS
// selector, waiting up to DefaultTimeout for it to exist. It is read in one
// evaluation, so an element the page replaces meanwhile (a live row) is
// read whole, old or new.
func (p *Page) Text(css string) string {
	p.t.Helper()
	v := WaitValue[struct{ Text string }](p, DefaultTimeout, "an element "+css,
		fmt.Sprintf(`(e => e === null ? null : {Text: e.textContent})(document.querySelector(%s))`, JSString(css)))
	return v.Text
}

// Count returns how many elements match the CSS selector now.
func (p *Page) Count(css string) int {
	p.t.Helper()
	return Eval[int](p, fmt.Sprintf(`document.querySelectorAll(%s).length`, JSString(css)))
}

// Screenshot saves a PNG of the whole page (beyond the viewport) to path.
func (p *Page) Screenshot(path string) {
	p.t.Helper()
	png := Run(p, "screenshot", chromedp.FullScreenshot(100))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// JSString quotes s as a JavaScript string literal (JSON's quoting, which
// JavaScript reads alike), to build the expressions of WaitTrue and Eval
// from Go values.
func JSString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// flagValue returns the value of a registered command-line flag, "" when
// there is none of that name.
func flagValue(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

// outputTail keeps the last 8 KiB the browser printed, for the error of a
// failed start.
type outputTail struct {
	mu  sync.Mutex
	buf []byte
}

func (o *outputTail) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = append(o.buf, b...)
	if n := len(o.buf) - 8<<10; n > 0 {
		o.buf = append(o.buf[:0], o.buf[n:]...)
	}
	return len(b), nil
}

func (o *outputTail) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.buf)
}
