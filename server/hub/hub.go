// Package hub is the server's broadcast registry: rooms, their members and
// presence, and the path of every message from acceptance to each member.
//
// A message travels: Publish → the room's pending batch → one store
// transaction for the whole batch (group commit: the message is durable and
// numbered) → encoded once → the same bytes queued for every member. Each
// Client's queue is bounded in bytes, and a client that overflows it is
// stopped as a slow consumer rather than allowed to stall the room. Within a
// room every member receives events in one order, the order of the store's
// sequence numbers, and a joining client gets the history up to exactly the
// point where its live stream starts: no gap and no repeat.
//
// A join never reads the store under a lock that the live stream needs: it
// reads (at most maxHistoryReads reads at once across the hub, the others
// waiting their turn) with the room unlocked, and the joins that arrive
// together are admitted by the room's join loop, admitBatch per hold of the
// room's lock, each getting what it read and what arrived meanwhile. Fresh
// joiners, and resuming ones that missed no more than the recent history,
// share one encoding of it, kept per room and extended as messages are
// delivered: a burst of joins costs one check of that history against the
// store per round and a few pointers per joiner, not a store read and an
// encoding each.
//
// Presence is per user, not per connection: each room keeps its users in
// the order they arrived, encoded once as they arrive (event.MemberList),
// and a joiner's Joined lists them as of the point where its live stream
// starts. Arrivals and departures are not announced one by one: the room
// gathers the users whose presence changed and sends their net effect to
// every member in one event.Presence, at once after a quiet spell and
// then at most once per presenceTick, so that a burst of N joins costs
// each member a few events rather than N (N² notices in all). A client
// applies a Presence idempotently, which keeps its list right even when
// its Joined already holds some of the changes sent after it; a Message or
// a Typing from a user whose arrival is still gathered sends the gathered
// changes first, so that nobody hears someone before being told they are
// there. Typing
// is relayed to the other users' connections and never stored; history
// pages are read from the store outside the room's lock, in the same turns
// as the join path's reads.
//
// One Client (one connection) may be in several rooms, up to
// event.MaxRoomsPerConn, each joined on its own with its own since,
// history, catch-up and presence, all under the one identity of its first
// Join and through its one queue: every room it is in stays live. Rooms
// catching up at once take turns, a page each; each goes live once it has
// caught up, whatever the others do.
package hub

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server/store"
)

// Defaults of Config, and the limits of the join path.
const (
	// DefaultHistory is how many recent messages a client joining fresh
	// receives: 100 fills a screen several times over.
	DefaultHistory = 100

	// pageSize is how many messages a catching-up client's queue is
	// refilled with at most: 100 rows is one store read of a few
	// milliseconds, and a page is also cut to half the client's queue in
	// bytes so that it never overflows it.
	pageSize = 100

	// DefaultPresenceGrace is how long a user may be without a connection
	// before the room is told it left: 10 s hides a reload or a network blip.
	DefaultPresenceGrace = 10 * time.Second

	// maxHistoryReads is how many store reads of the join path run at once
	// across the hub: 2. They are a room's last seq when it is first used,
	// a fresh join's recent history (or its check against retention), the
	// check of a resuming client's since, and each page of a catch-up. The
	// store has 4 connections (store.MaxConns) and the server 2 cores: two
	// readers keep both cores busy, and the other connections stay free for
	// the writer, so a burst of joins never makes a live message wait for a
	// connection. Joins beyond it wait their turn, in order; none fails.
	maxHistoryReads = 2

	// admitBatch is how many joins a room admits per hold of its lock: 64.
	// Larger batches mean fewer lock holds, but a live message waits for
	// the batch being admitted. 64 joins take about 0.5 ms in a room of 200
	// members and 2 ms in one of 1,000 (3 and 9 ms under the race
	// detector): a few times a group commit's fsync at most.
	admitBatch = 64

	// presenceTick is the shortest time between two Presence events of a
	// room: 250 ms. A change after a quiet spell is sent at once; the
	// changes that follow within the tick are gathered and sent together
	// at its end. So a burst of N joins into a room costs each member about
	// 4 events a second whatever N, instead of N notices (N² in all), and a
	// person still sees someone arrive within a quarter of a second, below
	// what reads as a delay for a list that nobody waits on.
	presenceTick = 250 * time.Millisecond
)

// ErrNotJoined is returned by Publish, LeaveRoom, Typing and History (and
// Client.Resolve) for a client that is not in the room they name, or in no
// room when they name none.
var ErrNotJoined = errors.New("client has not joined the room")

// ErrAlreadyJoined is returned by Join for a client that is in the room.
var ErrAlreadyJoined = errors.New("client has already joined the room")

// ErrTooManyRooms is returned by Join for a client that is in
// event.MaxRoomsPerConn rooms already.
var ErrTooManyRooms = fmt.Errorf("client is in %d rooms already", event.MaxRoomsPerConn)

// ErrRoomRequired is returned by Publish, LeaveRoom, Typing and History (and
// Client.Resolve) when they name no room and the client is in several.
var ErrRoomRequired = errors.New("no room named, and the client is in several")

// Config configures a Hub.
type Config struct {
	// Store keeps the history; required.
	Store *store.Store
	// History is how many recent messages a fresh joiner gets. Zero value
	// means DefaultHistory.
	History int
	// PresenceGrace delays the departure of a user with no connection left
	// (its Left in a Presence).
	// Zero value means DefaultPresenceGrace.
	PresenceGrace time.Duration
}

