package e2e

import (
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatwasm/chat/app"
	"github.com/chatwasm/chat/server"
)

func TestMain(m *testing.M) {
	// The server renders the page before the WASM runs: it needs the routes.
	app.Routes()
	// Under the race detector on two shared cores a browser session of the
	// longest test takes well over the harness's default minute.
	browserLifetime = 4 * time.Minute
	actionTimeout = 30 * time.Second
	os.Exit(m.Run())
}

// repoRoot is the module's root, which holds the directory "web".
const repoRoot = "../.."

// startServer serves the real client (web/app.wasm, built by make wasm) and
// the real hub on a random 127.0.0.1 port, with the given version.
func startServer(t *testing.T, version string) (*server.Server, *httptest.Server) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(repoRoot, server.WasmFile)); err != nil {
		t.Fatalf("the end-to-end tests need the client: run make wasm first (%v)", err)
	}
	srv, err := server.New(server.Config{
		Assets:  os.DirFS(repoRoot),
		Version: version,
		Logger:  slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts
}

// testWriter sends the server's log lines to the test's log, which go test
// prints for a failing test (and with -v).
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
