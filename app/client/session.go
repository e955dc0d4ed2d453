package client

// This file is platform-neutral: no go-app here, so that native programs
// (the server's fault tests, load tools) run Sessions as protocol clients.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/chatwasm/chat/app/event"
)

// ConnState is the state of a Session's connection, as #connection's
// data-state shows it.
type ConnState string

// Connection states, the values of #connection's data-state (the DOM
// contract).
const (
	// StateConnecting: the first connection attempt is under way.
	StateConnecting ConnState = "connecting"
	// StateConnected: the socket is open (joined or about to be).
	StateConnected ConnState = "connected"
	// StateOffline: the connection failed or dropped; the Session is
	// waiting to try again, or trying.
	StateOffline ConnState = "offline"
)

// Timeouts of a Session's connection.
const (
	// dialTimeout bounds one connection attempt: 10 s is plenty for a
	// handshake on a slow mobile network, and a hung attempt must not
	// hold off the next one for the browser's own minutes.
	dialTimeout = 10 * time.Second
	// writeTimeout bounds one native write: 10 s, the server's own write
	// timeout; a write stalled that long means a dead connection. (The
	// browser's writes never block.)
	writeTimeout = 10 * time.Second
	// maxRetryAfter caps the wait an Error.RetryAfter asks for: a server
	// asking for more than a minute is misconfigured, and the outbox must
	// not stall on it.
	maxRetryAfter = time.Minute
	// maxRateLimited is how many rate-limit refusals in a row the head of
	// the outbox takes before it is marked failed: 20 waits ride out any
	// burst the server's limits allow (one message in flight, each retried
	// after the delay the server asked for), so more means another tab is
	// flooding or the limit is misconfigured.
	maxRateLimited = 20
)

// Errors of a Session.
var (
	// ErrRunning: Run was called while another Run of the Session runs.
	ErrRunning = errors.New("the session is already running")
	// ErrHeartbeat: nothing came from the server for the heartbeat
	// timeout; the connection was taken for dead and dropped.
	ErrHeartbeat = errors.New("the server went silent")
	// ErrDropped: Drop was called; the connection was dropped.
	ErrDropped = errors.New("the network went away")
	// ErrJoinTimeout: the server closed a connection that had not joined
	// in time (event.StatusJoinTimeout); the next one opens at once.
	ErrJoinTimeout = errors.New("the connection did not join in time")
)

// Identity is who the person is to the server, as the last Joined said. It
// is kept in Storage, so that a reload or a reconnect is the same person.
type Identity struct {
	// User is the person's id: a Message with this User is their own.
	User string `json:"user"`
	// Name is the name the server stored.
	Name string `json:"name"`
	// Token proves User and Name on the next Join.
	Token string `json:"token"`
}

// SessionConfig configures a Session. The zero value of each field is usable
// unless its comment says otherwise.
type SessionConfig struct {
	// URL is the server's WebSocket endpoint, ws://host/ws or
	// wss://host/ws. Required.
	URL string
	// Room is the room to join. Zero value means the server's default
	// room, event.DefaultRoom.
	Room string
	// Storage keeps the identity and the outbox. Zero value means a new
	// MemoryStorage: nothing outlives the Session.
	Storage Storage
	// OnUpdate receives what changed. Run calls it from its own goroutine,
	// one call at a time, in order; it must not block for long (hand the
	// update to the UI goroutine). Zero value means no reports.
	OnUpdate func(Update)
	// Backoff spaces the reconnects. Zero value means 500 ms doubling to
	// 10 s, with full jitter.
	Backoff Backoff
	// HeartbeatTimeout is how long the server may stay silent before the
	// connection is taken for dead, dropped and replaced. Zero value means
	// event.HeartbeatTimeout (60 s).
	HeartbeatTimeout time.Duration
	// Tab names this tab's outbox. Tabs of one browser share Storage: each
	// keeps its own outbox so that none overwrites another's, and a Session
	// adopts, at start, the outboxes other tabs left (a tab closed before
	// its messages went out); the server's deduplication makes a message
	// that two tabs send arrive once. Zero value means one outbox per room.
	Tab string
}

