// Package floor is the least a chat hub on coder/websocket can be, to
// measure the chat server against: what memory per connection and what
// latency the WebSocket library and the Go runtime cost before any of the
// server's own work. `chat floor -addr …` serves it, and `chat bench` loads
// it as it loads the server.
//
// It speaks the part of package event's protocol the load generator uses: a
// Join is answered with Joined (its first only), a Send becomes a Message
// with the room's next seq, written to every member of the room from the
// sender's own goroutine. It keeps no history, sends no pings, checks no
// origin, limits nothing, and a member that stops reading blocks the
// senders of its room: it is a yardstick, never a server to deploy. Each
// connection costs one goroutine, net/http's, which reads; nothing else.
package floor

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwasm/chat/app/event"
)

// Hub is the rooms and their members. The zero value is not usable: New.
type Hub struct {
	mu    sync.Mutex
	rooms map[string]*room
}

// room is one room: its last seq and its members, guarded by Hub.mu.
type room struct {
	seq     uint64
	members map[*websocket.Conn]struct{}
}

// New returns a Hub with no rooms.
func New() *Hub { return &Hub{rooms: make(map[string]*room)} }

// user is the user id of every member: the generator reads none.
const user = "00000000-0000-4000-8000-000000000000"

// ServeHTTP upgrades the request and serves the connection until it ends.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ws.SetReadLimit(event.MaxClientFrameBytes)
	ctx := context.Background() // never done: coder/websocket then watches nothing
	var in *room
	var name, roomName string
	defer func() {
		if in != nil {
			h.mu.Lock()
			delete(in.members, ws)
			h.mu.Unlock()
		}
	}()
	for {
		_, frame, err := ws.Read(ctx)
		if err != nil {
			return
		}
		e, err := event.DecodeClient(frame)
		if err != nil {
			continue
		}
		var out []byte
		var to []*websocket.Conn
		switch e := e.(type) {
		case event.Join:
			if in != nil {
				continue
			}
			name, roomName = e.Name, e.Room
			if roomName == "" {
				roomName = event.DefaultRoom
			}
			h.mu.Lock()
			if in = h.rooms[roomName]; in == nil {
				in = &room{members: make(map[*websocket.Conn]struct{})}
				h.rooms[roomName] = in
			}
			in.members[ws] = struct{}{}
			seq := in.seq
			h.mu.Unlock()
			out, err = event.Encode(event.Joined{Room: roomName, User: user, Name: name, Token: strconv.Itoa(int(seq)), Seq: seq})
			to = []*websocket.Conn{ws}
		case event.Send:
			if in == nil {
				continue
			}
			h.mu.Lock()
			in.seq++
			m := event.Message{Room: roomName, Seq: in.seq, ID: e.ID, User: user, Name: name, Text: e.Text, Time: time.Now().UnixMilli()}
			to = make([]*websocket.Conn, 0, len(in.members))
			for c := range in.members {
				to = append(to, c)
			}
			h.mu.Unlock()
			out, err = event.Encode(m)
		}
		if err != nil {
			return
		}
		for _, c := range to {
			_ = c.Write(ctx, websocket.MessageText, out) // a failed member's own read ends it
		}
	}
}
