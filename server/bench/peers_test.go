package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPeersTable: a row per server and rate in the order of the runs, with
// the medians of its runs and how many were clean.
func TestPeersTable(t *testing.T) {
	t.Parallel()
	run := func(server string, rate float64, p50 time.Duration, lost int64, err string) PeerRun {
		return PeerRun{Server: server, Rate: rate, Error: err, Report: Report{
			JoinTime: time.Second, LatencyP50: p50, LatencyP99: 2 * p50, LatencyMax: 3 * p50,
			Lost: lost, ServerCPUShare: 0.5, CPUShare: 0.25, ServerRSSPerConn: 20 << 10,
		}}
	}
	runs := []PeerRun{
		run("socketio", 10, 9*time.Millisecond, 0, ""),
		run("socketio", 10, 1*time.Millisecond, 4, "lost"),
		run("socketio", 10, 5*time.Millisecond, 2, ""),
		run("chat", 10, 2*time.Millisecond, 0, ""),
	}
	var b bytes.Buffer
	if err := PeersTable(&b, runs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want a header and 2 rows:\n%s", len(lines), b.String())
	}
	for i, want := range [][]string{
		{"socketio", "10", "1s", "5ms", "10ms", "15ms", " 2 ", "50%", "25%", "20.0 KB", "2/3"},
		{"chat", "10", "1s", "2ms", "4ms", "6ms", " 0 ", "1/1"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("row %d %q lacks %q", i+1, lines[i+1], w)
			}
		}
	}
}

// TestPeersServer: how each server is started for a run: pinned, on the
// port, the chat with its limits off, Centrifugo with its config and
// socket.io with the demo and its modules; a peer without its program, or
// an unknown server, is an error.
func TestPeersServer(t *testing.T) {
	t.Parallel()
	cfg := PeersConfig{Port: 3999, ServerCPUs: "0", Chat: "/c/chat", Centrifugo: "/c/centrifugo", Node: "/c/node", SocketIOModules: "/c/node_modules"}
	dir := t.TempDir()
	tests := []struct {
		server, protocol, url string
		args                  []string
	}{
		{ServerChat, ProtocolChat, "ws://127.0.0.1:3999/ws", []string{"taskset", "-c", "0", "/c/chat", "-addr", "127.0.0.1:3999", "-data", dir, "-ip-conns", "-1"}},
		{ServerFloor, ProtocolChat, "ws://127.0.0.1:3999/ws", []string{"taskset", "-c", "0", "/c/chat", "floor", "-addr", "127.0.0.1:3999"}},
		{ServerCentrifugo, ProtocolCentrifugo, "ws://127.0.0.1:3999", []string{"taskset", "-c", "0", "/c/centrifugo", "--config", filepath.Join(dir, "config.json")}},
		{ServerSocketIO, ProtocolSocketIO, "ws://127.0.0.1:3999", []string{"taskset", "-c", "0", "/c/node", filepath.Join(dir, "server.js")}},
	}
	for _, tt := range tests {
		srv, err := cfg.server(context.Background(), tt.server, dir)
		if err != nil {
			t.Errorf("server(%s): %v", tt.server, err)
			continue
		}
		if srv.protocol != tt.protocol || srv.url != tt.url || !slices.Equal(srv.cmd.Args[:len(tt.args)], tt.args) {
			t.Errorf("server(%s) = %s %s %q; want %s %s %q…", tt.server, srv.protocol, srv.url, srv.cmd.Args, tt.protocol, tt.url, tt.args)
		}
	}
	if script, err := os.ReadFile(filepath.Join(dir, "server.js")); err != nil || !bytes.Equal(script, socketIOServer) {
		t.Errorf("server.js: %v, or not the demo", err)
	}
	srv, _ := cfg.server(context.Background(), ServerSocketIO, dir)
	if !slices.Contains(srv.cmd.Env, "PORT=3999") || !slices.Contains(srv.cmd.Env, "NODE_PATH=/c/node_modules") {
		t.Errorf("socket.io's environment lacks PORT or NODE_PATH")
	}
	var conf map[string]map[string]any
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil || json.Unmarshal(raw, &conf) != nil || conf["http_server"]["port"] != float64(3999) {
		t.Errorf("centrifugo's config %s (%v): want JSON with http_server.port 3999", raw, err)
	}
	for _, server := range []string{ServerSocketIO, ServerCentrifugo} {
		if _, err := (PeersConfig{Port: 3999}).server(context.Background(), server, dir); err == nil {
			t.Errorf("%s without its program is no error", server)
		}
	}
	if _, err := cfg.server(context.Background(), "nginx", dir); err == nil {
		t.Error("an unknown server is no error")
	}
}

// TestPeersCommandFlags: a rate that is not above 0 and a stray argument are
// errors, before any server starts.
func TestPeersCommandFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-rates", "10,x"}, {"-rates", "0"}, {"extra"}} {
		var out, errOut bytes.Buffer
		if err := Command(context.Background(), append([]string{"peers"}, args...), &out, &errOut); err == nil {
			t.Errorf("chat bench peers %q is no error", args)
		}
	}
}
