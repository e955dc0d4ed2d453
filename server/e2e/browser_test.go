package e2e

// This file is the browser harness of the end-to-end tests. Each browser is
// its own headless Chromium process with its own fresh profile, driven by
// chromedp v0.23 with its generic API: chromedp.Do runs steps that return no
// value, chromedp.Run[T] runs one action that returns a T, selectors are
// typed (chromedp.CSS), and protocol commands are values sent with
// chromedp.Call.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Timeouts of the harness. They are variables so that a slow test can raise
// them in its init, never in a running test.
var (
	// browserLifetime bounds the whole life of one browser process. When it
	// ends, the process is killed and every later action fails.
	browserLifetime = 60 * time.Second

	// actionTimeout bounds one action or one wait, such as navigate,
	// waitVisible or waitTexts.
	actionTimeout = 20 * time.Second

	// pollInterval is the pause between two checks of a polling wait.
	pollInterval = 25 * time.Millisecond

	// closeTimeout bounds the graceful close of a browser. After it, the
	// process is killed.
	closeTimeout = 10 * time.Second
)

// maxPageText is the number of characters of the page text that a failure
// message shows.
const maxPageText = 3000

// maxConsoleLines is the number of console lines, the newest, that a failure
// message shows.
const maxConsoleLines = 100

// browserSeq numbers the browsers of the test binary, so that the messages of
// a test with two people say which browser failed.
var browserSeq atomic.Int64

// browser is one person's headless Chromium: its own process, its own fresh
// profile in a t.TempDir, and one tab. Its methods call t.Fatal, so call them
// from the goroutine of the test, and from one goroutine at a time. Two
// browsers are independent and may be used side by side.
type browser struct {
	// name labels the browser in messages, for example "browser#2".
	name string

	// ctx is the chromedp context of the tab. A test may run chromedp actions
	// on it directly for what the helpers do not cover, preferably through a
	// context.WithTimeout of it. It ends when the browser closes or when
	// browserLifetime has passed.
	ctx context.Context

	// cancelTab, cancelAlloc and cancelLife end the tab context, the
	// allocator (it waits for the process to exit) and the lifetime
	// context, in that order.
	cancelTab   context.CancelFunc
	cancelAlloc context.CancelFunc
	cancelLife  context.CancelFunc

	// userDataDir is the profile directory of the process.
	userDataDir string

	// pid is the process id of the browser.
	pid int

	// consoleDone closes when the goroutine that reads the console ends.
	consoleDone chan struct{}

	// mu guards console, errors and shown.
	mu sync.Mutex
	// console holds every console message of the page, formatted.
	console []string
	// errors holds the console messages that are errors (see isErrorMessage).
	errors []string
	// shown is the number of console messages that a failure message has
	// already shown, so that the cleanup does not show them again.
	shown int

	// closeOnce makes close idempotent; closeErr is the error of the close.
	closeOnce sync.Once
	closeErr  error
}

// chromiumPath returns the path of the Chromium binary: /usr/bin/chromium if
// it is executable, else "chromium" on the PATH. It fails the test with a
// clear message when there is none: the end-to-end tests must not pass
// silently on a machine without a browser.
func chromiumPath(t testing.TB) string {
	t.Helper()
	const debianPath = "/usr/bin/chromium"
	if fi, err := os.Stat(debianPath); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return debianPath
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("no Chromium found: %s is not an executable file and \"chromium\" is not on the PATH (%v); install it, e.g. apt-get install chromium", debianPath, err)
	}
	return p
}

