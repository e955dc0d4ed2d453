package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/chatwasm/chat/app"
)

// Distinct fake bytes for the client binary and its variants, so that a
// response shows which file was served.
const (
	rawWasm    = "\x00asm: the raw client binary"
	brotliWasm = "brotli variant"
	gzipWasm   = "gzip variant, a bit longer"
)

// goModMarker is the content of a file outside web/ that no request may get.
const goModMarker = "module example.com/secret-outside-web"

// assetFiles returns a web directory with fake client bytes, the stylesheet
// and the icons, beside a go.mod that lies outside web/.
func assetFiles() fstest.MapFS {
	file := func(s string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(s), Mode: 0o644, ModTime: time.Unix(1764150000, 0)}
	}
	return fstest.MapFS{
		"go.mod":                    file(goModMarker + "\n"),
		"web/app.wasm":              file(rawWasm),
		"web/app.wasm.br":           file(brotliWasm),
		"web/app.wasm.gz":           file(gzipWasm),
		"web/app.css":               file("body { margin: 0 }\n"),
		"web/icon.svg":              file(`<svg xmlns="http://www.w3.org/2000/svg"/>`),
		"web/icon-192.png":          file("\x89PNG\r\n\x1a\n 192"),
		"web/icon-512.png":          file("\x89PNG\r\n\x1a\n 512"),
		"web/icon-maskable-512.png": file("\x89PNG\r\n\x1a\n maskable"),
	}
}

// routesOnce registers the app's routes, which the page rendering needs, once
// for the test binary.
var routesOnce sync.Once

// serveAssets serves a new Server over fsys on a random 127.0.0.1 port. Its
// client neither asks for nor decodes compression by itself, so that each
// test controls Accept-Encoding.
func serveAssets(t *testing.T, fsys fs.FS) (*httptest.Server, *http.Client) {
	t.Helper()
	routesOnce.Do(app.Routes)
	srv, err := New(Config{Assets: fsys, DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	client := ts.Client()
	client.Transport.(*http.Transport).DisableCompression = true
	client.Timeout = 10 * time.Second
	return ts, client
}

// get requests path with the given headers (name, value pairs) and returns
// the response with its whole body.
func get(t *testing.T, client *http.Client, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp, body
}

// TestWasmEncoding proves that app.wasm, under /web/ and under go-app's
// /app.wasm alias, is served precompressed as the client's Accept-Encoding
// allows (brotli first, then gzip, else raw), always as application/wasm,
// with Vary: Accept-Encoding and the length of the bytes actually sent.
func TestWasmEncoding(t *testing.T) {
	t.Parallel()
	ts, client := serveAssets(t, assetFiles())
	tests := []struct {
		accept   string
		encoding string // the Content-Encoding wanted, "" for none
		body     string
	}{
		{"br", "br", brotliWasm},
		{"gzip", "gzip", gzipWasm},
		{"gzip, deflate, br, zstd", "br", brotliWasm},
		{"BR", "br", brotliWasm},
		{"br;q=0, gzip", "gzip", gzipWasm},
		{"br;q=0, gzip;q=0", "", rawWasm},
		{"gzip;q=0.5, br;q=0.1", "br", brotliWasm},
		{"", "", rawWasm},
		{"identity", "", rawWasm},
		{"deflate, zstd", "", rawWasm},
	}
	for _, path := range []string{"/web/app.wasm", "/app.wasm"} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s %q", path, tt.accept), func(t *testing.T) {
				t.Parallel()
				resp, body := get(t, client, ts.URL+path, "Accept-Encoding", tt.accept)
				h := resp.Header
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d, want 200", resp.StatusCode)
				}
				if string(body) != tt.body {
					t.Fatalf("body %q, want %q", body, tt.body)
				}
				if got := h.Get("Content-Encoding"); got != tt.encoding {
					t.Errorf("Content-Encoding %q, want %q", got, tt.encoding)
				}
				if got := h.Get("Content-Type"); got != "application/wasm" {
					t.Errorf("Content-Type %q, want application/wasm", got)
				}
				if got, want := h.Get("Content-Length"), strconv.Itoa(len(tt.body)); got != want {
					t.Errorf("Content-Length %q, want %s", got, want)
				}
				if !slices.ContainsFunc(h.Values("Vary"), func(v string) bool {
					return strings.Contains(strings.ToLower(v), "accept-encoding")
				}) {
					t.Errorf("Vary %q does not name Accept-Encoding", h.Values("Vary"))
				}
			})
		}
	}
}