// Hub holds the rooms. Create it with New.
type Hub struct {
	cfg Config
	// now stamps messages; tests may replace it.
	now func() time.Time

	// reads holds a token per store read of the join path in progress, at
	// most maxHistoryReads.
	reads chan struct{}
	// beforeRead, when set, is called with the room's name before each
	// store read of the join path, outside the room's lock, with the read's
	// token held: tests pause a join there.
	beforeRead func(room string)

	// presenceTick is presenceTick; tests may shorten or lengthen it.
	presenceTick time.Duration

	mu    sync.RWMutex
	rooms map[string]*room

	workers sync.WaitGroup // running flush and join loops, waited for by Close
}

// room is one room's membership, presence and message order. Its lock is
// held while an event is queued for all members, so that every member sees
// one order; the lock order is room, then client. No store call is made
// with it held, and joins do not queue for it one by one: they queue on
// joinMu, and the room's join loop admits them in batches.
type room struct {
	name string
	// ready is closed once seq is loaded from the store, or loading failed
	// (err, set before). Until then the room has no member.
	ready chan struct{}
	err   error

	// seq is the last Message.Seq queued to members. It is written with mu
	// held and may be read without it.
	seq atomic.Uint64

	mu sync.Mutex
	// members are the clients on the live stream, each with the room's
	// changes as of its Joined (or its catch-up's Presence): the Presence
	// events that hold no later change tell it nothing, and are not sent
	// to it.
	members map[*Client]uint64
	users   map[string]*presence // who is in the room, by user id
	list    event.MemberList     // the same users, in the order they arrived, encoded
	// arrivals counts the presences created in the room: the last one's
	// presence.arrived.
	arrivals uint64
	recent   recent // the encoded recent history, up to seq

	// The presence changes not yet sent to the members: the users whose
	// presence changed since the last Presence, once each, in the order
	// of their first change (touchedAt[user] is the index in touched).
	// flushPresence sends their net effect.
	touched   []touch
	touchedAt map[string]int
	// changes counts the presence changes of the room: touch adds one.
	changes uint64
	// lastPresence is when the last Presence was sent; presenceTimer,
	// armed when timerArmed, sends the gathered changes at
	// lastPresence+presenceTick. It is made on first use and reused.
	lastPresence  time.Time
	presenceTimer *time.Timer
	timerArmed    bool
	closed        bool // the hub closed: no more Presence

	pending  []*publish // accepted, waiting for the next store batch
	flushing bool       // a flush loop is running

	// joinMu guards the joins waiting to be admitted. It is never held
	// with mu.
	joinMu  sync.Mutex
	joins   []*admission // waiting for the join loop's next round
	joining bool         // a join loop is running
}

// admission is one Join waiting for the room's join loop: what it will
// receive once admitted, and where the loop answers.
type admission struct {
	client *Client
	id     Identity
	// withRecent: the client gets the recent history (a fresh join, or a
	// gap); otherwise it resumes after since.
	withRecent, gap bool
	since           uint64
	// fromRecent: it resumes close enough behind for the shared recent
	// history to hold what it missed.
	fromRecent bool
	taken      bool       // the loop took it (guarded by room.joinMu)
	done       chan error // buffered: the loop never waits for the joiner
}

// recent is a room's recent history encoded once and shared by every fresh
// joiner, and by resuming ones that missed no more than it holds: the
// encodings of its last messages up to the room's seq, oldest first, in a
// ring of Config.History. Delivered messages go in as they are
// queued to the members, the same bytes; a load from the store fills in
// what came before. It costs a room at most Config.History encodings.
type recent struct {
	ring  [][]byte // len(ring) is the capacity; allocated on first use
	start int      // index of the oldest held
	n     int      // how many are held
	// complete reports that the ring holds every stored message among the
	// last Config.History up to the room's seq, as of the last load or
	// check: it is full, or nothing older was stored.
	complete bool
}

// push adds the newest encoding, dropping the oldest once the ring is full.
func (rc *recent) push(b []byte, capacity int) {
	if len(rc.ring) == 0 {
		rc.ring = make([][]byte, capacity)
	}
	if rc.n < len(rc.ring) {
		rc.ring[(rc.start+rc.n)%len(rc.ring)] = b
		rc.n++
		if rc.n == len(rc.ring) {
			rc.complete = true
		}
		return
	}
	rc.ring[rc.start] = b
	rc.start = (rc.start + 1) % len(rc.ring)
}

// at returns the i-th oldest encoding held.
func (rc *recent) at(i int) []byte { return rc.ring[(rc.start+i)%len(rc.ring)] }

// newestWithin returns the newest encodings whose sizes add up to at most
// budget bytes, oldest first, as two pieces of the ring (either may be
// empty): the recent history must fit the client's queue with room to spare
// for the live stream, or the client would be closed as a slow consumer at
// once. The pieces are the ring's own: read them under the room's lock.
func (rc *recent) newestWithin(budget int) (older, newer [][]byte) {
	first := rc.n
	for i := rc.n - 1; i >= 0; i-- {
		if budget -= len(rc.at(i)); budget < 0 {
			break
		}
		first = i
	}
	if first == rc.n {
		return nil, nil
	}
	from := (rc.start + first) % len(rc.ring)
	to := from + rc.n - first
	if to <= len(rc.ring) {
		return rc.ring[from:to], nil
	}
	return rc.ring[from:], rc.ring[:to-len(rc.ring)]
}

// after returns the encodings held after seq since, oldest first, as a
// catch-up page would: at most limit of them and budget bytes, but at least
// one. roomSeq is the room's seq, where the ring ends; since+1 must be held.
func (rc *recent) after(since uint64, limit, budget int, roomSeq uint64) [][]byte {
	first := rc.n - int(roomSeq-since)
	var out [][]byte
	for i := first; i < rc.n && len(out) < limit; i++ {
		b := rc.at(i)
		if budget -= len(b); budget < 0 && len(out) > 0 {
			break
		}
		out = append(out, b)
	}
	return out
}

