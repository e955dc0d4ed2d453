package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwasm/chat/app"
)

// discard is a logger that drops everything.
var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// newTestServer returns a Server over fsys (assetFiles when nil) with cfg's
// other fields.
func newTestServer(t *testing.T, fsys fstest.MapFS, cfg Config) *Server {
	t.Helper()
	routesOnce.Do(app.Routes)
	if fsys == nil {
		fsys = assetFiles()
	}
	cfg.Assets, cfg.DataDir, cfg.Logger = fsys, t.TempDir(), discard
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// request sends method target with the Host header host (the address's own
// when empty) and returns the status and body.
func request(t *testing.T, addr, method, target, host string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s (Host %s): %v", method, target, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestRootFilesNeverFetched proves that /robots.txt, /sitemap.xml and
// /ads.txt, plain or under the version prefix, with any method, never make
// the server fetch anything: a listener plays the foreign host named in the
// Host header and must see no request. The server answers from web/ when the
// file is there, else 404, and a later plain request is not affected.
func TestRootFilesNeverFetched(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<script>alert('stored XSS')</script>")
	}))
	t.Cleanup(foreign.Close)
	foreignHost := foreign.Listener.Addr().String()

	withRobots := assetFiles()
	withRobots["web/robots.txt"] = &fstest.MapFile{Data: []byte("User-agent: *\nDisallow:\n")}
	for _, tc := range []struct {
		name  string
		files fstest.MapFS
	}{{"no local files", assetFiles()}, {"local robots.txt", withRobots}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newTestServer(t, tc.files, Config{Version: "v42"})
			ts := httptest.NewServer(srv)
			t.Cleanup(ts.Close)
			addr := ts.Listener.Addr().String()
			for _, file := range []string{"/robots.txt", "/sitemap.xml", "/ads.txt"} {
				for _, prefix := range []string{"", "/v42"} {
					for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodHead} {
						for _, host := range []string{foreignHost, ""} {
							resp, body := request(t, addr, method, prefix+file, host)
							local, isLocal := tc.files["web"+file]
							switch {
							case isLocal && resp.StatusCode == http.StatusOK:
								if method != http.MethodHead && body != string(local.Data) {
									t.Errorf("%s %s%s (Host %q): body %q, want the local file", method, prefix, file, host, body)
								}
							case !isLocal && resp.StatusCode == http.StatusNotFound:
							default:
								t.Errorf("%s %s%s (Host %q): status %d, want 404 or the local file", method, prefix, file, host, resp.StatusCode)
							}
							if strings.Contains(body, "alert(") {
								t.Errorf("%s %s%s (Host %q) served the foreign host's body", method, prefix, file, host)
							}
						}
					}
				}
			}
			if n := hits.Load(); n != 0 {
				t.Errorf("the foreign host got %d requests, want none", n)
			}
		})
	}
}

// TestHosts proves the host allow-list: IP literals and localhost are
// always served, configured names (and patterns) too, and any other name
// gets 403 naming the flag, for the page and the WebSocket alike, which
// stops a DNS-rebinding page whose Origin matches its Host.
func TestHosts(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, nil, Config{Hosts: []string{"chat.example.com", "*.example.org"}})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	addr := ts.Listener.Addr().String()
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1:3000", true},
		{"10.1.2.3", true},
		{"[::1]:3000", true},
		{"localhost:3000", true},
		{"LocalHost", true},
		{"app.localhost:8080", true},
		{"chat.example.com", true},
		{"Chat.Example.COM.:443", true},
		{"eu.example.org", true},
		{"evil.example:1234", false},
		{"example.com", false},
		{"chat.example.com.evil.example", false},
		{"example.org", false},
		{"localhost.evil.example", false},
	}
	for _, tt := range tests {
		resp, body := request(t, addr, http.MethodGet, "/", tt.host)
		if got := resp.StatusCode != http.StatusForbidden; got != tt.want {
			t.Errorf("GET / with Host %q: status %d, want allowed=%v", tt.host, resp.StatusCode, tt.want)
		}
		if !tt.want && !strings.Contains(body, "-hosts") {
			t.Errorf("GET / with Host %q: body %q does not name -hosts", tt.host, body)
		}
		if !tt.want && strings.Contains(body, normalizeHost(tt.host)) {
			t.Errorf("GET / with Host %q: body echoes the host", tt.host)
		}
		// The WebSocket, as a rebinding page opens it: Origin and Host agree.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		h := http.Header{"Origin": {"http://" + tt.host}}
		ws, wresp, err := websocket.Dial(ctx, "ws://"+addr+SocketPath, &websocket.DialOptions{Host: tt.host, HTTPHeader: h})
		cancel()
		switch {
		case tt.want && err != nil:
			t.Errorf("WebSocket with Host %q: %v, want an upgrade", tt.host, err)
		case !tt.want && err == nil:
			t.Errorf("WebSocket with Host %q and the same Origin was upgraded", tt.host)
		case !tt.want && (wresp == nil || wresp.StatusCode != http.StatusForbidden):
			t.Errorf("WebSocket with Host %q: %v, want 403", tt.host, err)
		}
		if ws != nil {
			ws.CloseNow()
		}
	}
}

