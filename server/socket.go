package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server/hub"
)

// writeTimeout bounds one frame's write: 10 s. A socket that accepts no bytes
// for that long is dead or stuck, and its reader would never notice.
const writeTimeout = 10 * time.Second

// coalesceDelay is how long the writer gathers events after a write before
// it takes the next frame: 1 ms. Under load, events then go out as one
// frame of several instead of one write each (a write costs a syscall and a
// frame header whatever its size); a connection that has written nothing
// for that long still writes its next event at once, and no event waits more than this for the gather.
// Measured with chat bench (1000 clients, one room, 50 senders; server and
// generator on a core each), p99 before → with 1 ms: 100 msg/s 197–311 →
// 62–65 ms, 300 msg/s 1.3–1.5 s → 74–94 ms, 600 msg/s 1.7 s → 180–475 ms
// (median 232). 0.5 ms and 2 ms were within the noise of 1 ms at 300 and
// 600 msg/s (medians 68/213 ms and 80/311 ms): 1 ms is the middle.
const coalesceDelay = time.Millisecond

// writerLinger is how long a writer waits for more once it wrote what was
// queued, before it ends: 100 ms. A connection of a busy room (a message
// every few milliseconds) keeps its writer instead of starting one per
// message, while an idle one holds no goroutine within a moment of its
// last frame.
const writerLinger = 100 * time.Millisecond

// The buffers coder/websocket reads and writes a connection's frames
// through, in place of the 4 KiB each that net/http's hijack hands over
// (smallBuffers): a connection keeps them for its whole life, busy or idle.
const (
	// socketReadBuffer is 512 bytes: a client's frame (a message is a
	// few hundred bytes) and its header arrive in one read; a longer one
	// takes a read more.
	socketReadBuffer = 512
	// socketWriteBuffer is 1 KiB: a frame of up to 1 KiB (a message or
	// two) goes out in one write; a longer one in two, header and start,
	// then the rest straight from the writer's buffer, as a frame over
	// 4 KiB did with net/http's buffer.
	socketWriteBuffer = 1 << 10
)

// writeBuffers lends writers the buffer they gather a frame in: 512 bytes
// to start, grown by bursts to event.MaxServerFrameBytes at most; a writer
// gives it back when it ends, so an idle connection holds none.
var writeBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 512)
	return &b
}}

// conn is one WebSocket connection: a reader that decodes and applies the
// client's frames, and a writer, running only while the client's hub queue
// or the heartbeat has something to write, that drains the queue.
type conn struct {
	srv    *Server
	ws     *websocket.Conn
	client *hub.Client
	ip     string // the client IP's key in the per-IP limits (ipKey)
	opened time.Time

	// ctx is the connection's: cancelled once the reader and the
	// writers are done, it ends the store reads of both.
	ctx    context.Context
	cancel context.CancelFunc

	// writers counts the writer under way (one at most): the client's
	// OnWork starts one, with its lock held, so that Close then Wait never
	// miss one.
	writers sync.WaitGroup
	// idle wakes a writer waiting in NextUntil: the heartbeat, when a ping
	// is due, and linger, when the writer has waited writerLinger.
	idle chan time.Time
	// pingDue is set by the heartbeat and cleared by the writer that
	// sends the Ping.
	pingDue atomic.Bool
	// ended is set once the connection ends: the heartbeat stops
	// re-arming itself.
	ended atomic.Bool
	// silent is set by the silence timer when the client sent nothing for
	// the heartbeat timeout: the reader's error is then that.
	silent atomic.Bool
	// The connection's timers, made once: heartbeat fires every heartbeat
	// interval; silence after the heartbeat timeout without a frame
	// (reset per frame read); stalled when a write takes writeTimeout;
	// linger when a writer has waited writerLinger; gather ends the
	// gather after a write (coalesceDelay).
	heartbeat, silence, stalled, linger, gather *time.Timer

	// Rate limits of this connection, of its client IP and, from the
	// join, of its user. Only the reader touches them.
	connLimit, ipLimit, userLimit *rate.Limiter
	// frameRoom is the room the frame being applied names (namedRoom),
	// echoed in the Errors that refuse it. Only the reader touches it.
	frameRoom string
	// user and token are the connection's identity from its first join:
	// every later join, of another room, is under them. Only the reader
	// touches them.
	user, token string
	// roomJoinLimit bounds the joins after the first (roomJoinRate). Only
	// the reader touches it.
	roomJoinLimit *rate.Limiter
	// typingLimit and historyLimit bound this connection's Typing and
	// HistoryRequest frames (typingRate, historyRate). Only the reader
	// touches them.
	typingLimit, historyLimit *rate.Limiter

	errors int // invalid frames so far; only the reader touches it

	// log is shared by the reader and the writer: never reassigned.
	log *slog.Logger

	// joinState is where the connection is in joining (joinPending,
	// joinBusy, joinDone, joinExpired): the reader and the join timer
	// change it, by compare-and-swap, so that a join and the timeout never
	// both win.
	joinState atomic.Int32
	joinTimer *time.Timer

	closeOnce sync.Once
	closing   chan struct{} // closed by close: a paused reader stops waiting
}

