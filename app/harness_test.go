//go:build !(js && wasm)

// The harness of the Session tests: a real chat server in the process, a TCP
// proxy in front of it that injects network faults, and a recorder of a
// Session's Updates. The server does not build for the browser, so neither
// do these tests.

package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server"
)

// waitTimeout bounds each wait of a test. It is generous: the tests run
// under the race detector on small shared machines; a healthy wait takes
// milliseconds.
const waitTimeout = 20 * time.Second

// checkFor calls f every `every` until it returns nil, and fails the test
// with f's last error once total has passed: a wait for a condition, never a
// bare sleep.
func checkFor(t testing.TB, total, every time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", total, err)
		}
		time.Sleep(every)
	}
}

// waitFor is checkFor with the harness's timeout and a 5 ms poll.
func waitFor(t testing.TB, f func() error) {
	t.Helper()
	checkFor(t, waitTimeout, 5*time.Millisecond, f)
}

// fakeAssets is a web directory with a few bytes where the client would be:
// the server needs one, the Session tests never load it.
func fakeAssets() fstest.MapFS {
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

// newChatServer returns a real server for cfg, with fake assets, a data
// directory of the test and its warnings in the test's log, unless cfg sets
// them. It is closed when the test ends.
func newChatServer(t *testing.T, cfg server.Config) *server.Server {
	t.Helper()
	if cfg.Assets == nil {
		cfg.Assets = fakeAssets()
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(newTestLog(t), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// startChat serves a new server for cfg on a random 127.0.0.1 port and
// returns its address (host:port).
func startChat(t *testing.T, cfg server.Config) string {
	t.Helper()
	ts := httptest.NewServer(newChatServer(t, cfg))
	t.Cleanup(ts.Close)
	return ts.Listener.Addr().String()
}

// wsURL is the WebSocket endpoint of the server at addr.
func wsURL(addr string) string { return "ws://" + addr + server.SocketPath }

// testLog passes log lines to t.Log until the test ends: a connection's
// goroutines may log a moment after.
type testLog struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

// newTestLog returns a testLog that goes quiet when t ends.
func newTestLog(t *testing.T) *testLog {
	w := &testLog{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w *testLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log("server: " + strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// proxy is a TCP proxy in front of a server that breaks the network on
// demand: it cuts every connection (no close frame), refuses new ones, or
// swallows what flows on the current ones.
type proxy struct {
	ln     net.Listener
	target atomic.Pointer[string]
	down   atomic.Bool

	mu    sync.Mutex
	pipes map[*pipe]struct{}
	wg    sync.WaitGroup
}

// pipe is one proxied connection.
type pipe struct {
	client, server net.Conn
	// blackhole drops every byte both ways: a network that died without
	// telling either end. mute drops the server's bytes only: what it
	// sends is lost.
	blackhole, mute atomic.Bool
}

// newProxy listens on a random 127.0.0.1 port and forwards to target
// (host:port). It closes when the test ends.
func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, pipes: make(map[*pipe]struct{})}
	p.target.Store(&target)
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

// URL is the WebSocket endpoint through the proxy.
func (p *proxy) URL() string { return wsURL(p.ln.Addr().String()) }

// accept forwards each connection until the listener closes.
func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.down.Load() {
			_ = c.Close()
			continue
		}
		s, err := net.Dial("tcp", *p.target.Load())
		if err != nil {
			_ = c.Close()
			continue
		}
		pp := &pipe{client: c, server: s}
		p.mu.Lock()
		p.pipes[pp] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() {
			var inner sync.WaitGroup
			inner.Go(func() { forward(s, c, &pp.blackhole) })
			inner.Go(func() { forward(c, s, &pp.blackhole, &pp.mute) })
			inner.Wait()
			p.mu.Lock()
			delete(p.pipes, pp)
			p.mu.Unlock()
		})
	}
}

// forward copies src to dst, dropping the bytes while any of drop is set,
// until either side fails; then it closes both.
func forward(dst, src net.Conn, drop ...*atomic.Bool) {
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !anySet(drop) {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func anySet(flags []*atomic.Bool) bool {
	for _, f := range flags {
		if f.Load() {
			return true
		}
	}
	return false
}

// each applies f to every live connection.
func (p *proxy) each(f func(*pipe)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pp := range p.pipes {
		f(pp)
	}
}

// cut closes every live connection at the TCP level: the peers see the
// connection drop with no close frame (1006).
func (p *proxy) cut() {
	p.each(func(pp *pipe) { _ = pp.client.Close(); _ = pp.server.Close() })
}

// setDown makes the proxy refuse (accept and close at once) new
// connections, or take them again.
func (p *proxy) setDown(down bool) { p.down.Store(down) }

// blackhole makes the live connections swallow everything, both ways, while
// staying open. New connections work.
func (p *proxy) blackhole() { p.each(func(pp *pipe) { pp.blackhole.Store(true) }) }

// mute makes the live connections lose what the server sends.
func (p *proxy) mute() { p.each(func(pp *pipe) { pp.mute.Store(true) }) }

// recorder keeps what a Session reported.
type recorder struct {
	mu      sync.Mutex
	states  []ConnState
	events  []event.Event
	outbox  []OutboxItem
	refused []event.Error
	updates int
}

// on is the Session's OnUpdate.
func (r *recorder) on(u Update) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.updates++
	if len(r.states) == 0 || r.states[len(r.states)-1] != u.State {
		r.states = append(r.states, u.State)
	}
	r.events = append(r.events, u.Events...)
	if u.OutboxChanged {
		r.outbox = u.Outbox
	}
	if u.JoinRefused != nil {
		r.refused = append(r.refused, *u.JoinRefused)
	}
	r.refused = append(r.refused, u.Refusals...)
}

// state returns the last state reported.
func (r *recorder) state() ConnState {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.states) == 0 {
		return ""
	}
	return r.states[len(r.states)-1]
}

// stateLog returns every state reported, repeats left out.
func (r *recorder) stateLog() []ConnState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.states)
}

// texts returns the texts of the messages reported, in order.
func (r *recorder) texts() []string {
	var out []string
	for _, m := range r.messages() {
		out = append(out, m.Text)
	}
	return out
}

// messages returns the messages reported, in order.
func (r *recorder) messages() []event.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []event.Message
	for _, e := range r.events {
		if m, ok := e.(event.Message); ok {
			out = append(out, m)
		}
	}
	return out
}

