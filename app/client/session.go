package client

// This file is platform-neutral: no go-app here, so that native programs
// (the server's fault tests, load tools) run Sessions as protocol clients.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

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
	// Room is the Session's first room: the one its identity joins
	// first on every connection, and the one it never leaves. Zero value
	// means the server's default room, event.DefaultRoom.
	Room string
	// Rooms are more rooms to join, besides Room and those Storage
	// remembers from earlier Sessions (Open and Leave keep that list). Zero
	// value means none.
	Rooms []string
	// Storage keeps the identity, the rooms and the outboxes. Zero value
	// means a new MemoryStorage: nothing outlives the Session.
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
	// Tab names this tab's outboxes. Tabs of one browser share Storage:
	// each keeps its own outbox per room so that none overwrites another's,
	// and a Session adopts, when it opens a room, the outboxes of that room
	// other tabs left (a tab closed before its messages went out); the
	// server's deduplication makes a message that two tabs send arrive
	// once. Zero value means one outbox per room.
	Tab string
	// Dial opens each connection to URL. Zero value means Dial; EarlyDial
	// gives one whose first connection was begun before the Session was
	// made.
	Dial func(ctx context.Context, url string) (*Conn, error)
}

// Update is what changed in a Session, for its owner to show. Events and
// the outbox are reported together when one server frame changed both, so
// that the page renders once per frame.
type Update struct {
	// State is the connection's state now.
	State ConnState
	// Events are the rooms' events to show, in server order, each once;
	// each names its room. They are event.Joined (on every join of a room,
	// including after a reconnect; Gap set when messages are missing before
	// the history that follows; Members, who is in the room),
	// event.Presence (who arrived and who left since: apply it to Members
	// idempotently, see event.Presence), event.Message, event.Typing
	// (someone else is typing) and event.History (a page of older messages
	// that LoadHistory asked for). A Message whose Seq the Session already
	// reported (a replay after a reconnect) is not reported again, and
	// nothing is reported of a room after Leave.
	Events []event.Event
	// OutboxChanged reports that Outbox holds a new snapshot.
	OutboxChanged bool
	// Outbox is every room's outbox, room after room in the order of
	// Rooms, each in order, when OutboxChanged. Each item names its Room.
	Outbox []OutboxItem
	// JoinRefused is the server's refusal of a Join (such as invalid_name),
	// nil when none; its Room says which room's. After invalid_name the
	// Session has no name: the person must choose another and call Join.
	// After rate_limited it joins again by itself once the server allows.
	// After too_many_rooms the room stays unjoined until the next
	// connection: Leave another room, or this one.
	JoinRefused *event.Error
	// Refusals are the server's other refusals that no outbox item
	// explains (a client bug, or a newer server's rule).
	Refusals []event.Error
	// Err is why the connection ended or could not be opened, when State
	// became offline; nil otherwise.
	Err error
	// StorageErr is set when Storage failed to keep the identity, the
	// rooms or an outbox: they will not survive a reload.
	StorageErr error
}

// empty reports whether u carries nothing but the state.
func (u *Update) empty() bool {
	return len(u.Events) == 0 && !u.OutboxChanged && u.JoinRefused == nil &&
		len(u.Refusals) == 0 && u.Err == nil && u.StorageErr == nil
}

// Errors of the Session's room operations.
var (
	// ErrFirstRoom: Leave of the Session's first room (SessionConfig.Room),
	// the one its identity joins through.
	ErrFirstRoom = errors.New("the first room cannot be left")
	// ErrNoRoom: an operation named a room the Session has not opened.
	ErrNoRoom = errors.New("the room is not open: open it first")
)

