package bench

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
)

// testRun returns the state of a run of 4 clients in 2 rooms, clients 0 and
// 1 sending (client 0 in room 0, client 1 in room 1), without a server.
func testRun(t testing.TB) *run {
	t.Helper()
	cfg, err := Config{Clients: 4, Senders: 2, Rooms: 2, Rate: 10}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return newRun(cfg)
}

// message returns the encoded message n of sender s of r, sent at.
func message(t testing.TB, r *run, s int, n int64, at time.Time) []byte {
	t.Helper()
	b, err := event.Encode(event.Message{
		Room: r.cfg.roomName(r.senders[s].room()), Seq: uint64(n + 1), ID: sendID(r.id, s, n),
		User: "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d", Name: fmt.Sprint("b", s),
		Text: string(appendStamp(nil, r.id, s, n, at.UnixNano())), Time: at.UnixMilli(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestScan counts a coalesced frame's messages of the run: once each, the
// repeat as a duplicate, a stamp from the other room or unreadable as
// unexpected, and another run's and a person's message not at all.
func TestScan(t *testing.T) {
	r := testRun(t)
	other := testRun(t)
	c := r.clients[2] // room 0, with sender 0
	sent := time.Now()
	arrived := sent.Add(3 * time.Millisecond)
	person, _ := event.Encode(event.Message{Room: "bench-0", Seq: 9, User: "u", Name: "Ada", Text: "b1 hello " + r.id})
	broken := bytes.Replace(message(t, r, 0, 7, sent), []byte(r.id+" 0 7 "), []byte(r.id+" 0 x "), 1)
	frame := bytes.Join([][]byte{
		message(t, r, 0, 0, sent), message(t, r, 0, 1, sent), message(t, r, 0, 0, sent), // a repeat
		message(t, r, 1, 0, sent),     // sender 1 is in room 1
		message(t, other, 0, 2, sent), // another run
		person, broken,
		message(t, r, 0, 200, sent), // far ahead: the bitmap grows
	}, []byte("\n"))
	c.scan(frame, arrived)
	if got := c.delivered.Load(); got != 3 {
		t.Errorf("delivered %d, want 3", got)
	}
	if c.dups != 1 || c.unexpected != 2 {
		t.Errorf("duplicates %d, unexpected %d; want 1 and 2", c.dups, c.unexpected)
	}
	if c.hist.n != 3 || c.hist.max != 3*time.Millisecond || !c.last.Equal(arrived) {
		t.Errorf("%d latencies, max %v, last %v; want 3 of 3ms at %v", c.hist.n, c.hist.max, c.last, arrived)
	}
	c.scan(message(t, r, 0, 200, sent), arrived)
	if c.dups != 2 {
		t.Errorf("duplicates %d after message 200 again, want 2", c.dups)
	}
}

// BenchmarkScan measures what the generator spends on a frame after the
// join, the ping and error checks and the stamp scan, for a frame of one
// message (a server that keeps up) and of 64 (one that coalesces). Compare
// it with the server's 20-25 µs of CPU per frame written (docs: DESIGN).
func BenchmarkScan(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprint("messages=", n), func(b *testing.B) {
			r := testRun(b)
			c := r.clients[2]
			now := time.Now()
			msgs := make([][]byte, n)
			for i := range msgs {
				msgs[i] = message(b, r, 0, int64(i), now)
			}
			frame := bytes.Join(msgs, []byte("\n"))
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				c.handle(frame, now)
				c.seen[0][0] = 0 // the messages arrive anew, not as duplicates
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}

// TestPresenceList: a client's list starts from its joined, applies each
// presence idempotently, counts the run's users only, and is right when it
// holds the room's bench users, all and only them; a truncated one is
// checked by its count.
func TestPresenceList(t *testing.T) {
	const run = "0a1b2c3d"
	m := func(user string) event.Member { return event.Member{User: user, Name: "b " + run} }
	person := event.Member{User: "p", Name: "Ada"} // not the run's: ignored
	want := roomUsers{count: 3, sum: userHash("u1") ^ userHash("u2") ^ userHash("u3")}

	var l presenceList
	l.joined(event.Joined{Members: []event.Member{m("u1"), person, m("u2")}}, run)
	if l.right(want) {
		t.Fatal("right before u3 arrived")
	}
	l.apply(event.Presence{Joined: []event.Member{m("u2"), m("u3"), m("u9")}}) // u2 again: no change
	if l.right(want) {
		t.Fatal("right with u9, who is not in the room")
	}
	l.apply(event.Presence{Left: []event.Member{m("u9"), m("u8"), person}}) // u8 never listed: no change
	if !l.right(want) {
		t.Fatalf("not right with %v", l.users)
	}
	if n := l.count.Load(); n != 3 {
		t.Fatalf("count %d, want 3", n)
	}

	var cut presenceList
	cut.joined(event.Joined{Members: []event.Member{m("u1"), m("u3")}, MembersTruncated: true}, run)
	if !cut.right(want) {
		t.Fatal("a truncated list of 2 of 3 is not right by count")
	}
	cut.apply(event.Presence{Left: []event.Member{m("u1")}})
	if cut.right(want) {
		t.Fatal("a truncated list that lost one of its joined is right")
	}
}

// TestPresenceLine: applyLine reads encoded presence events as apply does
// the decoded ones: both lists, the run's users only, another room's
// events ignored, and a line with an escape decoded instead.
func TestPresenceLine(t *testing.T) {
	const run = "0a1b2c3d"
	m := func(user string) event.Member { return event.Member{User: user, Name: "b " + run} }
	quoted := event.Member{User: "q", Name: `"quoted" ` + run} // escaped on the wire
	var byLine, byEvent presenceList
	byLine.joined(event.Joined{Members: []event.Member{m("u1"), m("u2")}}, run)
	byEvent.joined(event.Joined{Members: []event.Member{m("u1"), m("u2")}}, run)
	for _, p := range []event.Presence{
		{Room: "bench", Joined: []event.Member{m("u2"), m("u3"), {User: "p", Name: "Ada"}}, Left: []event.Member{m("u1"), m("u9")}},
		{Room: "bench", Joined: []event.Member{quoted}},
		{Room: "other", Joined: []event.Member{m("u7")}},
		{Room: "bench", Left: []event.Member{quoted, m("u3")}},
	} {
		lines, err := event.EncodePresence(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range lines {
			byLine.applyLine(line, "bench")
		}
		if p.Room == "bench" {
			byEvent.apply(p)
		}
		if byLine.count.Load() != byEvent.count.Load() || byLine.hash.Load() != byEvent.hash.Load() {
			t.Fatalf("after %+v: by line %d users, by event %d", p, byLine.count.Load(), byEvent.count.Load())
		}
	}
	if n := byLine.count.Load(); n != 1 {
		t.Fatalf("%d users listed, want u2 alone", n)
	}
}