// serveSocket upgrades the request within the connection caps and serves
// the connection until either side closes it. websocket.Accept refuses a
// foreign Origin with 403.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	ip := s.clientIP(r)
	key := ipKey(ip)
	if status, reason := s.reserve(key); status != 0 {
		s.log.Debug("websocket refused", "ip", ip, "status", status, "reason", reason)
		w.Header().Set("Retry-After", "10")
		http.Error(w, reason, status)
		return
	}
	ws, err := websocket.Accept(smallBuffers{w}, r, &websocket.AcceptOptions{
		OriginPatterns: s.cfg.AllowedOrigins,
	})
	if err != nil {
		s.unreserve(key)
		s.log.Debug("websocket refused", "ip", ip, "origin", r.Header.Get("Origin"), "err", err)
		return
	}
	ws.SetReadLimit(event.MaxClientFrameBytes)
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		ctx:       ctx,
		cancel:    cancel,
		idle:      make(chan time.Time, 1),
		srv:       s,
		ws:        ws,
		client:    hub.NewClient(s.cfg.QueueBytes),
		ip:        key,
		opened:    time.Now(),
		connLimit: connLimiter(s.cfg.RateLimit, s.cfg.RateBurst),
		ipLimit:   s.limits.ipMsgs.acquire(key),
		log:       s.log.With("ip", ip),
		closing:   make(chan struct{}),

		typingLimit:   rate.NewLimiter(typingRate, typingBurst),
		historyLimit:  rate.NewLimiter(historyRate, historyBurst),
		roomJoinLimit: rate.NewLimiter(roomJoinRate, roomJoinBurst),
	}
	if !s.track(c) {
		c.close(websocket.StatusServiceRestart, "server restarting")
		cancel()
		s.limits.ipMsgs.release(key)
		s.unreserve(key)
		return
	}
	c.log.Info("connection opened")
	// The connection is served by a goroutine of its own, and this handler
	// returns: net/http's goroutine ends, and with it what it held for the
	// request (its stack, the *http.Request, the response and its
	// buffer), which an upgraded connection never needs again.
	go func() {
		defer s.unreserve(key)
		defer s.limits.ipMsgs.release(key)
		defer s.untrack(c)
		defer cancel()
		c.serve()
	}()
}

// smallBuffers hands coder/websocket the hijacked connection with buffers
// of socketReadBuffer and socketWriteBuffer bytes instead of net/http's
// 4 KiB each, which an idle connection would hold for nothing.
type smallBuffers struct{ http.ResponseWriter }

// Unwrap returns the ResponseWriter, for http.ResponseController.
func (w smallBuffers) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hijacks the connection and wraps it in small buffers. Bytes the
// client sent after its request, which net/http's reader holds already,
// are read first.
func (w smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("hijack: %w", err)
	}
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ := brw.Reader.Peek(n)
		nc = &prefixConn{Conn: nc, prefix: bytes.Clone(early)}
	}
	return nc, bufio.NewReadWriter(bufio.NewReaderSize(nc, socketReadBuffer), bufio.NewWriterSize(nc, socketWriteBuffer)), nil
}

