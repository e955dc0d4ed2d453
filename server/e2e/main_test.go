package e2e

import (
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatwasm/chat/app"
	"github.com/chatwasm/chat/server"
	"github.com/chatwasm/chat/server/servertest"
)

func TestMain(m *testing.M) {
	// The server renders the page before the WASM runs: it needs the routes.
	app.Routes()
	// Under the race detector on two shared cores a browser session of the
	// longest test takes well over the harness's default minute.
	browserLifetime = 4 * time.Minute
	actionTimeout = 30 * time.Second
	dir, err := os.MkdirTemp("", "chat-e2e-")
	if err != nil {
		panic(err)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildDir holds what the tests build, such as the server binary.
var buildDir string

// repoRoot is the module's root, which holds the directory "web".
const repoRoot = "../.."

// presenceGrace is the server's grace period in these tests: long enough
// for a warm reload to reconnect (0.35–0.8 s measured, more under the race
// detector), short enough to wait for a real departure.
const presenceGrace = 2 * time.Second

// startServer serves the real client (web/app.wasm, built by make wasm) and
// the real hub on a random 127.0.0.1 port, with the given version.
func startServer(t testing.TB, version string) (*server.Server, *httptest.Server) {
	t.Helper()
	return startServerConfig(t, server.Config{Version: version})
}

// startServerConfig is startServer for cfg, in which it fills in the
// assets (the repository's web directory), every log line from Info up
// and, when zero, presenceGrace; servertest.Start fills in the rest.
func startServerConfig(t testing.TB, cfg server.Config) (*server.Server, *httptest.Server) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(repoRoot, server.WasmFile)); err != nil {
		t.Fatalf("the end-to-end tests need the client: run make wasm first (%v)", err)
	}
	cfg.Assets = os.DirFS(repoRoot)
	cfg.Logger = servertest.Logger(t, slog.LevelInfo)
	if cfg.PresenceGrace == 0 {
		cfg.PresenceGrace = presenceGrace
	}
	return servertest.Start(t, cfg)
}