// TestSecurityHeaders proves that every page and asset response, found or
// not, carries the Content-Security-Policy, nosniff and Referrer-Policy.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, nil, Config{})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	addr := ts.Listener.Addr().String()
	for _, path := range []string{"/", "/app.js", "/wasm_exec.js", "/app-worker.js", "/manifest.webmanifest",
		"/app.css", "/web/app.css", "/web/app.wasm", "/web/icon-192.png", "/web/missing.js", "/robots.txt", "/no/such/page", SocketPath} {
		resp, _ := request(t, addr, http.MethodGet, path, "")
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, directive := range []string{"script-src 'self' 'wasm-unsafe-eval'", "connect-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, directive) {
				t.Errorf("GET %s (%d): Content-Security-Policy %q lacks %q", path, resp.StatusCode, csp, directive)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: Content-Security-Policy allows unsafe-inline: %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
			t.Errorf("GET %s: X-Content-Type-Options %q, Referrer-Policy %q", path, h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
		}
	}
}

// TestETags proves that each resource and each encoding has its own ETag,
// that a 304 is only given for the resource (and encoding) the ETag belongs
// to, and that it carries Vary.
func TestETags(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, nil, Config{Version: "v7"})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	addr := ts.Listener.Addr().String()
	type variant struct{ path, encoding string }
	variants := []variant{
		{"/", ""}, {"/app.js", ""}, {"/app-worker.js", ""}, {"/manifest.webmanifest", ""}, {"/wasm_exec.js", ""},
		{"/web/app.css", ""}, {"/web/icon-192.png", ""},
		{"/web/app.wasm", "br"}, {"/web/app.wasm", "gzip"}, {"/web/app.wasm", ""},
	}
	etags := make(map[variant]string)
	seen := make(map[string]variant)
	for _, v := range variants {
		resp, _ := request(t, addr, http.MethodGet, v.path, "", "Accept-Encoding", v.encoding)
		etag := resp.Header.Get("ETag")
		if resp.StatusCode != http.StatusOK || etag == "" {
			t.Fatalf("GET %s (%s): status %d, ETag %q", v.path, v.encoding, resp.StatusCode, etag)
		}
		if other, dup := seen[etag]; dup {
			t.Errorf("GET %s (%s) and %s (%s) share the ETag %s", v.path, v.encoding, other.path, other.encoding, etag)
		}
		seen[etag], etags[v] = v, etag
	}
	for _, v := range variants {
		for _, w := range variants {
			resp, _ := request(t, addr, http.MethodGet, v.path, "", "Accept-Encoding", v.encoding, "If-None-Match", etags[w])
			want := http.StatusOK
			if v == w {
				want = http.StatusNotModified
			}
			if resp.StatusCode != want {
				t.Errorf("GET %s (%s) with the ETag of %s (%s): status %d, want %d", v.path, v.encoding, w.path, w.encoding, resp.StatusCode, want)
			}
			if resp.StatusCode == http.StatusNotModified && !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("GET %s (%s): 304 without Vary: Accept-Encoding", v.path, v.encoding)
			}
		}
	}
	// go-app's own ETag, the version, no longer gives a 304 anywhere.
	for _, path := range []string{"/", "/app.js", "/web/app.css"} {
		if resp, _ := request(t, addr, http.MethodGet, path, "", "If-None-Match", `"v7"`); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s with If-None-Match \"v7\": status %d, want 200", path, resp.StatusCode)
		}
	}
}

// runServer serves srv with Run on a random 127.0.0.1 port, as the binary
// does, and returns its address; the server stops when the test ends.
func runServer(t *testing.T, srv *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ln.Addr().String()
}

// TestConnectionTimeouts proves that the HTTP server makes connections cost
// their holder: an idle keep-alive connection is closed after IdleTimeout, a
// client that reads nothing of app.wasm is cut off after WriteTimeout
// instead of holding the server's buffers, and a header over 16 KiB is
// refused.
func TestConnectionTimeouts(t *testing.T) {
	t.Parallel()
	files := assetFiles()
	// Far more than the socket buffers of both sides hold.
	big := strings.Repeat("wasm", 16<<20/4)
	files["web/app.wasm"] = &fstest.MapFile{Data: []byte(big)}
	delete(files, "web/app.wasm.br")
	delete(files, "web/app.wasm.gz")
	srv := newTestServer(t, files, Config{IdleTimeout: 300 * time.Millisecond, WriteTimeout: 700 * time.Millisecond})
	addr := runServer(t, srv)

	t.Run("idle keep-alive", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /web/app.css HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := br.ReadByte(); err == nil {
			t.Fatal("the server sent bytes on an idle connection")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the idle connection was still open after %v", time.Since(start))
		}
		t.Logf("idle keep-alive closed after %v (IdleTimeout 300ms)", time.Since(start).Round(time.Millisecond))
	})

	t.Run("reader of nothing", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /web/app.wasm HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		time.Sleep(1500 * time.Millisecond) // read nothing, past the write timeout
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := io.Copy(io.Discard, c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("still sending after %d bytes: the connection was not cut off", n)
		}
		if n >= int64(len(big)) {
			t.Fatalf("got all %d bytes: the slow reader was not cut off", n)
		}
		t.Logf("a client reading nothing got %d of %d bytes, then the connection ended (WriteTimeout 700ms)", n, len(big))
	})

	t.Run("huge header", func(t *testing.T) {
		resp, _ := request(t, addr, http.MethodGet, "/", "", "X-Filler", strings.Repeat("x", 64<<10))
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("a 64 KiB header: status %d, want 431", resp.StatusCode)
		}
	})
}