// prefixConn is a connection whose first reads return prefix.
type prefixConn struct {
	net.Conn
	prefix []byte
}

// Read returns what is left of prefix, then reads the connection.
func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// reserve counts one more WebSocket for the client IP key, or returns the
// status and reason to refuse it with: 503 once the server is closing, 429
// beyond Config.MaxConnsPerIP, 503 beyond Config.MaxConns.
func (s *Server) reserve(key string) (status int, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		// Refused before the upgrade: a client that was just closed with
		// 1012 and redials at once is told once, and tries the next process.
		return http.StatusServiceUnavailable, "the server is restarting: try again in a moment"
	}
	if s.cfg.MaxConns > 0 && s.sockets >= s.cfg.MaxConns {
		return http.StatusServiceUnavailable, "the server is full: try again later"
	}
	if s.cfg.MaxConnsPerIP > 0 && s.ipConns[key] >= s.cfg.MaxConnsPerIP {
		return http.StatusTooManyRequests, "too many connections from your network: close some tabs or try again later"
	}
	s.sockets++
	s.ipConns[key]++
	return 0, ""
}

// unreserve forgets a WebSocket counted by reserve.
func (s *Server) unreserve(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sockets--
	if s.ipConns[key]--; s.ipConns[key] <= 0 {
		delete(s.ipConns, key)
	}
}

// serve reads until the connection ends, with the writer started on demand
// (startWriter) and the heartbeat and silence timers armed, then takes the
// client out of every room it joined, closes the socket and logs one line.
func (c *conn) serve() {
	c.stalled = time.AfterFunc(time.Hour, func() { c.ws.CloseNow() })
	c.stalled.Stop()
	c.linger = time.AfterFunc(time.Hour, c.wakeWriter)
	c.linger.Stop()
	c.gather = time.NewTimer(time.Hour)
	c.gather.Stop()
	c.client.OnWork(c.startWriter)
	// Made stopped, then armed: a timer's func may read its field at once.
	c.heartbeat = time.AfterFunc(time.Hour, c.beat)
	c.heartbeat.Stop()
	// A client answers the server's pings, sent every heartbeat interval,
	// so one silent for the heartbeat timeout is gone: the timer drops the
	// socket (no close frame).
	c.silence = time.AfterFunc(time.Hour, func() {
		c.silent.Store(true)
		c.ws.CloseNow()
	})
	c.silence.Stop()
	c.heartbeat.Reset(c.srv.cfg.HeartbeatInterval)
	c.silence.Reset(c.srv.cfg.HeartbeatTimeout)
	defer func() {
		c.ended.Store(true)
		c.heartbeat.Stop()
		c.silence.Stop()
		c.linger.Stop()
	}()

	ctx := c.ctx
	stopJoinWatch := c.watchJoin()
	end := c.readAll(ctx)
	stopJoinWatch()
	c.srv.hub.Leave(c.client)
	if c.userLimit != nil {
		c.srv.limits.userMsgs.release(c.user)
	}
	c.log.Info("connection closed", "user", c.user, "reason", end.why, "status", int(end.code),
		"frames_refused", c.errors, "duration", time.Since(c.opened).Round(time.Millisecond))
	c.ended.Store(true)
	if end.code == 0 {
		// The peer is gone: nothing more can reach it.
		c.client.Close()
		c.cancel()
		c.writers.Wait()
		c.ws.CloseNow()
		return
	}
	// The server ends the connection: deliver the error events queued so far,
	// then the close frame.
	c.client.Drain()
	c.writers.Wait()
	c.close(end.code, end.reason)
}

// startWriter starts a writer: the client's OnWork, called with the
// client's lock held when it has work and no writer runs.
func (c *conn) startWriter() {
	c.writers.Add(1)
	go func() {
		defer c.writers.Done()
		c.write(c.ctx)
	}()
}

