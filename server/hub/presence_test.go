package hub

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server/store"
)

// membersOf returns the user ids that j lists.
func membersOf(j event.Joined) []string {
	users := make([]string, len(j.Members))
	for i, m := range j.Members {
		users[i] = m.User
	}
	return users
}

// notices returns what events tell a client of presence, in order, as the
// client shows it: "+user" for each user a Presence adds to its list,
// "-user" for each it removes. A Joined among the events sets the list, and
// from then on the Presence events are applied idempotently, as a client
// does: an entry that changes nothing (a user listed already, or one not
// listed) tells nothing. Before any Joined, the list is unknown and every
// entry counts.
func notices(events []event.Event) []string {
	var out []string
	var list map[string]bool // nil: unknown
	for _, e := range events {
		switch e := e.(type) {
		case event.Joined:
			list = make(map[string]bool, len(e.Members))
			for _, m := range e.Members {
				list[m.User] = true
			}
		case event.Presence:
			for _, m := range e.Joined {
				if list == nil || !list[m.User] {
					out = append(out, "+"+m.User)
				}
				if list != nil {
					list[m.User] = true
				}
			}
			for _, m := range e.Left {
				if list == nil || list[m.User] {
					out = append(out, "-"+m.User)
				}
				delete(list, m.User)
			}
		}
	}
	return out
}

// TestMembersInABurst: in a burst of joins admitted batch after batch, each
// joiner's Joined lists exactly the users admitted before it and itself, in
// that order, and the notices it receives are exactly those of the joins
// after its own: no user listed and then announced, none missing. A second
// tab of a present user is listed once and announced to nobody.
func TestMembersInABurst(t *testing.T) {
	t.Parallel()
	const burst = 2*admitBatch + 7
	h := newHub(t, Config{})
	first := []*Client{join(t, h, "m0", 0), join(t, h, "m1", 0)}
	for _, m := range first {
		drain(t, m)
	}
	joiners := make(map[string]*Client)
	var results []<-chan error
	for i := range burst {
		user := fmt.Sprint("j", i)
		if i == burst/2 {
			user = "m1" // a second tab
		}
		c := NewClient(0)
		joiners[fmt.Sprint("j", i)] = c
		results = append(results, goJoin(h, c, event.DefaultRoom, user, 0))
	}
	for i, done := range results {
		if err := await(t, fmt.Sprint("join ", i), done); err != nil {
			t.Fatal(err)
		}
	}
	var order []string // the users in the order they were announced
	for _, n := range notices(drain(t, first[0])) {
		order = append(order, n[1:])
	}
	if len(order) != burst-1 || slices.Contains(order, "m1") {
		t.Fatalf("m0 was told of %v, want the %d new users", order, burst-1)
	}
	everyone := append([]string{"m0", "m1"}, order...)
	for key, c := range joiners {
		events := drain(t, c)
		listed := membersOf(joinedOf(t, events))
		var told []string
		for _, n := range notices(events) {
			if n[0] != '+' {
				t.Fatalf("%s was told %s", key, n)
			}
			told = append(told, n[1:])
		}
		if got := append(slices.Clone(listed), told...); !slices.Equal(got, everyone) {
			t.Fatalf("%s (%s) listed %v and was told %v: want each of %v once, in order", key, c.User(), listed, told, everyone)
		}
		if c.User() != "m1" && listed[len(listed)-1] != c.User() {
			t.Fatalf("%s listed %v, want itself last", c.User(), listed)
		}
	}
}