// Session is one person's connection to the chat: it dials and redials,
// joins its rooms with the stored identity, resumes each room after its last
// message, answers heartbeats, and sends the person's messages from a
// persistent outbox per room, in order and, with the server's
// deduplication, exactly once. Every room it opened is joined on the one
// connection, so that each stays live (see docs/PROTOCOL.md, several rooms
// on one connection).
//
// Run drives it; Join, Open, Leave, Send, SendIn, Retry, Delete, Typing,
// TypingIn, LoadHistory, LoadHistoryIn, Wake and Drop may be called from any
// goroutine, before or while Run runs. Changes are reported through
// SessionConfig.OnUpdate.
type Session struct {
	url, first       string // first: the first room, never left
	dial             func(ctx context.Context, url string) (*Conn, error)
	storage          Storage
	onUpdate         func(Update)
	backoff          Backoff
	heartbeatTimeout time.Duration
	tab              string

	// kick tells Run that an outbox, the rooms or the name changed; wake
	// cuts a reconnect wait short; drop ends the connection; typing and
	// history that a room has a Typing or a history request to send. Each
	// holds one signal.
	kick, wake, drop, typing, history chan struct{}
	running                           atomic.Bool

	mu         sync.Mutex
	id         Identity  // from storage, then from each Joined
	name       string    // the name to join under; empty: ask the person
	rooms      []*room   // the open rooms, the first room first
	leaves     []string  // rooms left whose Leave has not gone out yet
	outVer     uint64    // counts changes of the outboxes' items
	emittedVer uint64    // outVer of the last snapshot reported
	state      ConnState // the state last reported
	storageErr error     // a storage failure not reported yet
}

// room is the Session's state of one open room. Its fields are guarded by
// Session.mu, except lastSeq and lastTyping, which only Run's goroutine
// touches.
type room struct {
	name      string
	out       outbox // the messages waiting for acknowledgement
	outboxKey string
	// historyBefore is the Before of the history request to send, 0 when
	// none is waiting; typing that a Typing waits to go out.
	historyBefore uint64
	typing        bool

	// lastSeq is the Seq of the last Message reported: the next Join's
	// Since, and the bar for duplicates.
	lastSeq uint64
	// lastTyping is when a Typing last went out.
	lastTyping time.Time
}