// replace makes the ring the newest capacity of loaded, the stored recent
// history up to seq loadedTo, followed by the held encodings after it; the
// ring ends at roomSeq, the room's seq now. The result is complete.
func (rc *recent) replace(loaded [][]byte, loadedTo, roomSeq uint64, capacity int) {
	tail := min(uint64(rc.n), roomSeq-loadedTo) // held, and after loadedTo
	all := make([][]byte, 0, len(loaded)+int(tail))
	all = append(all, loaded...)
	for i := rc.n - int(tail); i < rc.n; i++ {
		all = append(all, rc.at(i))
	}
	all = all[max(0, len(all)-capacity):]
	*rc = recent{ring: make([][]byte, capacity), n: len(all), complete: true}
	copy(rc.ring, all)
}

// touch is a user whose presence changed since the room's last Presence:
// its name, for a Left once the user is gone from the room.
type touch struct {
	user, name string
}

// presence is one user in a room, from its arrival to its departure: how
// many connections it has there, the timer that announces its departure
// once it has none, and when it arrived (the room's arrivals then), which
// orders a catching-up client's Presence.
type presence struct {
	user, name string
	arrived    uint64
	conns      int
	leave      *time.Timer
	// leaveGen counts the leave timers armed: a timer acts only if it is
	// still the last one (Stop cannot stop one that has fired and waits
	// for the room's lock).
	leaveGen uint64
}

// publish is one Send waiting for its batch to be stored.
type publish struct {
	client  *Client
	pending store.Pending
	done    chan publishResult
}

type publishResult struct {
	res store.Result
	err error
}

// New returns a hub with no rooms.
func New(cfg Config) *Hub {
	if cfg.History <= 0 {
		cfg.History = DefaultHistory
	}
	if cfg.PresenceGrace <= 0 {
		cfg.PresenceGrace = DefaultPresenceGrace
	}
	return &Hub{cfg: cfg, now: time.Now, presenceTick: presenceTick, reads: make(chan struct{}, maxHistoryReads), rooms: make(map[string]*room)}
}

