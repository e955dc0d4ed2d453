package hub

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/chatwasm/chat/app/event"
)

// joinRoom joins c to room as user, holding the room's messages up to since.
func joinRoom(t testing.TB, h *Hub, c *Client, room, user string, since uint64) {
	t.Helper()
	if err := h.Join(context.Background(), c, room, Identity{User: user, Name: "name-" + user, Token: "t-" + user}, since); err != nil {
		t.Fatalf("Join(%s, %s): %v", user, room, err)
	}
}

// TestCatchUpSeveralRoomsTakeTurns: a client resuming two rooms at once,
// each far behind, through a queue that holds a few long messages, gets
// every message of each room it missed, in order, with no repeat, the two
// rooms' pages taking turns; messages posted meanwhile reach it through the
// pages, then live.
func TestCatchUpSeveralRoomsTakeTurns(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{})
	rooms := []string{"east", "west"}
	ann := NewClient(0)
	for _, room := range rooms {
		joinRoom(t, h, ann, room, "ann", 0)
	}
	long := strings.Repeat("x", event.MaxTextLen)
	const n = 60
	for _, room := range rooms {
		for i := range n {
			if _, _, err := h.Publish(context.Background(), ann, event.Send{Room: room, ID: fmt.Sprint(room, i), Text: long}); err != nil {
				t.Fatal(err)
			}
		}
	}
	const queue = 16 << 10 // room for 4 long messages in half of it
	bob := NewClient(queue)
	for _, room := range rooms {
		joinRoom(t, h, bob, room, "bob", 1)
	}
	for _, room := range rooms { // stored, reaches bob in a page
		if _, _, err := h.Publish(context.Background(), ann, event.Send{Room: room, ID: room + "-live", Text: "meanwhile"}); err != nil {
			t.Fatal(err)
		}
	}
	seqs := make(map[string][]uint64)
	var order []string // the room of each message, as they came
	for len(seqs["east"]) < n || len(seqs["west"]) < n {
		frame, err := bob.Next(context.Background(), nil)
		if err != nil {
			t.Fatalf("Next, with %d and %d messages caught up: %v", len(seqs["east"]), len(seqs["west"]), err)
		}
		events, err := event.DecodeServer(frame)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range messages(events) {
			seqs[m.Room] = append(seqs[m.Room], m.Seq)
			order = append(order, m.Room)
		}
	}
	for _, room := range rooms {
		want := make([]uint64, n)
		for i := range want {
			want[i] = uint64(i + 2) // 2 … n+1, the live one last
		}
		if !reflect.DeepEqual(seqs[room], want) {
			t.Fatalf("%s caught up with seqs %v, want 2…%d", room, seqs[room], n+1)
		}
	}
	lastEast, firstWest := strings.LastIndex(strings.Join(order, " "), "east"), strings.Index(strings.Join(order, " "), "west")
	if firstWest > lastEast {
		t.Fatalf("west's catch-up began after east's ended: the rooms did not take turns")
	}
	for _, room := range rooms {
		if _, _, err := h.Publish(context.Background(), ann, event.Send{Room: room, Text: "after"}); err != nil {
			t.Fatal(err)
		}
	}
	got := messages(drain(t, bob))
	if len(got) != 2 || got[0].Seq != n+2 || got[1].Seq != n+2 || got[0].Room == got[1].Room {
		t.Fatalf("after catching up: %#v, want seq %d of each room, live", got, n+2)
	}
}

// TestOneQueueForEveryRoom: a client in two rooms that overflows its queue
// with one room's messages is stopped once, for both, and the other room
// goes on without it.
func TestOneQueueForEveryRoom(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{})
	ann := NewClient(0)
	joinRoom(t, h, ann, "busy", "ann", 0)
	joinRoom(t, h, ann, "quiet", "ann", 0)
	slow := NewClient(4 << 10)
	joinRoom(t, h, slow, "busy", "slow", 0)
	joinRoom(t, h, slow, "quiet", "slow", 0)
	long := strings.Repeat("x", event.MaxTextLen)
	for i := range 3 {
		if _, _, err := h.Publish(context.Background(), ann, event.Send{Room: "busy", ID: fmt.Sprint(i), Text: long}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := h.Publish(context.Background(), ann, event.Send{Room: "quiet", Text: "still here"}); err != nil {
		t.Fatal(err)
	}
	if _, err := slow.Next(context.Background(), nil); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("Next of the client that overflowed: %v, want ErrSlowConsumer", err)
	}
	got := messages(drain(t, ann))
	if len(got) != 4 || got[3].Room != "quiet" {
		t.Fatalf("ann got %#v, want the 3 busy messages and the quiet one", got)
	}
}

