package server_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server"
)

// TestTokenKeepsIdentity proves that a reconnect with the token of Joined is
// the same user under the same name, that the name in the frame cannot
// override the token's, and that an edited token buys a new identity, never
// someone else's.
func TestTokenKeepsIdentity(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{})
	ann := dial(t, ctx, wsURL, "ann", nil)
	first := ann.join(t, ctx, "ann")
	ann.ws.Close(websocket.StatusNormalClosure, "")

	again := dial(t, ctx, wsURL, "ann again", nil)
	again.sendEvent(t, ctx, event.Join{Name: "mallory", Token: first.Token})
	j := expect[event.Joined](t, ctx, again)
	if j.User != first.User || j.Name != "ann" {
		t.Fatalf("reconnect with a token: %#v, want user %s named ann", j, first.User)
	}

	forged := first.Token[:len(first.Token)-2] + "xx"
	eve := dial(t, ctx, wsURL, "eve", nil)
	eve.sendEvent(t, ctx, event.Join{Name: "eve", Token: forged})
	j = expect[event.Joined](t, ctx, eve)
	if j.User == first.User || j.Name != "eve" || j.Token == forged {
		t.Fatalf("join with a forged token: %#v, want a new identity", j)
	}
}

// TestResumeAfterDisconnect proves that a client that reconnects with the
// last seq it holds gets exactly the messages it missed, then the live
// stream, and that its departure within the grace period is not announced.
func TestResumeAfterDisconnect(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{PresenceGrace: time.Hour})
	ann, bob, annJ, bobJ := joinedPair(t, ctx, wsURL)
	ann.sendEvent(t, ctx, event.Send{ID: "a1", Text: "one"})
	expectMessage(t, ctx, ann, annJ, 1, "a1", "one")
	expectMessage(t, ctx, bob, annJ, 1, "a1", "one")

	bob.ws.CloseNow() // the network drops
	for i := 2; i <= 4; i++ {
		ann.sendEvent(t, ctx, event.Send{ID: fmt.Sprint("a", i), Text: fmt.Sprint("missed ", i)})
		expectMessage(t, ctx, ann, annJ, uint64(i), fmt.Sprint("a", i), fmt.Sprint("missed ", i))
	}

	back := dial(t, ctx, wsURL, "bob back", nil)
	back.sendEvent(t, ctx, event.Join{Name: "bob", Token: bobJ.Token, Since: 1})
	if j := expect[event.Joined](t, ctx, back); j.User != bobJ.User || j.Seq != 4 || j.Gap {
		t.Fatalf("resume: %#v, want bob at seq 4 without gap", j)
	}
	for i := 2; i <= 4; i++ {
		expectMessage(t, ctx, back, annJ, uint64(i), fmt.Sprint("a", i), fmt.Sprint("missed ", i))
	}
	ann.sendEvent(t, ctx, event.Send{ID: "a5", Text: "live"})
	expectMessage(t, ctx, back, annJ, 5, "a5", "live")
	// Ann saw neither bob's departure nor his return: only her message.
	expectMessage(t, ctx, ann, annJ, 5, "a5", "live")
}

// TestResendIsAcked proves exactly-once for a resend after a lost
// acknowledgement: the server answers Ack with the original seq, and nobody
// sees the message twice.
func TestResendIsAcked(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{})
	ann, bob, annJ, _ := joinedPair(t, ctx, wsURL)
	ann.sendEvent(t, ctx, event.Send{ID: "x1", Text: "once"})
	expectMessage(t, ctx, ann, annJ, 1, "x1", "once")
	expectMessage(t, ctx, bob, annJ, 1, "x1", "once")

	ann.sendEvent(t, ctx, event.Send{ID: "x1", Text: "once"})
	expectEvent(t, ctx, ann, event.Ack{ID: "x1", Seq: 1})
	ann.sendEvent(t, ctx, event.Send{ID: "x2", Text: "next"})
	expectMessage(t, ctx, ann, annJ, 2, "x2", "next")
	expectMessage(t, ctx, bob, annJ, 2, "x2", "next") // not preceded by a repeat of x1
}