// wakeWriter wakes a writer waiting in NextUntil, without blocking: one
// pending wake-up is enough.
func (c *conn) wakeWriter() {
	select {
	case c.idle <- time.Time{}:
	default:
	}
}

// beat is the heartbeat timer, every heartbeat interval until the
// connection ends: a Ping is due, which the writer running, or one started
// for it, sends.
func (c *conn) beat() {
	if c.ended.Load() {
		return
	}
	c.pingDue.Store(true)
	if !c.client.Wake() {
		c.wakeWriter()
	}
	c.heartbeat.Reset(c.srv.cfg.HeartbeatInterval)
}

// ending is how a connection ends: code and reason of the close frame the
// server sends (zero when the peer ended it, or is gone), and why, for the
// log.
type ending struct {
	code   websocket.StatusCode
	reason string
	why    string
}

// readAll reads until the connection must end, recovering a panic as a last
// resort: client input must never panic the reader, but if it does, only
// this connection ends.
func (c *conn) readAll(ctx context.Context) (end ending) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("connection panicked", "panic", p)
			end = ending{websocket.StatusInternalError, "internal error", "panic"}
		}
	}()
	return c.read(ctx)
}

// read applies the client's frames until the socket fails or closes, or
// the client must be closed.
func (c *conn) read(ctx context.Context) ending {
	for {
		// The read gets a context that is never done: coder/websocket then
		// watches none, and the silence timer, reset per frame, bounds the
		// wait instead of a context and a timer per read.
		typ, frame, err := c.ws.Read(context.Background())
		if err != nil {
			switch {
			case c.joinState.Load() == joinExpired:
				return ending{why: "join timeout"} // closed with 4002 by the writer
			case c.silent.Load():
				return ending{why: "heartbeat timeout"}
			}
			return ending{why: closedReason(err)}
		}
		c.silence.Reset(c.srv.cfg.HeartbeatTimeout)
		if typ != websocket.MessageText {
			c.refuse(event.ErrBadFrame, "")
		} else if end := c.apply(ctx, frame); end.code != 0 {
			return end
		}
		if c.errors > event.MaxProtocolErrors {
			return ending{websocket.StatusPolicyViolation, "too many invalid frames", "too many invalid frames"}
		}
	}
}

// The states of conn.joinState.
const (
	joinPending int32 = iota // not joined; the join timer runs
	joinBusy                 // a join is being applied
	joinDone                 // joined
	joinExpired              // the join timer won: the connection is closing
)

// joinRecheck is how soon the join timer looks again when it fires while a
// join is being applied (it may be paused for a rate limit): 1 s.
const joinRecheck = time.Second

// watchJoin arms the join timer: a connection that has not joined within
// Config.JoinTimeout gets a join_timeout error event and is then closed with
// event.StatusJoinTimeout, once the writer has sent what was queued. The
// heartbeat keeps a socket alive, so without it an unjoined socket would cost
// its holder nothing. It returns a func that stops the timer.
func (c *conn) watchJoin() (stop func()) {
	if c.srv.cfg.JoinTimeout <= 0 {
		return func() {}
	}
	c.joinTimer = time.AfterFunc(c.srv.cfg.JoinTimeout, c.expireJoin)
	return func() { c.joinTimer.Stop() }
}

// expireJoin is the join timer: it ends a connection that has not joined.
func (c *conn) expireJoin() {
	if c.joinState.CompareAndSwap(joinPending, joinExpired) {
		c.answer(event.Error{Code: event.CodeJoinTimeout, Message: "no join within the join timeout: reconnect to join"})
		// The writer sends the notice, then closes with 4002.
		c.client.Drain()
		return
	}
	if c.joinState.Load() == joinBusy {
		c.joinTimer.Reset(joinRecheck)
	}
}