// allocatorOptions returns the flags of a browser process that runs Chromium
// at execPath with the profile directory dir. They start from chromedp's
// defaults (headless, no first run, no background networking, no sync, no
// extensions, ...) and turn off everything else that could reach the network:
// the machine has no internet, and the tests must talk to 127.0.0.1 only.
func allocatorOptions(execPath, dir string) []chromedp.ExecAllocatorOption {
	return append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(dir),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-crash-reporter", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("disable-features", strings.Join([]string{
			// The two features of chromedp's defaults.
			"Translate", "BlinkGenPropertyTrees",
			// Services that fetch from Google.
			"OptimizationHints", "MediaRouter", "DialMediaRouteProvider",
			"AutofillServerCommunication", "CertificateTransparencyComponentUpdater",
			"NetworkTimeServiceQuerying", "InterestFeedContentSuggestions",
		}, ",")),
		// Resolve no host name except the loopback ones, so that nothing in
		// the browser can reach an outside host, even by mistake.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"),
	)
}

// newBrowser starts a new Chromium process with a fresh profile in
// t.TempDir(), opens a blank tab and starts collecting the console of the
// page. The whole browser lives at most browserLifetime. t.Cleanup closes it,
// after it logged the console of the page if the test failed.
func newBrowser(t testing.TB) *browser {
	t.Helper()
	// TempDir first: cleanups run last-in first-out, so the browser is
	// closed before its profile directory is removed.
	return newBrowserIn(t, t.TempDir())
}

// newBrowserIn is newBrowser with the profile directory dir, which may
// hold the profile of a browser closed before: a person who opens the
// browser again. dir must outlive the browser.
func newBrowserIn(t testing.TB, dir string) *browser {
	t.Helper()
	execPath := chromiumPath(t)
	b := &browser{
		name:        fmt.Sprintf("browser#%d", browserSeq.Add(1)),
		userDataDir: dir,
		consoleDone: make(chan struct{}),
	}
	lifeCtx, cancelLife := context.WithTimeoutCause(context.Background(), browserLifetime,
		fmt.Errorf("%s: the browser lifetime of %v has passed", b.name, browserLifetime))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(lifeCtx, allocatorOptions(execPath, dir)...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	b.ctx, b.cancelTab, b.cancelAlloc, b.cancelLife = tabCtx, cancelTab, cancelAlloc, cancelLife

	start := time.Now()
	// The first Do starts the browser and opens the tab. It binds the life of
	// the browser to tabCtx, so it must not get a shorter timeout.
	if err := chromedp.Do(tabCtx); err != nil {
		close(b.consoleDone)
		b.close()
		t.Fatalf("%s: start Chromium %s: %v", b.name, execPath, err)
	}
	if p := chromedp.FromContext(tabCtx).Browser.Process(); p != nil {
		b.pid = p.Pid
	}
	t.Logf("%s: Chromium started in %v (pid %d, profile %s)", b.name, time.Since(start).Round(time.Millisecond), b.pid, dir)

	// Console subscribes now, before the first navigation, and reads until
	// the tab context ends.
	messages := chromedp.Console(tabCtx)
	go func() {
		defer close(b.consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			b.addConsole(m)
		}
	}()

	// Every page the browser opens reports Content-Security-Policy
	// violations as console errors with cspMarker; the cleanup fails the
	// test on any.
	{
		ctx, cancel := context.WithTimeout(tabCtx, actionTimeout)
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspWatch})
		cancel()
		if err != nil {
			b.close()
			t.Fatalf("%s: install the CSP watch: %v", b.name, err)
		}
	}

	t.Cleanup(func() {
		if v := b.cspViolations(); len(v) > 0 {
			t.Errorf("%s: Content-Security-Policy violations:\n%s", b.name, strings.Join(v, "\n"))
		}
		if t.Failed() {
			b.mu.Lock()
			lines, shown := b.console[b.shown:], b.shown
			b.mu.Unlock()
			if len(lines) > 0 {
				t.Logf("%s: console of the page (after the %d messages already shown):\n%s", b.name, shown, strings.Join(lines, "\n"))
			}
		}
		b.close()
		if err := b.closeErr; err != nil {
			t.Logf("%s: close: %v", b.name, err)
		}
	})
	return b
}

// cspMarker starts the console error that cspWatch writes for a
// Content-Security-Policy violation.
const cspMarker = "CSP violation: "

