// Package hub is the server's broadcast registry: rooms, their members and
// the fan-out of events to them.
//
// Every event is encoded once and the same bytes are queued for every
// recipient. Queuing never blocks: each Client has a queue bounded in bytes,
// and a client that overflows it is stopped as a slow consumer rather than
// allowed to stall the room. Within a room, every member receives events in
// the same order, the order in which the hub accepted them.
package hub

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/chatwasm/chat/app/event"
)

// ErrNotJoined is returned by Publish for a client that is in no room.
var ErrNotJoined = errors.New("client has not joined a room")

// ErrAlreadyJoined is returned by Join for a client that is in a room.
var ErrAlreadyJoined = errors.New("client has already joined a room")

// Hub holds the rooms. The zero value is not usable; call New.
type Hub struct {
	// now stamps messages; tests may replace it.
	now func() time.Time

	mu    sync.RWMutex
	rooms map[string]*room
}

// room is one room's membership and message order. Its lock is held while an
// event is queued for all members, so that every member sees the same order;
// a lock order of room then client is kept throughout.
type room struct {
	name    string
	mu      sync.Mutex
	members map[*Client]struct{}
	seq     uint64 // the last Message.Seq given in this room
}

// New returns an empty hub.
func New() *Hub {
	return &Hub{now: time.Now, rooms: make(map[string]*room)}
}

// Join puts c in the named room as user with the given name (already
// normalized). c receives a Joined event and everyone already in the room a
// UserJoined event.
func (h *Hub) Join(c *Client, roomName, user, name string) error {
	r := h.room(roomName)
	joined, err := event.Encode(event.Joined{Room: roomName, User: user, Name: name})
	if err != nil {
		return err
	}
	notice, err := event.Encode(event.UserJoined{Room: roomName, User: user, Name: name})
	if err != nil {
		return err
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if c.room != "" {
		return ErrAlreadyJoined
	}
	c.user, c.name, c.room = user, name, roomName
	for m := range r.members {
		m.enqueue(notice)
	}
	r.members[c] = struct{}{}
	c.enqueue(joined)
	return nil
}

// Leave takes c out of its room, if it is in one, and tells the remaining
// members with a UserLeft event. It is safe to call more than once.
func (h *Hub) Leave(c *Client) {
	h.mu.RLock()
	r := h.rooms[c.room]
	h.mu.RUnlock()
	if r == nil {
		return
	}
	notice, err := event.Encode(event.UserLeft{Room: r.name, User: c.user, Name: c.name})
	if err != nil {
		return // cannot happen: the event holds only strings
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.members[c]; !ok {
		return
	}
	delete(r.members, c)
	for m := range r.members {
		m.enqueue(notice)
	}
}

// Publish accepts s from c: it numbers and stamps it as the room's next
// Message and queues it for every member, c included. It returns the Message.
func (h *Hub) Publish(c *Client, s event.Send) (event.Message, error) {
	h.mu.RLock()
	r := h.rooms[c.room]
	h.mu.RUnlock()
	if r == nil {
		return event.Message{}, ErrNotJoined
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.members[c]; !ok {
		return event.Message{}, ErrNotJoined
	}
	m := event.Message{
		Room: r.name,
		Seq:  r.seq + 1,
		ID:   s.ID,
		User: c.user,
		Name: c.name,
		Text: s.Text,
		Time: h.now().UnixMilli(),
	}
	b, err := event.Encode(m)
	if err != nil {
		return event.Message{}, fmt.Errorf("publish: %w", err)
	}
	r.seq = m.Seq
	for member := range r.members {
		member.enqueue(b)
	}
	return m, nil
}

// Members returns how many clients are in the named room.
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

// room returns the named room, creating it on first use.
func (h *Hub) room(name string) *room {
	h.mu.RLock()
	r := h.rooms[name]
	h.mu.RUnlock()
	if r != nil {
		return r
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if r = h.rooms[name]; r == nil {
		r = &room{name: name, members: make(map[*Client]struct{})}
		h.rooms[name] = r
	}
	return r
}