// Close waits for the messages being stored to be stored and delivered, and
// for the recent histories being loaded, and stops every room's presence
// timer: the changes still gathered are not sent. Call it after the last
// Publish and Join; the store can then be closed.
func (h *Hub) Close() {
	h.workers.Wait()
	h.mu.RLock()
	rooms := make([]*room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.mu.RUnlock()
	for _, r := range rooms {
		r.mu.Lock()
		r.closed = true
		if r.presenceTimer != nil {
			r.presenceTimer.Stop()
		}
		r.timerArmed = false
		r.mu.Unlock()
	}
}

// Identity is who joins: the verified user, the name, and the token that
// proves them, as the server's identity check established.
type Identity struct {
	User, Name, Token string
}

// Join puts c in the named room, besides the rooms it is in already (at
// most event.MaxRoomsPerConn in all: ErrTooManyRooms beyond; a room it is
// in is ErrAlreadyJoined). c receives Joined, then the room's history,
// then the live stream, with no gap and no repeat between them:
//   - since zero (a fresh join): the recent messages, up to Config.History;
//   - since behind the room: every message after since. The client catches
//     up page by page as its writer drains its queue (see Client.Next), and
//     joins the live stream once it has caught up, so that a long absence
//     never overflows its queue;
//   - since pruned away, or past the room's end: Joined.Gap and the recent
//     messages.
//
// c's first Join gives it its identity, id's user and name; a later Join
// keeps them, and only id's token is used (in Joined).
//
// Joined lists the users present (event.Joined.Members), c's own included,
// as of the point where c starts receiving the room's Presence events. The
// others learn of the user in the room's next Presence unless it was
// already present: another tab, or a reconnect within the grace period.
//
// What a Join queues at once (Joined and the recent history, or the first
// page of a resume) is cut to keep what c has queued within half its queue,
// so that several rooms joined at once never overflow it: a fresh join
// then gets fewer recent messages, a resume the rest in catch-up pages.
//
// Join reads the store with the room unlocked, waiting its turn when
// maxHistoryReads reads are under way, and the room admits the joins that
// arrive together in batches: a burst of joins neither fails nor holds up
// the live stream. Messages delivered meanwhile reach c in order after what
// it read. Only the connection's reader calls Join: it must not run
// concurrently for one client. When ctx ends first, Join returns its error
// unless c was already being admitted, in which case it returns once c is
// in the room.
func (h *Hub) Join(ctx context.Context, c *Client, roomName string, id Identity, since uint64) error {
	if c.in(roomName) {
		return ErrAlreadyJoined
	}
	if c.roomCount() >= event.MaxRoomsPerConn {
		return ErrTooManyRooms
	}
	r, err := h.room(ctx, roomName)
	if err != nil {
		return fmt.Errorf("join %s: %w", roomName, err)
	}
	a := &admission{client: c, id: id, since: since, done: make(chan error, 1)}
	switch seq := r.seq.Load(); {
	case since == 0:
		a.withRecent = true
	case since > seq:
		a.withRecent, a.gap = true, true // the client knows messages this store does not
	case seq-since <= uint64(h.cfg.History):
		a.fromRecent = since < seq
		// Up to date otherwise, unless messages arrive before it is
		// admitted: then it catches up with them.
	default:
		complete, err := h.kept(ctx, r, since)
		if err != nil {
			return fmt.Errorf("join %s: %w", roomName, err)
		}
		if !complete {
			a.withRecent, a.gap = true, true // pruned away
		}
	}
	if err := h.admit(ctx, r, a); err != nil {
		if errors.Is(err, ErrAlreadyJoined) || errors.Is(err, ErrTooManyRooms) {
			return err
		}
		return fmt.Errorf("join %s: %w", roomName, err)
	}
	return nil
}

// kept reports whether every message of r after since is still stored, so
// that a client holding since can catch up without a gap.
func (h *Hub) kept(ctx context.Context, r *room, since uint64) (bool, error) {
	if err := h.acquireRead(ctx, r.name); err != nil {
		return false, err
	}
	defer h.releaseRead()
	_, complete, err := h.cfg.Store.After(ctx, r.name, since, 1)
	return complete, err
}

// admit queues a for r's join loop, starting the loop if none runs, and
// returns the loop's answer. If ctx ends before the loop took a, a is
// withdrawn and ctx's error returned; once taken, it is admitted (or
// refused) within the loop's round, which admit waits for.
func (h *Hub) admit(ctx context.Context, r *room, a *admission) error {
	r.joinMu.Lock()
	r.joins = append(r.joins, a)
	if !r.joining {
		r.joining = true
		h.workers.Add(1)
		go h.joinLoop(r)
	}
	r.joinMu.Unlock()
	select {
	case err := <-a.done:
		return err
	case <-ctx.Done():
	}
	r.joinMu.Lock()
	if !a.taken {
		r.joins = slices.DeleteFunc(r.joins, func(b *admission) bool { return b == a })
		r.joinMu.Unlock()
		return ctx.Err()
	}
	r.joinMu.Unlock()
	return <-a.done
}

// joinLoop admits r's waiting joins, round after round, while there are
// any. A round takes every join that arrived before it, brings the shared
// recent history up to date with the store when one of them needs it, and
// then admits them, admitBatch per hold of the room's lock.
func (h *Hub) joinLoop(r *room) {
	defer h.workers.Done()
	for {
		r.joinMu.Lock()
		batch := r.joins
		r.joins = nil
		if len(batch) == 0 {
			r.joining = false
			r.joinMu.Unlock()
			return
		}
		for _, a := range batch {
			a.taken = true
		}
		r.joinMu.Unlock()

		var recentErr error
		if slices.ContainsFunc(batch, func(a *admission) bool { return a.withRecent || a.fromRecent }) {
			recentErr = h.refreshRecent(r)
		}
		for len(batch) > 0 {
			n := min(len(batch), admitBatch)
			r.mu.Lock()
			h.admitBatch(r, batch[:n], recentErr)
			r.mu.Unlock()
			batch = batch[n:]
		}
	}
}

// admitBatch enters each of batch into r, in order, and answers it. The
// users new to the room are gathered with the room's other presence
// changes, and the room's next Presence tells every member of them, the
// joiners of the batch included (who list some of them already: a client
// applies a Presence idempotently). The joins are answered last: when Join
// returns, the client is a member. The caller holds r.mu.
func (h *Hub) admitBatch(r *room, batch []*admission, recentErr error) {
	answers := make([]error, len(batch))
	defer func() {
		for i, a := range batch {
			a.done <- answers[i]
		}
	}()
	for i, a := range batch {
		if (a.withRecent || a.fromRecent) && recentErr != nil {
			answers[i] = recentErr
			continue
		}
		member, err := h.enter(r, a)
		if err == nil && member {
			r.members[a.client] = r.changes
		}
		answers[i] = err
	}
	h.presenceChanged(r)
}

// enter queues Joined for a's client and what it missed, and registers the
// user's presence. A fresh or gap join gets the recent history; a resuming
// one the messages after its since, from the recent history when that
// holds them (a page's worth; the rest, if any, through catch-up pages),
// else from the store through catch-up pages. A user new to the room is
// marked as changed for the room's next Presence. It returns member true
// when the client is to join the live stream now; otherwise it is set to
// catch up first. The caller (admitBatch) adds the member. It holds r.mu;
// r.recent is complete and checked when a.withRecent or a.fromRecent.
//
// Joined lists the room's users as of this point, the joiner's own
// included: every join before it has entered, none after it has. Every
// change after it is marked for a Presence that the client, a member from
// its batch on, receives; the changes before it that are still to be sent
// reach it too, and change nothing it lists. A client that catches up
// first receives no Presence until it has caught up; it keeps who was
// listed, and goLive tells it what changed meanwhile.
func (h *Hub) enter(r *room, a *admission) (member bool, err error) {
	c, id := a.client, a.id
	if c.in(r.name) {
		return false, ErrAlreadyJoined
	}
	if c.roomCount() >= event.MaxRoomsPerConn {
		return false, ErrTooManyRooms
	}
	if c.user != "" {
		id.User, id.Name = c.user, c.name // the connection's identity
	}
	// What the join queues at once keeps c's queue within half its limit.
	budget := c.limit/2 - c.queuedBytes()
	seq := r.seq.Load()
	withRecent, gap, cursor := a.withRecent, a.gap, a.since
	var missed [][]byte // from the recent history, after since
	if a.fromRecent {
		switch oldest := seq - uint64(r.recent.n) + 1; {
		case a.since+1 >= oldest:
			if budget > 0 {
				missed = r.recent.after(a.since, pageSize, budget, seq)
				cursor += uint64(len(missed))
			}
			// Otherwise the catch-up pages bring all of it.
		case r.recent.n < h.cfg.History:
			// Complete and not full: nothing older is stored, so
			// what the client missed before oldest is gone.
			withRecent, gap = true, true
		}
		// Otherwise the room moved on past the recent history since Join
		// looked: catch up from the store.
	}
	p := r.users[id.User]
	arrived := p == nil
	if arrived {
		if err = r.list.Add(event.Member{User: id.User, Name: id.Name}); err != nil {
			return false, err
		}
		r.arrivals++
		p = &presence{user: id.User, name: id.Name, arrived: r.arrivals}
		r.users[id.User] = p
	}
	joined, err := event.EncodeJoined(event.Joined{Room: r.name, User: id.User, Name: id.Name, Token: id.Token, Seq: seq, Gap: gap}, &r.list)
	if err != nil {
		if arrived { // as if it had never come
			delete(r.users, id.User)
			r.list.Remove(id.User)
		}
		return false, err
	}
	if arrived {
		r.touch(id.User, id.Name)
	}

	if c.user == "" {
		c.user, c.name = id.User, id.Name
	}
	m := &membership{client: c, room: r}
	m.fill = func(ctx context.Context) error { return h.fill(ctx, m) }
	c.addRoom(m)
	if withRecent {
		// The recent history ends at seq: a batch being stored is not yet
		// queued to members and reaches the joiner live.
		older, newer := r.recent.newestWithin(budget)
		c.enqueueAll(joined, older, newer)
	} else {
		c.enqueueAll(joined, missed)
	}
	if p.leave != nil {
		p.leave.Stop() // back within the grace period: nobody saw it leave
		p.leave = nil
	}
	p.conns++
	if !withRecent && cursor < seq {
		m.cursor = cursor
		m.listed = listed(r)
		c.addFill(m)
		return false, nil
	}
	return true, nil
}

// listed returns r's presences: who a Joined encoded now lists (or, when it
// is truncated, may list). The caller holds r.mu.
func listed(r *room) []*presence {
	ps := make([]*presence, 0, len(r.users))
	for _, p := range r.users {
		ps = append(ps, p)
	}
	return ps
}

// goLive makes m's client, which has caught up with r's history, a member:
// from now on it receives r's events as they are queued. First it queues
// what changed in the room's presence while it caught up, as one Presence
// (or as many as the bounds need, event.EncodePresence) of the net change
// to the users its Joined listed: those who left, and those present who
// were not listed, each in the order they arrived; a user who left and
// came back meanwhile is no change. The changes the room has yet to send
// reach it in the room's next Presence, and change nothing it lists. The
// caller holds r.mu.
func (h *Hub) goLive(r *room, m *membership) {
	c := m.client
	var left, arrived []*presence
	was := make(map[string]bool, len(m.listed))
	for _, p := range m.listed {
		was[p.user] = true
		if r.users[p.user] == nil {
			left = append(left, p)
		}
	}
	for _, p := range r.users {
		if !was[p.user] {
			arrived = append(arrived, p)
		}
	}
	byArrival := func(a, b *presence) int { return cmp.Compare(a.arrived, b.arrived) }
	slices.SortFunc(left, byArrival)
	slices.SortFunc(arrived, byArrival)
	change := event.Presence{Room: r.name}
	for _, p := range arrived {
		change.Joined = append(change.Joined, event.Member{User: p.user, Name: p.name})
	}
	for _, p := range left {
		change.Left = append(change.Left, event.Member{User: p.user, Name: p.name})
	}
	m.listed = nil
	if encoded, err := event.EncodePresence(change); err == nil { // it cannot fail: the events hold only strings
		c.enqueueAll(nil, encoded)
	}
	r.members[c] = r.changes
}

// touch marks user's presence in r as changed since the last Presence, so
// that the next one says whether it is there. The caller holds r.mu and
// calls presenceChanged once its changes are made.
func (r *room) touch(user, name string) {
	r.changes++
	if i, ok := r.touchedAt[user]; ok {
		r.touched[i].name = name
		return
	}
	if r.touchedAt == nil {
		r.touchedAt = make(map[string]int)
	}
	r.touchedAt[user] = len(r.touched)
	r.touched = append(r.touched, touch{user: user, name: name})
}

// presenceChanged sends r's gathered presence changes now, when no
// Presence went out within the last presenceTick, or else arms the room's
// timer to send them at the tick's end. The caller holds r.mu.
func (h *Hub) presenceChanged(r *room) {
	if len(r.touched) == 0 || r.timerArmed || r.closed {
		return
	}
	wait := time.Until(r.lastPresence.Add(h.presenceTick))
	if wait <= 0 {
		h.flushPresence(r)
		return
	}
	h.armPresence(r, wait)
}

// armPresence arms r's presence timer to fire after wait, making it on
// first use. The caller holds r.mu.
func (h *Hub) armPresence(r *room, wait time.Duration) {
	r.timerArmed = true
	if r.presenceTimer == nil {
		r.presenceTimer = time.AfterFunc(wait, func() { h.presenceDue(r) })
		return
	}
	r.presenceTimer.Reset(wait)
}

// presenceDue is r's presence timer: it sends the gathered changes, unless
// a Presence went out meanwhile (flushFor sends one early) less than a
// tick ago, in which case it waits for that tick's end.
func (h *Hub) presenceDue(r *room) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.timerArmed = false
	if r.closed || len(r.touched) == 0 {
		return
	}
	if wait := time.Until(r.lastPresence.Add(h.presenceTick)); wait > 0 {
		h.armPresence(r, wait)
		return
	}
	h.flushPresence(r)
}

