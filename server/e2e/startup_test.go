package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/cdp/jsonv2"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/tracing"
	"github.com/chromedp/chromedp"

	"github.com/chatwasm/chat/server"
)

// traceDir, when set (go test -run '^$' -bench Startup ./server/e2e
// -args -startup.trace=DIR), is where BenchmarkStartup writes a Chromium
// performance trace of each start, N-cold.json, N-warm.json and
// N-restart.json for its iteration N, to open in the Performance panel of
// DevTools or in Perfetto; it then reports the main thread's CPU time too.
// Tracing slows the page down: the times of a traced run are not
// comparable with those of one that is not.
var traceDir = flag.String("startup.trace", "", "write Chromium traces of each start to this directory")

// startupWatch runs in every document before its own scripts and records,
// in ms since the navigation started (performance.now()), the steps of the
// start up to the connected socket: the call of
// WebAssembly.instantiateStreaming (go-app's loader) and its end, the
// removal of go-app's loader (its first render is done and go.run's first
// slice returned), the WebSocket's creation and open, and #connection's
// data-state becoming "connected". It only observes: the socket and the
// compilation are the browser's own.
const startupWatch = `(() => {
	const m = window.chatStartup = {};
	const now = () => performance.now();
	let connected;
	m.whenConnected = new Promise((resolve) => { connected = resolve; });
	const stream = WebAssembly.instantiateStreaming;
	if (stream) {
		WebAssembly.instantiateStreaming = async (source, imports) => {
			m.instantiate ??= now();
			const r = await source;
			m.wasmType ??= r.headers.get("Content-Type") || "";
			m.wasmURL ??= r.url;
			const res = await stream.call(WebAssembly, r, imports);
			m.instantiated ??= now();
			return res;
		};
	}
	const WS = window.WebSocket;
	window.WebSocket = new Proxy(WS, {construct(target, args, newTarget) {
		const ws = Reflect.construct(target, args, newTarget);
		if (m.dial === undefined) {
			m.dial = now();
			const c = document.getElementById("connection");
			m.dialFirst = !(c && c.getAttribute("data-state"));
		}
		ws.addEventListener("open", () => { m.open ??= now(); });
		return ws;
	}});
	const seen = () => {
		const c = document.getElementById("connection");
		if (c && c.getAttribute("data-state")) m.mounted ??= now();
		if (c && c.getAttribute("data-state") === "connected" && !m.connected) {
			m.connected = now(); performance.mark("chat:connected"); connected();
		}
		if (m.sawLoader && !document.getElementById("app-wasm-loader")) m.loaderGone ??= now();
		if (document.getElementById("app-wasm-loader")) m.sawLoader = true;
	};
	new MutationObserver(seen).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"]});
})()`

// startupRead returns what startupWatch recorded, with the timing of the
// page, its scripts and app.wasm from the Resource Timing API.
const startupRead = `(() => {
	const m = window.chatStartup || {};
	const nav = performance.getEntriesByType("navigation")[0];
	const res = (suffix) => performance.getEntriesByType("resource").find(e => new URL(e.name).pathname.endsWith(suffix));
	const wasm = res("/app.wasm"), js = res("/app.js");
	const fcp = performance.getEntriesByName("first-contentful-paint")[0];
	return {
		html: nav ? nav.responseEnd : 0,
		dcl: nav ? nav.domContentLoadedEventEnd : 0,
		navType: nav ? nav.type : "",
		controlled: !!navigator.serviceWorker.controller,
		fcp: fcp ? fcp.startTime : 0,
		appJS: js ? js.responseEnd : 0,
		wasmStart: wasm ? wasm.startTime : 0,
		wasmEnd: wasm ? wasm.responseEnd : 0,
		wasmTransfer: wasm ? wasm.transferSize : 0,
		wasmWorker: wasm ? wasm.workerStart > 0 : false,
		wasmFetches: performance.getEntriesByType("resource").filter(e => new URL(e.name).pathname.endsWith("/app.wasm")).length,
		wasmType: m.wasmType || "",
		wasmURL: m.wasmURL || "",
		instantiate: m.instantiate || 0,
		instantiated: m.instantiated || 0,
		mounted: m.mounted || 0,
		loaderGone: m.loaderGone || 0,
		dial: m.dial || 0,
		dialFirst: !!m.dialFirst,
		open: m.open || 0,
		connected: m.connected || 0,
	};
})()`

