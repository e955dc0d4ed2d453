package hub

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/chatwasm/chat/app/event"
)

// DefaultQueueBytes is a client's outbound queue limit when none is set:
// 1 MiB holds about ten thousand short messages, minutes of a busy room for
// a tab that is merely throttled, while a stuck client costs little.
const DefaultQueueBytes = 1 << 20

// idleShare is the share of its queue limit below which a client counts as
// idle for EnqueueIfIdle: 1/16, 64 KiB of the default 1 MiB, one full
// frame. A client holding less is keeping up; one holding more is behind,
// and a transient event would only add to what it has yet to read.
const idleShare = 16

var (
	// ErrSlowConsumer is returned by Client.Next once the client's queue
	// overflowed: the connection should close with event.StatusSlowConsumer.
	ErrSlowConsumer = errors.New("slow consumer: outbound queue overflowed")
	// ErrClosed is returned by Client.Next after Client.Close.
	ErrClosed = errors.New("client closed")
	// ErrIdle is returned by Client.NextUntil when its channel fired
	// before anything was queued: the writer's heartbeat is due.
	ErrIdle = errors.New("nothing queued before the deadline")
)

// Client is one connection's side of the hub: who it is, which rooms it is
// in, and its outbound queue. The connection has one queue and one writer,
// shared by all its rooms: the hub appends encoded events of every room to
// the queue and never waits for the connection; the connection's writer
// takes them out with Next. A client that overflows the queue is stopped
// once, for all its rooms. All methods are safe for concurrent use.
type Client struct {
	limit int
	wake  chan struct{} // holds a token while the queue has news for Next

	// Set by the client's first Hub.Join under the room's lock, read-only
	// afterwards: every room of a connection sees one identity.
	user, name string

	// roomsMu guards rooms. It is taken with a room's lock held, or with
	// none, and no other lock is taken while it is held.
	roomsMu sync.Mutex
	rooms   map[string]*membership // the rooms the client is in, by name

	mu     sync.Mutex
	queue  [][]byte // encoded events, shared with other clients: never modified
	queued int      // bytes in queue
	// slots holds the backing array of queue, borrowed from queueSlots
	// while anything is queued and given back once Next has copied the
	// frame that emptied it: an idle client holds no array, and a busy one
	// allocates none per event.
	slots *queueArray
	err   error // why the client stopped: ErrSlowConsumer or ErrClosed
	drain bool  // Drain was called: Next empties the queue, then ErrClosed
	// full holds a token once a frame's worth is queued, or the client
	// stopped: it ends a writer's Gather early.
	full chan struct{}
	// start, set by OnWork, starts a writer; writing is true while one
	// runs (from the kick that started it until its Idle returned true).
	start   func()
	writing bool
	// fills are the rooms catching up with their history, whose next page
	// Next queues when the queue is empty: the first of them, which then
	// goes to the back, so that rooms catching up at once take turns.
	fills []*membership
}

// membership is a client in one room, from its admission to its leave.
// A client has at most one per room.
type membership struct {
	client *Client
	room   *room
	// fill queues the next page of the room's history while the client
	// catches up with it (Hub.fill).
	fill func(context.Context) error

	// Guarded by the room's lock.
	left   bool   // the client left the room
	cursor uint64 // while catching up: the last seq queued
	// While catching up: the presences its Joined listed, for the
	// Presence of what changed meanwhile (Hub.goLive).
	listed []*presence
}

// NewClient returns a client whose queue holds at most queueBytes bytes of
// events; zero means DefaultQueueBytes.
func NewClient(queueBytes int) *Client {
	if queueBytes <= 0 {
		queueBytes = DefaultQueueBytes
	}
	return &Client{limit: queueBytes, wake: make(chan struct{}, 1), full: make(chan struct{}, 1), rooms: make(map[string]*membership)}
}

// queueArray is a queue's backing array, pooled in queueSlots.
type queueArray struct{ events [][]byte }

// Bounds of the queue arrays pooled in queueSlots.
const (
	// queueSlotsMin is the length of a new array: 8 events, a burst of a
	// busy room between two writes.
	queueSlotsMin = 8
	// queueSlotsMax is the longest array given back to queueSlots: 1024
	// events (24 KiB of slice headers); one a backlog grew longer is left
	// to the collector, so the pool never holds a burst's worth.
	queueSlotsMax = 1024
)

// queueSlots lends queue arrays to the clients that have anything queued:
// a room's fan-out then appends to arrays the writers gave back instead of
// allocating one per member and write.
var queueSlots = sync.Pool{New: func() any { return &queueArray{events: make([][]byte, 0, queueSlotsMin)} }}