// Update is what changed in a Session, for its owner to show. Events and
// the outbox are reported together when one server frame changed both, so
// that the page renders once per frame.
type Update struct {
	// State is the connection's state now.
	State ConnState
	// Events are the room's events to show, in server order, each once:
	// event.Joined (on every join, including after a reconnect; Gap set
	// when messages are missing before the history that follows; Members,
	// who is in the room), event.UserJoined, event.UserLeft, event.Message,
	// event.Typing (someone else is typing) and event.History (a page of
	// older messages that LoadHistory asked for). A Message whose Seq the
	// Session already reported (a replay after a reconnect) is not reported
	// again.
	Events []event.Event
	// OutboxChanged reports that Outbox holds a new snapshot.
	OutboxChanged bool
	// Outbox is the whole outbox, in order, when OutboxChanged.
	Outbox []OutboxItem
	// JoinRefused is the server's refusal of the Join (such as
	// invalid_name), nil when none. After invalid_name the Session has no
	// name: the person must choose another and call Join. After
	// rate_limited it joins again by itself once the server allows.
	JoinRefused *event.Error
	// Refusals are the server's other refusals that no outbox item
	// explains (a client bug, or a newer server's rule).
	Refusals []event.Error
	// Err is why the connection ended or could not be opened, when State
	// became offline; nil otherwise.
	Err error
	// StorageErr is set when Storage failed to keep the identity or the
	// outbox: they will not survive a reload.
	StorageErr error
}

// empty reports whether u carries nothing but the state.
func (u *Update) empty() bool {
	return len(u.Events) == 0 && !u.OutboxChanged && u.JoinRefused == nil &&
		len(u.Refusals) == 0 && u.Err == nil && u.StorageErr == nil
}

// Session is one person's connection to the chat: it dials and redials,
// joins with the stored identity, resumes the room after its last message,
// answers heartbeats, and sends the person's messages from a persistent
// outbox, in order and, with the server's deduplication, exactly once.
//
// Run drives it; Send, Join, Retry, Delete and Wake may be called from any
// goroutine, before or while Run runs. Changes are reported through
// SessionConfig.OnUpdate.
type Session struct {
	url, room        string
	storage          Storage
	onUpdate         func(Update)
	backoff          Backoff
	heartbeatTimeout time.Duration
	outboxKey        string

	// kick tells Run that the outbox or the name changed; wake cuts a
	// reconnect wait short; drop ends the connection. Each holds one
	// signal.
	kick, wake, drop chan struct{}
	// typing tells Run that the person typed; history that the page wants
	// older messages (historyBefore). Each holds one signal.
	typing, history chan struct{}
	running         atomic.Bool

	mu         sync.Mutex
	id         Identity  // from storage, then from each Joined
	name       string    // the name to join under; empty: ask the person
	out        outbox    // the messages waiting for acknowledgement
	outVer     uint64    // counts changes of out's items
	emittedVer uint64    // outVer of the last snapshot reported
	state      ConnState // the state last reported
	storageErr error     // a storage failure not reported yet
	// historyBefore is the Before of the history request to send, 0 when
	// none is waiting.
	historyBefore uint64

	// lastSeq is the Seq of the last Message reported: the next Join's
	// Since, and the bar for duplicates. Run's goroutine only.
	lastSeq uint64
	// lastTyping is when Typing last went out. Run's goroutine only.
	lastTyping time.Time
}

// NewSession returns a Session for cfg, with the identity and the outbox it
// finds in cfg.Storage. It does not connect: call Run.
func NewSession(cfg SessionConfig) (*Session, error) {
	if cfg.URL == "" {
		return nil, errors.New("new session: SessionConfig.URL is empty")
	}
	if cfg.Room != "" && !event.ValidRoom(cfg.Room) {
		return nil, fmt.Errorf("new session: room %q: %w", cfg.Room, event.ErrRoomInvalid)
	}
	if cfg.Storage == nil {
		cfg.Storage = new(MemoryStorage)
	}
	if cfg.HeartbeatTimeout <= 0 {
		cfg.HeartbeatTimeout = event.HeartbeatTimeout
	}
	room := cfg.Room
	if room == "" {
		room = event.DefaultRoom
	}
	s := &Session{
		url:              cfg.URL,
		room:             cfg.Room,
		storage:          cfg.Storage,
		onUpdate:         cfg.OnUpdate,
		backoff:          cfg.Backoff,
		heartbeatTimeout: cfg.HeartbeatTimeout,
		outboxKey:        outboxKey(room, cfg.Tab),
		kick:             make(chan struct{}, 1),
		typing:           make(chan struct{}, 1),
		history:          make(chan struct{}, 1),
		wake:             make(chan struct{}, 1),
		drop:             make(chan struct{}, 1),
		state:            StateConnecting,
		outVer:           1, // what storage held: the first Update reports it
	}
	// A value that does not decode (an older format, a hand edit) is
	// dropped: the person starts fresh rather than not at all.
	var id Identity
	if err := s.storage.Get(keyIdentity, &id); err != nil {
		s.storageErr = fmt.Errorf("read the identity: %w", err)
	} else if id.Token != "" && id.User != "" {
		if name, err := event.NormalizeName(id.Name); err == nil {
			id.Name = name
			s.id, s.name = id, name
		}
	}
	var items []OutboxItem
	if err := s.storage.Get(s.outboxKey, &items); err != nil {
		s.storageErr = fmt.Errorf("read the outbox: %w", err)
	}
	adopted := s.adoptOutboxes(room)
	s.out.load(append(items, adopted...))
	if len(adopted) > 0 {
		s.outboxChanged()
	}
	return s, nil
}

