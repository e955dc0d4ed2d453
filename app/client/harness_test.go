//go:build !(js && wasm)

// The harness of the Session tests: a real chat server in the process and a
// TCP proxy in front of it that injects network faults (both from package
// servertest), and a recorder of a Session's Updates. The server does not
// build for the browser, so neither do these tests.

package client

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server"
	"github.com/chatwasm/chat/server/servertest"
)

// waitTimeout bounds each wait of a test. It is generous: the tests run
// under the race detector on small shared machines; a healthy wait takes
// milliseconds.
const waitTimeout = 20 * time.Second

// waitFor is servertest.CheckFor with the harness's timeout and a 5 ms poll.
func waitFor(t testing.TB, f func() error) {
	t.Helper()
	servertest.CheckFor(t, waitTimeout, 5*time.Millisecond, f)
}

// startChat serves a new server for cfg (see servertest.New) on a random
// 127.0.0.1 port and returns its address (host:port).
func startChat(t *testing.T, cfg server.Config) string {
	t.Helper()
	_, ts := servertest.Start(t, cfg)
	return ts.Listener.Addr().String()
}

// wsURL is the WebSocket endpoint of the server at addr.
func wsURL(addr string) string { return "ws://" + addr + server.SocketPath }

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
		case event.Presence:
			for _, m := range e.Joined {
				out = append(out, m.Name+" connected")
			}
			for _, m := range e.Left {
				out = append(out, m.Name+" disconnected")
			}
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
