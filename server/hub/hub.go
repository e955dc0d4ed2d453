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
package hub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server/store"
)

// Defaults of Config, and the catch-up page.
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
)

// ErrNotJoined is returned by Publish for a client that is in no room.
var ErrNotJoined = errors.New("client has not joined a room")

// ErrAlreadyJoined is returned by Join for a client that is in a room.
var ErrAlreadyJoined = errors.New("client has already joined a room")

// Config configures a Hub.
type Config struct {
	// Store keeps the history; required.
	Store *store.Store
	// History is how many recent messages a fresh joiner gets. Zero value
	// means DefaultHistory.
	History int
	// PresenceGrace delays the UserLeft of a user with no connection left.
	// Zero value means DefaultPresenceGrace.
	PresenceGrace time.Duration
}

// Hub holds the rooms. Create it with New.
type Hub struct {
	cfg Config
	// now stamps messages; tests may replace it.
	now func() time.Time

	mu    sync.RWMutex
	rooms map[string]*room

	flushers sync.WaitGroup // running flush loops, waited for by Close
}

// room is one room's membership, presence and message order. Its lock is
// held while an event is queued for all members, so that every member sees
// one order; the lock order is room, then client.
type room struct {
	name    string
	mu      sync.Mutex
	members map[*Client]struct{}
	users   map[string]*presence // who is in the room, by user id
	seq     uint64               // the last Message.Seq queued to members

	pending  []*publish // accepted, waiting for the next store batch
	flushing bool       // a flush loop is running
}

// presence is one user in a room: how many connections it has there, and
// the timer that announces its departure once it has none.
type presence struct {
	name  string
	conns int
	leave *time.Timer
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
	return &Hub{cfg: cfg, now: time.Now, rooms: make(map[string]*room)}
}

// Close waits for the messages being stored to be stored and delivered.
// Call it after the last Publish; the store can then be closed.
func (h *Hub) Close() {
	h.flushers.Wait()
}

// Identity is who joins: the verified user, the name, and the token that
// proves them, as the server's identity check established.
type Identity struct {
	User, Name, Token string
}

