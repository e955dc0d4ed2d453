package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server/hub"
	"github.com/chatwasm/chat/server/identity"
)

// writeTimeout bounds one frame's write: 10 s. A socket that accepts no bytes
// for that long is dead or stuck, and its reader would never notice.
const writeTimeout = 10 * time.Second

// conn is one WebSocket connection: a reader that decodes and applies the
// client's frames, and a writer that drains the client's hub queue.
type conn struct {
	srv    *Server
	ws     *websocket.Conn
	client *hub.Client

	// Rate limits of this connection and of its user; userLimit is set by
	// the join. Only the reader touches them.
	connLimit, userLimit *rate.Limiter
	user                 string

	errors int // invalid frames so far; only the reader touches it

	// log is shared by the reader and the writer: never reassigned.
	log *slog.Logger

	closeOnce sync.Once
}

// serveSocket upgrades the request and serves the connection until either
// side closes it. websocket.Accept refuses a foreign Origin with 403.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		OriginPatterns: s.cfg.AllowedOrigins,
	})
	if err != nil {
		s.log.Warn("websocket refused", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "err", err)
		return
	}
	ws.SetReadLimit(event.MaxClientFrameBytes)
	c := &conn{
		srv:       s,
		ws:        ws,
		client:    hub.NewClient(s.cfg.QueueBytes),
		connLimit: rate.NewLimiter(rate.Limit(s.cfg.RateLimit), s.cfg.RateBurst),
		log:       s.log.With("remote", r.RemoteAddr),
	}
	if !s.track(c) {
		c.close(websocket.StatusServiceRestart, "server restarting")
		return
	}
	defer s.untrack(c)
	c.serve(r.Context())
}

// serve runs the writer and the reader until the connection ends, then
// takes the client out of its room and closes the socket.
func (c *conn) serve(ctx context.Context) {
	wctx, cancelWriter := context.WithCancel(ctx)
	defer cancelWriter()
	var writer sync.WaitGroup
	writer.Go(func() { c.write(wctx) })

	end := c.readAll(ctx)
	c.srv.hub.Leave(c.client)
	if c.userLimit != nil {
		c.srv.limits.release(c.user)
	}
	if end.code == 0 {
		// The peer is gone: nothing more can reach it.
		c.client.Close()
		cancelWriter()
		writer.Wait()
		c.ws.CloseNow()
		return
	}
	// The server ends the connection: deliver the error events queued so far,
	// then the close frame.
	c.client.Drain()
	writer.Wait()
	c.close(end.code, end.reason)
}

// ending is how the server ends a connection; the zero value means the peer
// ended it.
type ending struct {
	code   websocket.StatusCode
	reason string
}

// readAll reads until the connection must end, recovering a panic as a last
// resort: client input must never panic the reader, but if it does, only
// this connection ends.
func (c *conn) readAll(ctx context.Context) (end ending) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("connection panicked", "panic", p)
			end = ending{websocket.StatusInternalError, "internal error"}
		}
	}()
	return c.read(ctx)
}

// read applies the client's frames until the socket fails or closes, or
// the client must be closed.
func (c *conn) read(ctx context.Context) ending {
	for {
		// A client answers the server's pings, sent every heartbeat
		// interval, so one silent for the heartbeat timeout is gone; the
		// timeout drops the socket (no close frame).
		rctx, cancel := context.WithTimeout(ctx, c.srv.cfg.HeartbeatTimeout)
		typ, frame, err := c.ws.Read(rctx)
		timedOut := errors.Is(rctx.Err(), context.DeadlineExceeded)
		cancel()
		if err != nil {
			if timedOut && ctx.Err() == nil {
				c.log.Info("closed: heartbeat timeout", "timeout", c.srv.cfg.HeartbeatTimeout)
				return ending{}
			}
			c.logClosed(err)
			return ending{}
		}
		if typ != websocket.MessageText {
			c.refuse(event.ErrBadFrame, "")
		} else if end := c.apply(ctx, frame); end.code != 0 {
			return end
		}
		if c.errors > event.MaxProtocolErrors {
			c.log.Warn("closing: too many invalid frames", "count", c.errors)
			return ending{websocket.StatusPolicyViolation, "too many invalid frames"}
		}
	}
}

// apply decodes one text frame and acts on it. It returns how the
// connection must end, or the zero ending to go on.
func (c *conn) apply(ctx context.Context, frame []byte) ending {
	e, err := event.DecodeClient(frame)
	if err != nil {
		id := ""
		if s, ok := e.(event.Send); ok {
			id = s.ID
		}
		c.refuse(err, id)
		return ending{}
	}
	switch e := e.(type) {
	case event.Join:
		return c.join(ctx, e)
	case event.Send:
		c.send(ctx, e)
	case event.Pong:
		// Its arrival has already proven the client alive.
	}
	return ending{}
}

// join establishes who the client is, from its token when it has a valid
// one, and enters the room.
func (c *conn) join(ctx context.Context, j event.Join) ending {
	if c.userLimit != nil {
		c.refuse(event.ErrAlreadyJoined, "")
		return ending{}
	}
	id := hub.Identity{Token: j.Token}
	if claims, err := c.srv.signer.Verify(j.Token, time.Now()); j.Token != "" && err == nil {
		id.User, id.Name = claims.User, claims.Name
	} else {
		if j.Token != "" {
			c.log.Info("token refused: new identity", "err", err)
		}
		var claims identity.Claims
		id.Token, claims = c.srv.signer.Issue("", j.Name, time.Now())
		id.User, id.Name = claims.User, claims.Name
	}
	room := j.Room
	if room == "" {
		room = event.DefaultRoom
	}
	if err := c.srv.hub.Join(ctx, c.client, room, id, j.Since); err != nil {
		c.log.Error("join failed", "err", err)
		return ending{websocket.StatusInternalError, "join failed"}
	}
	c.user = id.User
	c.userLimit = c.srv.limits.acquire(id.User)
	c.log.Info("joined", "user", id.User, "name", id.Name, "room", room, "since", j.Since)
	return ending{}
}