// push appends b to the queue, borrowing an array from queueSlots when the
// queue has none, and growing it (a new array, copied) when it is full.
// c.mu must be held.
func (c *Client) push(b []byte) {
	if c.slots == nil {
		c.slots = queueSlots.Get().(*queueArray)
		c.queue = c.slots.events[:0]
	}
	if len(c.queue) == cap(c.queue) {
		// The part of the array before queue may still be read by Next:
		// copy only what is queued.
		grown := make([][]byte, len(c.queue), max(2*cap(c.queue), queueSlotsMin))
		copy(grown, c.queue)
		c.queue = grown
		c.slots = &queueArray{events: grown}
	}
	c.queue = append(c.queue, b)
}

// dropQueue forgets what is queued, and the array: Next may be reading a
// frame out of it. c.mu must be held.
func (c *Client) dropQueue() {
	c.queue, c.queued, c.slots = nil, 0, nil
}

// OnWork sets start, which the client calls (with its lock held, and
// possibly a room's, so it must only start a goroutine) when it has
// something for a writer while none runs: an event queued, a room catching up, Drain, or
// a stop to report. The writer it starts takes frames with NextUntil until
// Idle lets it go; then the next work starts another. A connection thus
// holds no writer goroutine while idle. Call it before the client joins.
func (c *Client) OnWork(start func()) {
	c.mu.Lock()
	c.start = start
	c.mu.Unlock()
}

// kick starts a writer, when there is one to start and none runs: the
// caller just gave it work. It reports whether it started one. c.mu must
// be held, and is while start runs: a Close that follows then finds the
// writer started (the connection's count of writers raised), never about
// to be.
func (c *Client) kick() bool {
	if c.start == nil || c.writing {
		return false
	}
	c.writing = true
	c.start()
	return true
}

// Wake starts a writer when none runs and the client has not stopped: the
// connection has work of its own for it, such as a heartbeat. It reports
// whether it started one; a writer already running is not woken, and must
// be told by its own means (its NextUntil channel).
func (c *Client) Wake() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err == nil && !c.drain && c.kick()
}

// Idle is what a writer started by OnWork's start calls when it has
// nothing more to write: it reports whether the writer may end, which it
// may when nothing is queued, no room is catching up, and the client has
// neither stopped nor been drained (then NextUntil has that to return).
// From then on, new work starts a new writer.
func (c *Client) Idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) > 0 || len(c.fills) > 0 || c.err != nil || c.drain {
		return false
	}
	c.writing = false
	return true
}

// Gather waits until until fires, a frame's worth of events is queued
// (event.MaxServerFrameBytes: waiting longer could add nothing to the next
// frame), the client stops, or ctx ends. A writer calls it after a write,
// so that what arrives meanwhile goes out in one frame.
func (c *Client) Gather(ctx context.Context, until <-chan time.Time) {
	select {
	case <-c.full: // a token from before the last frame was taken
	default:
	}
	c.mu.Lock()
	full := c.queued >= event.MaxServerFrameBytes || c.err != nil || c.drain
	c.mu.Unlock()
	if full {
		return
	}
	select {
	case <-until:
	case <-c.full:
	case <-ctx.Done():
	}
}

// signalFull ends a Gather under way, without blocking.
func (c *Client) signalFull() {
	select {
	case c.full <- struct{}{}:
	default:
	}
}

// User returns the identity the hub gave the client at Join.
func (c *Client) User() string { return c.user }

// Name returns the client's name as given at Join.
func (c *Client) Name() string { return c.name }