// flushFor sends r's gathered presence changes at once when user is among
// them, before an event from user goes out (a Message, a Typing): no
// member may see someone speak before being told that they are there. The
// caller holds r.mu.
func (h *Hub) flushFor(r *room, user string) {
	if _, ok := r.touchedAt[user]; ok && !r.closed {
		h.flushPresence(r)
	}
}

// flushPresence sends r's gathered changes to every member as their net
// effect, in the order of their first change: the users present now in
// Joined, the others in Left. One encoding (split only past the bounds of
// event.EncodePresence) goes to every member whose Joined came before the
// last of the changes, so a gathering costs one queue append per member
// whatever its size. The caller holds r.mu.
func (h *Hub) flushPresence(r *room) {
	change := event.Presence{Room: r.name}
	for _, t := range r.touched {
		if p := r.users[t.user]; p != nil {
			change.Joined = append(change.Joined, event.Member{User: p.user, Name: p.name})
		} else {
			change.Left = append(change.Left, event.Member{User: t.user, Name: t.name})
		}
	}
	r.touched = r.touched[:0]
	clear(r.touchedAt)
	r.lastPresence = time.Now()
	encoded, err := event.EncodePresence(change)
	if err != nil {
		return // cannot happen: the events hold only strings
	}
	for m, seen := range r.members {
		if seen < r.changes { // else its Joined lists all of it
			m.enqueueAll(nil, encoded)
		}
	}
}

