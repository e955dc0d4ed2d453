package server_test

// These tests prove that one connection carries several rooms, each as live
// as the lobby of a connection that joins once: its own seq, history,
// catch-up and presence, with nothing of one room in another.

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server"
)

// enter sends a join for room and returns the joined that answers it, with
// the room's recent history skipped up to its seq.
func (p *peer) enter(t *testing.T, ctx context.Context, j event.Join) event.Joined {
	t.Helper()
	p.sendEvent(t, ctx, j)
	got := expect[event.Joined](t, ctx, p)
	want := j.Room
	if want == "" {
		want = event.DefaultRoom
	}
	if got.Room != want || got.User == "" || got.Token == "" {
		t.Fatalf("%s: join %#v answered with %#v", p.name, j, got)
	}
	for seq := got.Seq; seq > 0; {
		if m := expect[event.Message](t, ctx, p); m.Seq == got.Seq {
			break
		}
	}
	return got
}

// roomOf returns the room a server event is about, or "" for one about none
// (ping, ack, error).
func roomOf(e event.Event) string {
	switch e := e.(type) {
	case event.Joined:
		return e.Room
	case event.Message:
		return e.Room
	case event.Presence:
		return e.Room
	case event.Typing:
		return e.Room
	case event.History:
		return e.Room
	}
	return ""
}

// describe is a server event in short, for comparing what each room saw:
// "message <seq> <text>", "presence +<name> -<name>",
// "typing <name>", "joined <name>".
func describe(e event.Event) string {
	switch e := e.(type) {
	case event.Message:
		return fmt.Sprintf("message %d %s", e.Seq, e.Text)
	case event.Presence:
		var parts []string
		for _, m := range e.Joined {
			parts = append(parts, "+"+m.Name)
		}
		for _, m := range e.Left {
			parts = append(parts, "-"+m.Name)
		}
		return "presence " + strings.Join(parts, " ")
	case event.Typing:
		return "typing " + e.Name
	case event.Joined:
		return "joined " + e.Name
	}
	return fmt.Sprintf("%#v", e)
}

// collect reads n events and returns them described, by room. Every one
// must be about a room.
func (p *peer) collect(t *testing.T, ctx context.Context, n int) map[string][]string {
	t.Helper()
	got := make(map[string][]string)
	for range n {
		e := p.next(t, ctx)
		room := roomOf(e)
		if room == "" {
			t.Fatalf("%s: got %#v, about no room, with %v so far", p.name, e, got)
		}
		got[room] = append(got[room], describe(e))
	}
	return got
}

// expectRooms checks that p's next events are want, room by room: within a
// room in this order, the rooms interleaved in any order.
func expectRooms(t *testing.T, ctx context.Context, p *peer, want map[string][]string) {
	t.Helper()
	n := 0
	for _, events := range want {
		n += len(events)
	}
	if got := p.collect(t, ctx, n); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s saw, by room:\n%v\nwant:\n%v", p.name, got, want)
	}
}

// enterAll joins p to each of rooms on one connection, the first join under
// name and token, and returns the joined events. Every one has the first's
// identity and token.
func (p *peer) enterAll(t *testing.T, ctx context.Context, name, token string, rooms ...string) []event.Joined {
	t.Helper()
	var js []event.Joined
	for _, room := range rooms {
		j := p.enter(t, ctx, event.Join{Name: name, Token: token, Room: room})
		if len(js) > 0 && (j.User != js[0].User || j.Name != js[0].Name || j.Token != js[0].Token) {
			t.Fatalf("%s: joined %s as %#v, first as %#v", p.name, room, j, js[0])
		}
		js = append(js, j)
	}
	return js
}