// TestCatchUpToldWhatChanged: a client that catches up hears of no
// presence change until it has, then of the net change to the users its
// Joined listed, in one Presence: who arrived, then who left; one who left
// and came back is no change. It comes after the last message of its
// catch-up and before the live stream.
func TestCatchUpToldWhatChanged(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{History: 10, PresenceGrace: time.Millisecond})
	ann := join(t, h, "ann", 0)
	carl := join(t, h, "carl", 0)
	erin := join(t, h, "erin", 0)
	for i := range 30 {
		send(t, h, ann, "", fmt.Sprint("m", i+1))
	}
	bob := joinSince(t, h, "bob", 0, 1) // 29 behind, over History: catches up from the store
	drain(t, ann)

	h.Leave(carl)
	h.Leave(erin)
	waitFor(t, func() error {
		if got := h.presentUsers(); !slices.Equal(got, []string{"ann", "bob"}) {
			return fmt.Errorf("present: %v", got)
		}
		return nil
	})
	join(t, h, "erin", 0) // back, after the others were told it left
	join(t, h, "dave", 0)
	send(t, h, ann, "", "m31")

	events := drain(t, bob)
	j := joinedOf(t, events)
	if got, want := membersOf(j), []string{"ann", "carl", "erin", "bob"}; !slices.Equal(got, want) {
		t.Fatalf("bob's Joined listed %v, want %v", got, want)
	}
	var tail []string // what follows the last message of the catch-up
	for i, e := range events {
		if m, ok := e.(event.Message); ok && m.Seq == 31 {
			tail = notices(events[i+1:])
			if n := notices(events[:i]); len(n) != 0 {
				t.Fatalf("bob was told %v while catching up", n)
			}
		}
	}
	if want := []string{"+dave", "-carl"}; !slices.Equal(tail, want) {
		t.Fatalf("after catching up bob was told %v, want %v", tail, want)
	}
	send(t, h, ann, "", "live")
	if got := messages(drain(t, bob)); len(got) != 1 || got[0].Seq != 32 {
		t.Fatalf("bob after the catch-up got %#v, want the live seq 32", got)
	}
}

// presentUsers returns the users of the lobby's list, in order.
func (h *Hub) presentUsers() []string {
	h.mu.RLock()
	r := h.rooms[event.DefaultRoom]
	h.mu.RUnlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.list.Users()
}

// TestMembersKeepArrivalOrder: the list is the order of arrival; a user in
// its grace period keeps its place, one that left and came back goes last.
func TestMembersKeepArrivalOrder(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{PresenceGrace: time.Hour})
	a, b := join(t, h, "a", 0), join(t, h, "b", 0)
	join(t, h, "c", 0)
	h.Leave(b) // in its grace period
	if got := membersOf(joinedOf(t, drain(t, join(t, h, "d", 0)))); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("listed %v, want a b c d: b is in its grace period", got)
	}
	h.cfg.PresenceGrace = time.Millisecond
	h.Leave(a)
	waitFor(t, func() error {
		if got := h.presentUsers(); !slices.Equal(got, []string{"b", "c", "d"}) {
			return fmt.Errorf("present: %v", got)
		}
		return nil
	})
	if got := membersOf(joinedOf(t, drain(t, join(t, h, "a", 0)))); !slices.Equal(got, []string{"b", "c", "d", "a"}) {
		t.Fatalf("listed %v, want b c d a", got)
	}
}

// TestTypingRelay: a Typing reaches each connection of the other users,
// with the sender's user and name, and none of the sender's own; a client
// that is behind or catching up gets none and is not stopped; a client not
// in the room is refused.
func TestTypingRelay(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{History: 5})
	ann, annTab := join(t, h, "ann", 0), join(t, h, "ann", 0)
	bob, bobTab := join(t, h, "bob", 0), join(t, h, "bob", 0)
	behind := join(t, h, "behind", 1<<20)
	for i := range 20 {
		send(t, h, ann, "", fmt.Sprint("m", i))
	}
	catching := joinSince(t, h, "catching", 0, 1) // 19 behind, over History
	for _, c := range []*Client{ann, annTab, bob, bobTab, behind} {
		drain(t, c)
	}
	behind.Enqueue(make([]byte, (1<<20)/idleShare)) // as if it were a frame behind

	if err := h.Typing(ann, event.DefaultRoom); err != nil {
		t.Fatalf("Typing: %v", err)
	}
	want := []event.Event{event.Typing{Room: event.DefaultRoom, User: "ann", Name: "name-ann"}}
	for _, c := range []*Client{bob, bobTab} {
		if got := drain(t, c); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s got %#v, want %#v", c.User(), got, want)
		}
	}
	for _, c := range []*Client{ann, annTab} {
		if got := drain(t, c); len(got) != 0 {
			t.Fatalf("the sender's own connection got %#v", got)
		}
	}
	behind.mu.Lock()
	queued, err := len(behind.queue), behind.err
	behind.mu.Unlock()
	if queued != 1 || err != nil {
		t.Fatalf("the client behind holds %d events (%v), want only its backlog", queued, err)
	}
	for _, e := range drain(t, catching) {
		if e.Type() == event.TypeTyping {
			t.Fatalf("a client catching up got %#v", e)
		}
	}

	stranger := NewClient(0)
	for _, tt := range []struct {
		c    *Client
		room string
	}{{stranger, event.DefaultRoom}, {stranger, ""}, {ann, "elsewhere"}} {
		if err := h.Typing(tt.c, tt.room); !errors.Is(err, ErrNotJoined) {
			t.Fatalf("Typing(%q) by %q: %v, want ErrNotJoined", tt.room, tt.c.User(), err)
		}
	}
}