// Rooms returns the names of the rooms the client is in, sorted.
func (c *Client) Rooms() []string {
	c.roomsMu.Lock()
	defer c.roomsMu.Unlock()
	names := make([]string, 0, len(c.rooms))
	for name := range c.rooms {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Resolve returns the room a frame that names room is about: room itself
// when the client is in it; when room is empty, the client's only room. It
// returns ErrNotJoined when the client is not in the named room (or in
// none), and ErrRoomRequired when room is empty and the client is in
// several: which one was meant is unknown.
func (c *Client) Resolve(room string) (string, error) {
	m, err := c.membership(room)
	if err != nil {
		return "", err
	}
	return m.room.name, nil
}

// membership returns the client's membership of the room Resolve names.
func (c *Client) membership(room string) (*membership, error) {
	c.roomsMu.Lock()
	defer c.roomsMu.Unlock()
	if room != "" {
		if m := c.rooms[room]; m != nil {
			return m, nil
		}
		return nil, ErrNotJoined
	}
	switch len(c.rooms) {
	case 0:
		return nil, ErrNotJoined
	case 1:
		for _, m := range c.rooms {
			return m, nil
		}
	}
	return nil, ErrRoomRequired
}

// in reports whether the client is in the named room.
func (c *Client) in(room string) bool {
	c.roomsMu.Lock()
	defer c.roomsMu.Unlock()
	return c.rooms[room] != nil
}

// addRoom records m, a new membership.
func (c *Client) addRoom(m *membership) {
	c.roomsMu.Lock()
	c.rooms[m.room.name] = m
	c.roomsMu.Unlock()
}

// removeRoom forgets m, unless the client has joined the room again since.
func (c *Client) removeRoom(m *membership) {
	c.roomsMu.Lock()
	if c.rooms[m.room.name] == m {
		delete(c.rooms, m.room.name)
	}
	c.roomsMu.Unlock()
}

// memberships returns the client's memberships, in no order.
func (c *Client) memberships() []*membership {
	c.roomsMu.Lock()
	defer c.roomsMu.Unlock()
	ms := make([]*membership, 0, len(c.rooms))
	for _, m := range c.rooms {
		ms = append(ms, m)
	}
	return ms
}

// roomCount returns how many rooms the client is in.
func (c *Client) roomCount() int {
	c.roomsMu.Lock()
	defer c.roomsMu.Unlock()
	return len(c.rooms)
}

// Enqueue queues an encoded event for this client alone, such as an Error
// event answering its frame, with the same limit as the room's events.
func (c *Client) Enqueue(b []byte) { c.enqueue(b) }

// EnqueueIfIdle queues an encoded event that is worth sending only now,
// such as a Typing, if the client is idle: what is queued, with b, is under
// 1/idleShare of its limit, and it is catching up in none of its rooms.
// Otherwise it drops
// b. It never stops the client as a slow consumer: a client that is behind
// gets what it is owed first, and an indicator that arrived late would be
// wrong anyway. It reports whether it queued b.
func (c *Client) EnqueueIfIdle(b []byte) bool {
	c.mu.Lock()
	ok := c.err == nil && !c.drain && len(c.fills) == 0 && c.queued+len(b) < c.limit/idleShare
	if ok {
		c.push(b)
		c.queued += len(b)
		c.kick()
	}
	c.mu.Unlock()
	if ok {
		c.signal()
	}
	return ok
}

// enqueue appends an encoded event without blocking. A client whose queue
// would exceed its limit is stopped with ErrSlowConsumer instead: it has
// fallen too far behind to catch up, and waiting for it would stall the room.
func (c *Client) enqueue(b []byte) {
	c.mu.Lock()
	full := false
	if c.err == nil && !c.drain {
		if c.queued+len(b) > c.limit {
			c.err = ErrSlowConsumer
			c.dropQueue()
			full = true
		} else {
			full = c.queued < event.MaxServerFrameBytes && c.queued+len(b) >= event.MaxServerFrameBytes
			c.push(b)
			c.queued += len(b)
		}
		c.kick()
	}
	c.mu.Unlock()
	c.signal()
	if full {
		c.signalFull()
	}
}

// enqueueAll appends first (unless nil) and then the events of each of rest
// as enqueue would, under one hold of the client's lock and with one wake-up:
// a joiner's Joined and its recent history, or a Presence split in
// several events.
func (c *Client) enqueueAll(first []byte, rest ...[][]byte) {
	size := len(first)
	for _, events := range rest {
		for _, b := range events {
			size += len(b)
		}
	}
	c.mu.Lock()
	full := false
	if c.err == nil && !c.drain {
		if c.queued+size > c.limit {
			c.err = ErrSlowConsumer
			c.dropQueue()
			full = true
		} else {
			full = c.queued < event.MaxServerFrameBytes && c.queued+size >= event.MaxServerFrameBytes
			if first != nil {
				c.push(first)
			}
			for _, events := range rest {
				for _, b := range events {
					c.push(b)
				}
			}
			c.queued += size
		}
		c.kick()
	}
	c.mu.Unlock()
	c.signal()
	if full {
		c.signalFull()
	}
}

// addFill adds m to the rooms that Next refills an empty queue from while
// they catch up with their history, and wakes Next, which may be waiting on
// an empty queue.
func (c *Client) addFill(m *membership) {
	c.mu.Lock()
	c.fills = append(c.fills, m)
	if c.err == nil {
		c.kick()
	}
	c.mu.Unlock()
	c.signal()
}

// removeFill takes m out of the rooms catching up: it caught up, or left.
func (c *Client) removeFill(m *membership) {
	c.mu.Lock()
	c.fills = slices.DeleteFunc(c.fills, func(f *membership) bool { return f == m })
	if len(c.fills) == 0 {
		c.fills = nil
	}
	c.mu.Unlock()
}

// queuedBytes returns how many bytes of events are queued.
func (c *Client) queuedBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued
}

// stop stops the client with err, as an overflow does.
func (c *Client) stop(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
		c.dropQueue()
		c.kick()
	}
	c.mu.Unlock()
	c.signal()
	c.signalFull()
}

// Close stops the client: Next returns ErrClosed from now on, what was
// still queued is dropped, and the hub queues nothing more for it.
func (c *Client) Close() {
	c.mu.Lock()
	if c.err == nil {
		c.err = ErrClosed
	}
	c.dropQueue()
	c.mu.Unlock()
	c.signal()
	c.signalFull()
}