// TestRoomsOnOneConnection proves that a connection in three rooms gets
// each room's messages, numbered by that room's seq, and nothing of the
// others, however the sends to them interleave.
func TestRoomsOnOneConnection(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{PresenceGrace: time.Hour})
	rooms := []string{"red", "green", "blue"}
	ann := dial(t, ctx, wsURL, "ann", nil)
	annJ := ann.enterAll(t, ctx, "ann", "", rooms...)
	for _, j := range annJ {
		if want := []event.Member{member(annJ[0])}; !reflect.DeepEqual(j.Members, want) || j.Seq != 0 {
			t.Fatalf("ann joined %s with %#v, want a new room holding her alone", j.Room, j)
		}
	}
	bob := dial(t, ctx, wsURL, "bob", nil)
	bob.enterAll(t, ctx, "bob", "", rooms...)
	expectRooms(t, ctx, ann, map[string][]string{
		"red": {"presence +bob"}, "green": {"presence +bob"}, "blue": {"presence +bob"},
	})

	sends := []struct{ room, text string }{
		{"red", "r1"}, {"green", "g1"}, {"blue", "b1"}, {"red", "r2"}, {"red", "r3"}, {"blue", "b2"},
	}
	for _, s := range sends {
		bob.sendEvent(t, ctx, event.Send{Room: s.room, ID: s.text, Text: s.text})
	}
	want := map[string][]string{
		"red":   {"message 1 r1", "message 2 r2", "message 3 r3"},
		"green": {"message 1 g1"},
		"blue":  {"message 1 b1", "message 2 b2"},
	}
	expectRooms(t, ctx, ann, want)
	expectRooms(t, ctx, bob, want)
}

// TestRoomsKeepEventsApart proves, for two users in two rooms, that
// messages, typing and presence stay in their room: a leave of one room is
// announced there alone, and at once when it was the user's last connection
// in it (the grace period is an hour), and not at all while another tab of
// the user is still in it.
func TestRoomsKeepEventsApart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{PresenceGrace: time.Hour})
	ann := dial(t, ctx, wsURL, "ann", nil)
	ann.enterAll(t, ctx, "ann", "", "north", "south")
	bob := dial(t, ctx, wsURL, "bob", nil)
	bobJ := bob.enterAll(t, ctx, "bob", "", "north", "south")[0]
	expectRooms(t, ctx, ann, map[string][]string{"north": {"presence +bob"}, "south": {"presence +bob"}})

	bob.sendEvent(t, ctx, event.Typing{Room: "north"})
	bob.sendEvent(t, ctx, event.Send{Room: "south", ID: "s1", Text: "s1"})
	expectRooms(t, ctx, ann, map[string][]string{"north": {"typing bob"}, "south": {"message 1 s1"}})
	expectRooms(t, ctx, bob, map[string][]string{"south": {"message 1 s1"}}) // no typing of his own

	// Bob's second tab, in the south only: the same user, so nobody is told.
	tab := dial(t, ctx, wsURL, "bob's tab", nil)
	tab.enter(t, ctx, event.Join{Name: "bob", Token: bobJ.Token, Room: "south"})

	// Bob leaves the south on his first connection: his tab is still there.
	// His next send is applied after the leave, so once it is echoed the
	// leave is done.
	bob.sendEvent(t, ctx, event.Leave{Room: "south"})
	bob.sendEvent(t, ctx, event.Send{Room: "north", ID: "n1", Text: "n1"})
	expectRooms(t, ctx, bob, map[string][]string{"north": {"message 1 n1"}})
	expectRooms(t, ctx, ann, map[string][]string{"north": {"message 1 n1"}})
	ann.sendEvent(t, ctx, event.Send{Room: "south", ID: "s2", Text: "s2"})
	expectRooms(t, ctx, ann, map[string][]string{"south": {"message 2 s2"}}) // no departure before it
	expectRooms(t, ctx, tab, map[string][]string{"south": {"message 2 s2"}})
	bob.sendEvent(t, ctx, event.Send{Room: "north", ID: "n2", Text: "n2"})
	expectRooms(t, ctx, bob, map[string][]string{"north": {"message 2 n2"}}) // s2 went to his tab only
	expectRooms(t, ctx, ann, map[string][]string{"north": {"message 2 n2"}})

	// The tab leaves its only room, named by none: bob's last connection in
	// the south, announced there at once; he is still in the north.
	tab.sendEvent(t, ctx, event.Leave{})
	expectRooms(t, ctx, ann, map[string][]string{"south": {"presence -bob"}})
	bob.sendEvent(t, ctx, event.Send{Room: "north", ID: "n3", Text: "n3"})
	expectRooms(t, ctx, ann, map[string][]string{"north": {"message 3 n3"}})
	expectRooms(t, ctx, bob, map[string][]string{"north": {"message 3 n3"}})
	bob.sendEvent(t, ctx, event.Typing{Room: "south"})
	expectError(t, ctx, bob, event.CodeNotJoined, "")
}

