package server

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// Product colours, shared by the manifest and the stylesheet (web/app.css).
const (
	themeColor      = "#4f46e5" // indigo: the brand colour, the browser's title bar
	backgroundColor = "#f5f6fa" // the page background while the app starts
)

// rootFiles are the files go-app v10 serves at the root by fetching
// http://<request Host>/web/<file> when its Resources is an http.Handler
// (Handler.serveProxyResource), and caches for everyone: with a foreign Host
// that is a request to any server the attacker names and a stored XSS on
// this origin. The server answers them itself, from web/ or 404, before
// go-app sees the request, and gives go-app a Resources that is not an
// http.Handler, so that code can never use the Host.
var rootFiles = map[string]bool{"/robots.txt": true, "/sitemap.xml": true, "/ads.txt": true}

// pageHandler returns the handler of every path but the WebSocket: the web/
// files and the client binary, precompressed; the root files; and go-app's
// page, service worker and manifest, configured as an installable PWA whose
// every resource is local.
func (s *Server) pageHandler() (http.Handler, error) {
	files, err := newAssets(s.cfg.Assets)
	if err != nil {
		return nil, err
	}
	size, err := wasmSize(s.cfg.Assets)
	if err != nil {
		return nil, err
	}
	s.version = s.cfg.Version
	if s.version == "" {
		s.version = files.version()
	}
	app := &goapp.Handler{
		Name:            "Chat",
		ShortName:       "Chat",
		Title:           "Chat",
		Description:     "Real-time chat: pick a name and talk with everyone in the room.",
		Lang:            "en",
		BackgroundColor: backgroundColor,
		ThemeColor:      themeColor,
		// No {progress}: the loader streams app.wasm to the compiler
		// without counting its bytes (loader.js).
		LoadingLabel: "Loading…",
		Icon: goapp.Icon{
			Default:  "/web/icon-192.png",
			Large:    "/web/icon-512.png",
			Maskable: "/web/icon-maskable-512.png",
			SVG:      "/web/icon.svg",
		},
		Styles: []string{"/web/app.css"},
		RawHeaders: []string{
			`<meta name="color-scheme" content="light dark">`,
			// No preload of app.wasm: fetched at high priority, its
			// 1.6 MB hold back the page's first paint on a slow
			// network (Lighthouse mobile: largest contentful paint
			// 1.6 s without, 10 to 12 s with).

			// go-app's two scripts are deferred, which the browser
			// fetches at low priority, after the stylesheets and
			// beside the icons; the loader, and so the compilation,
			// waits for them. Preloaded, they are fetched at once, at
			// high priority.
			`<link rel="preload" href="/wasm_exec.js" as="script">`,
			`<link rel="preload" href="/app.js" as="script">`,
		},
		Resources:         resolver{files},
		Version:           s.version,
		WasmContentLength: strconv.FormatInt(size, 10),

		// A navigation to a room's address opens the app shell offline.
		ServiceWorkerTemplate: serviceWorkerTemplate,
	}
	js, err := appJS(app)
	if err != nil {
		return nil, err
	}
	return &pages{files: files, app: app, version: s.version, appJS: js}, nil
}

// loaderJS replaces go-app's fetch of app.wasm in app.js with one that the
// browser streams to the compiler and may cache compiled (loader.js says
// why).
//
//go:embed loader.js
var loaderJS string

// appJS returns go-app's app.js, as app serves it, with loaderJS after it.
func appJS(app http.Handler) ([]byte, error) {
	w := &bufferWriter{header: make(http.Header)}
	app.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/app.js", nil))
	if w.status != 0 && w.status != http.StatusOK {
		return nil, fmt.Errorf("go-app's app.js: status %d", w.status)
	}
	if !strings.Contains(w.body.String(), "function fetchWithProgress(") {
		return nil, errors.New("go-app's app.js has no fetchWithProgress for loader.js to replace")
	}
	return append(w.body.Bytes(), loaderJS...), nil
}

// bufferWriter is an http.ResponseWriter that keeps the response.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *bufferWriter) Header() http.Header { return w.header }

func (w *bufferWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *bufferWriter) Write(b []byte) (int, error) { return w.body.Write(b) }