// cspWatch runs in every document before its own scripts: it reports each
// Content-Security-Policy violation (an inline script or style, an eval, a
// request to another origin) as a console error.
const cspWatch = `document.addEventListener("securitypolicyviolation", (e) => {
	console.error("` + cspMarker + `" + e.violatedDirective + " blocked " + (e.blockedURI || "inline") +
		" at " + e.sourceFile + ":" + e.lineNumber + " " + (e.sample || ""));
});`

// cspViolations returns the Content-Security-Policy violations the pages
// reported, and the browser's own reports of them, and forgets them: a test
// that provokes one on purpose takes it before the cleanup sees it.
func (b *browser) cspViolations() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out, rest []string
	for _, line := range b.errors {
		if strings.Contains(line, cspMarker) || strings.Contains(line, "Content Security Policy") {
			out = append(out, line)
		} else {
			rest = append(rest, line)
		}
	}
	b.errors = rest
	return out
}

// addConsole records one console message of the page.
func (b *browser) addConsole(m chromedp.ConsoleMessage) {
	line := formatConsole(m)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.console = append(b.console, line)
	if isErrorMessage(m) {
		b.errors = append(b.errors, line)
	}
}

// formatConsole formats a console message as one or a few lines: its type,
// its text, where it came from and, for an exception, the top of the stack.
func formatConsole(m chromedp.ConsoleMessage) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s: %s", m.Type, m.Text)
	if m.URL != "" {
		fmt.Fprintf(&sb, " (%s:%d)", m.URL, m.Line+1)
	}
	if m.IsException() && m.Stack != nil {
		for i, f := range m.Stack.CallFrames {
			if i == 5 {
				sb.WriteString("\n\t...")
				break
			}
			name := f.FunctionName
			if name == "" {
				name = "<anonymous>"
			}
			fmt.Fprintf(&sb, "\n\tat %s (%s:%d:%d)", name, f.URL, f.LineNumber+1, f.ColumnNumber+1)
		}
	}
	return sb.String()
}

// isErrorMessage reports whether m is an error: an uncaught exception, a
// console.error call, an error of the browser log (such as a failed request),
// or a line of a Go program that panics. The Go WASM runtime (wasm_exec.js)
// prints the stderr of the program with console.log, so a panic of the WASM
// client is a log message that starts with "panic: " or "fatal error: ".
func isErrorMessage(m chromedp.ConsoleMessage) bool {
	switch m.Type {
	case chromedp.ConsoleException, chromedp.ConsoleError:
		return true
	}
	return strings.HasPrefix(m.Text, "panic: ") || strings.HasPrefix(m.Text, "fatal error: ")
}

// consoleErrors returns the errors that the page has written so far: the
// uncaught exceptions, console.error calls, browser log errors and Go panics.
// The console is read asynchronously, so an error can show up a moment after
// the action that caused it; poll with servertest.CheckFor to wait for one.
func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// close closes the browser early, as a person who closes the browser: it
// asks Chromium to close, kills it after closeTimeout, and waits for the
// process to exit. It is safe to call more than once, and the cleanup of
// newBrowser calls it again. An error of the close is kept in closeErr and
// logged by the cleanup.
func (b *browser) close() {
	b.closeOnce.Do(func() {
		done := make(chan error, 1)
		go func() { done <- chromedp.Cancel(b.ctx) }()
		timer := time.NewTimer(closeTimeout)
		defer timer.Stop()
		select {
		case err := <-done:
			// A browser that the lifetime already ended is not an error of
			// the close.
			if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				b.closeErr = err
			}
		case <-timer.C:
			b.closeErr = fmt.Errorf("graceful close did not finish in %v; killing the browser", closeTimeout)
		}
		b.cancelTab()
		b.cancelAlloc() // waits until the process has exited
		b.cancelLife()
		<-b.consoleDone
	})
}

// actx returns a context for one action on the tab, bounded by actionTimeout.
func (b *browser) actx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, actionTimeout)
}