// TestRoomsLeaveKeepsOthersLive proves that leaving one of three rooms
// stops that room's events and keeps the other two live, that the room
// left refuses a send, and that it can be joined again on the same
// connection.
func TestRoomsLeaveKeepsOthersLive(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{PresenceGrace: time.Hour})
	rooms := []string{"one", "two", "three"}
	bob := dial(t, ctx, wsURL, "bob", nil)
	bob.enterAll(t, ctx, "bob", "", rooms...)
	ann := dial(t, ctx, wsURL, "ann", nil)
	ann.enterAll(t, ctx, "ann", "", rooms...)
	expectRooms(t, ctx, bob, map[string][]string{"one": {"presence +ann"}, "two": {"presence +ann"}, "three": {"presence +ann"}})

	ann.sendEvent(t, ctx, event.Leave{Room: "two"})
	expectRooms(t, ctx, bob, map[string][]string{"two": {"presence -ann"}})
	for _, room := range rooms {
		bob.sendEvent(t, ctx, event.Send{Room: room, ID: room, Text: room})
	}
	expectRooms(t, ctx, bob, map[string][]string{"one": {"message 1 one"}, "two": {"message 1 two"}, "three": {"message 1 three"}})
	expectRooms(t, ctx, ann, map[string][]string{"one": {"message 1 one"}, "three": {"message 1 three"}})

	ann.sendEvent(t, ctx, event.Send{Room: "two", ID: "late", Text: "late"})
	expectError(t, ctx, ann, event.CodeNotJoined, "late")
	ann.sendEvent(t, ctx, event.Join{Name: "ann", Room: "two"})
	if j := expect[event.Joined](t, ctx, ann); j.Room != "two" || j.Seq != 1 {
		t.Fatalf("ann joined two again with %#v, want seq 1", j)
	}
	expectRooms(t, ctx, ann, map[string][]string{"two": {"message 1 two"}}) // its recent history
	expectRooms(t, ctx, bob, map[string][]string{"two": {"presence +ann"}})
}

// TestRoomsResumeSeveral proves that a new connection that resumes four
// rooms at once, pipelined, recovers exactly what each missed, with no gap
// and no repeat, and then each room's live stream: one room up to date,
// one within the recent history, and two so far behind that they catch up
// page by page from the store, taking turns in the one queue, while
// messages keep arriving in every room.
func TestRoomsResumeSeveral(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{
		PresenceGrace: time.Hour,
		History:       5,
		QueueBytes:    16 << 10, // pages of about 8 KiB: several per room behind
		RateLimit:     -1, RateBurst: -1, IPRate: -1, IPBurst: -1,
	})
	rooms := []string{"alpha", "beta", "gamma", "delta"}
	missed := map[string]int{"alpha": 3, "beta": 90, "gamma": 70, "delta": 0}
	ann := dial(t, ctx, wsURL, "ann", nil)
	annJ := ann.enterAll(t, ctx, "ann", "", rooms...)[0]
	bob := dial(t, ctx, wsURL, "bob", nil)
	bob.enterAll(t, ctx, "bob", "", rooms...)
	ann.collect(t, ctx, len(rooms)) // bob's arrivals

	// bobSends sends n messages to room, 20 at a time so that his own echoes
	// never fill his queue, and returns the seq of the last.
	seqs := make(map[string]uint64)
	bobSends := func(room string, n int) {
		t.Helper()
		for n > 0 {
			k := min(n, 20)
			for range k {
				seqs[room]++
				text := fmt.Sprintf("%s-%d", room, seqs[room])
				bob.sendEvent(t, ctx, event.Send{Room: room, ID: text, Text: text})
			}
			bob.collect(t, ctx, k)
			n -= k
		}
	}
	for _, room := range rooms {
		bobSends(room, 2)
	}
	ann.collect(t, ctx, 2*len(rooms))
	since := maps.Clone(seqs)

	ann.ws.CloseNow() // the network drops
	for _, room := range rooms {
		bobSends(room, missed[room])
	}
	back := dial(t, ctx, wsURL, "ann back", nil)
	for _, room := range rooms {
		back.sendEvent(t, ctx, event.Join{Name: "ann", Token: annJ.Token, Room: room, Since: since[room]})
	}
	for _, room := range rooms { // while she catches up
		bobSends(room, 1)
	}

	want := make(map[string][]string)
	for _, room := range rooms {
		want[room] = []string{"joined ann"}
		for seq := since[room] + 1; seq <= seqs[room]; seq++ {
			want[room] = append(want[room], fmt.Sprintf("message %d %s-%d", seq, room, seq))
		}
	}
	expectRooms(t, ctx, back, want)
	// No notice came with them: bob saw ann neither leave nor come back.
	bob.sendEvent(t, ctx, event.Send{Room: "beta", ID: "last", Text: "last"})
	expectRooms(t, ctx, bob, map[string][]string{"beta": {fmt.Sprintf("message %d last", seqs["beta"]+1)}})
	expectRooms(t, ctx, back, map[string][]string{"beta": {fmt.Sprintf("message %d last", seqs["beta"]+1)}})
}

