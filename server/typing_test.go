package server_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server"
	"github.com/chatwasm/chat/server/servertest"
)

// TestTypingRelayed proves that a typing frame reaches every connection of
// the other users, with the sender's user and name, in the order of the
// sender's frames, and none of the sender's own connections; that it may
// name its room; and that it is refused before a join and for another room.
func TestTypingRelayed(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{})
	ann, bob, annJ, bobJ := joinedPair(t, ctx, wsURL)
	annTab := dial(t, ctx, wsURL, "ann tab", nil)
	annTab.rejoin(t, ctx, "ann", annJ.Token)
	bobTab := dial(t, ctx, wsURL, "bob tab", nil)
	bobTab.rejoin(t, ctx, "bob", bobJ.Token)

	typing := event.Typing{Room: event.DefaultRoom, User: annJ.User, Name: "ann"}
	ann.send(t, ctx, `{"type":"typing"}`)
	ann.send(t, ctx, `{"type":"typing","room":"lobby","user":"`+bobJ.User+`","name":"mallory"}`) // user and name are the server's
	ann.sendEvent(t, ctx, event.Send{ID: "a1", Text: "done typing"})
	for _, p := range []*peer{bob, bobTab} {
		expectEvent(t, ctx, p, typing)
		expectEvent(t, ctx, p, typing)
		expectMessage(t, ctx, p, annJ, 1, "a1", "done typing")
	}
	// Ann's own connections: the message, nothing before it.
	for _, p := range []*peer{ann, annTab} {
		expectMessage(t, ctx, p, annJ, 1, "a1", "done typing")
	}

	ann.send(t, ctx, `{"type":"typing","room":"elsewhere"}`)
	expectError(t, ctx, ann, event.CodeNotJoined, "")
	stranger := dial(t, ctx, wsURL, "stranger", nil)
	stranger.send(t, ctx, `{"type":"typing"}`)
	expectError(t, ctx, stranger, event.CodeNotJoined, "")
	strangerJ := stranger.join(t, ctx, "stranger") // still usable
	expectEvent(t, ctx, bob, event.Presence{Room: event.DefaultRoom, Joined: []event.Member{{User: strangerJ.User, Name: "stranger"}}})
}

// TestTypingNotStored proves that typing leaves no trace: the room's seq
// does not move, and a later joiner's history holds only the messages.
func TestTypingNotStored(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{})
	ann, bob, annJ, _ := joinedPair(t, ctx, wsURL)
	ann.sendEvent(t, ctx, event.Send{ID: "a1", Text: "one"})
	expectMessage(t, ctx, bob, annJ, 1, "a1", "one")
	for range 3 {
		ann.sendEvent(t, ctx, event.Typing{})
		expect[event.Typing](t, ctx, bob)
	}

	carl := dial(t, ctx, wsURL, "carl", nil)
	carl.sendEvent(t, ctx, event.Join{Name: "carl"})
	carlJ := expect[event.Joined](t, ctx, carl)
	if carlJ.Seq != 1 {
		t.Fatalf("after typing the room's seq is %d, want 1", carlJ.Seq)
	}
	expectMessage(t, ctx, carl, annJ, 1, "a1", "one")
	carl.sendEvent(t, ctx, event.Send{ID: "c1", Text: "next"})
	expectMessage(t, ctx, carl, carlJ, 2, "c1", "next") // nothing between the history and it
	carl.sendEvent(t, ctx, event.HistoryRequest{Before: 3})
	if h := expect[event.History](t, ctx, carl); len(h.Messages) != 2 || !h.Complete {
		t.Fatalf("the room's history: %#v, want its two messages", h)
	}
}