// NewSession returns a Session for cfg, with the identity, the rooms and the
// outboxes it finds in cfg.Storage. It does not connect: call Run.
func NewSession(cfg SessionConfig) (*Session, error) {
	if cfg.URL == "" {
		return nil, errors.New("new session: SessionConfig.URL is empty")
	}
	if cfg.Room != "" && !event.ValidRoom(cfg.Room) {
		return nil, fmt.Errorf("new session: room %q: %w", cfg.Room, event.ErrRoomInvalid)
	}
	for _, r := range cfg.Rooms {
		if !event.ValidRoom(r) {
			return nil, fmt.Errorf("new session: room %q: %w", r, event.ErrRoomInvalid)
		}
	}
	if cfg.Storage == nil {
		cfg.Storage = new(MemoryStorage)
	}
	if cfg.HeartbeatTimeout <= 0 {
		cfg.HeartbeatTimeout = event.HeartbeatTimeout
	}
	if cfg.Dial == nil {
		cfg.Dial = Dial
	}
	first := cfg.Room
	if first == "" {
		first = event.DefaultRoom
	}
	s := &Session{
		url:              cfg.URL,
		dial:             cfg.Dial,
		first:            first,
		storage:          cfg.Storage,
		onUpdate:         cfg.OnUpdate,
		backoff:          cfg.Backoff,
		heartbeatTimeout: cfg.HeartbeatTimeout,
		tab:              cfg.Tab,
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
	names := append([]string{first}, cfg.Rooms...)
	names = append(names, s.storedRooms()...)
	for _, name := range names {
		if len(s.rooms) < event.MaxRoomsPerConn && s.find(name) == nil {
			s.rooms = append(s.rooms, s.load(name))
		}
	}
	s.keepRooms(nil)
	return s, nil
}

// load returns the state of a room being opened, with its outbox from
// Storage and those that other tabs left of it. s.mu is held, or s is not
// shared yet.
func (s *Session) load(name string) *room {
	r := &room{name: name, outboxKey: outboxKey(name, s.tab)}
	var items []OutboxItem
	if err := s.storage.Get(r.outboxKey, &items); err != nil {
		s.storageErr = fmt.Errorf("read the outbox of %s: %w", name, err)
	}
	adopted := s.adoptOutboxes(r)
	r.out.load(append(items, adopted...))
	for i := range r.out.items {
		r.out.items[i].Room = name
	}
	if len(adopted) > 0 {
		s.outboxChanged(r)
	}
	return r
}

// find returns the open room with name, or nil. s.mu is held.
func (s *Session) find(name string) *room {
	for _, r := range s.rooms {
		if r.name == name {
			return r
		}
	}
	return nil
}

// open returns the open room with name, the first room when name is
// empty, or nil for a room not open (left: what the server still sends of
// it is not reported). s.mu is held.
func (s *Session) open(name string) *room {
	if name == "" {
		name = s.first
	}
	return s.find(name)
}

// roomOf returns what open does, or ErrNoRoom for a room not open. s.mu is
// held.
func (s *Session) roomOf(name string) (*room, error) {
	if r := s.open(name); r != nil {
		return r, nil
	}
	return nil, fmt.Errorf("room %q: %w", cmp.Or(name, s.first), ErrNoRoom)
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
func (s *Session) adoptOutboxes(r *room) []OutboxItem {
	lister, ok := s.storage.(keyLister)
	if !ok {
		return nil
	}
	single := keyOutboxPrefix + r.name
	var keys []string
	lister.ForEach(func(k string) {
		if k != r.outboxKey && (k == single || strings.HasPrefix(k, single+"/")) {
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

// storedRooms returns the rooms Storage remembers, without the invalid
// ones.
func (s *Session) storedRooms() []string {
	var names []string
	if err := s.storage.Get(keyRooms, &names); err != nil {
		return nil // an older format, or a hand edit: start from none
	}
	return slices.DeleteFunc(names, func(n string) bool { return !event.ValidRoom(n) })
}

// keepRooms stores the open rooms, besides the first, merged with those
// Storage holds (another tab may have opened some since this one read
// them), less left. s.mu is held, or s is not shared yet.
func (s *Session) keepRooms(left []string) {
	names := s.storedRooms()
	for _, r := range s.rooms[1:] {
		if !slices.Contains(names, r.name) {
			names = append(names, r.name)
		}
	}
	names = slices.DeleteFunc(names, func(n string) bool {
		return n == s.first || slices.Contains(left, n)
	})
	if err := s.storage.Set(keyRooms, names); err != nil {
		s.storageErr = fmt.Errorf("keep the rooms: %w", err)
	}
}

// RoomsKey is the Storage key under which a Session keeps the rooms it
// opened: a page watching the browser's storage events for it learns that
// another tab opened a room (see OpenStored).
const RoomsKey = keyRooms

// OpenStored opens the rooms Storage remembers that are not open here: those
// another tab of the same browser opened since. It reports whether it
// opened any. It never leaves a room: two tabs that open rooms at the same
// moment may each store a list without the other's room, and a room closes
// only when the person leaves it.
func (s *Session) OpenStored() bool {
	stored := s.storedRooms()
	s.mu.Lock()
	opened := false
	for _, name := range stored {
		if s.find(name) == nil && len(s.rooms) < event.MaxRoomsPerConn {
			s.rooms = append(s.rooms, s.load(name))
			opened = true
		}
	}
	if opened {
		s.outVer++ // their outboxes join the snapshot
	}
	s.mu.Unlock()
	if opened {
		s.signal(s.kick)
	}
	return opened
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

// Rooms returns the open rooms, the first room first, then in the order
// they were opened.
func (s *Session) Rooms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, len(s.rooms))
	for i, r := range s.rooms {
		names[i] = r.name
	}
	return names
}

// Outbox returns every room's messages waiting for acknowledgement, room
// after room in the order of Rooms, each in order.
func (s *Session) Outbox() []OutboxItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshot()
}

// snapshot returns every room's outbox items. s.mu is held.
func (s *Session) snapshot() []OutboxItem {
	items := make([]OutboxItem, 0)
	for _, r := range s.rooms {
		items = append(items, r.out.items...)
	}
	return items
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

// Open opens one more room: the Session joins it as soon as the connection
// allows, and on every connection after, and Storage remembers it for the
// next Session. Opening an open room does nothing. It returns
// event.ErrRoomInvalid for a name the protocol refuses, and
// event.ErrTooManyRooms beyond event.MaxRoomsPerConn rooms.
func (s *Session) Open(name string) error {
	if !event.ValidRoom(name) {
		return fmt.Errorf("open %q: %w", name, event.ErrRoomInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.find(name) != nil {
		return nil
	}
	if len(s.rooms) >= event.MaxRoomsPerConn {
		return event.ErrTooManyRooms
	}
	s.rooms = append(s.rooms, s.load(name))
	// A Leave of it still waiting goes out first: the Join after it
	// starts the room afresh, with its history.
	s.outVer++ // its outbox joins the snapshot
	s.keepRooms(nil)
	s.signal(s.kick)
	return nil
}

// Leave closes a room: the server takes the connection out of it, nothing
// more of it is reported, Storage forgets it, and its messages not sent yet
// are dropped. It returns ErrFirstRoom for the first room and ErrNoRoom for
// a room not open.
func (s *Session) Leave(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == s.first {
		return ErrFirstRoom
	}
	i := slices.IndexFunc(s.rooms, func(r *room) bool { return r.name == name })
	if i < 0 {
		return fmt.Errorf("leave %q: %w", name, ErrNoRoom)
	}
	r := s.rooms[i]
	s.rooms = slices.Delete(s.rooms, i, i+1)
	s.storage.Del(r.outboxKey)
	s.leaves = append(s.leaves, name)
	s.outVer++
	s.keepRooms([]string{name})
	s.signal(s.kick)
	return nil
}

// Send puts text in the first room's outbox; see SendIn.
func (s *Session) Send(text string) (OutboxItem, error) { return s.SendIn("", text) }

// SendIn puts text in the outbox of an open room (the first room when room
// is empty), to be sent when the connection allows, and returns the new
// item. A text the server would refuse is not queued: SendIn returns
// event.ErrTextEmpty, ErrTextTooLong or ErrTextInvalid as they are
// (sentences fit to show), ErrOutboxFull, or ErrNoRoom.
func (s *Session) SendIn(room, text string) (OutboxItem, error) {
	text, err := event.NormalizeText(text)
	if err != nil {
		return OutboxItem{}, err
	}
	s.mu.Lock()
	r, err := s.roomOf(room)
	var it OutboxItem
	if err == nil {
		it = OutboxItem{ID: uuid.NewString(), Text: text, Status: StatusPending, Room: r.name}
		err = r.out.add(it)
	}
	if err == nil {
		s.outboxChanged(r)
	}
	s.mu.Unlock()
	if err != nil {
		return OutboxItem{}, err
	}
	s.signal(s.kick)
	return it, nil
}

// Retry sends a failed message again, after the others waiting in its room.
func (s *Session) Retry(id string) error {
	return s.outboxAction(id, "retry", (*outbox).retry)
}

// Delete removes a message from its outbox. A message already in flight may
// still reach the room.
func (s *Session) Delete(id string) error {
	return s.outboxAction(id, "delete", (*outbox).remove)
}

// outboxAction applies action to the message with id, in whichever room's
// outbox holds it.
func (s *Session) outboxAction(id, what string, action func(*outbox, string) error) error {
	s.mu.Lock()
	err := ErrNotInOutbox
	for _, r := range s.rooms {
		if r.out.index(id) >= 0 {
			if err = action(&r.out, id); err == nil {
				s.outboxChanged(r)
			}
			break
		}
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, id, err)
	}
	s.signal(s.kick)
	return nil
}

// Typing tells the first room that the person is typing; see TypingIn.
func (s *Session) Typing() { s.TypingIn("") }

// TypingIn tells an open room (the first room when room is empty) that the
// person is typing: call it on every change of the message input. At most
// one Typing goes out per room every event.TypingInterval, and none while
// not joined; the others see it for event.TypingTimeout.
func (s *Session) TypingIn(room string) {
	s.mu.Lock()
	r, err := s.roomOf(room)
	if err == nil {
		r.typing = true
	}
	s.mu.Unlock()
	if err == nil {
		s.signal(s.typing)
	}
}

// LoadHistory asks for older messages of the first room; see LoadHistoryIn.
func (s *Session) LoadHistory(before uint64) { s.LoadHistoryIn("", before) }

// LoadHistoryIn asks for the messages of an open room (the first room when
// room is empty) before seq (the oldest the page holds), a page of up to
// event.MaxHistoryLimit, newest last; the answer comes as an event.History
// in Update.Events. A request made while not joined goes out once joined; a
// newer request replaces one not sent yet.
func (s *Session) LoadHistoryIn(room string, before uint64) {
	if before == 0 {
		return // nothing is older than the first message
	}
	s.mu.Lock()
	r, err := s.roomOf(room)
	if err == nil {
		r.historyBefore = before
	}
	s.mu.Unlock()
	if err == nil {
		s.signal(s.history)
	}
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

// outboxChanged persists a room's outbox and marks the outboxes for the
// next Update. s.mu is held.
func (s *Session) outboxChanged(r *room) {
	s.outVer++
	if err := s.storage.Set(r.outboxKey, r.out.items); err != nil {
		s.storageErr = fmt.Errorf("keep the outbox of %s: %w", r.name, err)
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