// TestRoomsCap proves that a connection is in at most event.MaxRoomsPerConn
// rooms, that a room left frees a place, and that joins beyond the
// connection's room-join burst are rate-limited and go through once the
// retry delay has passed.
func TestRoomsCap(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{})
	room := func(i int) string { return fmt.Sprint("room-", i) }
	ann := dial(t, ctx, wsURL, "ann", nil)
	names := make([]string, event.MaxRoomsPerConn)
	for i := range names {
		names[i] = room(i)
	}
	ann.enterAll(t, ctx, "ann", "", names...)

	ann.sendEvent(t, ctx, event.Join{Name: "ann", Room: room(event.MaxRoomsPerConn)})
	expectError(t, ctx, ann, event.CodeTooManyRooms, "")

	ann.sendEvent(t, ctx, event.Leave{Room: room(5)})
	ann.enter(t, ctx, event.Join{Name: "ann", Room: room(event.MaxRoomsPerConn)}) // the last of the burst

	ann.sendEvent(t, ctx, event.Leave{Room: room(6)})
	ann.sendEvent(t, ctx, event.Join{Name: "ann", Room: room(5)})
	e := expect[event.Error](t, ctx, ann)
	if e.Code != event.CodeRateLimited || e.RetryAfter <= 0 || e.RetryAfter > 1000 || e.Room != room(5) {
		t.Fatalf("a join beyond the burst: %#v, want rate_limited within a second, naming the room", e)
	}
	// The server reads nothing more until then: the same join, sent at
	// once, is applied after the delay.
	ann.enter(t, ctx, event.Join{Name: "ann", Room: room(5)})
}