// resolver hands go-app the asset paths without being an http.Handler:
// go-app then never serves a file itself, and never proxies one through the
// request's Host.
type resolver struct{ files *assets }

// Resolve implements goapp.ResourceResolver.
func (r resolver) Resolve(location string) string { return r.files.Resolve(location) }

// pages routes what is not the WebSocket.
type pages struct {
	files   *assets
	app     http.Handler
	version string
	appJS   []byte // go-app's app.js with loader.js
}

// ServeHTTP serves a web/ file, the client binary or a root file from the
// assets, and everything else through go-app, with an ETag of its own: its
// page, the rooms' /r/<room> included (whatever the name: the page says
// when it is not one), and its scripts, worker and manifest.
func (p *pages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// go-app serves its files under /<version>/ as well.
	name := r.URL.Path
	if rest, ok := strings.CutPrefix(name, "/"+p.version+"/"); ok {
		name = "/" + rest
	}
	switch {
	case strings.HasPrefix(name, "/web/"):
		p.files.serve(w, r, name)
	case name == "/app.wasm" || name == "/goapp.wasm":
		p.files.serve(w, r, "/"+WasmFile)
	case rootFiles[name]:
		p.files.serve(w, r, "/web"+name)
	case name == "/app.js" || name == "/goapp.js":
		p.serveApp(w, r, p.appJS)
	default:
		p.serveApp(w, r, nil)
	}
}

// serveApp serves go-app's page, scripts, worker or manifest. go-app gives
// every response the same ETag, the version, and answers a matching
// If-None-Match with 304 whatever the path. Instead each response is tagged
// with a hash of the version and its URL, which is all go-app's responses
// depend on, and the server answers conditional requests itself, so that a
// 304 is only ever given for the resource it belongs to. The tag is weak:
// go-app renders the same page with its attributes in any order.
//
// own, when not nil, is the response's body in place of go-app's, the
// server's own app.js, and goes into its tag.
func (p *pages) serveApp(w http.ResponseWriter, r *http.Request, own []byte) {
	sum := sha256.Sum256(append([]byte(p.version+"\x00"+r.URL.Path+"?"+r.URL.RawQuery+"\x00"), own...))
	etag := `W/"` + hex.EncodeToString(sum[:12]) + `"`
	h := w.Header()
	// No variant by encoding here, but caches must not mix these
	// responses with a compressed one from elsewhere on the origin.
	h.Set("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, etag) {
		h.Set("ETag", etag)
		h.Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if own != nil {
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Type", "application/javascript")
		h.Set("Content-Length", strconv.Itoa(len(p.appJS)))
		h.Set("ETag", etag)
		if r.Method != http.MethodHead {
			_, _ = w.Write(own)
		}
		return
	}
	r2 := r.Clone(r.Context())
	r2.Header.Del("If-None-Match")
	r2.Header.Del("If-Modified-Since")
	p.app.ServeHTTP(&tagger{ResponseWriter: w, etag: etag}, r2)
}

// etagMatches reports whether an If-None-Match value lists etag (weak
// comparison, as RFC 9110 asks for If-None-Match) or is "*".
func etagMatches(header, etag string) bool {
	etag = strings.TrimPrefix(etag, "W/")
	for item := range strings.SplitSeq(header, ",") {
		item = strings.TrimPrefix(strings.TrimSpace(item), "W/")
		if item == "*" || item == etag {
			return true
		}
	}
	return false
}

// tagger replaces go-app's ETag with the resource's own as the response's
// header goes out, and drops it from anything but a 200.
type tagger struct {
	http.ResponseWriter
	etag  string
	wrote bool
}

func (t *tagger) WriteHeader(status int) {
	if !t.wrote {
		t.wrote = true
		if status == http.StatusOK {
			t.Header().Set("ETag", t.etag)
		} else {
			t.Header().Del("ETag")
		}
	}
	t.ResponseWriter.WriteHeader(status)
}

func (t *tagger) Write(b []byte) (int, error) {
	if !t.wrote {
		t.WriteHeader(http.StatusOK)
	}
	return t.ResponseWriter.Write(b)
}