// TestEnqueueIfIdle: a transient event is queued while the queue holds
// under 1/idleShare of its limit, dropped beyond, and never stops the client.
func TestEnqueueIfIdle(t *testing.T) {
	t.Parallel()
	const limit = 1600
	c := NewClient(limit)
	b := make([]byte, 40)
	queued := 0
	for range 10 {
		if c.EnqueueIfIdle(b) {
			queued++
		}
	}
	if want := (limit/idleShare - 1) / len(b); queued != want { // 100 bytes: 2 of 40
		t.Fatalf("queued %d of 40 bytes under %d, want %d", queued, limit/idleShare, want)
	}
	frame, err := c.Next(context.Background(), nil)
	if err != nil || len(frame) != queued*len(b)+queued-1 {
		t.Fatalf("Next: %d bytes, %v", len(frame), err)
	}
	if !c.EnqueueIfIdle(b) {
		t.Fatal("an emptied queue refused a transient event")
	}
	c.Close()
	if c.EnqueueIfIdle(b) {
		t.Fatal("a closed client queued a transient event")
	}
}

// TestHistoryPages: pages from the newest down to the first message, each
// continuing where the one before ended, the last complete; a before past
// the room's end; the first seq; a limit; and retention, which makes the
// last page pruned.
func TestHistoryPages(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.TempDir(), store.Options{MaxMessages: 25})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := newHub(t, Config{Store: st})
	ann := join(t, h, "ann", 0)
	for i := range 60 {
		send(t, h, ann, "", fmt.Sprint("m", i+1))
	}
	drain(t, ann)

	page := func(before uint64, limit int) event.History {
		t.Helper()
		got, err := h.History(context.Background(), ann, event.DefaultRoom, before, limit)
		if err != nil {
			t.Fatalf("History(%d, %d): %v", before, limit, err)
		}
		events := drain(t, ann)
		if len(events) != 1 || !reflect.DeepEqual(events[0], got) {
			t.Fatalf("History(%d, %d) returned %.200v and queued %.200v", before, limit, got, events)
		}
		return got
	}
	seqs := func(p event.History) (first, last uint64) {
		return p.Messages[0].Seq, p.Messages[len(p.Messages)-1].Seq
	}
	if p := page(1<<64-1, 0); len(p.Messages) != event.MaxHistoryLimit || p.Complete || p.Before != 1<<64-1 {
		t.Fatalf("the newest page: %d messages, complete %v, before %d", len(p.Messages), p.Complete, p.Before)
	} else if first, last := seqs(p); first != 11 || last != 60 {
		t.Fatalf("the newest page holds %d..%d, want 11..60", first, last)
	}
	if p := page(11, 0); len(p.Messages) != 10 || !p.Complete || p.Pruned {
		t.Fatalf("the oldest page: %d messages, complete %v, pruned %v; want 10, complete, not pruned", len(p.Messages), p.Complete, p.Pruned)
	}
	if p := page(1, 0); len(p.Messages) != 0 || !p.Complete || p.Pruned {
		t.Fatalf("before seq 1: %#v, want empty and complete", p)
	}
	if p := page(30, 5); len(p.Messages) != 5 || p.Complete || p.Messages[4].Seq != 29 {
		t.Fatalf("a page of 5 before 30: %#v", p)
	}

	if _, err := st.Prune(context.Background(), time.Now()); err != nil { // keeps 36..60
		t.Fatal(err)
	}
	if p := page(50, 0); len(p.Messages) != 14 || !p.Complete || !p.Pruned || p.Messages[0].Seq != 36 {
		t.Fatalf("after retention: %d messages from %d, complete %v, pruned %v; want 14 from 36, complete and pruned",
			len(p.Messages), p.Messages[0].Seq, p.Complete, p.Pruned)
	}
	if p := page(20, 0); len(p.Messages) != 0 || !p.Complete || !p.Pruned {
		t.Fatalf("below what retention kept: %#v, want empty, complete and pruned", p)
	}

	if _, err := h.History(context.Background(), ann, "elsewhere", 5, 0); !errors.Is(err, ErrNotJoined) {
		t.Fatalf("History in another room: %v, want ErrNotJoined", err)
	}
	if _, err := h.History(context.Background(), NewClient(0), event.DefaultRoom, 5, 0); !errors.Is(err, ErrNotJoined) {
		t.Fatalf("History before Join: %v, want ErrNotJoined", err)
	}
}