// do runs steps on the tab within actionTimeout, and fails the test with what
// and the state of the page if one fails.
func (b *browser) do(t testing.TB, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := b.actx()
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fatalf(t, "%s (timeout %v): %v", what, actionTimeout, err)
	}
}

// fatalf fails the test with the message, the URL and text of the page and
// the console of the page.
func (b *browser) fatalf(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Fatalf("%s: %s\n%s", b.name, fmt.Sprintf(format, args...), b.diagnostics())
}

// diagnostics describes the state of the browser for a failure message: the
// URL, the visible text of the page and the console.
func (b *browser) diagnostics() string {
	var sb strings.Builder
	if b.ctx.Err() != nil {
		fmt.Fprintf(&sb, "--- the browser has ended: %v\n", context.Cause(b.ctx))
	} else {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel()
		if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil {
			fmt.Fprintf(&sb, "--- URL: unknown: %v\n", err)
		} else {
			fmt.Fprintf(&sb, "--- URL: %s\n", loc)
		}
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](
			`document.body ? document.body.innerText : document.documentElement.outerHTML`))
		if err != nil {
			fmt.Fprintf(&sb, "--- page text: unknown: %v\n", err)
		} else {
			fmt.Fprintf(&sb, "--- page text:\n%s\n", truncate(text, maxPageText))
		}
	}
	b.mu.Lock()
	lines := append([]string(nil), b.console...)
	b.shown = len(lines)
	b.mu.Unlock()
	if len(lines) == 0 {
		sb.WriteString("--- console: empty\n")
	} else {
		if len(lines) > maxConsoleLines {
			fmt.Fprintf(&sb, "--- console (the last %d of %d messages):\n", maxConsoleLines, len(lines))
			lines = lines[len(lines)-maxConsoleLines:]
		} else {
			sb.WriteString("--- console:\n")
		}
		sb.WriteString(strings.Join(lines, "\n"))
		sb.WriteString("\n")
	}
	return sb.String()
}

// truncate shortens s to at most n bytes, and says so.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("... [%d more bytes]", len(s)-n)
}

// jsString returns s as a JavaScript string literal, safe to put in an
// expression whatever s holds.
func jsString(s string) string {
	buf, err := json.Marshal(s)
	if err != nil {
		// A Go string always marshals.
		panic(err)
	}
	return string(buf)
}

// navigate loads url in the tab and waits for its load event.
func (b *browser) navigate(t testing.TB, url string) {
	t.Helper()
	b.do(t, "navigate to "+url, chromedp.Navigate(url))
}

// reload reloads the page and waits for its load event.
func (b *browser) reload(t testing.TB) {
	t.Helper()
	b.do(t, "reload", chromedp.Reload())
}

// setOffline cuts the tab off the network, or connects it again, as
// DevTools' "Offline" does: navigator.onLine and the online and offline
// events follow, new requests and WebSockets fail at once, and an open
// WebSocket stays open but passes nothing (the page learns of it only from
// the offline event or a heartbeat). Responses the service worker has
// cached still load.
func (b *browser) setOffline(t testing.TB, offline bool) {
	t.Helper()
	ctx, cancel := b.actx()
	defer cancel()
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		b.fatalf(t, "Network.enable: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{
		Offline: offline, DownloadThroughput: -1, UploadThroughput: -1,
	}); err != nil {
		b.fatalf(t, "Network.overrideNetworkState (offline %v): %v", offline, err)
	}
	if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{{Offline: offline, DownloadThroughput: -1, UploadThroughput: -1}},
	}); err != nil {
		b.fatalf(t, "Network.emulateNetworkConditionsByRule (offline %v): %v", offline, err)
	}
}

// waitVisible waits until the first element that matches css is visible.
// On timeout, the message shows the outer HTML of the matching elements, if
// there are any, and the page.
func (b *browser) waitVisible(t testing.TB, css string) {
	t.Helper()
	ctx, cancel := b.actx()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(css))); err != nil {
		b.fatalf(t, "wait until %q is visible (timeout %v): %v\nmatching elements: %s", css, actionTimeout, err, b.outerHTML(css))
	}
}