// apply decodes one text frame and acts on it. It returns how the
// connection must end, or the zero ending to go on.
func (c *conn) apply(ctx context.Context, frame []byte) ending {
	c.frameRoom = ""
	e, err := event.DecodeClient(frame)
	if err != nil {
		id := ""
		if s, ok := e.(event.Send); ok {
			id = s.ID
		}
		c.refuse(err, id)
		return ending{}
	}
	c.frameRoom = namedRoom(e)
	switch e := e.(type) {
	case event.Join:
		return c.join(ctx, e)
	case event.Leave:
		c.leave(e)
	case event.Send:
		c.send(ctx, e)
	case event.Pong:
		// Its arrival has already proven the client alive.
	case event.Typing:
		c.typing(e)
	case event.HistoryRequest:
		c.history(ctx, e)
	}
	return ending{}
}

// Limits of a connection's Typing and HistoryRequest frames. Neither is
// shared with the connection's other frames, nor across its user's
// connections: each costs the server a bounded amount, and a person with
// several tabs may type or scroll in any of them.
const (
	// typingRate and typingBurst: a Typing a second, bursts of 3. A client
	// sends one every event.TypingInterval (2 s) at most; this leaves room
	// for jitter and for a page that reconnects mid-word, while a flood
	// reaches the room at one a second. Each relayed Typing costs an
	// enqueue per member of the room.
	typingRate  = 1
	typingBurst = 3

	// historyRate and historyBurst: 5 history requests a second, bursts of
	// 10. A person scrolling back reads a page (up to 50 messages) in far
	// more than 200 ms, and 10 at once lets a client fill a tall screen;
	// each request is a store read (in the hub's shared read turns) and up
	// to 64 KiB queued.
	historyRate  = 5
	historyBurst = 10

	// roomJoinRate and roomJoinBurst: the joins of a connection after its
	// first, of more rooms, event.MaxRoomsPerConn (32) at once, then one a
	// second. A client restores every room it shows in one burst when it
	// connects; beyond that, a person opens rooms one at a time. Each join
	// may cost a store read and a notice to the room, so the rate bounds a
	// join and leave loop; the first join is limited per user or per
	// client IP instead (userJoins, ipIdentities), as it mints or renews an
	// identity.
	roomJoinRate  = 1
	roomJoinBurst = event.MaxRoomsPerConn
)

// typing relays that the client is typing in the room it names, or in its
// only room (refused as roomOf says otherwise). Beyond the
// connection's typing rate it is dropped silently: no error, no pause, and
// not a protocol error, since an indicator that does not show costs nobody
// anything.
func (c *conn) typing(t event.Typing) {
	room, ok := c.roomOf(t.Room, "")
	if !ok || !c.typingLimit.Allow() {
		return
	}
	if err := c.srv.hub.Typing(c.client, room); errors.Is(err, hub.ErrNotJoined) {
		c.refuse(event.ErrNotInRoom, "")
	} else if err != nil {
		c.log.Error("typing failed", "err", err)
	}
}

// history answers a HistoryRequest with a page of the room's older
// messages. Requests beyond the connection's history rate are refused with
// rate_limited and retry_after, and reading pauses as for a send; a store
// failure is answered with internal.
func (c *conn) history(ctx context.Context, q event.HistoryRequest) {
	room, ok := c.roomOf(q.Room, "")
	if !ok {
		return
	}
	if c.limited(ctx, "", "too many history requests: wait and retry", c.historyLimit) {
		return
	}
	_, err := c.srv.hub.History(ctx, c.client, room, q.Before, q.Limit)
	switch {
	case err == nil:
	case errors.Is(err, hub.ErrNotJoined):
		c.refuse(event.ErrNotInRoom, "")
	case ctx.Err() != nil:
		// The connection is ending.
	default:
		c.log.Error("history failed", "err", err)
		c.answer(event.Error{Code: event.CodeInternal, Message: "the history could not be read; retry", Room: room})
	}
}

// roomOf returns the room a Send, Leave, Typing or HistoryRequest is about:
// the one it names, or the connection's only room when it names none. It
// refuses the frame (echoing id, a Send's), and returns false, before the
// connection has joined or when it is in no room (not_joined), when the
// frame names a room the connection is not in (not_joined), and when it
// names none while the connection is in several (missing_field).
func (c *conn) roomOf(named, id string) (string, bool) {
	if c.joinState.Load() != joinDone {
		c.refuse(event.ErrNotJoined, id)
		return "", false
	}
	room, err := c.client.Resolve(named)
	switch {
	case err == nil:
		return room, true
	case errors.Is(err, hub.ErrRoomRequired):
		c.refuse(event.ErrRoomRequired, id)
	case named == "":
		c.refuse(event.ErrNotJoined, id) // it left every room
	default:
		c.refuse(event.ErrNotInRoom, id)
	}
	return "", false
}