// TestHistorySharesTheReadBound: a history read takes its turn among the
// join path's reads: with maxHistoryReads of them under way it waits, and
// it reads once one of them ends, never more than maxHistoryReads at once.
func TestHistorySharesTheReadBound(t *testing.T) {
	t.Parallel()
	h, g := gatedHub(t, Config{}, nil)
	ann := join(t, h, "ann", 0)
	send(t, h, ann, "", "one")
	drain(t, ann)
	g.armed.Store(true)
	var results []<-chan error
	for i := range maxHistoryReads {
		results = append(results, goJoin(h, NewClient(0), fmt.Sprint("room", i), "x", 0))
		g.awaitRead(t)
	}
	done := make(chan error, 1)
	go func() {
		_, err := h.History(context.Background(), ann, event.DefaultRoom, 5, 0)
		done <- err
	}()
	g.release <- struct{}{} // one read ends: the history read takes its turn
	if room := g.awaitRead(t); room != event.DefaultRoom {
		t.Fatalf("the read of %s reached the gate, want the history of %s", room, event.DefaultRoom)
	}
	if most := g.most.Load(); most != maxHistoryReads {
		t.Fatalf("%d reads ran at once, want %d", most, maxHistoryReads)
	}
	g.armed.Store(false)
	g.release <- struct{}{}
	g.release <- struct{}{}
	if err := await(t, "History", done); err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if err := await(t, fmt.Sprint("join ", i), r); err != nil {
			t.Fatal(err)
		}
	}
	events := drain(t, ann)
	if len(events) != 1 || len(events[0].(event.History).Messages) != 1 {
		t.Fatalf("ann got %#v, want the page of one message", events)
	}
}

// TestStaleLeaveTimer: a leave timer that fired while its user came back
// and left again (it waited for the room's lock) announces nothing; the
// newer timer does, after its own grace period.
func TestStaleLeaveTimer(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{PresenceGrace: time.Hour})
	watcher := join(t, h, "w", 0)
	first := join(t, h, "u", 0)
	h.mu.Lock()
	r := h.rooms[event.DefaultRoom]
	h.mu.Unlock()
	h.Leave(first)
	r.mu.Lock()
	p := r.users["u"]
	stale := p.leaveGen
	r.mu.Unlock()
	second := join(t, h, "u", 0)
	h.Leave(second)
	drain(t, watcher)

	h.expire(r, "u", p, stale) // the first timer, late
	r.mu.Lock()
	_, present := r.users["u"]
	last := p.leaveGen
	r.mu.Unlock()
	if !present {
		t.Fatal("a stale leave timer announced the departure before the last grace period")
	}
	if got := notices(drain(t, watcher)); len(got) != 0 {
		t.Fatalf("a stale leave timer told the room %q", got)
	}
	h.expire(r, "u", p, last)
	if got := notices(drain(t, watcher)); !slices.Equal(got, []string{"-u"}) {
		t.Fatalf("the last leave timer told the room %q, want [-u]", got)
	}
}