// outboxKey is the Storage key of a room's outbox for a tab.
func outboxKey(room, tab string) string {
	if tab == "" {
		return keyOutboxPrefix + room
	}
	return keyOutboxPrefix + room + "/" + tab
}

// adoptOutboxes takes over the room's outboxes that other tabs stored, when
// the Storage can list its keys, and removes them: their messages go out
// from this tab. A tab still open keeps its own copy and sends it too; the
// server stores such a message once.
func (s *Session) adoptOutboxes(room string) []OutboxItem {
	lister, ok := s.storage.(keyLister)
	if !ok {
		return nil
	}
	single := keyOutboxPrefix + room
	var keys []string
	lister.ForEach(func(k string) {
		if k != s.outboxKey && (k == single || strings.HasPrefix(k, single+"/")) {
			keys = append(keys, k)
		}
	})
	var adopted []OutboxItem
	for _, k := range keys {
		var items []OutboxItem
		if err := s.storage.Get(k, &items); err == nil {
			adopted = append(adopted, items...)
		}
		s.storage.Del(k)
	}
	return adopted
}

// Identity returns the stored identity; its Token is empty for a person the
// server has not met yet.
func (s *Session) Identity() Identity {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// NeedsName reports whether the Session waits for Join: it has no stored
// identity and no name, or the server refused the name.
func (s *Session) NeedsName() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name == ""
}

// Outbox returns the messages waiting for acknowledgement, in order.
func (s *Session) Outbox() []OutboxItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.snapshot()
}

// State returns the connection state last reported.
func (s *Session) State() ConnState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Join sets the name of a new person and joins under it as soon as the
// connection allows. For a name the server would refuse it returns the
// error of event.NormalizeName as it is (each rule has its own, a sentence
// fit to show).
func (s *Session) Join(name string) error {
	name, err := event.NormalizeName(name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.name = name
	s.mu.Unlock()
	s.signal(s.kick)
	return nil
}

// Send puts text in the outbox, to be sent when the connection allows, and
// returns the new item. A text the server would refuse is not queued: Send
// returns event.ErrTextEmpty, ErrTextTooLong or ErrTextInvalid as they are
// (sentences fit to show), or ErrOutboxFull.
func (s *Session) Send(text string) (OutboxItem, error) {
	text, err := event.NormalizeText(text)
	if err != nil {
		return OutboxItem{}, err
	}
	it := OutboxItem{ID: uuid.NewString(), Text: text, Status: StatusPending}
	s.mu.Lock()
	err = s.out.add(it)
	if err == nil {
		s.outboxChanged()
	}
	s.mu.Unlock()
	if err != nil {
		return OutboxItem{}, err
	}
	s.signal(s.kick)
	return it, nil
}

// Retry sends a failed message again, after the others waiting.
func (s *Session) Retry(id string) error {
	s.mu.Lock()
	err := s.out.retry(id)
	if err == nil {
		s.outboxChanged()
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("retry %s: %w", id, err)
	}
	s.signal(s.kick)
	return nil
}

// Delete removes a message from the outbox. A message already in flight may
// still reach the room.
func (s *Session) Delete(id string) error {
	s.mu.Lock()
	err := s.out.remove(id)
	if err == nil {
		s.outboxChanged()
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	s.signal(s.kick)
	return nil
}

// Typing tells the room that the person is typing: call it on every change
// of the message input. At most one Typing goes out every
// event.TypingInterval, and none while not joined; the others see it for
// event.TypingTimeout.
func (s *Session) Typing() { s.signal(s.typing) }

// LoadHistory asks for the messages before seq (the oldest the page holds),
// a page of up to event.MaxHistoryLimit, newest last; the answer comes as an
// event.History in Update.Events. A request made while not joined goes out
// once joined; a newer request replaces one not sent yet.
func (s *Session) LoadHistory(before uint64) {
	if before == 0 {
		return // nothing is older than the first message
	}
	s.mu.Lock()
	s.historyBefore = before
	s.mu.Unlock()
	s.signal(s.history)
}

// Wake makes a waiting Session try to connect now instead of at the end of
// its backoff: call it when the browser reports it is online again or the
// page becomes visible. It does nothing to an open connection.
func (s *Session) Wake() { s.signal(s.wake) }

// Drop ends the open connection at once, as dead, and goes on as after any
// drop: reconnect attempts, cut short by Wake. Call it when the browser
// reports it is offline: the socket is gone or soon will be, but the browser
// may not say so before the heartbeat times out. Without an open connection
// it does nothing.
func (s *Session) Drop() { s.signal(s.drop) }

// signal leaves one signal in c without blocking.
func (s *Session) signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// outboxChanged persists the outbox and marks it for the next Update.
// s.mu is held.
func (s *Session) outboxChanged() {
	s.outVer++
	if err := s.storage.Set(s.outboxKey, s.out.items); err != nil {
		s.storageErr = fmt.Errorf("keep the outbox: %w", err)
	}
}

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
			s.emit(Update{}, StateOffline)
		}
	}
}

