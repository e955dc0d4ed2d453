package hub

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server/store"
)

// messages returns the Message events among events.
func messages(events []event.Event) []event.Message {
	var out []event.Message
	for _, e := range events {
		if m, ok := e.(event.Message); ok {
			out = append(out, m)
		}
	}
	return out
}

// joinedOf returns the Joined event among events.
func joinedOf(t *testing.T, events []event.Event) event.Joined {
	t.Helper()
	for _, e := range events {
		if j, ok := e.(event.Joined); ok {
			return j
		}
	}
	t.Fatalf("no Joined in %#v", events)
	return event.Joined{}
}

func TestFreshJoinGetsRecentHistory(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{History: 5})
	ann := join(t, h, "ann", 0)
	for i := range 8 {
		send(t, h, ann, fmt.Sprint("id", i), fmt.Sprint("m", i))
	}
	bob := join(t, h, "bob", 0)
	events := drain(t, bob)
	if j := joinedOf(t, events); j.Seq != 8 || j.Gap {
		t.Fatalf("Joined = %#v, want seq 8 and no gap", j)
	}
	got := messages(events)
	if len(got) != 5 || got[0].Seq != 4 || got[4].Seq != 8 || got[4].User != "ann" || got[4].ID != "id7" {
		t.Fatalf("history: %#v, want seqs 4..8 with senders and ids", got)
	}
	// Then the live stream, with nothing repeated.
	send(t, h, ann, "id8", "m8")
	if got := messages(drain(t, bob)); len(got) != 1 || got[0].Seq != 9 {
		t.Fatalf("live after history: %#v, want only seq 9", got)
	}
}

func TestResumeReplaysAfterSince(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{PresenceGrace: time.Hour})
	ann := join(t, h, "ann", 0)
	bob := join(t, h, "bob", 0)
	send(t, h, ann, "a", "one")
	drain(t, bob)
	h.Leave(bob) // bob's connection drops
	for i := range 3 {
		send(t, h, ann, fmt.Sprint("b", i), fmt.Sprint("while away ", i))
	}
	bob = joinSince(t, h, "bob", 0, 1)
	events := drain(t, bob)
	got := messages(events)
	if j := joinedOf(t, events); j.Gap || j.Seq != 4 {
		t.Fatalf("Joined = %#v", j)
	}
	if len(got) != 3 || got[0].Seq != 2 || got[2].Seq != 4 {
		t.Fatalf("replay: %#v, want seqs 2..4", got)
	}
}

func TestResumeAfterPruningReportsGap(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.TempDir(), store.Options{MaxMessages: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := newHub(t, Config{Store: st, History: 10})
	ann := join(t, h, "ann", 0)
	for i := range 10 {
		send(t, h, ann, "", fmt.Sprint("m", i))
	}
	if _, err := st.Prune(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	bob := joinSince(t, h, "bob", 0, 2)
	events := drain(t, bob)
	if j := joinedOf(t, events); !j.Gap {
		t.Fatalf("Joined = %#v, want Gap: messages 3..7 are gone", j)
	}
	if got := messages(events); len(got) != 3 || got[0].Seq != 8 {
		t.Fatalf("history after a gap: %#v, want the 3 kept, from seq 8", got)
	}
}

func TestDuplicateSendIsAckedNotBroadcast(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{})
	ann := join(t, h, "ann", 0)
	bob := join(t, h, "bob", 0)
	first := send(t, h, ann, "c1", "once")
	drain(t, ann)
	drain(t, bob)
	m, dup, err := h.Publish(context.Background(), ann, event.Send{ID: "c1", Text: "once"})
	if err != nil || !dup || m.Seq != first.Seq {
		t.Fatalf("resend: %#v, dup %v, %v; want the original as a duplicate", m, dup, err)
	}
	if got := drain(t, ann); len(got) != 1 || got[0] != (event.Ack{ID: "c1", Seq: first.Seq}) {
		t.Fatalf("sender after a resend: %#v, want one Ack", got)
	}
	if got := drain(t, bob); len(got) != 0 {
		t.Fatalf("others after a resend: %#v, want nothing", got)
	}
}

func TestSeqSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := New(Config{Store: st})
	ann := join(t, h, "ann", 0)
	send(t, h, ann, "", "before")
	h.Close()
	st.Close()

	st, err = store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h = newHub(t, Config{Store: st})
	ann = join(t, h, "ann", 0)
	if m := send(t, h, ann, "", "after"); m.Seq != 2 {
		t.Fatalf("seq after restart = %d, want 2", m.Seq)
	}
}

// TestCatchUpPagesThroughASmallQueue: a client far behind, with a queue
// that holds a few long messages, gets every message it missed, in order, page
// by page, without overflowing; then the live stream.
func TestCatchUpPagesThroughASmallQueue(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{})
	ann := join(t, h, "ann", 0)
	long := strings.Repeat("x", event.MaxTextLen)
	for i := range 300 {
		send(t, h, ann, fmt.Sprint("id", i), long)
	}
	const queue = 16 << 10 // room for 4 long messages in half of it
	bob := joinSince(t, h, "bob", queue, 1)
	send(t, h, ann, "live", "while bob catches up") // stored, reaches bob in a page
	events := drain(t, bob)
	if j := joinedOf(t, events); j.Gap {
		t.Fatalf("Joined = %#v, want no gap: everything is kept", j)
	}
	got := messages(events)
	if len(got) != 300 {
		t.Fatalf("caught up with %d messages, want 300 (seq 2..301)", len(got))
	}
	for i, m := range got {
		if m.Seq != uint64(i+2) {
			t.Fatalf("message %d has seq %d, want %d", i, m.Seq, i+2)
		}
	}
	send(t, h, ann, "after", "live")
	if got := messages(drain(t, bob)); len(got) != 1 || got[0].Seq != 302 {
		t.Fatalf("after catching up: %#v, want only seq 302 live", got)
	}
}

// TestFreshHistoryFitsTheQueue: a fresh joiner's recent history is cut to
// half its queue, newest kept, without a gap (older messages are simply not
// part of a fresh join).
func TestFreshHistoryFitsTheQueue(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{History: 100})
	ann := join(t, h, "ann", 0)
	long := strings.Repeat("x", event.MaxTextLen)
	for i := range 20 {
		send(t, h, ann, fmt.Sprint("id", i), long)
	}
	bob := join(t, h, "bob", 16<<10)
	events := drain(t, bob)
	if j := joinedOf(t, events); j.Gap {
		t.Fatalf("Joined = %#v, want no gap on a fresh join", j)
	}
	got := messages(events)
	if len(got) == 0 || len(got) > 4 || got[len(got)-1].Seq != 20 {
		t.Fatalf("history of %d messages, want the newest that fit", len(got))
	}
}