// leave takes the connection out of one room, and keeps it in the others.
func (c *conn) leave(l event.Leave) {
	room, ok := c.roomOf(l.Room, "")
	if !ok {
		return
	}
	if err := c.srv.hub.LeaveRoom(c.client, room); err != nil {
		c.refuse(event.ErrNotInRoom, "") // cannot happen: only the reader joins and leaves
		return
	}
	c.log.Info("left", "user", c.user, "room", room)
}

// join establishes who the client is, from its token when it has a valid
// one, and enters the room. A known user's join is limited per user, a new
// identity per client IP; each first join returns a refreshed token, so that
// a person who keeps using the chat never sees theirs expire. A join on a
// connection that has joined already enters one more room (joinRoom).
func (c *conn) join(ctx context.Context, j event.Join) ending {
	if !c.joinState.CompareAndSwap(joinPending, joinBusy) {
		if c.joinState.Load() == joinDone {
			return c.joinRoom(ctx, j)
		}
		return ending{} // expired: the connection is closing
	}
	// Back to pending unless the join succeeds.
	defer c.joinState.CompareAndSwap(joinBusy, joinPending)
	now := time.Now()
	var id hub.Identity
	claims, err := c.srv.signer.Verify(j.Token, now)
	if j.Token != "" && err == nil {
		if !c.within(ctx, c.srv.limits.userJoins, claims.User, "too many joins: wait and retry") {
			return ending{}
		}
		id.Token, claims = c.srv.signer.Issue(claims.User, claims.Name, now)
	} else {
		if j.Token != "" {
			c.log.Debug("token refused: new identity", "err", err)
		}
		if !c.within(ctx, c.srv.limits.ipIdentities, c.ip, "too many new people from your network: wait and retry") {
			return ending{}
		}
		id.Token, claims = c.srv.signer.Issue("", j.Name, now)
	}
	id.User, id.Name = claims.User, claims.Name
	room := j.Room
	if room == "" {
		room = event.DefaultRoom
	}
	if err := c.srv.hub.Join(ctx, c.client, room, id, j.Since); err != nil {
		c.log.Error("join failed", "err", err)
		return ending{websocket.StatusInternalError, "join failed", "join failed"}
	}
	c.user, c.token = id.User, id.Token
	c.userLimit = c.srv.limits.userMsgs.acquire(id.User)
	c.joinState.Store(joinDone)
	c.log.Info("joined", "user", id.User, "room", room, "since", j.Since)
	return ending{}
}

// joinRoom enters one more room on a connection that has joined: under the
// connection's identity (the join's name and token are ignored) and with the
// token its first join issued. A room the connection is in is
// already_joined, one beyond event.MaxRoomsPerConn too_many_rooms, both
// checked before the connection's room-join rate (roomJoinRate), beyond
// which the join is rate_limited as a first join is.
func (c *conn) joinRoom(ctx context.Context, j event.Join) ending {
	room := j.Room
	if room == "" {
		room = event.DefaultRoom
	}
	if _, err := c.client.Resolve(room); err == nil {
		c.refuse(event.ErrAlreadyJoined, "")
		return ending{}
	}
	if len(c.client.Rooms()) >= event.MaxRoomsPerConn {
		c.refuse(event.ErrTooManyRooms, "")
		return ending{}
	}
	if c.limited(ctx, "", "too many joins: wait and retry", c.roomJoinLimit) {
		return ending{}
	}
	id := hub.Identity{User: c.user, Name: c.client.Name(), Token: c.token}
	switch err := c.srv.hub.Join(ctx, c.client, room, id, j.Since); {
	case err == nil:
	case errors.Is(err, hub.ErrAlreadyJoined):
		c.refuse(event.ErrAlreadyJoined, "")
		return ending{}
	case errors.Is(err, hub.ErrTooManyRooms):
		c.refuse(event.ErrTooManyRooms, "")
		return ending{}
	default:
		c.log.Error("join failed", "err", err)
		return ending{websocket.StatusInternalError, "join failed", "join failed"}
	}
	c.log.Info("joined", "user", c.user, "room", room, "since", j.Since)
	return ending{}
}

