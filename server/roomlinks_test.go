package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatwasm/chat/app"
	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server"
	"github.com/chatwasm/chat/server/servertest"
)

// appRoutes registers the app's routes, which rendering the page needs,
// once for the tests of this package.
var appRoutes sync.Once

// getPath requests path from ts and returns the response and its body.
func getPath(t *testing.T, ts *httptest.Server, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+path, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read the body: %v", path, err)
	}
	return resp, string(body)
}

// TestRoomPages proves that a room's address, /r/<room>, is the app's page
// with the headers of "/", whether the name is a room name or not: the page,
// not a 404, tells the person about a wrong one.
func TestRoomPages(t *testing.T) {
	t.Parallel()
	appRoutes.Do(app.Routes)
	_, ts := servertest.Start(t, server.Config{Version: "rooms"})
	rootResp, root := getPath(t, ts, "/")
	if rootResp.StatusCode != http.StatusOK || !strings.Contains(root, `id="connection"`) {
		t.Fatalf("GET /: status %d, want 200 and the page with #connection:\n%.300s", rootResp.StatusCode, root)
	}
	for _, path := range []string{
		"/r/design",
		"/r/Design_2-b",
		"/r/not%20valid!",
		"/r/",
		"/r/" + strings.Repeat("x", 65),
		"/r/%C3%A9t%C3%A9",
		"/r/a/b",
		"/r/design?x=1",
	} {
		resp, body := getPath(t, ts, path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", path, resp.StatusCode)
			continue
		}
		if !strings.Contains(body, `id="connection"`) || !strings.Contains(body, `src="/app.js"`) {
			t.Errorf("GET %s: not the app's page:\n%.300s", path, body)
		}
		for _, h := range []string{"Content-Type", "Content-Security-Policy", "X-Content-Type-Options",
			"Referrer-Policy", "Cross-Origin-Opener-Policy", "Cache-Control", "Vary"} {
			if got, want := resp.Header.Get(h), rootResp.Header.Get(h); got != want {
				t.Errorf("GET %s: %s %q, want %q as for /", path, h, got, want)
			}
		}
		if csp := resp.Header.Get("Content-Security-Policy"); csp != server.ContentSecurityPolicy {
			t.Errorf("GET %s: Content-Security-Policy %q, want %q", path, csp, server.ContentSecurityPolicy)
		}
		// The page rendered on the server is the room's already, or the
		// explanation of a name that is none.
		want := `id="room-invalid"`
		if name, _, _ := strings.Cut(strings.TrimPrefix(path, "/r/"), "?"); name == "" {
			want = `#lobby</h2>`
		} else if event.ValidRoom(name) {
			want = `#` + name + `</h2>`
		}
		if !strings.Contains(body, want) {
			t.Errorf("GET %s: the rendered page lacks %s", path, want)
		}
		if resp.Header.Get("ETag") == "" || resp.Header.Get("ETag") == rootResp.Header.Get("ETag") {
			t.Errorf("GET %s: ETag %q, want one of its own (/ has %q)", path, resp.Header.Get("ETag"), rootResp.Header.Get("ETag"))
		}
	}
}

// TestWorkerRoomFallback proves that app-worker.js is go-app's worker with
// the room deep-link handler in front of its own fetch handler, and that its
// bytes are the same from two servers of the same version, as from one
// process restarted: the browser must see no update then.
func TestWorkerRoomFallback(t *testing.T) {
	t.Parallel()
	appRoutes.Do(app.Routes)
	_, ts := servertest.Start(t, server.Config{Version: "sw1"})
	_, again := servertest.Start(t, server.Config{Version: "sw1"})
	_, next := servertest.Start(t, server.Config{Version: "sw2"})

	resp, worker := getPath(t, ts, "/app-worker.js")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /app-worker.js: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/javascript" {
		t.Errorf("GET /app-worker.js: Content-Type %q", ct)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); csp != server.ContentSecurityPolicy {
		t.Errorf("GET /app-worker.js: Content-Security-Policy %q", csp)
	}
	// The fallback: navigations under /r/, answered with the precached "/"
	// of this version's cache, before go-app's handler, which never sees
	// them.
	for _, want := range []string{
		`request.mode !== "navigate"`,
		`url.pathname.startsWith("/r/")`,
		`event.stopImmediatePropagation();`,
		`caches.match("/", { cacheName: cacheName })`,
	} {
		if !strings.Contains(worker, want) {
			t.Errorf("app-worker.js lacks %s", want)
		}
	}
	// go-app's worker, filled in: its cache of this version precaches "/".
	for _, want := range []string{`const cacheName = "app-" + "sw1";`, `"/"`, `"/web/app.wasm"`} {
		if !strings.Contains(worker, want) {
			t.Errorf("app-worker.js lacks go-app's %s", want)
		}
	}
	ours := strings.Index(worker, `url.pathname.startsWith("/r/")`)
	goapps := strings.Index(worker, `event.respondWith(fetchWithCache(event.request))`)
	if ours < 0 || goapps < 0 || ours > goapps {
		t.Errorf("the room handler (at %d) must come before go-app's fetch handler (at %d)", ours, goapps)
	}
	if strings.Contains(worker, "{{") {
		t.Errorf("app-worker.js holds an unfilled template field")
	}

	if _, w := getPath(t, again, "/app-worker.js"); w != worker {
		t.Error("two servers of the same version serve different workers: a restart would look like an update")
	}
	if _, w := getPath(t, ts, "/app-worker.js"); w != worker {
		t.Error("one server serves different workers from one request to the next")
	}
	if _, w := getPath(t, next, "/app-worker.js"); w == worker {
		t.Error("a new version serves the same worker: the browser would not update")
	}
}