// startupMarks is one start of the page, each time in ms since the
// navigation started.
type startupMarks struct {
	HTML         float64 `json:"html"`         // the page's response ended
	DCL          float64 `json:"dcl"`          // DOMContentLoaded handled (deferred scripts ran)
	NavType      string  `json:"navType"`      // "navigate", "reload", …
	Controlled   bool    `json:"controlled"`   // a service worker controls the page
	FCP          float64 `json:"fcp"`          // first contentful paint
	AppJS        float64 `json:"appJS"`        // go-app's app.js response ended
	WasmStart    float64 `json:"wasmStart"`    // app.wasm's request started
	WasmEnd      float64 `json:"wasmEnd"`      // app.wasm's response ended
	WasmTransfer int     `json:"wasmTransfer"` // bytes over the network (0: from a cache)
	WasmWorker   bool    `json:"wasmWorker"`   // app.wasm went through the service worker
	WasmFetches  int     `json:"wasmFetches"`  // requests of app.wasm
	WasmType     string  `json:"wasmType"`     // Content-Type the loader compiled from
	WasmURL      string  `json:"wasmURL"`      // URL of that response ("" for a built one)
	Instantiate  float64 `json:"instantiate"`  // WebAssembly.instantiateStreaming called
	Instantiated float64 `json:"instantiated"` // … and resolved: compiled and instantiated
	Mounted      float64 `json:"mounted"`      // the WASM set #connection's data-state
	LoaderGone   float64 `json:"loaderGone"`   // go-app's loader removed
	Dial         float64 `json:"dial"`         // the WebSocket created
	DialFirst    bool    `json:"dialFirst"`    // … before the page showed a data-state
	Open         float64 `json:"open"`         // … and open
	Connected    float64 `json:"connected"`    // data-state="connected"

	// Traced is set when the start was traced, and with it the CPU time
	// of the page's main thread from the navigation to the connected
	// socket, and the part of it spent compiling WebAssembly functions
	// on their first call (V8 compiles lazily), in ms. Unlike the times
	// above, these hardly depend on what else the machine runs.
	Traced  bool    `json:"-"`
	MainCPU float64 `json:"-"`
	LazyCPU float64 `json:"-"`
}

func (m startupMarks) String() string {
	return fmt.Sprintf("connected %.0f ms (html %.0f, dcl %.0f, fcp %.0f, app.js %.0f, "+
		"app.wasm %.0f-%.0f (%d fetches, %d bytes over the network, service worker %v, %q, url %q), instantiate %.0f-%.0f, "+
		"mounted %.0f, loader gone %.0f, dial %.0f (before the first render %v), open %.0f; %s, controlled %v)",
		m.Connected, m.HTML, m.DCL, m.FCP, m.AppJS, m.WasmStart, m.WasmEnd, m.WasmFetches, m.WasmTransfer, m.WasmWorker,
		m.WasmType, m.WasmURL, m.Instantiate, m.Instantiated, m.Mounted, m.LoaderGone, m.Dial, m.DialFirst, m.Open,
		m.NavType, m.Controlled) + m.cpu()
}

// cpu formats the CPU times of a traced start.
func (m startupMarks) cpu() string {
	if !m.Traced {
		return ""
	}
	return fmt.Sprintf("; main thread CPU %.0f ms, of which lazy WebAssembly compilation %.0f ms", m.MainCPU, m.LazyCPU)
}

// watchStartup installs startupWatch in every document the tab opens from
// now on.
func (b *browser) watchStartup(t testing.TB) {
	t.Helper()
	ctx, cancel := b.actx()
	defer cancel()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: startupWatch}); err != nil {
		b.fatalf(t, "install the startup watch: %v", err)
	}
}

// startupOf waits until the page is connected and returns its marks. It
// waits on a promise of the page, not by polling, so that the measurement
// adds no work to the main thread it measures.
func (b *browser) startupOf(t testing.TB) startupMarks {
	t.Helper()
	b.eval(t, `window.chatStartup.whenConnected.then(() => true)`, nil)
	var m startupMarks
	b.eval(t, startupRead, &m)
	return m
}