// TestRateLimit proves that a burst beyond the limit is refused with
// rate_limited and a retry delay, that the message goes through when retried
// after the delay, that refusals are not protocol errors, and that a user's
// second connection shares the user's bucket.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{RateLimit: 2, RateBurst: 3}) // a token per 500 ms: no refill between the burst's round trips
	ann := dial(t, ctx, wsURL, "ann", nil)
	annJ := ann.join(t, ctx, "ann")
	for i := 1; i <= 3; i++ {
		ann.sendEvent(t, ctx, event.Send{ID: fmt.Sprint("r", i), Text: "burst"})
		expectMessage(t, ctx, ann, annJ, uint64(i), fmt.Sprint("r", i), "burst")
	}
	ann.sendEvent(t, ctx, event.Send{ID: "r4", Text: "too fast"})
	e := expect[event.Error](t, ctx, ann)
	if e.Code != event.CodeRateLimited || e.ID != "r4" || e.RetryAfter <= 0 || e.RetryAfter > 1000 {
		t.Fatalf("over the limit: %#v, want rate_limited for r4 with a retry delay", e)
	}
	time.Sleep(time.Duration(e.RetryAfter) * time.Millisecond) // as a client does
	ann.sendEvent(t, ctx, event.Send{ID: "r4", Text: "too fast"})
	expectMessage(t, ctx, ann, annJ, 4, "r4", "too fast")

	// Refusals are not protocol errors: with the invalid-frame allowance
	// used up (one more closes the connection with 1008), a flood's
	// refusals leave the connection open.
	for range event.MaxProtocolErrors {
		ann.send(t, ctx, "not json")
		expectError(t, ctx, ann, event.CodeBadFrame, "")
	}
	const n = 6
	for i := range n {
		ann.sendEvent(t, ctx, event.Send{ID: fmt.Sprint("f", i), Text: "flood"})
	}
	refused, accepted := 0, 0
	for refused+accepted < n {
		switch e := ann.next(t, ctx).(type) {
		case event.Error:
			if e.Code != event.CodeRateLimited {
				t.Fatalf("flood answered with %#v", e)
			}
			refused++
		case event.Message:
			accepted++
		}
	}
	if refused == 0 {
		t.Fatalf("none of %d messages sent at once was refused", n)
	}
	time.Sleep(600 * time.Millisecond) // let a token come
	ann.sendEvent(t, ctx, event.Send{ID: "after", Text: "still here"})
	for {
		if m, ok := ann.next(t, ctx).(event.Message); ok && m.ID == "after" {
			break
		}
	}
}

// TestRateLimitPerUser proves that a user's second connection shares the
// user's bucket: more tabs buy no more rate.
func TestRateLimitPerUser(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{RateLimit: 1, RateBurst: 2})
	ann := dial(t, ctx, wsURL, "ann", nil)
	annJ := ann.join(t, ctx, "ann")
	tab := dial(t, ctx, wsURL, "ann's tab", nil)
	tab.sendEvent(t, ctx, event.Join{Name: "ann", Token: annJ.Token})
	expect[event.Joined](t, ctx, tab)
	for i := 1; i <= 2; i++ {
		ann.sendEvent(t, ctx, event.Send{ID: fmt.Sprint("a", i), Text: "from the first tab"})
		expectMessage(t, ctx, ann, annJ, uint64(i), fmt.Sprint("a", i), "from the first tab")
	}
	tab.sendEvent(t, ctx, event.Send{ID: "t1", Text: "from the second tab"})
	for {
		e := tab.next(t, ctx)
		if er, ok := e.(event.Error); ok && er.ID == "t1" && er.Code == event.CodeRateLimited {
			return // the first tab used the user's bucket
		}
		if m, ok := e.(event.Message); ok && m.ID == "t1" {
			t.Fatal("the second tab got a bucket of its own")
		}
	}
}