// connect dials and serves one connection until it ends. It reports whether
// it joined, how long it was open and why it ended.
func (s *Session) connect(ctx context.Context) (joined bool, lived time.Duration, err error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	conn, err := Dial(dctx, s.url)
	cancel()
	if err != nil {
		return false, 0, err
	}
	start := time.Now()
	joined, err = s.serve(ctx, conn)
	return joined, time.Since(start), err
}

// link is the state of one connection, owned by Run's goroutine.
type link struct {
	conn     *Conn
	joinSent bool // a Join went out and was neither accepted nor refused
	joined   bool // Joined arrived: the outbox may be sent
	held     bool // the outbox's head waits for hold to fire
	hold     <-chan time.Time
	// rejoin fires when a Join refused as rate-limited may be sent again.
	rejoin <-chan time.Time
	// joinTimedOut: the server said the connection did not join in time.
	joinTimedOut bool
	failures     int // internal refusals of the outbox's head in a row
	limited      int // rate-limit refusals of the outbox's head in a row
}

// serve runs one connection: it joins, reads frames, answers pings, sends
// the outbox and watches for silence, until the connection or ctx ends. It
// reports whether it joined and why it ended.
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
	s.out.reset()
	s.mu.Unlock()
	select {
	case <-s.drop: // from before this connection: stale
	default:
	}
	s.emit(Update{}, StateConnected)
	if err := s.join(ctx, l); err != nil {
		return drop(err)
	}
	watchdog := time.NewTimer(s.heartbeatTimeout)
	defer watchdog.Stop()
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
			if err := s.join(ctx, l); err != nil {
				return drop(err)
			}
		case <-l.hold:
			l.held, l.hold = false, nil
		case <-l.rejoin:
			l.rejoin = nil
			if err := s.join(ctx, l); err != nil {
				return drop(err)
			}
		case <-s.wake:
			// Connected: nothing to wake.
		case <-s.typing:
			if err := s.sendTyping(ctx, l); err != nil {
				return drop(err)
			}
		case <-s.history:
			// Sent below, once joined.
		}
		if err := s.pump(ctx, l); err != nil {
			return drop(err)
		}
		if err := s.sendHistoryRequest(ctx, l); err != nil {
			return drop(err)
		}
		s.emit(u, StateConnected)
	}
}

// sendTyping sends Typing when joined and the last one is at least
// event.TypingInterval old; otherwise the person's typing is already told.
func (s *Session) sendTyping(ctx context.Context, l *link) error {
	if !l.joined || time.Since(s.lastTyping) < event.TypingInterval {
		return nil
	}
	s.lastTyping = time.Now()
	return s.write(ctx, l.conn, event.Typing{Room: s.room})
}

// sendHistoryRequest sends the waiting history request once joined.
func (s *Session) sendHistoryRequest(ctx context.Context, l *link) error {
	if !l.joined {
		return nil
	}
	s.mu.Lock()
	before := s.historyBefore
	s.historyBefore = 0
	s.mu.Unlock()
	if before == 0 {
		return nil
	}
	return s.write(ctx, l.conn, event.HistoryRequest{Room: s.room, Before: before})
}

// join sends the Join once the Session has a name and the connection has
// not joined yet.
func (s *Session) join(ctx context.Context, l *link) error {
	if l.joined || l.joinSent || l.rejoin != nil {
		return nil
	}
	s.mu.Lock()
	j := event.Join{Name: s.name, Token: s.id.Token, Room: s.room, Since: s.lastSeq}
	s.mu.Unlock()
	if j.Name == "" {
		return nil
	}
	l.joinSent = true
	return s.write(ctx, l.conn, j)
}

