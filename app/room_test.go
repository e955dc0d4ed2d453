package app

import (
	"testing"

	"github.com/chatwasm/chat/app/client"
	"github.com/chatwasm/chat/app/event"
)

// TestRoomPaths: a room's address and back, and the names an address may
// hold that are no room's.
func TestRoomPaths(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		path string
		room string
		ok   bool
	}{
		{"/", "lobby", true},
		{"/r/", "lobby", true},
		{"/r/lobby", "lobby", true},
		{"/r/design", "design", true},
		{"/r/Design_2-b", "Design_2-b", true},
		{"/r/not%20valid!", "not valid!", false},
		{"/r/a/b", "a/b", false},
		{"/r/%C3%A9t%C3%A9", "été", false},
		{"/r/%zz", "%zz", false},
	} {
		room, ok := roomOfPath(tt.path)
		if room != tt.room || ok != tt.ok {
			t.Errorf("roomOfPath(%q) = %q, %v; want %q, %v", tt.path, room, ok, tt.room, tt.ok)
		}
	}
	for room, want := range map[string]string{"lobby": "/", "": "/", "design": "/r/design", "not valid": "/"} {
		if got := roomPath(room); got != want {
			t.Errorf("roomPath(%q) = %q, want %q", room, got, want)
		}
	}
}

// TestChatRooms: each event goes to its room's state; the room shown shows
// only its own; a room not shown counts the others' live messages, exactly,
// and not history, notices or the person's own; the list marks the room
// shown and offers to leave every room but the lobby.
func TestChatRooms(t *testing.T) {
	t.Parallel()
	c := &Chat{mounted: true, state: client.StateConnected, current: "design", rooms: []string{"lobby", "design"}}
	joined := func(room string, seq uint64) event.Joined {
		return event.Joined{Room: room, User: "me", Name: "Ann", Token: "t", Seq: seq, Members: []event.Member{{User: "me", Name: "Ann"}}}
	}
	msg := func(room string, seq uint64, user, text string) event.Message {
		return event.Message{Room: room, Seq: seq, User: user, Name: map[string]string{"me": "Ann", "u2": "Bob"}[user], Text: text}
	}
	c.apply(client.Update{State: client.StateConnected, Events: []event.Event{
		joined("lobby", 2), msg("lobby", 1, "u2", "old"), msg("lobby", 2, "u2", "older news"),
		joined("design", 0),
		event.Presence{Room: "lobby", Joined: []event.Member{{User: "u2", Name: "Bob"}}},
		msg("lobby", 3, "u2", "new in the lobby"), msg("lobby", 4, "me", "mine, from another tab"),
		msg("design", 1, "u2", "in design"),
		event.Typing{Room: "lobby", User: "u3", Name: "Cy"}, // Bob just spoke: his would be stale
	}})
	if got := c.views["lobby"].unread; got != 1 {
		t.Errorf("the lobby counts %d unread, want 1 (history, notices and own messages do not count)", got)
	}
	if got := c.views["design"].unread; got != 0 {
		t.Errorf("design, shown, counts %d unread", got)
	}
	if len(c.views["design"].typists) != 0 || len(c.views["lobby"].typists) != 1 {
		t.Errorf("typing: %d in design, %d in the lobby; want 0 and 1", len(c.views["design"].typists), len(c.views["lobby"].typists))
	}
	page := render(t, c)
	mustContain(t, page,
		`<li class="room-item" data-room="lobby" data-unread="1">`,
		`<li class="room-item current" data-room="design" data-unread="0">`,
		`aria-current="page" class="room-link" href="/r/design"`,
		`aria-label="Leave #design"`,
		`>#design</h2>`, "in design",
	)
	mustNotContain(t, page, "new in the lobby", `aria-label="Leave #lobby"`, "is typing")
	if got := rowTexts(page); len(got) != 2 || got[0] != "You joined" || got[1] != "Bob: in design" {
		t.Errorf("design's list reads %q", got)
	}

	// An address that names no room: no room is shown, nor the composer.
	c.badRoom, c.current = "no spaces allowed", ""
	page = render(t, c)
	mustContain(t, page, `id="room-invalid"`, "no spaces allowed", `href="/"`)
	mustNotContain(t, page, `id="send-container"`, `id="message-container"`)
}