// outerHTML returns the outer HTML of the elements that match css, for a
// failure message. It never fails the test.
func (b *browser) outerHTML(css string) string {
	if b.ctx.Err() != nil {
		return "(the browser has ended)"
	}
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	html, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll(`+jsString(css)+`), e => e.outerHTML)`))
	if err != nil {
		return fmt.Sprintf("(unknown: %v)", err)
	}
	if len(html) == 0 {
		return "(none)"
	}
	return truncate(strings.Join(html, "\n"), maxPageText)
}

// waitAttr waits until an element that matches css has the attribute attr
// with the value want. On timeout, the message shows the outer HTML of the
// matching elements.
func (b *browser) waitAttr(t testing.TB, css, attr, want string) {
	t.Helper()
	type state struct {
		OK   bool     `json:"ok"`
		HTML []string `json:"html"`
	}
	expr := `(() => {
		const els = Array.from(document.querySelectorAll(` + jsString(css) + `));
		return {
			ok: els.some(e => e.getAttribute(` + jsString(attr) + `) === ` + jsString(want) + `),
			html: els.map(e => e.outerHTML),
		};
	})()`
	var last state
	err := poll(b.ctx, actionTimeout, pollInterval, func() error {
		ctx, cancel := b.actx()
		defer cancel()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[state](expr))
		if err != nil {
			return err
		}
		last = s
		if !s.OK {
			return fmt.Errorf("no element matches %q with %s=%q", css, attr, want)
		}
		return nil
	})
	if err != nil {
		html := "(none)"
		if len(last.HTML) > 0 {
			html = truncate(strings.Join(last.HTML, "\n"), maxPageText)
		}
		b.fatalf(t, "wait until %q has %s=%q: %v\nmatching elements: %s", css, attr, want, err, html)
	}
}

// typeText focuses the first element that matches css and types text into it
// with key events, as a person would. Any character works, including <, >,
// & and quotes; "\n" is the Enter key.
func (b *browser) typeText(t testing.TB, css, text string) {
	t.Helper()
	b.do(t, fmt.Sprintf("type %q into %q", text, css), chromedp.SendKeys(chromedp.CSS(css), text))
}

// clear empties the input or textarea that matches css as a person would:
// it focuses it, selects its text and presses Backspace, so the page gets
// the usual input events. It fails the test if the value is not empty
// afterwards.
func (b *browser) clear(t testing.TB, css string) {
	t.Helper()
	b.do(t, fmt.Sprintf("clear %q", css),
		chromedp.Focus(chromedp.CSS(css)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(css)+`).select()`),
		chromedp.KeyEvent(kb.Backspace),
	)
	if v := b.value(t, css); v != "" {
		b.fatalf(t, "clear %q: the value is still %q", css, v)
	}
}

// click clicks the middle of the first element that matches css with the
// mouse, after it waited for the element to be visible.
func (b *browser) click(t testing.TB, css string) {
	t.Helper()
	b.do(t, fmt.Sprintf("click %q", css), chromedp.Click(chromedp.CSS(css)))
}

// pressEnter focuses the first element that matches css and presses Enter
// in it, which submits the form of an input.
func (b *browser) pressEnter(t testing.TB, css string) {
	t.Helper()
	b.do(t, fmt.Sprintf("press Enter in %q", css), chromedp.SendKeys(chromedp.CSS(css), kb.Enter))
}

// value returns the current value (the JavaScript .value, not the
// attribute) of the first element that matches css.
func (b *browser) value(t testing.TB, css string) string {
	t.Helper()
	ctx, cancel := b.actx()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(css)))
	if err != nil {
		b.fatalf(t, "read the value of %q: %v", css, err)
	}
	return v
}

// activeID returns the id of document.activeElement: the element that has
// the focus. It is "" when the body has the focus.
func (b *browser) activeID(t testing.TB) string {
	t.Helper()
	var id string
	b.eval(t, `document.activeElement ? document.activeElement.id : ""`, &id)
	return id
}

// eval evaluates the JavaScript expression js in the page, waits for it if
// it is a promise, and decodes its result as JSON into out. out is a pointer,
// or nil to ignore the result; undefined and null decode as JSON null.
func (b *browser) eval(t testing.TB, js string, out any) {
	t.Helper()
	ctx, cancel := b.actx()
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fatalf(t, "evaluate %s: %v", js, err)
	}
	if out == nil {
		return
	}
	if len(raw) == 0 {
		raw = []byte("null")
	}
	if err := json.Unmarshal(raw, out); err != nil {
		b.fatalf(t, "evaluate %s: decode %s into %T: %v", js, truncate(string(raw), 200), out, err)
	}
}

// textsOnce returns the textContent of every element that matches css, in
// document order, or the error of the evaluation.
func (b *browser) textsOnce(css string) ([]string, error) {
	ctx, cancel := b.actx()
	defer cancel()
	texts, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll(`+jsString(css)+`), e => e.textContent)`))
	if err != nil {
		return nil, fmt.Errorf("read the texts of %q: %w", css, err)
	}
	return texts, nil
}