// TestHeartbeat proves that a quiet server sends ping, that a client which
// answers stays connected, and that one silent past the timeout is closed.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{HeartbeatInterval: 100 * time.Millisecond, HeartbeatTimeout: time.Second})
	ann := dial(t, ctx, wsURL, "ann", nil)
	ann.join(t, ctx, "ann")
	for range 15 { // 15 pings answered: 1.5 s, past the timeout
		expect[event.Ping](t, ctx, ann)
		ann.sendEvent(t, ctx, event.Pong{})
	}
	// Now silent: pings keep coming, then the server closes the socket.
	events, status, err := ann.closed(ctx)
	if status == -1 && ctx.Err() != nil {
		t.Fatalf("a silent client was not closed: %v", err)
	}
	for _, e := range events {
		if _, ok := e.(event.Ping); !ok {
			t.Fatalf("a silent client got %#v, want only pings", e)
		}
	}
}

// TestHeartbeatInABusyRoom proves that pings keep coming while the room is
// busy, so that a client that only reads (and answers pings) is not taken
// for dead.
func TestHeartbeatInABusyRoom(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{HeartbeatInterval: 100 * time.Millisecond, HeartbeatTimeout: time.Second, RateLimit: 1000, RateBurst: 100})
	ann, bob, _, bobJ := joinedPair(t, ctx, wsURL)
	const n = 150 // 10 ms apart: more than the heartbeat timeout of traffic
	go func() {
		for i := 1; i <= n; i++ {
			bob.sendEvent(t, ctx, event.Send{ID: fmt.Sprint("b", i), Text: "busy"})
			time.Sleep(10 * time.Millisecond)
		}
	}()
	pings, got := 0, 0
	for got < n {
		switch e := ann.next(t, ctx).(type) {
		case event.Ping:
			pings++
			ann.sendEvent(t, ctx, event.Pong{})
		case event.Message:
			if e.User != bobJ.User || e.Seq != uint64(got+1) {
				t.Fatalf("ann got %#v, want bob's message %d", e, got+1)
			}
			got++
		}
	}
	if pings == 0 {
		t.Fatal("no ping while the room was busy")
	}
}

// TestFloodIsIsolated: while one client floods the server with sends, its
// excess is refused with rate_limited, and another client's messages go
// through unrefused and in order. The round trip of the other client's
// messages is logged with and without the flood (figures, not assertions:
// timing belongs to benchmarks).
func TestFloodIsIsolated(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{})
	flood := dial(t, ctx, wsURL, "flood", nil)
	flood.join(t, ctx, "flood")
	bob := dial(t, ctx, wsURL, "bob", nil)
	bobJ := bob.join(t, ctx, "bob")

	roundTrips := func(label string, from int) {
		var worst, total time.Duration
		const n = 20
		for i := from; i < from+n; i++ {
			start := time.Now()
			id := fmt.Sprint("b", i)
			bob.sendEvent(t, ctx, event.Send{ID: id, Text: "hello"})
			for {
				e := bob.next(t, ctx)
				if er, ok := e.(event.Error); ok {
					t.Fatalf("bob was refused during %s: %#v", label, er)
				}
				if m, ok := e.(event.Message); ok && m.User == bobJ.User {
					if m.ID != id {
						t.Fatalf("bob's message %q arrived when %q was expected", m.ID, id)
					}
					break
				}
			}
			d := time.Since(start)
			total += d
			worst = max(worst, d)
			time.Sleep(100 * time.Millisecond) // a person's pace, under bob's own limit
		}
		t.Logf("bob's round trip %s: mean %v, worst %v", label, (total / n).Round(time.Microsecond), worst.Round(time.Microsecond))
	}
	roundTrips("alone", 0)

	fctx, stopFlood := context.WithCancel(ctx)
	var sent atomic.Int64
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		for i := 0; ; i++ {
			// Write blocks once the server stops reading the flooder.
			if err := flood.ws.Write(fctx, websocket.MessageText, []byte(fmt.Sprintf(`{"type":"send","id":"f%d","text":"spam"}`, i))); err != nil {
				return
			}
			sent.Add(1)
		}
	}()
	go func() { // the flooder reads what comes back, as a client must
		for {
			if _, err := flood.read(ctx); err != nil {
				return
			}
		}
	}()
	roundTrips("under a flood", 100)
	stopFlood()
	<-flooded
	t.Logf("the flooder wrote %d frames meanwhile", sent.Load())
}