// Join puts c in the named room. c receives Joined, then the room's history,
// then the live stream, with no gap and no repeat between them:
//   - since zero (a fresh join): the recent messages, up to Config.History;
//   - since behind the room: every message after since. The client catches
//     up page by page as its writer drains its queue (see Client.Next), and
//     joins the live stream once it has caught up, so that a long absence
//     never overflows its queue;
//   - since pruned away, or past the room's end: Joined.Gap and the recent
//     messages.
//
// The others receive UserJoined unless the user was already present: another
// tab, or a reconnect within the grace period.
func (h *Hub) Join(ctx context.Context, c *Client, roomName string, id Identity, since uint64) error {
	r, err := h.room(ctx, roomName)
	if err != nil {
		return fmt.Errorf("join %s: %w", roomName, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.room != "" {
		return ErrAlreadyJoined
	}
	catchUp, gap := false, false
	switch {
	case since > r.seq:
		gap = true // the client knows messages this store does not
	case since > 0 && since < r.seq:
		_, complete, err := h.cfg.Store.After(ctx, r.name, since, 1)
		if err != nil {
			return fmt.Errorf("join %s: %w", roomName, err)
		}
		catchUp, gap = complete, !complete
	}
	var recent []event.Message
	if since == 0 || gap {
		// The recent history ends at r.seq: a batch being stored is not
		// yet queued to members and reaches the joiner live.
		if recent, _, err = h.cfg.Store.Before(ctx, r.name, r.seq+1, h.cfg.History); err != nil {
			return fmt.Errorf("join %s: %w", roomName, err)
		}
	}
	encoded, err := encodeWithin(recent, c.limit/2)
	if err != nil {
		return err
	}
	joined, err := event.Encode(event.Joined{Room: roomName, User: id.User, Name: id.Name, Token: id.Token, Seq: r.seq, Gap: gap})
	if err != nil {
		return err
	}
	c.user, c.name, c.room = id.User, id.Name, roomName
	c.enqueue(joined)
	for _, b := range encoded {
		c.enqueue(b)
	}

	p := r.users[id.User]
	switch {
	case p == nil:
		p = &presence{}
		r.users[id.User] = p
		notice, err := event.Encode(event.UserJoined{Room: roomName, User: id.User, Name: id.Name})
		if err != nil {
			return err
		}
		for m := range r.members {
			m.enqueue(notice)
		}
	case p.leave != nil:
		p.leave.Stop() // back within the grace period: nobody saw it leave
		p.leave = nil
	}
	p.name = id.Name
	p.conns++
	if catchUp {
		c.cursor = since
		c.setFill(func() { h.fill(r, c) })
	} else {
		r.members[c] = struct{}{}
	}
	return nil
}

// fill queues the next page of history for a client that is catching up,
// and moves it to the live stream once it has reached the room's last
// message. Client.Next calls it when the client's queue is empty.
func (h *Hub) fill(r *room, c *Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.left {
		c.setFill(nil)
		return
	}
	msgs, complete, err := h.cfg.Store.After(context.Background(), r.name, c.cursor, pageSize)
	msgs = upTo(msgs, r.seq)
	if err != nil || !complete || (len(msgs) == 0 && c.cursor < r.seq) {
		// The store failed, or pruned what the client still needed while
		// it caught up: restart the client, whose next Join finds out
		// what is left and says so.
		c.stop(ErrSlowConsumer)
		return
	}
	budget := c.limit / 2
	for i, m := range msgs {
		b, err := event.Encode(m)
		if err != nil {
			c.stop(ErrSlowConsumer)
			return
		}
		if budget -= len(b); budget < 0 && i > 0 {
			break
		}
		c.enqueue(b)
		c.cursor = m.Seq
	}
	if c.cursor >= r.seq {
		c.setFill(nil)
		r.members[c] = struct{}{}
	}
}

// encodeWithin encodes the newest messages whose encodings fit in budget
// bytes, in order: the recent history must fit the client's queue with room
// to spare for the live stream, or the client would be closed as a slow
// consumer at once.
func encodeWithin(msgs []event.Message, budget int) ([][]byte, error) {
	encoded := make([][]byte, len(msgs))
	first := len(msgs)
	for i := len(msgs) - 1; i >= 0; i-- {
		b, err := event.Encode(msgs[i])
		if err != nil {
			return nil, err
		}
		if budget -= len(b); budget < 0 {
			break
		}
		encoded[i], first = b, i
	}
	return encoded[first:], nil
}

// upTo drops the messages after seq from an ordered slice.
func upTo(msgs []event.Message, seq uint64) []event.Message {
	for i, m := range msgs {
		if m.Seq > seq {
			return msgs[:i]
		}
	}
	return msgs
}

// Leave takes c out of its room, if it is in one. When the user has no
// connection left in the room, the others are told after the grace period,
// unless it comes back first. It is safe to call more than once.
func (h *Hub) Leave(c *Client) {
	h.mu.RLock()
	r := h.rooms[c.room]
	h.mu.RUnlock()
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.left {
		return
	}
	c.left = true
	c.setFill(nil)
	delete(r.members, c) // absent while it was catching up
	p := r.users[c.user]
	if p == nil {
		return
	}
	p.conns--
	if p.conns == 0 {
		user := c.user
		p.leave = time.AfterFunc(h.cfg.PresenceGrace, func() { h.expire(r, user, p) })
	}
}

// expire announces that a user left, if it is still gone.
func (h *Hub) expire(r *room, user string, p *presence) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.users[user] != p || p.conns > 0 {
		return
	}
	delete(r.users, user)
	notice, err := event.Encode(event.UserLeft{Room: r.name, User: user, Name: p.name})
	if err != nil {
		return // cannot happen: the event holds only strings
	}
	for m := range r.members {
		m.enqueue(notice)
	}
}

// Publish accepts s from c. It returns once the message is durably stored
// and queued for every member (c included), with the stored Message; or,
// when c's user had already sent s.ID, with the original Message and
// duplicate set, after queuing an Ack for c alone. Messages published
// concurrently are stored together in one transaction.
func (h *Hub) Publish(ctx context.Context, c *Client, s event.Send) (m event.Message, duplicate bool, err error) {
	h.mu.RLock()
	r := h.rooms[c.room]
	h.mu.RUnlock()
	if r == nil {
		return event.Message{}, false, ErrNotJoined
	}
	p := &publish{
		client:  c,
		pending: store.Pending{ID: s.ID, User: c.user, Name: c.name, Text: s.Text, Time: h.now().UnixMilli()},
		done:    make(chan publishResult, 1),
	}
	r.mu.Lock()
	if c.left {
		r.mu.Unlock()
		return event.Message{}, false, ErrNotJoined
	}
	r.pending = append(r.pending, p)
	if !r.flushing {
		r.flushing = true
		h.flushers.Add(1)
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
	defer h.flushers.Done()
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
// duplicate as an Ack to its sender only.
func (h *Hub) deliver(r *room, batch []*publish, results []store.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
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
				r.seq = res.Message.Seq
				for m := range r.members {
					m.enqueue(b)
				}
			}
		}
		batch[i].done <- publishResult{res: res, err: err}
	}
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

// room returns the named room, creating it on first use with the store's
// last sequence number.
func (h *Hub) room(ctx context.Context, name string) (*room, error) {
	h.mu.RLock()
	r := h.rooms[name]
	h.mu.RUnlock()
	if r != nil {
		return r, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if r = h.rooms[name]; r != nil {
		return r, nil
	}
	seq, err := h.cfg.Store.LastSeq(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("load room %s: %w", name, err)
	}
	r = &room{name: name, seq: seq, members: make(map[*Client]struct{}), users: make(map[string]*presence)}
	h.rooms[name] = r
	return r, nil
}