// TestRoomsOfAClient: a client is in at most event.MaxRoomsPerConn rooms,
// once each; a frame that names no room is about its only room, and is
// ErrRoomRequired while it is in several; a room it left is ErrNotJoined.
func TestRoomsOfAClient(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{})
	c := NewClient(0)
	if _, err := c.Resolve(""); !errors.Is(err, ErrNotJoined) {
		t.Fatalf("Resolve before a join: %v, want ErrNotJoined", err)
	}
	joinRoom(t, h, c, "r0", "ann", 0)
	if room, err := c.Resolve(""); room != "r0" || err != nil {
		t.Fatalf("Resolve in one room: %q, %v, want r0", room, err)
	}
	for i := 1; i < event.MaxRoomsPerConn; i++ {
		joinRoom(t, h, c, fmt.Sprint("r", i), "ann", 0)
	}
	for _, tt := range []struct {
		room string
		want error
	}{{"r3", ErrAlreadyJoined}, {"another", ErrTooManyRooms}} {
		if err := h.Join(context.Background(), c, tt.room, Identity{User: "ann"}, 0); !errors.Is(err, tt.want) {
			t.Fatalf("Join(%s): %v, want %v", tt.room, err, tt.want)
		}
	}
	for _, tt := range []struct {
		room string
		want error
	}{{"", ErrRoomRequired}, {"another", ErrNotJoined}, {"r7", nil}} {
		if _, err := c.Resolve(tt.room); !errors.Is(err, tt.want) {
			t.Fatalf("Resolve(%q): %v, want %v", tt.room, err, tt.want)
		}
		if err := h.Typing(c, tt.room); !errors.Is(err, tt.want) {
			t.Fatalf("Typing(%q): %v, want %v", tt.room, err, tt.want)
		}
		if _, _, err := h.Publish(context.Background(), c, event.Send{Room: tt.room, Text: "x"}); !errors.Is(err, tt.want) {
			t.Fatalf("Publish to %q: %v, want %v", tt.room, err, tt.want)
		}
	}
	if err := h.LeaveRoom(c, "r7"); err != nil {
		t.Fatal(err)
	}
	if err := h.LeaveRoom(c, "r7"); !errors.Is(err, ErrNotJoined) {
		t.Fatalf("LeaveRoom twice: %v, want ErrNotJoined", err)
	}
	joinRoom(t, h, c, "another", "ann", 0) // the place r7 left
	if got := c.Rooms(); len(got) != event.MaxRoomsPerConn || h.Members("r7") != 0 || h.Members("another") != 1 {
		t.Fatalf("rooms %v; r7 holds %d, another %d", got, h.Members("r7"), h.Members("another"))
	}
	h.Leave(c)
	if got := c.Rooms(); len(got) != 0 || h.Members("r0") != 0 {
		t.Fatalf("after Leave: rooms %v, r0 holds %d", got, h.Members("r0"))
	}
}

// TestLeaveRoomAnnouncesAtOnce: a room left on purpose is told at once
// when it was the user's last connection there, though the grace period is
// long; not while another connection of the user is in it; and the user's
// other rooms are told nothing.
func TestLeaveRoomAnnouncesAtOnce(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{PresenceGrace: 1 << 62})
	watcher := NewClient(0)
	joinRoom(t, h, watcher, "a", "watcher", 0)
	joinRoom(t, h, watcher, "b", "watcher", 0)
	bob, tab := NewClient(0), NewClient(0)
	joinRoom(t, h, bob, "a", "bob", 0)
	joinRoom(t, h, bob, "b", "bob", 0)
	joinRoom(t, h, tab, "a", "bob", 0)
	drain(t, watcher)

	if err := h.LeaveRoom(bob, "a"); err != nil { // the tab is still in a
		t.Fatal(err)
	}
	if got := drain(t, watcher); len(got) != 0 {
		t.Fatalf("watcher got %#v while bob's tab is in a", got)
	}
	if err := h.LeaveRoom(tab, ""); err != nil {
		t.Fatal(err)
	}
	want := []event.Event{event.Presence{Room: "a", Left: []event.Member{{User: "bob", Name: "name-bob"}}}}
	if got := drain(t, watcher); !reflect.DeepEqual(got, want) {
		t.Fatalf("watcher got %#v, want %#v", got, want)
	}
	h.Leave(bob) // b, with the grace period: nothing yet
	if got := drain(t, watcher); len(got) != 0 {
		t.Fatalf("watcher got %#v within the grace period", got)
	}
}