// refreshRecent makes r.recent complete and true to the store: when it is
// complete, it checks that retention has deleted none of it (pruning deletes
// the oldest first, so checking the oldest is enough); otherwise, or when
// retention did, it reads the recent history and encodes it once, with r
// unlocked, and merges it with what was delivered meanwhile.
func (h *Hub) refreshRecent(r *room) error {
	r.mu.Lock()
	seq, complete, held := r.seq.Load(), r.recent.complete, uint64(r.recent.n)
	r.mu.Unlock()
	if complete && held == 0 {
		return nil // nothing stored, nothing to check
	}
	kept, encoded, err := h.readRecent(r.name, seq, complete, held)
	if err != nil || kept {
		return err
	}
	r.mu.Lock()
	r.recent.replace(encoded, seq, r.seq.Load(), h.cfg.History)
	r.mu.Unlock()
	return nil
}

// readRecent does refreshRecent's store reads, in its turn. When the held
// messages of room (the last held up to seq) are complete, it reports
// whether they are all still stored: kept. Otherwise, or when they are
// not, it returns the recent history up to seq, encoded.
func (h *Hub) readRecent(room string, seq uint64, complete bool, held uint64) (kept bool, encoded [][]byte, err error) {
	ctx := context.Background() // the round serves many joins: none's context ends it
	if err := h.acquireRead(ctx, room); err != nil {
		return false, nil, err
	}
	defer h.releaseRead()
	if complete {
		oldest := seq - held + 1
		_, kept, err := h.cfg.Store.After(ctx, room, oldest-1, 1)
		if err != nil {
			return false, nil, fmt.Errorf("check recent history: %w", err)
		}
		if kept {
			return true, nil, nil
		}
	}
	msgs, _, err := h.cfg.Store.Before(ctx, room, seq+1, h.cfg.History)
	if err != nil {
		return false, nil, fmt.Errorf("read recent history: %w", err)
	}
	encoded = make([][]byte, len(msgs))
	for i, m := range msgs {
		if encoded[i], err = event.Encode(m); err != nil {
			return false, nil, fmt.Errorf("encode recent history: %w", err)
		}
	}
	return false, encoded, nil
}

// fill queues the next page of a room's history for a client that is
// catching up with it (m), and moves it to the room's live stream once it
// has reached the room's last message. Client.Next calls it, with its
// context, when the client's queue is empty; it returns only that context's
// error. The page is read and encoded with the room unlocked.
func (h *Hub) fill(ctx context.Context, m *membership) error {
	r, c := m.room, m.client
	r.mu.Lock()
	left, cursor, seq := m.left, m.cursor, r.seq.Load()
	r.mu.Unlock()
	if left {
		c.removeFill(m)
		return nil
	}
	msgs, page, err := h.readPage(ctx, r.name, cursor, seq, c.limit/2)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		// The store failed, or pruned what the client still needed while
		// it caught up: restart the client, whose next Join finds out
		// what is left and says so.
		c.stop(ErrSlowConsumer)
		return nil
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if m.left {
		c.removeFill(m)
		return nil
	}
	// Stored but not yet queued to members: those reach the client in the
	// next page, after the ones before them.
	seq = r.seq.Load()
	for i, b := range page {
		if msgs[i].Seq > seq {
			break
		}
		c.enqueue(b)
		m.cursor = msgs[i].Seq
	}
	if m.cursor >= seq {
		c.removeFill(m)
		h.goLive(r, m)
	}
	return nil
}

// errPruned reports a catch-up page that should hold messages and holds
// none, or starts after a gap: retention deleted them.
var errPruned = errors.New("messages to catch up with were deleted")

// readPage reads, in its turn, the page of room's messages after cursor for
// a client catching up with the room's seq, and encodes the ones that fit in
// budget bytes (at least one): page[i] is msgs[i]'s encoding.
func (h *Hub) readPage(ctx context.Context, room string, cursor, seq uint64, budget int) (msgs []event.Message, page [][]byte, err error) {
	if err := h.acquireRead(ctx, room); err != nil {
		return nil, nil, err
	}
	defer h.releaseRead()
	msgs, complete, err := h.cfg.Store.After(ctx, room, cursor, pageSize)
	if err != nil {
		return nil, nil, err
	}
	if !complete || (len(msgs) == 0 && cursor < seq) {
		return nil, nil, errPruned
	}
	page = make([][]byte, 0, len(msgs))
	for i, m := range msgs {
		b, err := event.Encode(m)
		if err != nil {
			return nil, nil, fmt.Errorf("encode page: %w", err)
		}
		if budget -= len(b); budget < 0 && i > 0 {
			break
		}
		page = append(page, b)
	}
	return msgs[:len(page)], page, nil
}