// within takes a token from key's bucket in pool, or refuses the join with
// rate_limited and reads nothing more until a token is due. It reports
// whether the join may go on.
func (c *conn) within(ctx context.Context, pool *limiterPool, key, why string) bool {
	lim := pool.acquire(key)
	defer pool.release(key)
	return !c.limited(ctx, "", why, lim)
}

// send publishes a message, in the room it names or the connection's only
// room, within the rate limits. It returns once the message is stored and
// queued, which paces a client to the store's speed.
func (c *conn) send(ctx context.Context, s event.Send) {
	room, ok := c.roomOf(s.Room, s.ID)
	if !ok {
		return
	}
	s.Room = room
	if c.limited(ctx, s.ID, "too many messages: wait and retry", c.connLimit, c.userLimit, c.ipLimit) {
		return
	}
	_, _, err := c.srv.hub.Publish(ctx, c.client, s)
	switch {
	case err == nil:
	case errors.Is(err, hub.ErrNotJoined):
		c.refuse(event.ErrNotInRoom, s.ID) // cannot happen: only the reader leaves
	case ctx.Err() != nil:
		// The connection is ending; the client resends on its next one.
	default:
		c.log.Error("publish failed", "err", err)
		c.answer(event.Error{Code: event.CodeInternal, Message: "the message could not be stored; retry", ID: s.ID, Room: room})
	}
}

// limited takes a token from every limiter, or none. Without one, it
// refuses the frame for now with rate_limited, why and retry_after (id is
// the refused Send's), and reads nothing more until a token is due: a flood
// then waits in its own socket buffers instead of costing the server a
// refusal per frame, and other clients keep their latency. It reports
// whether the frame was refused. The refusal is not a protocol error, and
// is logged at debug level only: a flood must not flood the log.
func (c *conn) limited(ctx context.Context, id, why string, limiters ...*rate.Limiter) bool {
	wait := allow(time.Now(), limiters...)
	if wait == 0 {
		return false
	}
	retry := int64((wait + time.Millisecond - 1) / time.Millisecond) // rounded up: retrying sooner fails again
	c.log.Debug("rate limited", "user", c.user, "retry_ms", retry, "why", why)
	c.answer(event.Error{Code: event.CodeRateLimited, Message: why, ID: id, RetryAfter: retry, Room: c.frameRoom})
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-c.closing:
	}
	return true
}

// namedRoom is the room a client frame names, echoed in the Errors that
// refuse it: a Join's room (DefaultRoom when it names none), or the room of
// a Send, Leave, Typing or HistoryRequest, empty when it names none.
func namedRoom(e event.Event) string {
	if _, ok := e.(event.Join); ok && event.RoomOf(e) == "" {
		return event.DefaultRoom
	}
	return event.RoomOf(e)
}