// TestAcceptsEncoding proves the Accept-Encoding parsing: a coding is
// accepted when listed (in any case, among others, with parameters) unless
// its quality is zero or unreadable.
func TestAcceptsEncoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header, coding string
		want           bool
	}{
		{"", "br", false},
		{"br", "br", true},
		{"gzip", "br", false},
		{"gzip, br", "br", true},
		{"gzip,br", "br", true},
		{"gzip, deflate, br, zstd", "gzip", true},
		{"BR", "br", true},
		{"Gzip", "gzip", true},
		{"  br  ", "br", true},
		{"br;q=1", "br", true},
		{"br;q=1.0", "br", true},
		{"br; q=0.5", "br", true},
		{"br ; q=0.001", "br", true},
		{"br;q=0", "br", false},
		{"br;Q=0", "br", false},
		{"br;q=0.0", "br", false},
		{"br;q=0.000", "br", false},
		{"br;q=0, gzip", "br", false},
		{"br;q=0, gzip", "gzip", true},
		{"br;q=nope", "br", false},
		{"br;level=11", "br", true},
		{"brotli", "br", false},
		{"x-gzip", "gzip", false},
		{"gzip2", "gzip", false},
		{"*", "br", false}, // a wildcard is not taken as a promise: raw is always safe
		{"identity", "gzip", false},
	}
	for _, tt := range tests {
		if got := acceptsEncoding(tt.header, tt.coding); got != tt.want {
			t.Errorf("acceptsEncoding(%q, %q) = %v, want %v", tt.header, tt.coding, got, tt.want)
		}
	}
}

// TestManifest proves that the web app manifest lists only local icons (no
// "://" anywhere in it), among them a 192 and a 512 pixel icon and a
// maskable one, each of which is served.
func TestManifest(t *testing.T) {
	t.Parallel()
	files := assetFiles()
	ts, client := serveAssets(t, files)
	resp, body := get(t, client, ts.URL+"/manifest.webmanifest")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	if bytes.Contains(body, []byte("://")) {
		t.Fatalf("manifest refers to another site: %s", body)
	}
	var manifest struct {
		StartURL string `json:"start_url"`
		Icons    []struct {
			Src, Type, Sizes, Purpose string
		} `json:"icons"`
	}
	if err := json.Unmarshal(body, &manifest); err != nil {
		t.Fatalf("manifest is not JSON: %v\n%s", err, body)
	}
	sizes := map[string]bool{}
	maskable := false
	for _, icon := range manifest.Icons {
		sizes[icon.Sizes] = true
		if icon.Purpose == "maskable" {
			maskable = true
		}
		if !strings.HasPrefix(icon.Src, "/web/") || strings.HasPrefix(icon.Src, "/web/web/") {
			t.Errorf("icon %q is not a file of /web/", icon.Src)
			continue
		}
		resp, got := get(t, client, ts.URL+icon.Src)
		want := files[strings.TrimPrefix(icon.Src, "/")]
		if resp.StatusCode != http.StatusOK || want == nil || !bytes.Equal(got, want.Data) {
			t.Errorf("GET %s: status %d, body %q; want the icon file", icon.Src, resp.StatusCode, got)
		}
		if ct := resp.Header.Get("Content-Type"); ct != icon.Type {
			t.Errorf("GET %s: Content-Type %q, want %q as the manifest says", icon.Src, ct, icon.Type)
		}
	}
	if !sizes["192x192"] || !sizes["512x512"] || !maskable {
		t.Errorf("icons %+v: want 192x192, 512x512 and a maskable one", manifest.Icons)
	}
}