// send publishes a message within the rate limits. It returns once the
// message is stored and queued, which paces a client to the store's speed.
func (c *conn) send(ctx context.Context, s event.Send) {
	if c.userLimit == nil {
		c.refuse(event.ErrNotJoined, s.ID)
		return
	}
	if wait := allow(time.Now(), c.connLimit, c.userLimit); wait > 0 {
		c.rateLimited(s.ID, wait)
		// Read nothing more until a token is due: a flood then waits in
		// its own socket buffers instead of costing the server a refusal
		// per frame, and other clients keep their latency.
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		return
	}
	_, _, err := c.srv.hub.Publish(ctx, c.client, s)
	switch {
	case err == nil:
	case errors.Is(err, hub.ErrNotJoined):
		c.refuse(event.ErrNotJoined, s.ID)
	case ctx.Err() != nil:
		// The connection is ending; the client resends on its next one.
	default:
		c.log.Error("publish failed", "err", err)
		c.answer(event.Error{Code: event.CodeInternal, Message: "the message could not be stored; retry", ID: s.ID})
	}
}

// rateLimited refuses a message for now: the client keeps it and retries
// after wait. It is not a protocol error.
func (c *conn) rateLimited(id string, wait time.Duration) {
	retry := int64((wait + time.Millisecond - 1) / time.Millisecond) // rounded up: retrying sooner fails again
	c.log.Info("rate limited", "user", c.user, "retry_ms", retry)
	c.answer(event.Error{Code: event.CodeRateLimited, Message: "too many messages: wait and retry", ID: id, RetryAfter: retry})
}

// refuse answers an invalid frame with an Error event and a log line.
func (c *conn) refuse(err error, id string) {
	c.errors++
	code := event.CodeOf(err)
	c.log.Info("refused frame", "user", c.user, "code", code, "err", err)
	c.answer(event.Error{Code: code, Message: err.Error(), ID: id})
}

// answer queues an Error event for this client alone.
func (c *conn) answer(e event.Error) {
	b, err := event.Encode(e)
	if err != nil {
		c.log.Error("encode error event", "err", err)
		return
	}
	c.client.Enqueue(b)
}

// ping is the heartbeat frame, encoded once.
var ping, _ = event.Encode(event.Ping{})

// write sends what the hub queues for the client, one frame per Next, and a
// Ping every heartbeat interval, busy or not: the client's Pong is what
// keeps a client that only reads from looking dead.
func (c *conn) write(ctx context.Context) {
	buf := make([]byte, 0, 512)
	nextPing := time.Now().Add(c.srv.cfg.HeartbeatInterval)
	for {
		var err error
		nctx, cancel := context.WithDeadline(ctx, nextPing)
		buf, err = c.client.Next(nctx, buf[:0])
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			buf, err = buf[:0], nil
		}
		switch {
		case errors.Is(err, hub.ErrSlowConsumer):
			c.log.Warn("closing slow consumer")
			// The reader sees the close and ends the connection.
			c.close(event.StatusSlowConsumer, "slow consumer")
			return
		case err != nil:
			return
		}
		if !time.Now().Before(nextPing) {
			// A frame of its own: a full frame has no room for it.
			if !c.writeFrame(ctx, ping) {
				return
			}
			nextPing = time.Now().Add(c.srv.cfg.HeartbeatInterval)
		}
		if len(buf) > 0 && !c.writeFrame(ctx, buf) {
			return
		}
		if cap(buf) > event.MaxServerFrameBytes {
			buf = nil // a burst grew the buffer: do not keep it while idle
		}
	}
}

// writeFrame writes one frame within writeTimeout. On failure it drops the
// socket, which ends the reader, and returns false.
func (c *conn) writeFrame(ctx context.Context, frame []byte) bool {
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	err := c.ws.Write(wctx, websocket.MessageText, frame)
	cancel()
	if err != nil {
		c.log.Info("write failed", "err", err)
		c.ws.CloseNow()
		return false
	}
	return true
}

// close closes the socket with a status, once, and waits up to 5 s for the
// peer's close frame. Safe to call from any goroutine.
func (c *conn) close(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() { _ = c.ws.Close(code, reason) })
}

// closeForRestart closes the socket for a server restart.
func (c *conn) closeForRestart() {
	c.close(websocket.StatusServiceRestart, "server restarting")
}

// logClosed logs why the reader stopped, at a level matching the cause.
func (c *conn) logClosed(err error) {
	status := websocket.CloseStatus(err)
	switch {
	case status == websocket.StatusNormalClosure || status == websocket.StatusGoingAway:
		c.log.Info("closed by client", "status", int(status))
	case errors.Is(err, websocket.ErrMessageTooBig):
		c.log.Warn("closed: frame too big", "limit", event.MaxClientFrameBytes)
	case status != -1:
		c.log.Info("closed", "status", int(status), "err", err)
	default:
		c.log.Info("connection lost", "err", err)
	}
}