// waitOfflineReady waits until a service worker controls the page and its
// cache holds every file the page starts with, so that the next load is
// served by it. go-app's worker fills its cache after it activated (its
// install handler does not wait for the cache), so control alone is not
// enough.
func (b *browser) waitOfflineReady(t testing.TB) {
	t.Helper()
	const ready = `(async () => {
		if (!navigator.serviceWorker.controller) return false;
		for (const p of ["/", "/app.js", "/wasm_exec.js", "/web/app.wasm", "/web/app.css"]) {
			if (!(await caches.match(p))) return false;
		}
		return true; })()`
	err := poll(b.ctx, actionTimeout, pollInterval, func() error {
		var ok bool
		b.eval(t, ready, &ok)
		if !ok {
			return errors.New("the service worker does not control the page with a full cache")
		}
		return nil
	})
	if err != nil {
		b.fatalf(t, "wait for the service worker: %v", err)
	}
}

// starts are the marks of the three kinds of start startOnce measures.
type starts struct {
	// Cold is the first visit: a fresh profile, an empty HTTP cache, no
	// service worker.
	Cold startupMarks
	// Warm is a reload once the service worker controls the page with
	// every file cached: the same tab and renderer process, which still
	// holds the compiled module in memory.
	Warm startupMarks
	// Restart is the next visit after the browser was closed and opened
	// again on the same profile: the service worker's cache and the
	// browser's code cache on disk, nothing in memory.
	Restart startupMarks
}

// startOnce opens url in a new browser with a fresh profile, reloads it,
// and opens it again in a new browser on the same profile, and returns
// the marks of the three starts. With dir set it writes a Chromium trace
// of each to dir/<prefix>cold.json, dir/<prefix>warm.json and
// dir/<prefix>restart.json, and adds the main thread's CPU times to the
// marks.
func startOnce(t testing.TB, url, dir, prefix string) starts {
	t.Helper()
	var s starts
	profile := t.TempDir()
	trace := func(b *browser, name string, m *startupMarks, load func()) {
		if dir == "" {
			load()
			return
		}
		main, lazy := b.trace(t, filepath.Join(dir, name), load)
		m.Traced, m.MainCPU, m.LazyCPU = true, main, lazy
	}
	done := func(b *browser) {
		if errs := b.consoleErrors(); len(errs) != 0 {
			b.fatalf(t, "console errors: %q", errs)
		}
		b.close()
		if b.closeErr != nil {
			t.Fatalf("%s: close: %v", b.name, b.closeErr)
		}
	}

	b := newBrowserIn(t, profile)
	b.watchStartup(t)
	trace(b, prefix+"cold.json", &s.Cold, func() {
		b.navigate(t, url)
		s.Cold = b.startupOf(t)
	})
	b.waitOfflineReady(t)
	trace(b, prefix+"warm.json", &s.Warm, func() {
		b.reload(t)
		s.Warm = b.startupOf(t)
	})
	done(b)

	b = newBrowserIn(t, profile)
	b.watchStartup(t)
	trace(b, prefix+"restart.json", &s.Restart, func() {
		b.navigate(t, url)
		s.Restart = b.startupOf(t)
	})
	done(b)
	return s
}

// traceCategories are the trace categories of DevTools' Performance panel,
// with V8's compilation and WebAssembly events.
var traceCategories = []string{
	"-*", "devtools.timeline", "disabled-by-default-devtools.timeline", "disabled-by-default-devtools.timeline.frame",
	"toplevel", "blink.user_timing", "loading", "latencyInfo", "v8", "v8.execute", "v8.wasm",
	"disabled-by-default-v8.compile", "disabled-by-default-v8.wasm.detailed", "blink", "ServiceWorker",
}