// TestRoomsNeedARoom proves that a send, typing, history or leave that
// names no room goes to the connection's only room, and is refused with
// missing_field (a send's id echoed) while the connection is in several,
// and with not_joined once it is in none.
func TestRoomsNeedARoom(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{})
	ann := dial(t, ctx, wsURL, "ann", nil)
	ann.enter(t, ctx, event.Join{Name: "ann", Room: "one"})
	ann.sendEvent(t, ctx, event.Send{ID: "a1", Text: "a1"})
	expectRooms(t, ctx, ann, map[string][]string{"one": {"message 1 a1"}})

	ann.enter(t, ctx, event.Join{Name: "ann", Room: "two"})
	for _, tt := range []struct {
		name string
		e    event.Event
		id   string
	}{
		{"send", event.Send{ID: "a2", Text: "a2"}, "a2"},
		{"typing", event.Typing{}, ""},
		{"history", event.HistoryRequest{Before: 2}, ""},
		{"leave", event.Leave{}, ""},
	} {
		ann.sendEvent(t, ctx, tt.e)
		e := expect[event.Error](t, ctx, ann)
		if e.Code != event.CodeMissingField || e.ID != tt.id || e.Message != event.ErrRoomRequired.Error() {
			t.Fatalf("%s without a room in two rooms: %#v, want missing_field %q with id %q", tt.name, e, event.ErrRoomRequired, tt.id)
		}
	}
	ann.sendEvent(t, ctx, event.Send{Room: "two", ID: "b1", Text: "b1"})
	expectRooms(t, ctx, ann, map[string][]string{"two": {"message 1 b1"}})

	ann.sendEvent(t, ctx, event.Leave{Room: "one"})
	ann.sendEvent(t, ctx, event.Send{ID: "b2", Text: "b2"})
	expectRooms(t, ctx, ann, map[string][]string{"two": {"message 2 b2"}})
	ann.sendEvent(t, ctx, event.Leave{})
	ann.sendEvent(t, ctx, event.Send{ID: "none", Text: "none"})
	expectError(t, ctx, ann, event.CodeNotJoined, "none")
	ann.sendEvent(t, ctx, event.Join{Name: "ann", Room: "one", Since: 1})
	if j := expect[event.Joined](t, ctx, ann); j.Room != "one" || j.Seq != 1 || j.Gap {
		t.Fatalf("ann back in one: %#v, want seq 1, up to date", j)
	}
	ann.sendEvent(t, ctx, event.Send{ID: "a3", Text: "a3"})
	expectRooms(t, ctx, ann, map[string][]string{"one": {"message 2 a3"}})
}

// TestRoomsAlreadyJoined proves that a join for a room the connection is
// in is already_joined, room by room (the lobby for a join that names
// none), and that a later join keeps the connection's identity whatever
// name and token it carries.
func TestRoomsAlreadyJoined(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{})
	bob := dial(t, ctx, wsURL, "bob", nil)
	bobJ := bob.enter(t, ctx, event.Join{Name: "bob"})
	ann := dial(t, ctx, wsURL, "ann", nil)
	annJ := ann.enter(t, ctx, event.Join{Name: "ann", Room: "a"})
	for _, j := range []event.Join{
		{Name: "mallory", Room: "b"},
		{Name: "bob", Token: bobJ.Token, Room: "c"},
		{Name: "ann"}, // the lobby
	} {
		got := ann.enter(t, ctx, j)
		if got.User != annJ.User || got.Name != "ann" || got.Token != annJ.Token {
			t.Fatalf("join %#v answered with %#v, want ann's identity %#v", j, got, annJ)
		}
	}
	expectEvent(t, ctx, bob, event.Presence{Room: event.DefaultRoom, Joined: []event.Member{{User: annJ.User, Name: "ann"}}})
	for _, tt := range []struct {
		name string
		join event.Join
	}{
		{"the first room", event.Join{Name: "ann", Room: "a"}},
		{"a later room", event.Join{Name: "ann", Room: "b", Since: 3}},
		{"a later room under another name", event.Join{Name: "zed", Room: "c"}},
		{"the lobby, named", event.Join{Name: "ann", Room: event.DefaultRoom}},
		{"the lobby, by default", event.Join{Name: "ann"}},
	} {
		ann.sendEvent(t, ctx, tt.join)
		e := expect[event.Error](t, ctx, ann)
		want := tt.join.Room
		if want == "" {
			want = event.DefaultRoom
		}
		if e.Code != event.CodeAlreadyJoined || e.Room != want {
			t.Fatalf("%s again: %#v, want already_joined naming room %q", tt.name, e, want)
		}
	}
	// Still in each, once: one message in "b" arrives once.
	ann.sendEvent(t, ctx, event.Send{Room: "b", ID: "b1", Text: "b1"})
	expectRooms(t, ctx, ann, map[string][]string{"b": {"message 1 b1"}})
	ann.sendEvent(t, ctx, event.Send{Room: "c", ID: "c1", Text: "c1"})
	expectRooms(t, ctx, ann, map[string][]string{"c": {"message 1 c1"}})
}