// TestPage proves that the page is served as HTML, rendered on the server
// with the DOM contract's elements, and with #connection carrying no
// data-state: only the running WASM sets it.
func TestPage(t *testing.T) {
	t.Parallel()
	ts, client := serveAssets(t, assetFiles())
	resp, body := get(t, client, ts.URL+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("Content-Type %q, want text/html", ct)
	}
	page := string(body)
	for _, want := range []string{`id="message-container"`, `id="name-form"`, `id="name-input"`, `id="connection"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// The start tag of #connection.
	i := strings.Index(page, `id="connection"`)
	if i < 0 {
		t.FailNow()
	}
	start := strings.LastIndex(page[:i], "<")
	end := i + strings.Index(page[i:], ">")
	if start < 0 || end < i {
		t.Fatalf("cannot find the tag around %s", page[max(0, i-40):min(len(page), i+40)])
	}
	if tag := page[start : end+1]; strings.Contains(tag, "data-state") {
		t.Errorf("#connection is %s, want no data-state before the WASM runs", tag)
	}
}

// TestAssetNotFound proves that a request for a file that web/ lacks, or for
// a directory, is answered 404.
func TestAssetNotFound(t *testing.T) {
	t.Parallel()
	ts, client := serveAssets(t, assetFiles())
	for _, path := range []string{"/web/missing.css", "/web/sub/missing.png", "/web/", "/web/app.wasm.zst"} {
		resp, body := get(t, client, ts.URL+path)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404 (body %.80q)", path, resp.StatusCode, body)
		}
	}
}

// rawGet sends a GET for target exactly as written, which a client library
// might normalize, and returns the response and its body.
func rawGet(t *testing.T, addr, target string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, addr); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", target, err)
	}
	return resp, body
}

// TestPathTraversal proves that no path under /web/ reaches a file outside
// web/, whether it is sent over the wire (following any redirect the server
// answers with) or handed to the assets handler directly, past the router's
// own cleaning. The assets are a real directory on disk.
func TestPathTraversal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := assetFiles()
	for _, name := range slices.Sorted(maps.Keys(files)) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, files[name].Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fsys := os.DirFS(dir)
	if b, err := fs.ReadFile(fsys, "go.mod"); err != nil || !bytes.Contains(b, []byte(goModMarker)) {
		t.Fatalf("the assets should hold go.mod outside web/: %v", err)
	}
	ts, _ := serveAssets(t, fsys)
	addr := ts.Listener.Addr().String()

	targets := []string{
		"/web/../go.mod",
		"/web/./../go.mod",
		"/web//../go.mod",
		"/web/%2e%2e/go.mod",
		"/web/%2E%2E/go.mod",
		"/web/..%2fgo.mod",
		"/web/%2e%2e%2fgo.mod",
		"/web/..%5cgo.mod",
		`/web/..\go.mod`,
		"/web/app.css/../../go.mod",
		"/app.wasm/../go.mod",
	}
	for _, target := range targets {
		resp, body := rawGet(t, addr, target)
		for hops := 0; resp.StatusCode >= 300 && resp.StatusCode < 400 && hops < 5; hops++ {
			loc, err := resp.Location()
			if err != nil {
				t.Fatalf("GET %s: redirect without Location: %v", target, err)
			}
			resp, body = rawGet(t, addr, loc.RequestURI())
		}
		if bytes.Contains(body, []byte(goModMarker)) {
			t.Errorf("GET %s served go.mod (status %d)", target, resp.StatusCode)
		}
	}

	// The assets handler alone, as if the router passed the path as it is.
	h, err := newAssets(fsys)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/web/../go.mod", "/web/../../go.mod", "/web/./../go.mod", "web/../go.mod", "/web/..", "/web/app.css/../../go.mod"} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		w := httptest.NewRecorder()
		h.serve(w, r, path)
		if w.Code != http.StatusNotFound || bytes.Contains(w.Body.Bytes(), []byte(goModMarker)) {
			t.Errorf("assets.ServeHTTP(%q): status %d, body %.80q; want 404", path, w.Code, w.Body.Bytes())
		}
	}
}

// TestResolve proves that go-app resource locations under web/ map to
// /web/… exactly once, whether given with a leading slash or not, and that
// other locations are left alone.
func TestResolve(t *testing.T) {
	t.Parallel()
	tests := []struct{ location, want string }{
		{"/web/app.wasm", "/web/app.wasm"},
		{"web/app.wasm", "/web/app.wasm"},
		{"/web/icon-192.png", "/web/icon-192.png"},
		{"web/icon-maskable-512.png", "/web/icon-maskable-512.png"},
		{"/web/", "/web"},
		{"web", "/web"},
		{"", "/"},
		{"/", "/"},
		{"/app.js", "/app.js"},
		{"/manifest.webmanifest", "/manifest.webmanifest"},
		{"/webfonts/x.woff2", "/webfonts/x.woff2"},
		{"https://cdn.example.com/web/app.css", "https://cdn.example.com/web/app.css"},
	}
	a := &assets{fs: assetFiles()}
	for _, tt := range tests {
		got := a.Resolve(tt.location)
		if got != tt.want {
			t.Errorf("Resolve(%q) = %q, want %q", tt.location, got, tt.want)
		}
		if strings.Contains(got, "/web/web/") {
			t.Errorf("Resolve(%q) = %q doubles web/", tt.location, got)
		}
	}
}

// TestVersion proves that the version derived from the assets is stable for
// the same files (a restart is not a release), changes when app.wasm or
// another client file changes, and yields to Config.Version.
func TestVersion(t *testing.T) {
	t.Parallel()
	version := func(fsys fs.FS, configured string) string {
		t.Helper()
		srv, err := New(Config{Assets: fsys, Version: configured, DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return srv.Version()
	}
	files := assetFiles()
	v1, v2 := version(files, ""), version(assetFiles(), "")
	if v1 == "" || v1 != v2 {
		t.Fatalf("versions of the same assets: %q and %q, want equal and non-empty", v1, v2)
	}

	changedWasm := assetFiles()
	changedWasm["web/app.wasm"] = &fstest.MapFile{Data: []byte(rawWasm + " v2")}
	changedCSS := assetFiles()
	changedCSS["web/app.css"] = &fstest.MapFile{Data: []byte("body { margin: 1px }\n")}
	for name, fsys := range map[string]fs.FS{"app.wasm": changedWasm, "app.css": changedCSS} {
		if v := version(fsys, ""); v == v1 {
			t.Errorf("changing %s kept version %q", name, v)
		}
	}
	if v := version(files, "release-7"); v != "release-7" {
		t.Errorf("Config.Version release-7 gave version %q", v)
	}
}
