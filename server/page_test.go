package server

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestAppJS proves that app.js, under each of its names, is go-app's with
// loader.js after it, so that the fetchWithProgress go-app's loader calls
// is loader.js's, which hands WebAssembly.instantiateStreaming fetch's own
// response (the browser test TestStartup shows its URL and type there).
func TestAppJS(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, assetFiles(), Config{Version: "v9"})
	for _, path := range []string{"/app.js", "/goapp.js", "/v9/app.js"} {
		rec := serve(srv, http.MethodGet, path)
		body := rec.Body.String()
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d", path, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/javascript" {
			t.Errorf("GET %s: Content-Type %q, want application/javascript", path, ct)
		}
		if n, err := strconv.Atoi(rec.Header().Get("Content-Length")); err != nil || n != len(body) {
			t.Errorf("GET %s: Content-Length %q for %d bytes", path, rec.Header().Get("Content-Length"), len(body))
		}
		if !strings.Contains(body, "async function goappInitWebAssembly()") {
			t.Errorf("GET %s: not go-app's app.js", path)
		}
		if !strings.HasSuffix(body, loaderJS) {
			t.Errorf("GET %s: does not end with loader.js", path)
		}
		// The last declaration of a name is the one a classic script
		// calls: it must be loader.js's.
		if last := strings.LastIndex(body, "function fetchWithProgress("); last < len(body)-len(loaderJS) {
			t.Errorf("GET %s: the last fetchWithProgress is go-app's, at %d of %d bytes", path, last, len(body))
		}
		if strings.Contains(body, "{{") {
			t.Errorf("GET %s: a template field is left", path)
		}
	}
	if head := serve(srv, http.MethodHead, "/app.js"); head.Code != http.StatusOK || head.Body.Len() != 0 {
		t.Errorf("HEAD /app.js: status %d with %d bytes of body", head.Code, head.Body.Len())
	}
}

// TestPreloads proves that the page preloads go-app's two scripts as the
// script tags load them, and nothing else; and that the loading label has
// no percentage, which the loader no longer counts.
func TestPreloads(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, assetFiles(), Config{})
	page := serve(srv, http.MethodGet, "/").Body.String()
	head, _, _ := strings.Cut(page, "</head>")
	links := regexp.MustCompile(`<link [^>]*rel="preload"[^>]*>`).FindAllString(head, -1)
	preloads := map[string]string{} // href → link
	for _, link := range links {
		href := regexp.MustCompile(`href="([^"]*)"`).FindStringSubmatch(link)
		if href == nil {
			t.Fatalf("preload link %s has no href", link)
		}
		preloads[href[1]] = link
	}
	// go-app's scripts, which take no crossorigin attribute; not
	// app.wasm, whose preload holds back the first paint.
	want := map[string][]string{
		"/wasm_exec.js": {`as="script"`},
		"/app.js":       {`as="script"`},
	}
	if len(preloads) != len(want) {
		t.Errorf("the head preloads %q, want %d files", links, len(want))
	}
	for href, attrs := range want {
		link, ok := preloads[href]
		if !ok {
			t.Errorf("the head does not preload %s", href)
			continue
		}
		for _, attr := range attrs {
			if !strings.Contains(link, attr) {
				t.Errorf("the preload link %s lacks %s", link, attr)
			}
		}
		if strings.Contains(link, "crossorigin") {
			t.Errorf("the preload link %s has crossorigin, which the script tag has not", link)
		}
		if !strings.Contains(head, `src="`+href+`"`) {
			t.Errorf("the page has no script %s for its preload", href)
		}
	}
	if !strings.Contains(page, "Loading…") || strings.Contains(page, "Loading 0%") {
		t.Errorf("the page's loading label is not \"Loading…\"")
	}
}

// serve answers one request for path on srv, as from the page's own host.
func serve(srv *Server, method, path string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	req.Host = "127.0.0.1"
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec
}
