//go:build !(js && wasm)

package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwasm/chat/server"
)

// acceptor is a WebSocket endpoint that counts the connections it
// accepted and those that ended.
type acceptor struct {
	mu             sync.Mutex
	accepted, gone int
}

func (a *acceptor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	a.mu.Lock()
	a.accepted++
	a.mu.Unlock()
	// Read until the peer goes: a read error is the connection's end.
	for {
		if _, _, err := ws.Read(context.Background()); err != nil {
			break
		}
	}
	a.mu.Lock()
	a.gone++
	a.mu.Unlock()
}

// counts returns how many connections were accepted and how many ended.
func (a *acceptor) counts() (accepted, gone int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.accepted, a.gone
}

// wantCounts waits until a has accepted and seen end the given numbers of
// connections.
func (a *acceptor) wantCounts(t *testing.T, accepted, gone int) {
	t.Helper()
	waitFor(t, func() error {
		if n, g := a.counts(); n != accepted || g != gone {
			return fmt.Errorf("%d connections accepted and %d ended, want %d and %d", n, g, accepted, gone)
		}
		return nil
	})
}

// startAcceptor serves a new acceptor and returns it with its ws:// URL.
func startAcceptor(t *testing.T) (*acceptor, string) {
	t.Helper()
	a := new(acceptor)
	ts := httptest.NewServer(a)
	t.Cleanup(ts.Close)
	return a, "ws" + strings.TrimPrefix(ts.URL, "http")
}

// TestEarlyDial proves that EarlyDial opens its connection before anyone
// asks, that the first call for its URL takes that very connection and
// every later call dials a new one; that a first call for another URL
// dials that one and closes the early connection; and that the early
// dial's error goes to the first call.
func TestEarlyDial(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	t.Run("first call takes the early connection", func(t *testing.T) {
		t.Parallel()
		a, url := startAcceptor(t)
		dial := EarlyDial(url)
		a.wantCounts(t, 1, 0) // open before the first call
		first, err := dial(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		a.wantCounts(t, 1, 0) // no second connection: the first call's is the early one
		second, err := dial(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		a.wantCounts(t, 2, 0)
		_ = first.CloseNow()
		a.wantCounts(t, 2, 1)
		_ = second.CloseNow()
		a.wantCounts(t, 2, 2)
	})

	t.Run("another URL closes the early connection", func(t *testing.T) {
		t.Parallel()
		early, earlyURL := startAcceptor(t)
		other, otherURL := startAcceptor(t)
		dial := EarlyDial(earlyURL)
		early.wantCounts(t, 1, 0)
		conn, err := dial(ctx, otherURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		other.wantCounts(t, 1, 0)
		early.wantCounts(t, 1, 1)
	})

	t.Run("the early error goes to the first call", func(t *testing.T) {
		t.Parallel()
		// A port that was free a moment ago refuses the dial.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "ws://" + ln.Addr().String() + "/ws"
		ln.Close()
		dial := EarlyDial(url)
		if _, err := dial(ctx, url); err == nil || errors.Is(err, context.Canceled) {
			t.Fatalf("first call: %v, want the early dial's refusal", err)
		}
	})
}

// TestEarlyDialJoinTimeout proves that a Session counts an early
// connection's life from its handshake: the server closes a connection
// that has not joined after its join timeout, counted from the upgrade,
// and the Session must take that close of a person still at the name
// prompt for the quiet one it is (a redial at once, never "offline"), even
// when the page took a while to start after the early dial.
func TestEarlyDialJoinTimeout(t *testing.T) {
	t.Parallel()
	const joinTimeout = 1500 * time.Millisecond
	url := wsURL(startChat(t, server.Config{JoinTimeout: joinTimeout}))
	dial := EarlyDial(url)
	// The page takes a second to start: the early connection is open
	// that long before the Session takes it. This wait is the scenario,
	// not a wait for a condition.
	time.Sleep(time.Second)
	c := runSession(t, SessionConfig{URL: url, Dial: dial})
	waitFor(t, func() error {
		if s := c.rec.state(); s != StateConnected {
			return fmt.Errorf("state %q", s)
		}
		return nil
	})
	// Past the server's close of the early connection and the redial.
	time.Sleep(joinTimeout)
	if log := c.rec.stateLog(); slices.Contains(log, StateOffline) {
		t.Fatalf("states %v: the join timeout's close of an early connection was taken for a failure", log)
	}
}
