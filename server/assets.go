package server

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
)

// WasmFile is the client binary's path in the assets, as go-app expects it.
const WasmFile = "web/app.wasm"

// encodings are the precompressed variants looked for beside each asset,
// best first: "app.wasm.br" is about 18% of app.wasm, "app.wasm.gz" 25%.
var encodings = []struct{ name, suffix string }{
	{"br", ".br"},
	{"gzip", ".gz"},
}

// assets serves the web directory: each file precompressed when the client
// accepts an encoding that has a variant, with an ETag of its own bytes, so
// that each resource and each encoding has its own and a 304 is only given
// for the bytes the client holds.
type assets struct {
	fs    fs.FS             // holds the directory "web"
	etags map[string]string // file name in fs → its ETag
}

// newAssets hashes every file under web/ in fsys, once: the ETags, and the
// version when none is configured.
func newAssets(fsys fs.FS) (*assets, error) {
	a := &assets{fs: fsys, etags: make(map[string]string)}
	err := fs.WalkDir(fsys, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := fsys.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		a.etags[p] = `"` + hex.EncodeToString(h.Sum(nil)[:12]) + `"`
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hash web assets: %w", err)
	}
	return a, nil
}

// version returns a version derived from the content of every file under
// web/: the same build always gets the same version, so a restart does not
// look like a release to browsers, and any change to the client does.
func (a *assets) version() string {
	names := make([]string, 0, len(a.etags))
	for name := range a.etags {
		names = append(names, name)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, name := range names {
		_, _ = io.WriteString(h, name+"\x00"+a.etags[name]+"\x00")
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Resolve maps a go-app resource location to its URL path: locations under
// web/ become "/web/…" once (never "/web/web/…"), others are left alone.
func (a *assets) Resolve(location string) string {
	if location == "" || location == "/" {
		return "/"
	}
	if strings.Contains(location, "://") {
		return location
	}
	trimmed := strings.Trim(location, "/")
	if trimmed != "web" && !strings.HasPrefix(trimmed, "web/") {
		return location
	}
	return "/" + trimmed
}

// serve serves the file at urlPath ("/web/…"), precompressed when the
// client accepts an encoding that has a variant on disk. Content-Type is
// always that of the uncompressed file. Anything outside web/ is 404.
func (a *assets) serve(w http.ResponseWriter, r *http.Request, urlPath string) {
	name := strings.TrimPrefix(path.Clean(urlPath), "/")
	if !strings.HasPrefix(name, "web/") || !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Add("Vary", "Accept-Encoding")
	// Revalidate every time: the ETag makes that a 304 of a few bytes, and
	// a new deploy is seen at once.
	h.Set("Cache-Control", "no-cache")
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		h.Set("Content-Type", ct)
	}
	accept := r.Header.Get("Accept-Encoding")
	for _, enc := range encodings {
		if !acceptsEncoding(accept, enc.name) {
			continue
		}
		if f, err := a.fs.Open(name + enc.suffix); err == nil {
			defer f.Close()
			h.Set("Content-Encoding", enc.name)
			if info, err := f.Stat(); err == nil && r.Header.Get("Range") == "" {
				// ServeContent leaves the length out once an encoding is set.
				h.Set("Content-Length", strconv.FormatInt(info.Size(), 10))
			}
			a.serveFile(w, r, name+enc.suffix, f)
			return
		}
	}
	f, err := a.fs.Open(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	a.serveFile(w, r, name, f)
}

// serveFile writes f with http.ServeContent, which handles Range and
// conditional requests against the file's ETag; files that cannot seek are
// copied as they are.
func (a *assets) serveFile(w http.ResponseWriter, r *http.Request, name string, f fs.File) {
	info, err := f.Stat()
	if err != nil || info.IsDir() {
		http.NotFound(w, r)
		return
	}
	if etag := a.etags[name]; etag != "" {
		w.Header().Set("ETag", etag)
	}
	if rs, ok := f.(io.ReadSeeker); ok {
		http.ServeContent(w, r, name, info.ModTime(), rs)
		return
	}
	w.Header().Set("Content-Length", strconv.FormatInt(info.Size(), 10))
	if r.Method != http.MethodHead {
		_, _ = io.Copy(w, f)
	}
}

// acceptsEncoding reports whether an Accept-Encoding header value accepts
// the named coding with a non-zero quality.
func acceptsEncoding(header, coding string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), coding) {
			continue
		}
		params = strings.TrimSpace(params)
		if len(params) < 2 || !strings.EqualFold(params[:2], "q=") {
			return true
		}
		q := params[2:]
		v, err := strconv.ParseFloat(q, 64)
		return err == nil && v > 0
	}
	return false
}

// wasmSize returns the raw size of app.wasm, which go-app's loader needs to
// show progress while the browser downloads a compressed variant.
func wasmSize(fsys fs.FS) (int64, error) {
	info, err := fs.Stat(fsys, WasmFile)
	if err != nil {
		return 0, fmt.Errorf("client binary %s: %w (build it with make wasm)", WasmFile, err)
	}
	return info.Size(), nil
}
