package client

// The connection loop of a Session: dial, join every open room, read and
// apply frames, send the outboxes, redial. Platform-neutral, as session.go.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwasm/chat/app/event"
)

// Run connects and stays connected until ctx ends, then closes the
// connection normally and returns ctx's error. Each time the connection
// fails or drops it tries again after Backoff's delay, or at once on Wake;
// the attempts count from zero again after a successful join.
func (s *Session) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer s.running.Store(false)
	s.emit(Update{}, StateConnecting)
	attempt := 0
	for {
		joined, lived, err := s.connect(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if quietClose(err, joined, lived) {
			// The server closes a connection that has not joined in a
			// while (the person is still choosing a name): open the
			// next one at once, with nothing to show for it.
			attempt = 0
			continue
		}
		// A connection that joined, or lasted longer than the longest
		// wait (a person who has not chosen a name yet), was a success.
		if joined || lived > s.backoff.limit() {
			attempt = 0
		}
		s.emit(Update{Err: err}, StateOffline)
		if err := s.pause(ctx, s.backoff.Delay(attempt)); err != nil {
			return err
		}
		attempt++
	}
}

// minQuietLife is how long a connection must have lived for its
// event.StatusJoinTimeout close to be redialled at once: 1 s keeps a server
// with a broken join timeout from being dialled in a loop.
const minQuietLife = time.Second

// quietClose reports whether a connection ended only because it had not
// joined in time, which is no failure to report. The browser's WebSocket
// does not pass the close code on to Read, hence the join_timeout event
// that comes before the close (ErrJoinTimeout).
func quietClose(err error, joined bool, lived time.Duration) bool {
	return !joined && lived >= minQuietLife &&
		(errors.Is(err, ErrJoinTimeout) || websocket.CloseStatus(err) == event.StatusJoinTimeout)
}

// pause waits d, or less if Wake is called, reporting outbox changes
// meanwhile. It returns ctx's error if ctx ends.
func (s *Session) pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		case <-s.wake:
			return nil
		case <-s.drop:
			// Nothing to drop.
		case <-s.kick:
			s.mu.Lock()
			s.leaves = nil // the next connection joins only the open rooms
			s.mu.Unlock()
			s.emit(Update{}, StateOffline)
		}
	}
}

// connect dials and serves one connection until it ends. It reports whether
// it joined, how long it was open and why it ended.
func (s *Session) connect(ctx context.Context) (joined bool, lived time.Duration, err error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	conn, err := s.dial(dctx, s.url)
	cancel()
	if err != nil {
		return false, 0, err
	}
	// From the handshake, not from now: an early dial's connection
	// (EarlyDial) may have been open a while, and the server's join
	// timeout counts from its start.
	joined, err = s.serve(ctx, conn)
	return joined, time.Since(conn.opened), err
}

// link is the state of one connection, owned by Run's goroutine.
type link struct {
	conn *Conn
	// joined: the first room's Joined arrived, the connection has its
	// identity, the other rooms may be joined.
	joined bool
	// rooms is where each room stands on this connection, by name.
	rooms map[string]*linkRoom
	held  bool // the outboxes wait for hold to fire
	hold  <-chan time.Time
	// rejoin fires when a Join refused as rate-limited may be sent again.
	rejoin <-chan time.Time
	// joinTimedOut: the server said the connection did not join in time.
	joinTimedOut bool
	failures     int // internal refusals of an outbox's head in a row
	limited      int // rate-limit refusals of an outbox's head in a row
}

// linkRoom is where one room stands on a connection.
type linkRoom struct {
	joinSent bool // a Join went out and was neither accepted nor refused
	joined   bool // Joined arrived: the room's outbox may be sent
	refused  bool // refused for good on this connection (too_many_rooms)
}

// at returns where the room with name stands on l, making its entry.
func (l *link) at(name string) *linkRoom {
	if l.rooms == nil {
		l.rooms = make(map[string]*linkRoom)
	}
	lr := l.rooms[name]
	if lr == nil {
		lr = new(linkRoom)
		l.rooms[name] = lr
	}
	return lr
}

// in reports whether the room with name has joined on l.
func (l *link) in(name string) bool {
	lr := l.rooms[name]
	return lr != nil && lr.joined
}