// TestTypingFlood proves that typing beyond the per-connection rate is
// dropped silently: of 100 frames at once the others get at most the burst
// and the refill, the sender gets no error and is not closed for them, and
// its connection goes on as before.
func TestTypingFlood(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{})
	ann, bob, annJ, _ := joinedPair(t, ctx, wsURL)
	start := time.Now()
	for range 100 {
		ann.send(t, ctx, `{"type":"typing"}`)
	}
	ann.sendEvent(t, ctx, event.Send{ID: "a1", Text: "after the flood"})
	expectMessage(t, ctx, ann, annJ, 1, "a1", "after the flood") // no error before it
	relayed := 0
	for {
		e := bob.next(t, ctx)
		if _, ok := e.(event.Typing); ok {
			relayed++
			continue
		}
		if m, ok := e.(event.Message); !ok || m.ID != "a1" {
			t.Fatalf("bob got %#v, want typing, then ann's message", e)
		}
		break
	}
	// A burst of 3, then one a second.
	most := 3 + int(time.Since(start)/time.Second)
	if relayed < 3 || relayed > most {
		t.Fatalf("%d of 100 typing frames relayed, want 3 to %d", relayed, most)
	}
	t.Logf("%d of 100 typing frames relayed", relayed)
	ann.sendEvent(t, ctx, event.Send{ID: "a2", Text: "still open"})
	expectMessage(t, ctx, ann, annJ, 2, "a2", "still open")
}

// TestTypingSparesAFrozenMember proves that typing is never queued for a
// member that is behind: a member that reads nothing while the room's
// messages fill its socket buffers and part of its queue gets none of the
// typing that follows, and is not closed for it; once it reads again it
// gets every message and goes on.
func TestTypingSparesAFrozenMember(t *testing.T) {
	t.Parallel()
	const (
		queue    = 1 << 20 // the frozen member's queue: typing stops at 1/16 of it, 64 KiB
		messages = 250     // 500 KB: its sockets hold about 200 KB, the rest waits in its queue
		typists  = 10
	)
	ctx := testContext(t)
	ts := httptest.NewUnstartedServer(newServer(t, server.Config{QueueBytes: queue, RateLimit: 1e6, RateBurst: 1000}))
	ts.Listener = smallBufferListener{ts.Listener}
	ts.Start()
	t.Cleanup(ts.Close)
	wsURL := servertest.SocketURL(ts.URL)

	ann, bob, annJ, _ := joinedPair(t, ctx, wsURL)
	var typers []*peer
	for i := range typists {
		p := dial(t, ctx, wsURL, fmt.Sprint("typist ", i), nil)
		p.join(t, ctx, fmt.Sprint("typist ", i))
		typers = append(typers, p)
		for _, q := range []*peer{ann, bob} {
			expect[event.Presence](t, ctx, q)
		}
	}
	frozen := dialSmallBuffer(t, ctx, wsURL, "frozen")
	frozen.sendEvent(t, ctx, event.Join{Name: "frozen"})
	for _, q := range []*peer{ann, bob} {
		if uj := expect[event.Presence](t, ctx, q); len(uj.Joined) != 1 || uj.Joined[0].Name != "frozen" {
			t.Fatalf("%s: got %#v, want frozen's arrival", q.name, uj)
		}
	}

	// The room's messages, paced by bob: the frozen member's sockets fill,
	// then its queue holds the rest, over 1/16 of it.
	text := func(i int) string { return fmt.Sprintf("%03d ", i) + strings.Repeat("m", event.MaxTextLen-4) }
	for i := 1; i <= messages; i++ {
		id := fmt.Sprint("m", i)
		ann.sendEvent(t, ctx, event.Send{ID: id, Text: text(i)})
		expectMessage(t, ctx, ann, annJ, uint64(i), id, text(i))
		expectMessage(t, ctx, bob, annJ, uint64(i), id, text(i))
	}
	for _, p := range typers {
		for range 3 { // each typist's burst
			p.sendEvent(t, ctx, event.Typing{})
		}
	}
	for range 3 * typists { // every typing has gone out
		expect[event.Typing](t, ctx, bob)
	}
	ann.sendEvent(t, ctx, event.Send{ID: "last", Text: "wake up"})
	expectMessage(t, ctx, bob, annJ, messages+1, "last", "wake up")

	expect[event.Joined](t, ctx, frozen)
	for i := 1; i <= messages; i++ {
		e := frozen.next(t, ctx)
		if m, ok := e.(event.Message); !ok || m.Seq != uint64(i) {
			t.Fatalf("frozen: got %.100v, want message %d: no typing while it is behind", e, i)
		}
	}
	expectMessage(t, ctx, frozen, annJ, messages+1, "last", "wake up")
	frozen.sendEvent(t, ctx, event.Send{ID: "f1", Text: "back"})
	frozenJ := expect[event.Message](t, ctx, frozen)
	if frozenJ.Seq != messages+2 || frozenJ.ID != "f1" {
		t.Fatalf("frozen: its message came back as %#v", frozenJ)
	}
}