// pump sends the outbox's next message when the connection has joined,
// nothing is in flight and the head is not held back.
func (s *Session) pump(ctx context.Context, l *link) error {
	if !l.joined || l.held {
		return nil
	}
	s.mu.Lock()
	it, ok := s.out.next()
	if ok {
		s.out.sent(it.ID)
	}
	s.mu.Unlock()
	if !ok {
		return nil
	}
	return s.write(ctx, l.conn, event.Send{ID: it.ID, Text: it.Text})
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
			l.joined, l.joinSent, l.failures = true, false, 0
			s.mu.Lock()
			s.id = Identity{User: e.User, Name: e.Name, Token: e.Token}
			s.name = e.Name
			if err := s.storage.Set(keyIdentity, s.id); err != nil {
				s.storageErr = fmt.Errorf("keep the identity: %w", err)
			}
			s.mu.Unlock()
			// The room's history went back (its store was reset): what
			// the page shows cannot be continued, say so and start over.
			// The history that follows ends at e.Seq: accept all of it.
			if e.Seq < s.lastSeq {
				e.Gap, s.lastSeq = true, 0
			}
			u.Events = append(u.Events, e)
		case event.Message:
			s.mu.Lock()
			// The sender's copy, live or replayed, acknowledges it.
			if e.ID != "" && e.User == s.id.User && s.out.acked(e.ID) {
				l.failures, l.limited = 0, 0
				s.outboxChanged()
			}
			s.mu.Unlock()
			if e.Seq <= s.lastSeq {
				continue // seen before this reconnect
			}
			s.lastSeq = e.Seq
			u.Events = append(u.Events, e)
		case event.Ack:
			s.mu.Lock()
			if s.out.acked(e.ID) {
				l.failures, l.limited = 0, 0
				s.outboxChanged()
			}
			s.mu.Unlock()
		case event.UserJoined, event.UserLeft, event.Typing, event.History:
			u.Events = append(u.Events, e)
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

// refused applies an Error: to the outbox item it names, or to the Join
// waiting for an answer, or else it is passed on to the owner.
func (s *Session) refused(l *link, e event.Error, u *Update) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A refusal of a Send's id cannot echo it: the server answers frames
	// in order, and after the Join only Sends can be refused for their
	// content, so it is the one in flight.
	if e.ID == "" && l.joined && (e.Code == event.CodeInvalidID || e.Code == event.CodeInvalidText) {
		e.ID = s.out.inflight
	}
	if s.out.index(e.ID) >= 0 {
		switch e.Code {
		case event.CodeRateLimited:
			if l.limited++; l.limited > maxRateLimited {
				// Rate-limited beyond retry: let the person decide.
				l.limited = 0
				if s.out.failed(e.ID, "Too many messages: the server keeps refusing this one for now.") {
					s.outboxChanged()
				}
				return
			}
			if s.out.release(e.ID) {
				d := time.Duration(e.RetryAfter) * time.Millisecond
				if d <= 0 {
					d = s.backoff.Ceiling(0)
				}
				l.holdFor(min(d, maxRetryAfter))
			}
		case event.CodeInternal, event.CodeNotJoined:
			// The server may accept it later: wait, then resend.
			if s.out.release(e.ID) {
				l.holdFor(s.backoff.Delay(l.failures))
				l.failures++
			}
		default: // invalid_text, invalid_id: it will never pass.
			if s.out.failed(e.ID, Sentence(errors.New(e.Message))) {
				s.outboxChanged()
			}
		}
		return
	}
	// The server answers frames in order: while a Join waits, an error
	// without an outbox id is the Join's.
	if !l.joined && l.joinSent {
		l.joinSent = false
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
		}
		u.JoinRefused = &e
		return
	}
	u.Refusals = append(u.Refusals, e)
}

// holdFor holds the outbox's head back for d.
func (l *link) holdFor(d time.Duration) {
	l.held, l.hold = true, time.After(d)
}

// emit reports u with the state now state, plus the outbox snapshot and
// storage failure if there are new ones. An update that changes nothing is
// not reported.
func (s *Session) emit(u Update, state ConnState) {
	s.mu.Lock()
	changed := s.state != state
	s.state = state
	if s.outVer != s.emittedVer {
		u.Outbox, u.OutboxChanged = s.out.snapshot(), true
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

// Sentence turns an error's text into a sentence for people: a capital
// first letter and a full stop. It is the form of an OutboxItem's Reason;
// a user interface shows its own errors (a refused name, a full outbox) the
// same way.
func Sentence(err error) string {
	s := err.Error()
	r, size := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[size:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