// texts returns the textContent of every element that matches css, in
// document order, for example the messages of "#message-container > *". It
// returns an empty slice, not nil, when nothing matches.
func (b *browser) texts(t testing.TB, css string) []string {
	t.Helper()
	texts, err := b.textsOnce(css)
	if err != nil {
		b.fatalf(t, "%v", err)
	}
	if texts == nil {
		texts = []string{}
	}
	return texts
}

// waitTexts polls the texts of css until pred returns true for them, and
// returns them. On timeout, it fails the test with what (the condition, in
// words), the last texts and the page.
func (b *browser) waitTexts(t testing.TB, css string, pred func([]string) bool, what string) []string {
	t.Helper()
	last := []string{}
	err := poll(b.ctx, actionTimeout, pollInterval, func() error {
		texts, err := b.textsOnce(css)
		if err != nil {
			return err
		}
		if texts == nil {
			texts = []string{}
		}
		last = texts
		if !pred(texts) {
			return errors.New("the condition is false")
		}
		return nil
	})
	if err != nil {
		b.fatalf(t, "wait for %s (texts of %q): %v\nlast texts: %q", what, css, err, last)
	}
	return last
}

// installabilityErrors returns the reasons why Chromium would not install
// the page as an app (a PWA), from the protocol command
// Page.getInstallabilityErrors, one string per error: its id, and its
// arguments as name=value in parentheses. A page that is installable gives
// an empty slice.
func (b *browser) installabilityErrors(t testing.TB) []string {
	t.Helper()
	ctx, cancel := b.actx()
	defer cancel()
	res, err := chromedp.Call(ctx, page.GetInstallabilityErrors, cdp.Empty{})
	if err != nil {
		b.fatalf(t, "Page.getInstallabilityErrors: %v", err)
	}
	out := []string{}
	for _, e := range res.InstallabilityErrors {
		if e == nil {
			continue
		}
		s := e.ErrorID
		if len(e.ErrorArguments) > 0 {
			args := make([]string, 0, len(e.ErrorArguments))
			for _, a := range e.ErrorArguments {
				if a != nil {
					args = append(args, a.Name+"="+a.Value)
				}
			}
			s += "(" + strings.Join(args, ", ") + ")"
		}
		out = append(out, s)
	}
	return out
}

// poll calls f until it returns nil, and then returns nil. It calls f again
// after every, and gives up when total has passed or ctx has ended, with an
// error that wraps the last error of f. It is the only place of the harness
// that sleeps.
func poll(ctx context.Context, total, every time.Duration, f func() error) error {
	deadline := time.Now().Add(total)
	timer := time.NewTimer(every)
	defer timer.Stop()
	for {
		err := f()
		if err == nil {
			return nil
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("timed out after %v: %w", total, err)
		}
		timer.Reset(every)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%v: %w", context.Cause(ctx), err)
		case <-timer.C:
		}
	}
}