// refuse answers an invalid frame with an Error event. The refusal is
// logged at debug level: the connection's close line counts them.
func (c *conn) refuse(err error, id string) {
	c.errors++
	code := event.CodeOf(err)
	c.log.Debug("refused frame", "user", c.user, "code", code, "err", err)
	c.answer(event.Error{Code: code, Message: err.Error(), ID: id, Room: c.frameRoom})
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

// write is the connection's writer, started by startWriter when there is
// work: it sends the Ping due, if one is, then what the hub queues for the
// client, one frame per NextUntil, until the queue stayed empty for
// writerLinger and the client's Idle lets it end. Only one writer runs at
// a time, so frames keep their order. Work that arrives within
// coalesceDelay of the last frame waits out the rest of it (ended early
// once a frame's worth is queued), so that under load events go out
// several to a frame; work after a quiet spell goes out at once. Per frame it makes no
// context, timer or allocation: the connection's timers are reset, and a
// write passes coder/websocket a context it need not watch (writeFrame).
// Its frame buffer comes from writeBuffers and goes back when it ends.
func (c *conn) write(ctx context.Context) {
	bp := writeBuffers.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= event.MaxServerFrameBytes {
			*bp = buf[:0]
			writeBuffers.Put(bp)
		}
	}()
	var wrote time.Time // when the last frame went out
	for {
		if c.pingDue.Swap(false) {
			// A frame of its own: a full frame has no room for it.
			if !c.writeFrame(ping) {
				return
			}
		}
		c.linger.Reset(writerLinger)
		err := c.client.Await(ctx, c.idle)
		c.linger.Stop()
		if errors.Is(err, hub.ErrIdle) {
			if !c.pingDue.Load() && c.client.Idle() {
				// A heartbeat whose Wake found this writer still running
				// set pingDue before it: seen here, it gets a writer.
				if c.pingDue.Load() {
					c.client.Wake()
				}
				return
			}
			continue
		}
		if err == nil {
			// Within coalesceDelay of the last frame, what arrives by
			// then joins this one; after a quiet spell it goes at once,
			// and no timer fires.
			if since := time.Since(wrote); since < coalesceDelay {
				c.gather.Reset(coalesceDelay - since)
				c.client.Gather(ctx, c.gather.C)
				c.gather.Stop()
			}
			// Something is queued: this returns at once.
			buf, err = c.client.NextUntil(ctx, buf[:0], nil)
		}
		if err != nil {
			c.writeEnded(err)
			return
		}
		if c.pingDue.Swap(false) {
			if !c.writeFrame(ping) {
				return
			}
		}
		if !c.writeFrame(buf) {
			return
		}
		wrote = time.Now()
	}
}

// writeEnded closes the connection as the error that ended its writer
// asks: a slow consumer, or a join that timed out. Any other error is the
// connection's end, which the reader reports.
func (c *conn) writeEnded(err error) {
	switch {
	case errors.Is(err, hub.ErrSlowConsumer):
		c.log.Info("closing slow consumer")
		// The reader sees the close and ends the connection.
		c.close(event.StatusSlowConsumer, "slow consumer")
	case errors.Is(err, hub.ErrClosed) && c.joinState.Load() == joinExpired:
		// The join timer drained the queue: its notice is out.
		c.close(event.StatusJoinTimeout, "join timeout")
	}
}

// writeFrame writes one frame within writeTimeout, armed on the stalled
// timer, or ends the connection. It reports whether the frame was written.
// The write gets a context that is never done: coder/websocket then
// watches none, and the connection's end (CloseNow, from stalled or the
// reader) ends a write that waits.
func (c *conn) writeFrame(frame []byte) bool {
	c.stalled.Reset(writeTimeout)
	err := c.ws.Write(context.Background(), websocket.MessageText, frame)
	c.stalled.Stop()
	if err != nil {
		c.log.Debug("write failed", "err", err)
		c.ws.CloseNow()
		return false
	}
	return true
}

// close closes the socket with a status, once, and waits up to 5 s for the
// peer's close frame. Safe to call from any goroutine.
func (c *conn) close(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		close(c.closing)
		_ = c.ws.Close(code, reason)
	})
}

// closeForRestart closes the socket for a server restart.
func (c *conn) closeForRestart() {
	c.close(websocket.StatusServiceRestart, "server restarting")
}

// closedReason says why the reader stopped, for the connection's close
// line.
func closedReason(err error) string {
	status := websocket.CloseStatus(err)
	switch {
	case status == websocket.StatusNormalClosure || status == websocket.StatusGoingAway:
		return "closed by client"
	case errors.Is(err, websocket.ErrMessageTooBig):
		return fmt.Sprintf("frame over %d bytes", event.MaxClientFrameBytes)
	case status != -1:
		return fmt.Sprintf("closed with %d", int(status))
	default:
		return "connection lost"
	}
}
