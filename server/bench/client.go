package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwasm/chat/app/event"
)

// readBufBytes is the buffer each connection reads its frames into: 16 KiB
// holds a frame of some 80 coalesced messages of the generator, which is what
// a connection receives even when the server is behind, and 10,000
// connections take 160 MB of it. A larger frame (a join's history, a
// saturated server's 64 KiB batches) borrows a buffer of bigBufs.
const readBufBytes = 16 << 10

// bigBufs holds buffers of the largest frame a server sends, lent to a
// reader for one frame larger than readBufBytes. One byte more than
// event.MaxServerFrameBytes leaves room for the read that finds the end of
// the message.
var bigBufs = sync.Pool{New: func() any {
	b := make([]byte, event.MaxServerFrameBytes+1)
	return &b
}}

// background is the context of every read and write once a client joined:
// one that is never cancelled spares coder/websocket a timer (an AfterFunc)
// per frame, which would cost the generator as much as the frame itself.
// The connections are closed to stop them.
var background = context.Background()

// refusal is why a client did not join: which step failed (connect or
// join) and a short reason that groups alike failures ("HTTP 429",
// "rate_limited", "connection refused").
type refusal struct{ step, reason string }

func (r refusal) Error() string { return r.step + " refused: " + r.reason }

// client is one connection of a run. Its reader goroutine owns the fields
// under "the reader's"; the rest of the run reads them once done is closed.
type client struct {
	r     *run
	index int
	room  int // index of its room, client index mod Rooms
	ws    *websocket.Conn
	joinc chan error    // the reader's answer to the join: nil once joined, or why not; buffered
	done  chan struct{} // closed when the reader returns
	ok    bool          // joined within connectTimeout: a member of its room for the whole run
	// sender is the client's sender, nil for a client that only reads: its
	// reader counts the sender's acknowledgements.
	sender *sender

	// user is the client's user id, set by the reader before it answers
	// the join; people its presence list, kept from the joined and
	// presence events.
	user   string
	people presenceList

	// The reader's.
	joined     bool
	answered   bool       // joinc has the answer
	seen       [][]uint64 // per sender index: bit n set once message n arrived
	hist       histogram
	dups       int64
	unexpected int64 // stamps of this run that no sender of this room sent
	last       time.Time
	end        error // why the connection ended before the run closed it

	// delivered counts the distinct messages of this run that arrived, for
	// the drain to poll; lastFrame is when the last frame other than a ping
	// arrived after the join (Unix ns), for the settle.
	delivered atomic.Int64
	lastFrame atomic.Int64
}

// connect dials the server, starts the reader and joins the client's room,
// within connectTimeout or until ctx ends. It returns a refusal when the
// server refused the upgrade or the join.
func (c *client) connect(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, c.r.dialURL, nil)
	if err != nil {
		return refusal{"connect", dialReason(resp, err)}
	}
	// The server coalesces events into frames of up to 64 KiB.
	ws.SetReadLimit(event.MaxServerFrameBytes)
	c.ws = ws
	c.done = make(chan struct{})
	go c.read()
	if c.r.peer != nil {
		// A peer's open frame; the reader writes the rest of the handshake
		// and answers joinc.
		return c.await(ctx, c.r.peer.open())
	}
	if c.r.cfg.NoJoin {
		return nil // connected: the reader answers the pings
	}
	// The name ends with the run's id, so that the presence check counts
	// this run's users only, not a person's or an earlier run's still in
	// their grace period.
	join, err := event.Encode(event.Join{Name: fmt.Sprintf("b%d %s", c.index, c.r.id), Room: c.r.cfg.roomName(c.room)})
	if err != nil {
		_ = ws.CloseNow()
		return fmt.Errorf("join: %w", err)
	}
	return c.await(ctx, join)
}

// await writes first, the frame that starts the join (none when nil), and
// waits for the reader's answer to the join, or for ctx's end. The
// connection is closed unless the client joined.
func (c *client) await(ctx context.Context, first []byte) error {
	if first != nil {
		if err := c.ws.Write(ctx, websocket.MessageText, first); err != nil {
			_ = c.ws.CloseNow()
			return refusal{"join", connReason(err)}
		}
	}
	select {
	case err := <-c.joinc:
		if err != nil {
			_ = c.ws.CloseNow()
		}
		return err
	case <-ctx.Done():
		_ = c.ws.CloseNow()
		return refusal{"join", connReason(ctx.Err())}
	}
}

// answer gives the connect step the answer to the join, once.
func (c *client) answer(err error) {
	if !c.answered {
		c.answered = true
		c.joinc <- err
	}
}

// read reads every frame until the connection ends.
func (c *client) read() {
	defer close(c.done)
	small := make([]byte, readBufBytes)
	for {
		frame, big, err := c.next(small)
		if err != nil {
			if big != nil {
				bigBufs.Put(big)
			}
			c.stop(err)
			return
		}
		now := time.Now()
		if c.r.peer != nil {
			c.handlePeer(frame, now)
		} else if c.joined {
			c.handle(frame, now)
		} else {
			c.handleUnjoined(frame, now)
		}
		if big != nil {
			bigBufs.Put(big)
		}
	}
}

// next reads the next message into small, or into a buffer of bigBufs when
// it is larger; big is that buffer, to put back once the frame is handled.
func (c *client) next(small []byte) (frame []byte, big *[]byte, err error) {
	_, r, err := c.ws.Reader(background)
	if err != nil {
		return nil, nil, err
	}
	buf, n := small, 0
	for {
		if n == len(buf) {
			if big != nil {
				return nil, big, fmt.Errorf("a frame over %d bytes", len(buf))
			}
			big = bigBufs.Get().(*[]byte)
			copy(*big, buf[:n])
			buf = *big
		}
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return buf[:n], big, nil
		}
		if err != nil {
			return nil, big, err
		}
	}
}