// serve runs one connection: it joins, reads frames, answers pings, sends
// the outboxes and watches for silence, until the connection or ctx ends.
// It reports whether it joined and why it ended.
func (s *Session) serve(ctx context.Context, conn *Conn) (joined bool, err error) {
	l := &link{conn: conn}
	frames := make(chan []event.Event)
	readErr := make(chan error, 1)
	done := make(chan struct{})
	defer close(done)
	// The reader's context is never cancelled: in the browser that would
	// close the socket with 1008. Closing the connection ends the read.
	go func() {
		for {
			events, err := conn.Read(context.Background())
			if err != nil {
				readErr <- err
				return
			}
			select {
			case frames <- events:
			case <-done:
				return
			}
		}
	}()
	// Close in the background: in the browser Close waits for the close
	// event, which a dead network delays for long.
	drop := func(cause error) (bool, error) {
		go func() { _ = conn.CloseNow() }()
		if l.joinTimedOut && !l.joined {
			cause = ErrJoinTimeout
		}
		return l.joined, cause
	}

	s.mu.Lock()
	for _, r := range s.rooms {
		r.out.reset()
	}
	s.leaves = nil // this connection is in no room yet
	s.mu.Unlock()
	select {
	case <-s.drop: // from before this connection: stale
	default:
	}
	s.emit(Update{}, StateConnected)
	watchdog := time.NewTimer(s.heartbeatTimeout)
	defer watchdog.Stop()
	if err := s.flush(ctx, l); err != nil {
		return drop(err)
	}
	for {
		var u Update
		select {
		case <-ctx.Done():
			go func() { _ = conn.Close() }()
			return l.joined, ctx.Err()
		case err := <-readErr:
			return drop(err)
		case <-watchdog.C:
			return drop(ErrHeartbeat)
		case <-s.drop:
			return drop(ErrDropped)
		case events := <-frames:
			watchdog.Reset(s.heartbeatTimeout)
			if err := s.handle(ctx, l, events, &u); err != nil {
				return drop(err)
			}
		case <-s.kick:
		case <-l.hold:
			l.held, l.hold = false, nil
		case <-l.rejoin:
			l.rejoin = nil
		case <-s.wake:
			// Connected: nothing to wake.
		case <-s.typing:
			if err := s.sendTyping(ctx, l); err != nil {
				return drop(err)
			}
		case <-s.history:
			// Sent by flush, once joined.
		}
		// What this turn made due, in the order the server must see it:
		// leaves, then joins, then the rest.
		if err := s.flush(ctx, l); err != nil {
			return drop(err)
		}
		s.emit(u, StateConnected)
	}
}

// flush sends what waits to go out on l: the Leaves of rooms left, the Joins
// of rooms to enter, the outboxes' next messages and the history requests.
func (s *Session) flush(ctx context.Context, l *link) error {
	if err := s.sendLeaves(ctx, l); err != nil {
		return err
	}
	if err := s.join(ctx, l); err != nil {
		return err
	}
	if err := s.pump(ctx, l); err != nil {
		return err
	}
	return s.sendHistoryRequests(ctx, l)
}

// sendLeaves sends a Leave for each room left that was joined, or whose
// Join went out, on l.
func (s *Session) sendLeaves(ctx context.Context, l *link) error {
	s.mu.Lock()
	leaves := s.leaves
	s.leaves = nil
	s.mu.Unlock()
	for _, name := range leaves {
		lr := l.rooms[name]
		if lr == nil || !(lr.joined || lr.joinSent) {
			continue
		}
		delete(l.rooms, name)
		if err := s.write(ctx, l.conn, event.Leave{Room: name}); err != nil {
			return err
		}
	}
	return nil
}

// sendTyping sends a Typing to each room that has one waiting, when joined
// there and its last one is at least event.TypingInterval old; otherwise the
// person's typing is already told.
func (s *Session) sendTyping(ctx context.Context, l *link) error {
	var rooms []*room
	s.mu.Lock()
	for _, r := range s.rooms {
		if r.typing {
			r.typing = false
			rooms = append(rooms, r)
		}
	}
	s.mu.Unlock()
	for _, r := range rooms {
		if !l.in(r.name) || time.Since(r.lastTyping) < event.TypingInterval {
			continue
		}
		r.lastTyping = time.Now()
		if err := s.write(ctx, l.conn, event.Typing{Room: r.name}); err != nil {
			return err
		}
	}
	return nil
}