// trace records a Chromium performance trace of the tab while run runs,
// writes it to file as a JSON array of trace events, and returns the
// main thread's CPU times of the start it holds (see traceCPU).
func (b *browser) trace(t testing.TB, file string, run func()) (main, lazy float64) {
	t.Helper()
	lctx, stop := context.WithCancel(b.ctx)
	defer stop()
	var (
		mu     sync.Mutex
		events []jsonv2.Value
		done   = make(chan struct{})
	)
	err := chromedp.Listen(lctx, func(ev any) {
		switch ev := ev.(type) {
		case *tracing.EventDataCollected:
			mu.Lock()
			events = append(events, ev.Value...)
			mu.Unlock()
		case *tracing.EventTracingComplete:
			close(done)
		}
	})
	if err != nil {
		b.fatalf(t, "listen for the trace: %v", err)
	}
	ctx, cancel := b.actx()
	defer cancel()
	if _, err := chromedp.Call(ctx, tracing.Start, tracing.StartParams{
		TransferMode: tracing.StartTransferModeReportEvents,
		TraceConfig:  &tracing.TraceConfig{IncludedCategories: traceCategories},
	}); err != nil {
		b.fatalf(t, "Tracing.start: %v", err)
	}
	run()
	if _, err := chromedp.Call(ctx, tracing.End, cdp.Empty{}); err != nil {
		b.fatalf(t, "Tracing.end: %v", err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		b.fatalf(t, "wait for the trace: %v", ctx.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	buf, err := json.Marshal(events)
	if err != nil {
		t.Fatalf("encode the trace: %v", err)
	}
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		t.Fatalf("write the trace: %v", err)
	}
	t.Logf("%s: %d trace events in %s", b.name, len(events), file)
	main, lazy, err = traceCPU(events)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return main, lazy
}

// traceEvent is the part of a Chromium trace event that traceCPU reads.
type traceEvent struct {
	Name string  `json:"name"`
	Ph   string  `json:"ph"`
	Pid  int     `json:"pid"`
	Tid  int     `json:"tid"`
	Ts   float64 `json:"ts"`   // µs
	Dur  float64 `json:"dur"`  // µs, wall
	Tdur float64 `json:"tdur"` // µs, the thread's CPU
	Args struct {
		Data struct {
			// DocumentLoaderURL is the page's address in the
			// navigationStart of a page; an SVG image's document has
			// one too, with none.
			DocumentLoaderURL string `json:"documentLoaderURL"`
		} `json:"data"`
	} `json:"args"`
}

// traceCPU returns, in ms, the CPU time of the page's main thread from the
// navigation's start to startupWatch's "chat:connected" mark, and the part
// of it in V8's lazy compilation of WebAssembly functions. It adds up the
// thread's outermost slices, so that nested ones count once.
func traceCPU(raw []jsonv2.Value) (main, lazy float64, err error) {
	events := make([]traceEvent, 0, len(raw))
	for _, r := range raw {
		var e traceEvent
		if err := json.Unmarshal(r, &e); err != nil {
			return 0, 0, fmt.Errorf("decode a trace event: %w", err)
		}
		events = append(events, e)
	}
	var mark *traceEvent
	for i := range events {
		if events[i].Name == "chat:connected" {
			mark = &events[i]
		}
	}
	if mark == nil {
		return 0, 0, errors.New("the trace has no chat:connected mark")
	}
	start := -1.0
	for _, e := range events {
		if e.Name == "navigationStart" && e.Args.Data.DocumentLoaderURL != "" && e.Pid == mark.Pid && e.Ts <= mark.Ts && e.Ts > start {
			start = e.Ts
		}
	}
	if start < 0 {
		return 0, 0, errors.New("the trace has no navigationStart before the chat:connected mark")
	}
	var spans []traceEvent
	for _, e := range events {
		if e.Ph == "X" && e.Pid == mark.Pid && e.Tid == mark.Tid && e.Ts >= start && e.Ts <= mark.Ts {
			spans = append(spans, e)
		}
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].Ts != spans[j].Ts {
			return spans[i].Ts < spans[j].Ts
		}
		return spans[i].Dur > spans[j].Dur
	})
	end := -1.0
	for _, e := range spans {
		if e.Ts >= end {
			main += e.Tdur
			end = e.Ts + e.Dur
		}
		if e.Name == "wasm.CompileLazy" {
			lazy += e.Tdur
		}
	}
	return main / 1000, lazy / 1000, nil
}