// handleUnjoined handles a frame before the join's answer: decoded whole,
// as it is one of a few.
func (c *client) handleUnjoined(frame []byte, now time.Time) {
	events, _ := event.DecodeServer(frame) // an event type from a newer server is skipped
	for _, e := range events {
		switch e := e.(type) {
		case event.Joined:
			if e.Room == c.r.cfg.roomName(c.room) {
				c.user = e.User
				c.people.joined(e, c.r.id)
				c.joined = true
				c.answer(nil)
			}
		case event.Presence:
			if e.Room == c.r.cfg.roomName(c.room) {
				c.people.apply(e)
			}
		case event.Error:
			if c.joined {
				c.r.onError(e)
			} else {
				c.answer(refusal{"join", string(e.Code)})
			}
		case event.Ping:
			c.pong()
		}
	}
	if c.joined {
		c.scan(frame, now) // the history in the same frame, should it hold any of this run
	}
}

// handle handles a frame after the join without decoding it: a ping is
// always a frame of its own, an error or a presence event is found by its
// prefix and decoded, and the stamps are counted.
func (c *client) handle(frame []byte, now time.Time) {
	if bytes.HasPrefix(frame, pingPrefix) {
		c.pong()
		return // not traffic: the settle waits for the others to stop
	}
	c.lastFrame.Store(now.UnixNano())
	if bytes.Contains(frame, errorPrefix) {
		eachLine(frame, errorPrefix, func(line []byte) {
			events, _ := event.DecodeServer(line)
			for _, e := range events {
				if e, ok := e.(event.Error); ok {
					c.r.onError(e)
				}
			}
		})
	}
	if bytes.Contains(frame, presencePrefix) {
		room := c.r.cfg.roomName(c.room)
		eachLine(frame, presencePrefix, func(line []byte) { c.people.applyLine(line, room) })
	}
	if c.sender != nil && bytes.Contains(frame, ackPrefix) {
		c.sender.scanAcks(c.r, frame)
	}
	c.scan(frame, now)
}

// scan counts the messages of the run in frame, each with its latency from
// the stamp's send time to now, the frame's arrival.
func (c *client) scan(frame []byte, now time.Time) {
	marker := c.r.marker
	nowNano := now.UnixNano()
	var got int64
	for {
		i := bytes.Index(frame, marker)
		if i < 0 {
			break
		}
		frame = frame[i+len(marker):]
		s, n, at, used, ok := parseStamp(frame)
		if !ok || s >= len(c.r.senders) || c.r.senders[s].room() != c.room {
			c.unexpected++
			continue
		}
		frame = frame[used:]
		if !c.mark(s, n) {
			c.dups++
			continue
		}
		got++
		// The stamp and now are both this process's wall clock: no skew.
		c.hist.record(time.Duration(nowNano - at))
		if c.sender != nil && s == c.sender.index {
			c.sender.echoed(at, now)
		}
	}
	if got > 0 {
		c.delivered.Add(got)
		c.last = now
	}
}

// mark records that message n of sender s arrived; it returns false when it
// had already.
func (c *client) mark(s int, n int64) bool {
	if c.seen == nil {
		c.seen = make([][]uint64, len(c.r.senders))
	}
	w := int(n >> 6)
	b := c.seen[s]
	if w >= len(b) {
		grown := make([]uint64, max(w+1, 2*len(b)))
		copy(grown, b)
		b, c.seen[s] = grown, grown
	}
	bit := uint64(1) << (n & 63)
	if b[w]&bit != 0 {
		return false
	}
	b[w] |= bit
	return true
}

// pong answers a ping: the server drops a client silent for
// event.HeartbeatTimeout (60 s). A failure shows in the next read.
func (c *client) pong() {
	_ = c.ws.Write(background, websocket.MessageText, c.r.pong)
}

// stop records why the connection ended, unless the run closed it.
func (c *client) stop(err error) {
	if c.r.stopping.Load() {
		code := websocket.CloseStatus(err)
		if code == websocket.StatusNormalClosure || code == -1 {
			return // the close of the run, or the server's answer to it
		}
	}
	c.end = err
	c.answer(refusal{"join", connReason(err)})
}

// dialReason is the short reason of a failed dial: the HTTP status of a
// refused upgrade, or the network error.
func dialReason(resp *http.Response, err error) string {
	if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return connReason(err)
}

// connReason is the short reason a connection failed or ended: its close
// code and what it means, a system error ("connection refused", "too many
// open files") or a timeout, so that alike failures group in the report.
func connReason(err error) string {
	if code := websocket.CloseStatus(err); code != -1 {
		return closeName(code)
	}
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		return errno.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "connection lost (no close frame)"
	}
	return err.Error()
}

// closeName is a close code with what it means in this protocol.
func closeName(code websocket.StatusCode) string {
	what := map[websocket.StatusCode]string{
		websocket.StatusNormalClosure:   "normal",
		websocket.StatusGoingAway:       "going away",
		websocket.StatusPolicyViolation: "policy violation",
		websocket.StatusMessageTooBig:   "message too big",
		websocket.StatusInternalError:   "internal error",
		websocket.StatusServiceRestart:  "service restart",
		event.StatusSlowConsumer:        "slow consumer",
		event.StatusJoinTimeout:         "join timeout",
	}[code]
	if what == "" {
		return fmt.Sprintf("close %d", code)
	}
	return fmt.Sprintf("close %d (%s)", code, what)
}
