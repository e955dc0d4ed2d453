// Package servertest starts real chat servers for tests, as net/http/httptest
// does for handlers: a Server with fake assets, a data directory of the test
// and its log in the test's log, closed when the test ends. It also holds
// what the tests of several packages share around such a server: a TCP proxy
// that breaks the network on demand, a logger for t.Log and a poll for a
// condition.
//
// It is for tests only: no non-test code imports it, and nothing that builds
// for the browser (js/wasm) does, since package server does not build there.
package servertest

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/chatwasm/chat/server"
)

// FakeAssets returns a web directory with a few bytes where the client, its
// compressed variants, the stylesheet and the icons would be: the server
// needs one to start, and tests that do not run the WASM never load it.
func FakeAssets() fstest.MapFS {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), Mode: 0o644} }
	return fstest.MapFS{
		"web/app.wasm":              file("\x00asm fake client"),
		"web/app.wasm.br":           file("fake brotli bytes"),
		"web/app.wasm.gz":           file("fake gzip bytes!"),
		"web/app.css":               file("body { margin: 0 }"),
		"web/icon.svg":              file(`<svg xmlns="http://www.w3.org/2000/svg"/>`),
		"web/icon-192.png":          file("\x89PNG 192"),
		"web/icon-512.png":          file("\x89PNG 512"),
		"web/icon-maskable-512.png": file("\x89PNG maskable"),
	}
}

// New returns a real Server for cfg, filling in what cfg leaves out: the
// assets (FakeAssets), the data directory (t.TempDir), the logger (the
// server's warnings and errors in the test's log, see Logger) and the per-IP
// limits (off, see OffPerIP). Everything else, PresenceGrace included, is
// cfg's. It fails the test if the server
// does not start, and closes the server when the test ends.
func New(t testing.TB, cfg server.Config) *server.Server {
	t.Helper()
	if cfg.Assets == nil {
		cfg.Assets = FakeAssets()
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = Logger(t, slog.LevelWarn)
	}
	OffPerIP(&cfg)
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// Start serves a New server for cfg on a random 127.0.0.1 port, for tests
// that speak to it over real sockets. It returns the server and its
// httptest.Server, whose URL is the page's address; both close when the test
// ends, the listener first.
func Start(t testing.TB, cfg server.Config) (*server.Server, *httptest.Server) {
	t.Helper()
	srv := New(t, cfg)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts
}

// SocketURL returns the WebSocket endpoint of the server at base, an
// http:// address such as httptest.Server.URL or Proxy.URL: what a client
// dials.
func SocketURL(base string) string {
	return "ws" + strings.TrimPrefix(base, "http") + server.SocketPath
}

// OffPerIP switches off the per-client-IP limits that cfg leaves at zero:
// every client of a test comes from 127.0.0.1, as in a load test from one
// machine, so the limits meant for one person's network would refuse a
// test of many people. The tests of those limits set them.
func OffPerIP(cfg *server.Config) {
	for _, v := range []*int{&cfg.MaxConnsPerIP, &cfg.IPBurst, &cfg.IPIdentityBurst} {
		if *v == 0 {
			*v = -1
		}
	}
	for _, v := range []*float64{&cfg.IPRate, &cfg.IPIdentities} {
		if *v == 0 {
			*v = -1
		}
	}
}
