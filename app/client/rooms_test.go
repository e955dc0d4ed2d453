//go:build !(js && wasm)

package client

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server"
	"github.com/chatwasm/chat/server/servertest"
)

// roomTexts returns "<room>:<text>" for each message reported, in order.
func (r *recorder) roomTexts() []string {
	var out []string
	for _, m := range r.messages() {
		out = append(out, m.Room+":"+m.Text)
	}
	return out
}

// waitRoomTexts waits until the Session reported exactly want, as
// roomTexts, and an empty outbox.
func (c *client) waitRoomTexts(t *testing.T, want ...string) {
	t.Helper()
	waitFor(t, func() error {
		if got := c.rec.roomTexts(); strings.Join(got, "|") != strings.Join(want, "|") {
			return fmt.Errorf("messages %q, want %q", got, want)
		}
		if n := len(c.Outbox()); n != 0 {
			return fmt.Errorf("%d messages still in the outbox", n)
		}
		return nil
	})
}

// roomsJoined returns the rooms of the Joined events reported, in order.
func (r *recorder) roomsJoined() []string {
	var out []string
	for _, j := range r.joins() {
		out = append(out, j.Room)
	}
	return out
}

// TestSessionRooms: a Session in several rooms gets each room's messages
// and notices, and only those of the rooms it opened; its sends go to the
// room they name; each room is recovered after a cut from its own last seq;
// after Leave nothing more of the room is reported.
func TestSessionRooms(t *testing.T) {
	t.Parallel()
	addr := startChat(t, server.Config{})
	p := servertest.StartProxy(t, addr)
	store := new(MemoryStorage)
	ann := join(t, wsURL(p.Addr()), "Ann", SessionConfig{Storage: store, Rooms: []string{"design"}})
	ann.waitJoins(t, 2)
	if got := ann.rec.roomsJoined(); strings.Join(got, " ") != "lobby design" {
		t.Fatalf("joined %q, want the first room, then the others", got)
	}
	bob := join(t, wsURL(addr), "Bob", SessionConfig{Room: "design"})
	cid := join(t, wsURL(addr), "Cid", SessionConfig{})

	if _, err := ann.SendIn("design", "to design"); err != nil {
		t.Fatal(err)
	}
	if _, err := ann.Send("to the lobby"); err != nil {
		t.Fatal(err)
	}
	bob.waitRoomTexts(t, "design:to design")
	if _, err := bob.Send("from bob"); err != nil {
		t.Fatal(err)
	}
	bob.waitRoomTexts(t, "design:to design", "design:from bob")
	cid.waitRoomTexts(t, "lobby:to the lobby")
	waitFor(t, func() error {
		got := ann.rec.roomTexts()
		slices.Sort(got) // the rooms interleave as the server stored them
		if want := "design:from bob|design:to design|lobby:to the lobby"; strings.Join(got, "|") != want {
			return fmt.Errorf("ann's messages %q, want %q", got, want)
		}
		return nil
	})
	waitFor(t, func() error {
		if got := ann.rec.notices(); !slices.Contains(got, "Bob connected") || !slices.Contains(got, "Cid connected") {
			return fmt.Errorf("ann's notices %q, want Bob's (design) and Cid's (lobby)", got)
		}
		return nil
	})
	if got := cid.rec.notices(); slices.Contains(got, "Bob connected") {
		t.Fatalf("cid, in the lobby only, was told of Bob in design: %q", got)
	}

	// A cut: each room catches up from its own last seq, once.
	p.SetDown(true)
	p.Cut()
	waitFor(t, func() error {
		if s := ann.rec.state(); s != StateOffline {
			return fmt.Errorf("state %s", s)
		}
		return nil
	})
	if _, err := bob.Send("while ann is away"); err != nil {
		t.Fatal(err)
	}
	if _, err := cid.Send("lobby while away"); err != nil {
		t.Fatal(err)
	}
	if _, err := ann.SendIn("design", "written offline"); err != nil {
		t.Fatal(err)
	}
	// Stored before Ann is back: her offline message comes after it.
	bob.waitRoomTexts(t, "design:to design", "design:from bob", "design:while ann is away")
	if got := ann.Outbox(); len(got) != 1 || got[0].Room != "design" {
		t.Fatalf("offline outbox %#v, want the design message", got)
	}
	p.SetDown(false)
	ann.Wake()
	bob.waitRoomTexts(t, "design:to design", "design:from bob", "design:while ann is away", "design:written offline")
	waitFor(t, func() error {
		if n := len(ann.rec.messages()); n != 6 || len(ann.Outbox()) != 0 {
			return fmt.Errorf("ann has %d messages (want 6) and %d waiting", n, len(ann.Outbox()))
		}
		return nil
	})
	for _, room := range []string{"lobby", "design"} {
		var inRoom []event.Message
		for _, m := range ann.rec.messages() {
			if m.Room == room {
				inRoom = append(inRoom, m)
			}
		}
		checkSeqs(t, "Ann in "+room, inRoom)
	}

	// Leave: the room is forgotten, here and in storage.
	if err := ann.Leave("design"); err != nil {
		t.Fatal(err)
	}
	if err := ann.Leave(event.DefaultRoom); !errors.Is(err, ErrFirstRoom) {
		t.Fatalf("leave of the first room: %v, want ErrFirstRoom", err)
	}
	waitFor(t, func() error {
		if got := bob.rec.notices(); !slices.Contains(got, "Ann disconnected") {
			return fmt.Errorf("bob's notices %q, want Ann's leave", got)
		}
		return nil
	})
	if _, err := bob.Send("after ann left"); err != nil {
		t.Fatal(err)
	}
	if _, err := cid.Send("lobby after"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() error {
		if got := ann.rec.roomTexts(); got[len(got)-1] != "lobby:lobby after" {
			return fmt.Errorf("ann's last message %q", got[len(got)-1])
		}
		return nil
	})
	if got := ann.rec.roomTexts(); slices.Contains(got, "design:after ann left") {
		t.Fatal("a message of a room left was reported")
	}
	if _, err := ann.SendIn("design", "x"); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("send to a room left: %v, want ErrNoRoom", err)
	}
}

