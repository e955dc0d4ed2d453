package client

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwasm/chat/app/event"
)

// Conn is a client's connection to the chat server, speaking the protocol of
// package event. It builds for the browser (on its WebSocket) and natively,
// where tests and tools use it as a protocol client. Read must be called
// from one goroutine; Send is safe for concurrent use.
type Conn struct {
	ws     *websocket.Conn
	opened time.Time // when the handshake completed
}

// Dial opens a connection to the server's WebSocket endpoint at url
// (ws://host/ws or wss://host/ws).
func Dial(ctx context.Context, url string) (*Conn, error) {
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	// The server coalesces events into frames of up to 64 KiB; the browser
	// side's default limit is 32 KiB.
	ws.SetReadLimit(event.MaxServerFrameBytes)
	return &Conn{ws: ws, opened: time.Now()}, nil
}

// EarlyDial begins to dial url now, in the background, and returns a dial
// func for SessionConfig.Dial: its first call takes that connection, or
// its error, waiting for it if the handshake is not done yet; every later
// call dials afresh. A page calls it as its program starts, so that the
// handshake goes on while the page is built, and gives the func to the
// Session it makes once mounted. It returns once the dial has begun: in
// the browser, where goroutines take turns on one thread, it yields so
// that the dialling goroutine creates the WebSocket first.
func EarlyDial(url string) func(ctx context.Context, url string) (*Conn, error) {
	type result struct {
		conn *Conn
		err  error
	}
	early := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
		defer cancel()
		conn, err := Dial(ctx, url)
		early <- result{conn, err}
	}()
	runtime.Gosched()
	var taken atomic.Bool
	want := url
	// discard closes the early connection, which no one takes.
	discard := func() {
		if r := <-early; r.conn != nil {
			_ = r.conn.CloseNow()
		}
	}
	return func(ctx context.Context, url string) (*Conn, error) {
		if !taken.CompareAndSwap(false, true) {
			return Dial(ctx, url)
		}
		if url != want {
			go discard()
			return Dial(ctx, url)
		}
		select {
		case r := <-early:
			return r.conn, r.err
		case <-ctx.Done():
			go discard()
			return nil, fmt.Errorf("dial %s: %w", url, ctx.Err())
		}
	}
}

// Send writes one client event. In the browser it does not block.
func (c *Conn) Send(ctx context.Context, e event.Event) error {
	b, err := event.Encode(e)
	if err != nil {
		return err
	}
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("send %s: %w", e.Type(), err)
	}
	return nil
}

// Read returns the events of the next server frame. An event of a type this
// client does not know (from a newer server) is skipped, not an error.
// Cancelling ctx closes the connection (the browser cannot abandon a read).
func (c *Conn) Read(ctx context.Context) ([]event.Event, error) {
	_, frame, err := c.ws.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	// An event that does not decode is from a newer server: skip it.
	events, _ := event.DecodeServer(frame)
	return events, nil
}

// Close closes the connection normally (1000), with the close handshake.
func (c *Conn) Close() error {
	if err := c.ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// CloseNow drops the connection without waiting for the peer: for a peer
// taken for dead. In the browser, which has no other way, it is a close with
// 1001 (going away).
func (c *Conn) CloseNow() error {
	if err := c.ws.CloseNow(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}