// sendHistoryRequests sends the waiting history requests of the rooms
// joined on l.
func (s *Session) sendHistoryRequests(ctx context.Context, l *link) error {
	var qs []event.HistoryRequest
	s.mu.Lock()
	for _, r := range s.rooms {
		if r.historyBefore != 0 && l.in(r.name) {
			qs = append(qs, event.HistoryRequest{Room: r.name, Before: r.historyBefore})
			r.historyBefore = 0
		}
	}
	s.mu.Unlock()
	for _, q := range qs {
		if err := s.write(ctx, l.conn, q); err != nil {
			return err
		}
	}
	return nil
}

// join sends the Joins the Session has a name for: the first room's first,
// alone, since it establishes who the connection is; once it is joined, one
// for each other open room not joined yet.
func (s *Session) join(ctx context.Context, l *link) error {
	if l.rejoin != nil {
		return nil // rate-limited: wait
	}
	var joins []event.Join
	s.mu.Lock()
	if s.name != "" {
		for _, r := range s.rooms {
			lr := l.at(r.name)
			if lr.joined || lr.joinSent || lr.refused {
				continue
			}
			if !l.joined && r.name != s.first {
				continue // after the first room's Joined
			}
			lr.joinSent = true
			joins = append(joins, event.Join{Name: s.name, Token: s.id.Token, Room: r.name, Since: r.lastSeq})
		}
	}
	s.mu.Unlock()
	for _, j := range joins {
		if err := s.write(ctx, l.conn, j); err != nil {
			return err
		}
	}
	return nil
}

// pump sends each room's next message when that room has joined, nothing
// of it is in flight and the outboxes are not held back.
func (s *Session) pump(ctx context.Context, l *link) error {
	if !l.joined || l.held {
		return nil
	}
	var sends []event.Send
	s.mu.Lock()
	for _, r := range s.rooms {
		if !l.in(r.name) {
			continue
		}
		if it, ok := r.out.next(); ok {
			r.out.sent(it.ID)
			sends = append(sends, event.Send{Room: r.name, ID: it.ID, Text: it.Text})
		}
	}
	s.mu.Unlock()
	for _, e := range sends {
		if err := s.write(ctx, l.conn, e); err != nil {
			return err
		}
	}
	return nil
}

// write sends one client event within writeTimeout.
func (s *Session) write(ctx context.Context, conn *Conn, e event.Event) error {
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return conn.Send(wctx, e)
}

// handle applies a frame's events, in order, and adds to u what the owner
// must see.
func (s *Session) handle(ctx context.Context, l *link, events []event.Event, u *Update) error {
	for _, e := range events {
		switch e := e.(type) {
		case event.Joined:
			s.mu.Lock()
			r := s.open(e.Room)
			if r == nil {
				s.mu.Unlock()
				continue // left meanwhile: its Leave follows
			}
			lr := l.at(r.name)
			lr.joined, lr.joinSent = true, false
			l.joined, l.failures = true, 0
			s.id = Identity{User: e.User, Name: e.Name, Token: e.Token}
			s.name = e.Name
			if err := s.storage.Set(keyIdentity, s.id); err != nil {
				s.storageErr = fmt.Errorf("keep the identity: %w", err)
			}
			s.mu.Unlock()
			// The room's history went back (its store was reset): what
			// the page shows cannot be continued, say so and start over.
			// The history that follows ends at e.Seq: accept all of it.
			if e.Seq < r.lastSeq {
				e.Gap, r.lastSeq = true, 0
			}
			u.Events = append(u.Events, e)
		case event.Message:
			s.mu.Lock()
			r := s.open(e.Room)
			// The sender's copy, live or replayed, acknowledges it.
			if r != nil && e.ID != "" && e.User == s.id.User && r.out.acked(e.ID) {
				l.failures, l.limited = 0, 0
				s.outboxChanged(r)
			}
			s.mu.Unlock()
			if r == nil || e.Seq <= r.lastSeq {
				continue // left, or seen before this reconnect
			}
			r.lastSeq = e.Seq
			u.Events = append(u.Events, e)
		case event.Ack:
			s.mu.Lock()
			for _, r := range s.rooms {
				if r.out.acked(e.ID) {
					l.failures, l.limited = 0, 0
					s.outboxChanged(r)
					break
				}
			}
			s.mu.Unlock()
		case event.Presence:
			s.report(u, e.Room, e)
		case event.Typing:
			s.report(u, e.Room, e)
		case event.History:
			s.report(u, e.Room, e)
		case event.Ping:
			if err := s.write(ctx, l.conn, event.Pong{}); err != nil {
				return err
			}
		case event.Error:
			if e.Code == event.CodeJoinTimeout {
				// Not joined in time (the person is still choosing a
				// name): the server closes this connection next.
				l.joinTimedOut = true
				continue
			}
			s.refused(l, e, u)
		}
	}
	return nil
}