// median returns the median of xs (the mean of the two middle ones for an
// even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// TestStartup proves how the page starts, in each of startOnce's starts.
// app.wasm is fetched once. The loader compiles it from fetch's own
// response, with its URL, which the browser's code cache is keyed by, and
// as application/wasm, without which instantiateStreaming refuses it: from
// the network on the first visit, from the service worker's cache on the
// later ones. The socket is dialled as the Go program starts, before
// go-app's first render (#connection has no data-state yet) and so before
// go-app removes its loader. It logs the marks of each start; the timings
// are BenchmarkStartup's.
func TestStartup(t *testing.T) {
	_, ts := startServer(t, "e2e")
	s := startOnce(t, ts.URL, "", "")
	for _, c := range []struct {
		name   string
		m      startupMarks
		worker bool
	}{{"cold", s.Cold, false}, {"warm", s.Warm, true}, {"restart", s.Restart, true}} {
		m := c.m
		t.Logf("%s: %v", c.name, m)
		if m.WasmFetches != 1 {
			t.Errorf("%s: app.wasm was requested %d times, want once", c.name, m.WasmFetches)
		}
		if m.WasmType != "application/wasm" {
			t.Errorf("%s: the loader compiled a response of type %q, want application/wasm", c.name, m.WasmType)
		}
		if !strings.HasSuffix(m.WasmURL, "/"+server.WasmFile) {
			t.Errorf("%s: the loader compiled a response with the URL %q, want fetch's own response of /%s", c.name, m.WasmURL, server.WasmFile)
		}
		// A cold page is controlled too by the time it connects: the
		// new worker claims it as it activates.
		if m.WasmWorker != c.worker || c.worker && !m.Controlled {
			t.Errorf("%s: app.wasm through the service worker %v (page controlled %v), want %v", c.name, m.WasmWorker, m.Controlled, c.worker)
		}
		if c.worker != (m.WasmTransfer == 0) {
			t.Errorf("%s: %d bytes of app.wasm over the network", c.name, m.WasmTransfer)
		}
		if !(m.Dial > 0 && m.Dial < m.LoaderGone) {
			t.Errorf("%s: the socket was dialled at %.0f ms, not before go-app's loader went at %.0f ms", c.name, m.Dial, m.LoaderGone)
		}
		if !m.DialFirst {
			t.Errorf("%s: the socket was dialled after the page rendered #connection's data-state, not before go-app's first render", c.name)
		}
		if !(m.Connected > 0) {
			t.Errorf("%s: no connected mark", c.name)
		}
	}
}

// BenchmarkStartup measures navigation to a connected socket, in the three
// starts of startOnce: each iteration opens the page in a new browser with
// a fresh profile (cold), reloads it once the service worker has cached
// the app (warm), and opens it again after a restart of the browser
// (restart). It reports the medians as cold-ms, warm-ms and restart-ms,
// and logs every start's marks; go test -bench Startup -benchtime 7x
// gives the median of seven. The server runs in the test binary: build it
// without -race for figures that mean anything.
func BenchmarkStartup(b *testing.B) {
	_, ts := startServer(b, "e2e")
	var all [3][]startupMarks // cold, warm, restart
	for i := 0; b.Loop(); i++ {
		s := startOnce(b, ts.URL, *traceDir, fmt.Sprintf("%d-", i))
		for j, m := range []startupMarks{s.Cold, s.Warm, s.Restart} {
			b.Logf("%s: %v", startNames[j], m)
			all[j] = append(all[j], m)
		}
	}
	b.ReportMetric(0, "ns/op")
	for j, ms := range all {
		var connected, main []float64
		for _, m := range ms {
			connected = append(connected, m.Connected)
			main = append(main, m.MainCPU)
		}
		b.ReportMetric(median(connected), startNames[j]+"-ms")
		if *traceDir != "" {
			b.ReportMetric(median(main), startNames[j]+"-cpu-ms")
		}
		b.Logf("%s: navigation to connected, median of %d: %.0f ms %.0f; main thread CPU (traced) %.0f ms %.0f",
			startNames[j], len(ms), median(connected), connected, median(main), main)
	}
}

// startNames names the starts of startOnce, in order.
var startNames = [...]string{"cold", "warm", "restart"}