// TestSessionRememberedRooms: the rooms opened are remembered in Storage,
// merged across tabs, and joined by the next Session without being named;
// Leave forgets them; invalid names and rooms beyond the per-connection
// limit are refused by Open.
func TestSessionRememberedRooms(t *testing.T) {
	t.Parallel()
	store := new(MemoryStorage)
	newSession := func(cfg SessionConfig) *Session {
		t.Helper()
		cfg.URL, cfg.Storage = "ws://127.0.0.1:1/ws", store
		s, err := NewSession(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tab1 := newSession(SessionConfig{Tab: "1"})
	tab2 := newSession(SessionConfig{Tab: "2"})
	for _, tt := range []struct {
		s    *Session
		room string
	}{{tab1, "a"}, {tab2, "b"}, {tab1, "c"}} {
		if err := tt.s.Open(tt.room); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tab1.SendIn("a", "kept"); err != nil {
		t.Fatal(err)
	}
	if err := tab2.Leave("b"); err != nil {
		t.Fatal(err)
	}
	// A tab still open learns of the rooms another tab opened.
	tab3 := newSession(SessionConfig{Tab: "3"})
	if err := tab1.Open("d"); err != nil {
		t.Fatal(err)
	}
	if !tab3.OpenStored() || strings.Join(tab3.Rooms(), " ") != "lobby a c d" {
		t.Fatalf("rooms after OpenStored %q, want %q", tab3.Rooms(), "lobby a c d")
	}
	if tab3.OpenStored() {
		t.Fatal("OpenStored opened rooms twice")
	}
	if err := tab1.Leave("d"); err != nil {
		t.Fatal(err)
	}
	reload := newSession(SessionConfig{Tab: "1"})
	if got := strings.Join(reload.Rooms(), " "); got != "lobby a c" {
		t.Fatalf("rooms after a reload %q, want %q", got, "lobby a c")
	}
	if got := reload.Outbox(); len(got) != 1 || got[0].Room != "a" || got[0].Text != "kept" {
		t.Fatalf("outbox after a reload %#v", got)
	}
	if err := reload.Open("no spaces"); !errors.Is(err, event.ErrRoomInvalid) {
		t.Fatalf("open of an invalid name: %v", err)
	}
	for i := len(reload.Rooms()); i < event.MaxRoomsPerConn; i++ {
		if err := reload.Open(fmt.Sprint("r", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := reload.Open("one-more"); !errors.Is(err, event.ErrTooManyRooms) {
		t.Fatalf("open beyond %d rooms: %v", event.MaxRoomsPerConn, err)
	}
	if err := reload.Leave("nope"); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("leave of a room not open: %v", err)
	}
}

// TestSessionReopen: a room left and opened again before the Leave went out
// starts afresh with a new Joined and its history, and then gets its live
// messages once.
func TestSessionReopen(t *testing.T) {
	t.Parallel()
	addr := startChat(t, server.Config{})
	bob := join(t, wsURL(addr), "Bob", SessionConfig{Room: "r"})
	if _, err := bob.Send("before"); err != nil {
		t.Fatal(err)
	}
	bob.waitRoomTexts(t, "r:before")
	ann := join(t, wsURL(addr), "Ann", SessionConfig{Rooms: []string{"r"}})
	ann.waitJoins(t, 2)
	if err := ann.Leave("r"); err != nil {
		t.Fatal(err)
	}
	if err := ann.Open("r"); err != nil {
		t.Fatal(err)
	}
	ann.waitJoins(t, 3)
	if _, err := bob.Send("after"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() error {
		var got []string
		for _, m := range ann.rec.messages() {
			got = append(got, fmt.Sprint(m.Text, m.Seq))
		}
		// The history again after the new Joined, then the live one.
		if want := "before1 before1 after2"; strings.Join(got, " ") != want {
			return fmt.Errorf("ann's messages %q, want %q", got, want)
		}
		return nil
	})
}