// Drain stops the client once what is queued has been taken: Next returns
// the queued events, then ErrClosed, and nothing more is queued. It lets a
// connection deliver its last error events before it closes.
func (c *Client) Drain() {
	c.mu.Lock()
	c.drain = true
	if c.err == nil {
		c.kick()
	}
	c.mu.Unlock()
	c.signal()
	c.signalFull()
}

// Next blocks until events are queued and appends them to buf as one server
// frame: as many queued events as fit in event.MaxServerFrameBytes, joined by
// newlines. A client that is keeping up gets each event as soon as it is
// queued; one that falls behind gets them coalesced, one write for many. Next
// returns ErrSlowConsumer or ErrClosed once the client stopped (after
// Drain, once the queue is empty), or ctx's error. Only one goroutine (the connection's writer) may call Next.
func (c *Client) Next(ctx context.Context, buf []byte) ([]byte, error) {
	return c.NextUntil(ctx, buf, nil)
}

// NextUntil is Next that also returns, with ErrIdle, when until fires
// while nothing is queued. A writer passes the channel of one timer it
// resets, its heartbeat's: a context with a deadline per frame would cost
// an allocation and a runtime timer for every frame written.
func (c *Client) NextUntil(ctx context.Context, buf []byte, until <-chan time.Time) ([]byte, error) {
	return c.next(ctx, buf, until, true)
}

// Await blocks as NextUntil does, until there is something to take, and
// returns nil then without taking it; the next NextUntil returns at once. It
// returns what NextUntil would: ErrIdle when until fires first, the client's
// stop, or ctx's error. A writer calls it to learn that work arrived before
// it decides whether to gather more into the frame.
func (c *Client) Await(ctx context.Context, until <-chan time.Time) error {
	_, err := c.next(ctx, nil, until, false)
	return err
}

// next is NextUntil, which takes a frame into buf when take is set, and
// Await, which returns as soon as there is one to take.
func (c *Client) next(ctx context.Context, buf []byte, until <-chan time.Time, take bool) ([]byte, error) {
	for {
		c.mu.Lock()
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return buf, err
		}
		if len(c.queue) > 0 {
			if !take {
				c.mu.Unlock()
				return buf, nil
			}
			frame, emptied := c.take()
			c.mu.Unlock()
			// Copied without the lock: the hub queues for this client
			// meanwhile, with the room's lock held.
			for i, b := range frame {
				if i > 0 {
					buf = append(buf, '\n')
				}
				buf = append(buf, b...)
			}
			clear(frame) // the queue no longer reaches these elements
			if emptied != nil {
				// Copied: no one reaches the array any more.
				clear(emptied.events[:cap(emptied.events)])
				if cap(emptied.events) <= queueSlotsMax {
					queueSlots.Put(emptied)
				}
			}
			return buf, nil
		}
		if c.drain {
			c.mu.Unlock()
			return buf, ErrClosed
		}
		var fill func(context.Context) error
		if len(c.fills) > 0 {
			// The rooms catching up take turns: this one goes to the back.
			m := c.fills[0]
			fill = m.fill
			c.fills = append(c.fills[1:], m)
		}
		c.mu.Unlock()
		if fill != nil {
			// Catching up: the queue is empty, take the next page of a
			// room's history (outside c.mu: fill takes the room's lock
			// first). It may wait for its turn to read the store, within
			// ctx.
			if err := fill(ctx); err != nil {
				return buf, err
			}
			continue
		}
		select {
		case <-c.wake:
		case <-until:
			return buf, ErrIdle
		case <-ctx.Done():
			return buf, ctx.Err()
		}
	}
}

// take removes the events that fit in one frame from the queue and returns
// them: a piece of the queue's backing array that the queue no longer
// reaches, so Next may read and clear it without the lock. The first event
// always fits: no event is larger than a frame. When that empties the
// queue, emptied is its array, which the client no longer holds: Next
// gives it back to queueSlots once it copied the frame.
func (c *Client) take() (frame [][]byte, emptied *queueArray) {
	n, size := 0, 0
	for _, b := range c.queue {
		if n > 0 && size+1+len(b) > event.MaxServerFrameBytes {
			break
		}
		if n > 0 {
			size++
		}
		size += len(b)
		c.queued -= len(b)
		n++
	}
	frame = c.queue[:n:n]
	c.queue = c.queue[n:]
	if len(c.queue) == 0 {
		// An idle client holds no array.
		emptied = c.slots
		c.queue, c.slots = nil, nil
	} else {
		// More is waiting: make sure the writer comes back without a wake-up.
		c.signal()
	}
	return frame, emptied
}

// signal wakes Next without blocking; one pending token is enough.
func (c *Client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}