// acquireRead waits for a turn to read the store for the join path of room,
// or for ctx to end; releaseRead ends the turn.
func (h *Hub) acquireRead(ctx context.Context, room string) error {
	select {
	case h.reads <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if h.beforeRead != nil {
		h.beforeRead(room)
	}
	return nil
}

// releaseRead ends a turn taken with acquireRead.
func (h *Hub) releaseRead() { <-h.reads }

// Leave takes c out of every room it is in: its connection ended. In each
// room where the user has no connection left, the others are told after the
// grace period, unless it comes back first. It is safe to call more than
// once.
func (h *Hub) Leave(c *Client) {
	for _, m := range c.memberships() {
		h.leave(m, false)
	}
}

// LeaveRoom takes c out of the named room (or its only room, for ""), and
// leaves it in its other rooms: the person chose to leave. When the user
// has no connection left in the room, the others are told at once, with no
// grace period: it is no reload or network blip. It returns ErrNotJoined or
// ErrRoomRequired as Client.Resolve does.
func (h *Hub) LeaveRoom(c *Client, roomName string) error {
	m, err := c.membership(roomName)
	if err != nil {
		return err
	}
	h.leave(m, true)
	return nil
}

// leave ends m: its client is no longer in the room, caught up or not. When
// that was the user's last connection in the room, it is announced at once
// (now) or after the grace period.
func (h *Hub) leave(m *membership, now bool) {
	r, c := m.room, m.client
	r.mu.Lock()
	defer r.mu.Unlock()
	if m.left {
		return
	}
	m.left = true
	c.removeFill(m)
	c.removeRoom(m)
	m.listed = nil
	delete(r.members, c) // absent while it was catching up
	p := r.users[c.user]
	if p == nil {
		return
	}
	p.conns--
	switch {
	case p.conns > 0:
	case now:
		h.depart(r, p)
	default:
		user := c.user
		p.leaveGen++
		gen := p.leaveGen
		p.leave = time.AfterFunc(h.cfg.PresenceGrace, func() { h.expire(r, user, p, gen) })
	}
}

// expire announces that a user left, if it is still gone and gen is the
// last leave timer armed: a timer that fired while the user came back and
// left again is stale, and the newer one announces it after its own grace.
func (h *Hub) expire(r *room, user string, p *presence, gen uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.users[user] != p || p.conns > 0 || p.leaveGen != gen {
		return
	}
	h.depart(r, p)
}

// depart takes p, a user with no connection left, out of r, and marks it
// for the room's next Presence (sent at once after a quiet spell). The
// caller holds r.mu.
func (h *Hub) depart(r *room, p *presence) {
	if p.leave != nil {
		p.leave.Stop()
		p.leave = nil
	}
	delete(r.users, p.user)
	r.list.Remove(p.user)
	r.touch(p.user, p.name)
	h.presenceChanged(r)
}

// Publish accepts s from c, in s.Room (or c's only room, for ""; else
// ErrNotJoined or ErrRoomRequired, as Client.Resolve). It returns once the message is durably stored
// and queued for every member (c included), with the stored Message; or,
// when c's user had already sent s.ID, with the original Message and
// duplicate set, after queuing an Ack for c alone. Messages published
// concurrently are stored together in one transaction.
func (h *Hub) Publish(ctx context.Context, c *Client, s event.Send) (m event.Message, duplicate bool, err error) {
	mb, err := c.membership(s.Room)
	if err != nil {
		return event.Message{}, false, err
	}
	r := mb.room
	p := &publish{
		client:  c,
		pending: store.Pending{ID: s.ID, User: c.user, Name: c.name, Text: s.Text, Time: h.now().UnixMilli()},
		done:    make(chan publishResult, 1),
	}
	r.mu.Lock()
	if mb.left {
		r.mu.Unlock()
		return event.Message{}, false, ErrNotJoined
	}
	r.pending = append(r.pending, p)
	if !r.flushing {
		r.flushing = true
		h.workers.Add(1)
		go h.flush(r)
	}
	r.mu.Unlock()

	select {
	case res := <-p.done:
		return res.res.Message, res.res.Duplicate, res.err
	case <-ctx.Done():
		// The message may still be stored and delivered; a resend with the
		// same ID is deduplicated.
		return event.Message{}, false, ctx.Err()
	}
}

// flush stores the room's pending messages batch after batch, one
// transaction each, and queues each batch to the members in order.
func (h *Hub) flush(r *room) {
	defer h.workers.Done()
	for {
		r.mu.Lock()
		batch := r.pending
		r.pending = nil
		if len(batch) == 0 {
			r.flushing = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()

		pendings := make([]store.Pending, len(batch))
		for i, p := range batch {
			pendings[i] = p.pending
		}
		results, err := h.cfg.Store.Append(context.Background(), r.name, pendings)
		if err != nil {
			for _, p := range batch {
				p.done <- publishResult{err: fmt.Errorf("store: %w", err)}
			}
			continue
		}
		h.deliver(r, batch, results)
	}
}

// deliver queues a stored batch: each new message to every member, each
// duplicate as an Ack to its sender only. When a sender's arrival is among
// the presence changes not yet sent, they are sent first (flushFor).
func (h *Hub) deliver(r *room, batch []*publish, results []store.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.touched) > 0 {
		for _, p := range batch {
			h.flushFor(r, p.client.user)
		}
	}
	for i, res := range results {
		var err error
		if res.Duplicate {
			var b []byte
			if b, err = event.Encode(event.Ack{ID: res.Message.ID, Seq: res.Message.Seq}); err == nil {
				batch[i].client.enqueue(b)
			}
		} else {
			var b []byte
			if b, err = event.Encode(res.Message); err == nil {
				r.seq.Store(res.Message.Seq)
				r.recent.push(b, h.cfg.History)
				for m := range r.members {
					m.enqueue(b)
				}
			}
		}
		batch[i].done <- publishResult{res: res, err: err}
	}
}

// Typing relays that c's user is typing to the room's other users: once
// encoded, to every member connection of another user, and only to those
// that are idle (Client.EnqueueIfIdle), so that it never adds to the queue
// of a client that is behind nor makes one a slow consumer. It is stored
// nowhere. When the typist's arrival is among the presence changes not yet
// sent, they are sent first (flushFor). It returns ErrNotJoined or ErrRoomRequired as Client.Resolve
// does for roomName.
func (h *Hub) Typing(c *Client, roomName string) error {
	mb, err := c.membership(roomName)
	if err != nil {
		return err
	}
	r := mb.room
	b, err := event.Encode(event.Typing{Room: r.name, User: c.user, Name: c.name})
	if err != nil {
		return fmt.Errorf("typing in %s: %w", r.name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if mb.left {
		return ErrNotJoined
	}
	h.flushFor(r, c.user)
	for m := range r.members {
		if m.user != c.user {
			m.EnqueueIfIdle(b)
		}
	}
	return nil
}

// History queues for c the page of the named room's history before the
// seq before, and returns it: the newest stored messages below it, at most
// limit (0, or more than event.MaxHistoryLimit, means
// event.MaxHistoryLimit) and as many as fit in a server frame
// (event.EncodeHistory), oldest first. A before past the room's last
// message means the room's end: the page never holds a message not yet
// queued to the members. The store is read with the room unlocked, in a
// turn shared with the join path's reads (at most maxHistoryReads at once),
// waiting within ctx. It returns ErrNotJoined or ErrRoomRequired as
// Client.Resolve does for roomName.
func (h *Hub) History(ctx context.Context, c *Client, roomName string, before uint64, limit int) (event.History, error) {
	mb, err := c.membership(roomName)
	if err != nil {
		return event.History{}, err
	}
	r := mb.room
	if limit <= 0 || limit > event.MaxHistoryLimit {
		limit = event.MaxHistoryLimit
	}
	bound := min(before, r.seq.Load()+1)
	page := event.History{Room: r.name, Before: before}
	if bound > 1 {
		msgs, more, err := h.readBefore(ctx, r.name, bound, limit)
		if err != nil {
			return event.History{}, fmt.Errorf("history of %s before %d: %w", r.name, before, err)
		}
		page.Messages, page.Complete = msgs, !more
		switch {
		case more:
		case len(msgs) > 0:
			page.Pruned = msgs[0].Seq > 1 // the first retained
		default:
			page.Pruned = true // messages below bound were stored, and none is now
		}
	} else {
		page.Complete = true // no message is below seq 1
	}
	b, page, err := event.EncodeHistory(page)
	if err != nil {
		return event.History{}, fmt.Errorf("history of %s before %d: %w", r.name, before, err)
	}
	c.enqueue(b)
	return page, nil
}

// readBefore reads, in its turn, the newest limit messages of room below
// seq before, and whether older ones are stored.
func (h *Hub) readBefore(ctx context.Context, room string, before uint64, limit int) ([]event.Message, bool, error) {
	if err := h.acquireRead(ctx, room); err != nil {
		return nil, false, err
	}
	defer h.releaseRead()
	return h.cfg.Store.Before(ctx, room, before, limit)
}

// Members returns how many connections are in the named room.
func (h *Hub) Members(roomName string) int {
	h.mu.RLock()
	r := h.rooms[roomName]
	h.mu.RUnlock()
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members)
}

// room returns the named room once it is ready, creating it on first use
// with the store's last sequence number. The hub's lock is not held while
// the store is read: the room is registered first, unready, and joins to it
// wait for its ready channel, while other rooms go on.
func (h *Hub) room(ctx context.Context, name string) (*room, error) {
	h.mu.RLock()
	r := h.rooms[name]
	h.mu.RUnlock()
	if r == nil {
		h.mu.Lock()
		if r = h.rooms[name]; r == nil {
			r = &room{name: name, ready: make(chan struct{}), members: make(map[*Client]uint64), users: make(map[string]*presence)}
			h.rooms[name] = r
			h.mu.Unlock()
			h.loadRoom(r)
		} else {
			h.mu.Unlock()
		}
	}
	select {
	case <-r.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.err != nil {
		return nil, r.err
	}
	return r, nil
}

// loadRoom loads a new room's last sequence number and makes it ready. On
// failure it forgets the room, so that the next join tries again, and the
// joins waiting for it get the error.
func (h *Hub) loadRoom(r *room) {
	defer close(r.ready)
	// The load serves every join waiting for the room: none's context ends it.
	ctx := context.Background()
	seq, err := h.lastSeq(ctx, r.name)
	if err != nil {
		r.err = fmt.Errorf("load room %s: %w", r.name, err)
		h.mu.Lock()
		if h.rooms[r.name] == r {
			delete(h.rooms, r.name)
		}
		h.mu.Unlock()
		return
	}
	r.mu.Lock()
	r.seq.Store(seq)
	r.recent.complete = seq == 0 // nothing stored before: deliveries fill it
	r.mu.Unlock()
}

// lastSeq reads room's last sequence number in its turn.
func (h *Hub) lastSeq(ctx context.Context, room string) (uint64, error) {
	if err := h.acquireRead(ctx, room); err != nil {
		return 0, err
	}
	defer h.releaseRead()
	return h.cfg.Store.LastSeq(ctx, room)
}