// joins returns the Joined events reported, in order.
func (r *recorder) joins() []event.Joined {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []event.Joined
	for _, e := range r.events {
		if j, ok := e.(event.Joined); ok {
			out = append(out, j)
		}
	}
	return out
}

// notices returns "<name> connected" and "<name> disconnected" for the
// presence events reported, in order.
func (r *recorder) notices() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		switch e := e.(type) {
		case event.UserJoined:
			out = append(out, e.Name+" connected")
		case event.UserLeft:
			out = append(out, e.Name+" disconnected")
		}
	}
	return out
}

// outboxNow returns the last outbox snapshot reported.
func (r *recorder) outboxNow() []OutboxItem {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.outbox
}

// client is a running Session and what it reported.
type client struct {
	*Session
	rec    *recorder
	cancel context.CancelFunc
	done   chan error
}

// runSession starts a Session for cfg (OnUpdate is the recorder's) and runs
// it until stop or the end of the test.
func runSession(t *testing.T, cfg SessionConfig) *client {
	t.Helper()
	rec := new(recorder)
	cfg.OnUpdate = rec.on
	s, err := NewSession(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &client{Session: s, rec: rec, cancel: cancel, done: make(chan error, 1)}
	go func() { c.done <- s.Run(ctx) }()
	t.Cleanup(c.stop)
	return c
}

// stop ends Run and waits for it.
func (c *client) stop() {
	c.cancel()
	<-c.done
	c.done <- context.Canceled // a second stop returns at once
}

// join starts a new person's Session under name and waits for its Joined.
func join(t *testing.T, url, name string, cfg SessionConfig) *client {
	t.Helper()
	cfg.URL = url
	c := runSession(t, cfg)
	if err := c.Join(name); err != nil {
		t.Fatal(err)
	}
	c.waitJoins(t, 1)
	return c
}

// waitJoins waits until the Session reported n Joined events.
func (c *client) waitJoins(t *testing.T, n int) {
	t.Helper()
	waitFor(t, func() error {
		if got := len(c.rec.joins()); got < n {
			return fmt.Errorf("%d joins, want %d (states %v)", got, n, c.rec.stateLog())
		}
		return nil
	})
}

// waitTexts waits until the Session reported exactly the message texts want,
// in order, and an empty outbox.
func (c *client) waitTexts(t *testing.T, want ...string) {
	t.Helper()
	waitFor(t, func() error {
		got := c.rec.texts()
		if strings.Join(got, "|") != strings.Join(want, "|") {
			return fmt.Errorf("messages %q, want %q", got, want)
		}
		if n := len(c.Outbox()); n != 0 {
			return fmt.Errorf("%d messages still in the outbox", n)
		}
		return nil
	})
}