// report adds e, an event of room, to u unless the room was left.
func (s *Session) report(u *Update, room string, e event.Event) {
	s.mu.Lock()
	r := s.open(room)
	s.mu.Unlock()
	if r != nil {
		u.Events = append(u.Events, e)
	}
}

// refused applies an Error: to the outbox item it names, or to the Join of
// its room waiting for an answer, or else it is passed on to the owner.
func (s *Session) refused(l *link, e event.Error, u *Update) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A refusal of a Send's id cannot echo it: the server answers frames
	// in order, and after the Join only Sends can be refused for their
	// content, so it is the one in flight in the room it names.
	if e.ID == "" && l.joined && (e.Code == event.CodeInvalidID || e.Code == event.CodeInvalidText) {
		if r := s.open(e.Room); r != nil {
			e.ID = r.out.inflight
		}
	}
	for _, r := range s.rooms {
		if r.out.index(e.ID) >= 0 {
			s.refusedSend(l, r, e)
			return
		}
	}
	// A refusal of a Join names its room; one from a server that does not
	// name it is the first room's, as the only Join sent alone.
	name := e.Room
	if name == "" && !l.joined {
		name = s.first
	}
	if lr := l.rooms[name]; lr != nil && lr.joinSent && !lr.joined {
		lr.joinSent = false
		switch e.Code {
		case event.CodeInvalidName:
			s.name = ""
		case event.CodeRateLimited:
			// Too many joins for now (a crowd behind one network, a
			// reconnect storm): join again when the server says.
			d := time.Duration(e.RetryAfter) * time.Millisecond
			if d <= 0 {
				d = s.backoff.Ceiling(0)
			}
			l.rejoin = time.After(min(d, maxRetryAfter))
		case event.CodeAlreadyJoined:
			// In it already, as the server sees it: go on as joined.
			lr.joined = true
			return
		case event.CodeTooManyRooms:
			lr.refused = true
		}
		u.JoinRefused = &e
		return
	}
	u.Refusals = append(u.Refusals, e)
}

// refusedSend applies the refusal of r's outbox item e.ID. s.mu is held.
func (s *Session) refusedSend(l *link, r *room, e event.Error) {
	switch e.Code {
	case event.CodeRateLimited:
		if l.limited++; l.limited > maxRateLimited {
			// Rate-limited beyond retry: let the person decide.
			l.limited = 0
			if r.out.failed(e.ID, "Too many messages: the server keeps refusing this one for now.") {
				s.outboxChanged(r)
			}
			return
		}
		if r.out.release(e.ID) {
			d := time.Duration(e.RetryAfter) * time.Millisecond
			if d <= 0 {
				d = s.backoff.Ceiling(0)
			}
			l.holdFor(min(d, maxRetryAfter))
		}
	case event.CodeInternal, event.CodeNotJoined:
		// The server may accept it later: wait, then resend.
		if r.out.release(e.ID) {
			l.holdFor(s.backoff.Delay(l.failures))
			l.failures++
		}
	default: // invalid_text, invalid_id: it will never pass.
		if r.out.failed(e.ID, Sentence(errors.New(e.Message))) {
			s.outboxChanged(r)
		}
	}
}

// holdFor holds the outboxes back for d.
func (l *link) holdFor(d time.Duration) {
	l.held, l.hold = true, time.After(d)
}

// emit reports u with the state now state, plus the outboxes' snapshot and
// storage failure if there are new ones. An update that changes nothing is
// not reported.
func (s *Session) emit(u Update, state ConnState) {
	s.mu.Lock()
	changed := s.state != state
	s.state = state
	if s.outVer != s.emittedVer {
		u.Outbox, u.OutboxChanged = s.snapshot(), true
		s.emittedVer = s.outVer
	}
	if s.storageErr != nil {
		u.StorageErr, s.storageErr = s.storageErr, nil
	}
	s.mu.Unlock()
	u.State = state
	if !changed && u.empty() {
		return
	}
	if s.onUpdate != nil {
		s.onUpdate(u)
	}
}
