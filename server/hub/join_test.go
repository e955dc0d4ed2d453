package hub

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server/store"
)

// stepTimeout bounds each wait of these tests for the hub: generous, since
// they run under the race detector on small shared machines.
const stepTimeout = 10 * time.Second

// gate stops the hub's store reads of the join path, as selected, each until
// the test lets it go: a join paused in the middle of reading its history.
type gate struct {
	stop    func(room string) bool // which reads to stop, once armed
	armed   atomic.Bool
	reached chan string   // the room of each stopped read, as it stops
	release chan struct{} // each token lets one stopped read go on

	inside, most atomic.Int32 // reads stopped now, and at most so far
}

// gatedHub returns a hub on a fresh store whose join-path reads g stops,
// once armed; stop nil stops them all.
func gatedHub(t *testing.T, cfg Config, stop func(room string) bool) (*Hub, *gate) {
	t.Helper()
	if stop == nil {
		stop = func(string) bool { return true }
	}
	g := &gate{stop: stop, reached: make(chan string, 100), release: make(chan struct{})}
	h := newHub(t, cfg)
	h.beforeRead = func(room string) {
		if !g.armed.Load() || !g.stop(room) {
			return
		}
		n := g.inside.Add(1)
		for m := g.most.Load(); n > m && !g.most.CompareAndSwap(m, n); m = g.most.Load() {
		}
		g.reached <- room
		<-g.release
		g.inside.Add(-1)
	}
	// Stopped reads must end before the hub closes.
	t.Cleanup(func() { g.armed.Store(false); close(g.release) })
	return h, g
}

// awaitRead waits for a stopped read and returns its room.
func (g *gate) awaitRead(t *testing.T) string {
	t.Helper()
	select {
	case room := <-g.reached:
		return room
	case <-time.After(stepTimeout):
		t.Fatal("no store read reached the gate")
		return ""
	}
}

// goJoin joins c in the background and returns where Join's error arrives.
func goJoin(h *Hub, c *Client, room, user string, since uint64) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- h.Join(context.Background(), c, room, Identity{User: user, Name: "name-" + user, Token: "t-" + user}, since)
	}()
	return done
}

// await returns the error that arrives on done, failing the test if none
// does in time.
func await(t *testing.T, what string, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(stepTimeout):
		t.Fatalf("%s did not return", what)
		return nil
	}
}

// TestJoinWhileHistoryIsRead: messages published while a join is reading
// its history reach the joiner exactly once, in order, between what it read
// and the live stream, on every path a join takes: the shared recent
// history checked against the store or loaded from it, a resume served
// from it or from the store, and a gap.
func TestJoinWhileHistoryIsRead(t *testing.T) {
	t.Parallel()
	const history, before, meanwhile = 5, 8, 3
	last := uint64(before + meanwhile) // the room's seq when bob is admitted
	tests := []struct {
		name    string
		restart bool   // a new hub on the store: nothing of the room is cached
		since   uint64 // bob's join
		first   uint64 // the first message bob must get
		gap     bool
	}{
		{name: "fresh join, recent history checked", first: last - history + 1},
		{name: "fresh join after a restart, recent history loaded", restart: true, first: last - history + 1},
		{name: "resume within the recent history", since: 6, first: 7},
		{name: "resume within the recent history after a restart", restart: true, since: 6, first: 7},
		{name: "resume further back, from the store", since: 1, first: 2},
		{name: "since past the end", since: 50, first: last - history + 1, gap: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, err := store.Open(t.TempDir(), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			cfg := Config{Store: st, History: history, PresenceGrace: time.Hour}
			var ann *Client
			var h *Hub
			var g *gate
			if tt.restart {
				first := New(cfg)
				ann = join(t, first, "ann", 0)
				for i := range before {
					send(t, first, ann, "", fmt.Sprint("m", i+1))
				}
				first.Close()
				h, g = gatedHub(t, cfg, nil)
				ann = joinSince(t, h, "ann", 0, before) // up to date: no read
			} else {
				h, g = gatedHub(t, cfg, nil)
				ann = join(t, h, "ann", 0)
				for i := range before {
					send(t, h, ann, "", fmt.Sprint("m", i+1))
				}
			}
			drain(t, ann)
			g.armed.Store(true)

			bob := NewClient(0)
			joined := goJoin(h, bob, event.DefaultRoom, "bob", tt.since)
			g.awaitRead(t) // bob's join is reading
			for i := range meanwhile {
				send(t, h, ann, "", fmt.Sprint("m", before+i+1))
			}
			g.armed.Store(false) // later reads (catch-up pages) go through
			g.release <- struct{}{}
			if err := await(t, "bob's Join", joined); err != nil {
				t.Fatalf("Join: %v", err)
			}
			send(t, h, ann, "", fmt.Sprint("m", last+1)) // live

			events := drain(t, bob)
			want := event.Joined{Room: event.DefaultRoom, User: "bob", Name: "name-bob", Token: "t-bob", Seq: last, Gap: tt.gap,
				Members: []event.Member{{User: "ann", Name: "name-ann"}, {User: "bob", Name: "name-bob"}}}
			if len(events) == 0 || !reflect.DeepEqual(events[0], want) {
				t.Fatalf("bob's first event: %#v, want %#v", events, want)
			}
			var seqs []uint64
			for _, e := range events[1:] {
				m, ok := e.(event.Message)
				if !ok {
					t.Fatalf("bob got %#v among the messages", e)
				}
				if m.Text != fmt.Sprint("m", m.Seq) {
					t.Fatalf("message %d reads %q", m.Seq, m.Text)
				}
				seqs = append(seqs, m.Seq)
			}
			var wantSeqs []uint64
			for seq := tt.first; seq <= last+1; seq++ {
				wantSeqs = append(wantSeqs, seq)
			}
			if !slices.Equal(seqs, wantSeqs) {
				t.Fatalf("bob got messages %v, want %v: each once, in order, then the live one", seqs, wantSeqs)
			}
		})
	}
}

// TestHistoryReadsAreBounded: however many joins need the store at once,
// at most maxHistoryReads of their reads run together, and the others wait
// for their turn instead of failing.
func TestHistoryReadsAreBounded(t *testing.T) {
	t.Parallel()
	const rooms, resumes = 8, 8
	h, g := gatedHub(t, Config{History: 5}, nil)
	ann := join(t, h, "ann", 0)
	for i := range 20 {
		send(t, h, ann, "", fmt.Sprint("m", i+1))
	}
	g.armed.Store(true)

	// Each join makes one read: a new room's last seq, or whether a
	// resume far behind (since 1, 19 behind) can catch up.
	var clients []*Client
	var results []<-chan error
	for i := range rooms {
		c := NewClient(0)
		clients = append(clients, c)
		results = append(results, goJoin(h, c, fmt.Sprint("room", i), fmt.Sprint("new", i), 0))
	}
	for i := range resumes {
		c := NewClient(0)
		clients = append(clients, c)
		results = append(results, goJoin(h, c, event.DefaultRoom, fmt.Sprint("back", i), 1))
	}
	for released := range rooms + resumes {
		want := int32(min(maxHistoryReads, rooms+resumes-released))
		waitFor(t, func() error {
			if n := g.inside.Load(); n != want {
				return fmt.Errorf("%d reads under way with %d released, want %d", n, released, want)
			}
			return nil
		})
		g.release <- struct{}{}
	}
	g.armed.Store(false)
	for i, done := range results {
		if err := await(t, fmt.Sprint("join ", i), done); err != nil {
			t.Fatalf("join %d: %v", i, err)
		}
	}
	if most := g.most.Load(); most != maxHistoryReads {
		t.Fatalf("at most %d reads ran together, want %d", most, maxHistoryReads)
	}
	for i, c := range clients {
		events := drain(t, c)
		if len(events) == 0 || events[0].Type() != event.TypeJoined {
			t.Fatalf("client %d got %#v, want Joined first", i, events)
		}
		if i >= rooms && len(messages(events)) != 19 {
			t.Fatalf("resume %d caught up with %d messages, want 19", i-rooms, len(messages(events)))
		}
	}
}

// TestRoomCreationDoesNotHoldTheHub: while a new room reads its last seq
// from the store, other rooms join and publish, and a second join to the new
// room waits for that read, makes none of its own, and enters once it is
// done.
func TestRoomCreationDoesNotHoldTheHub(t *testing.T) {
	t.Parallel()
	h, g := gatedHub(t, Config{}, func(room string) bool { return room == "slow" })
	g.armed.Store(true)
	first, second := NewClient(0), NewClient(0)
	firstDone := goJoin(h, first, "slow", "first", 0)
	g.awaitRead(t)
	secondDone := goJoin(h, second, "slow", "second", 0)

	lobby := make(chan error, 1)
	go func() {
		c := NewClient(0)
		if err := h.Join(context.Background(), c, event.DefaultRoom, Identity{User: "ann", Name: "ann"}, 0); err != nil {
			lobby <- err
			return
		}
		_, _, err := h.Publish(context.Background(), c, event.Send{Text: "meanwhile"})
		lobby <- err
	}()
	if err := await(t, "the lobby's join and publish, while the slow room loads", lobby); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-secondDone:
		t.Fatalf("the second join to the slow room returned (%v) while the room was still loading", err)
	default:
	}

	g.release <- struct{}{}
	for name, done := range map[string]<-chan error{"first": firstDone, "second": secondDone} {
		if err := await(t, name+" join to the slow room", done); err != nil {
			t.Fatalf("%s join: %v", name, err)
		}
	}
	select {
	case room := <-g.reached:
		t.Fatalf("a second read for %s: the waiting join did not share the first", room)
	default:
	}
	for _, c := range []*Client{first, second} {
		if j := joinedOf(t, drain(t, c)); j.Room != "slow" {
			t.Fatalf("Joined = %#v, want the slow room", j)
		}
	}
}

// TestRoomLoadFailure: a room whose last seq cannot be read fails the join
// with the store's error, and is not kept: the next join tries again.
func TestRoomLoadFailure(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := newHub(t, Config{Store: st})
	st.Close()
	for attempt := range 2 {
		err := h.Join(context.Background(), NewClient(0), event.DefaultRoom, Identity{User: "ann"}, 0)
		if err == nil {
			t.Fatalf("attempt %d: Join on a closed store succeeded", attempt)
		}
		h.mu.RLock()
		n := len(h.rooms)
		h.mu.RUnlock()
		if n != 0 {
			t.Fatalf("attempt %d: %d rooms kept after a failed load (%v)", attempt, n, err)
		}
	}
}

// TestBurstNoticesInJoinOrder: a burst of joins, admitted in several
// batches, tells each member of every newcomer once, all members in one
// order; and each newcomer of the others admitted after it, none before.
func TestBurstNoticesInJoinOrder(t *testing.T) {
	t.Parallel()
	const burst = 3*admitBatch + 5
	h := newHub(t, Config{})
	members := []*Client{join(t, h, "m0", 0), join(t, h, "m1", 0), join(t, h, "m2", 0)}
	for _, m := range members {
		drain(t, m)
	}
	joiners := make(map[string]*Client)
	var results []<-chan error
	for i := range burst {
		user := fmt.Sprint("j", i)
		joiners[user] = NewClient(0)
		results = append(results, goJoin(h, joiners[user], event.DefaultRoom, user, 0))
	}
	for i, done := range results {
		if err := await(t, fmt.Sprint("join ", i), done); err != nil {
			t.Fatal(err)
		}
	}

	arrivals := func(events []event.Event) []string {
		var users []string
		for _, n := range notices(events) {
			if n[0] != '+' {
				t.Fatalf("told %s", n)
			}
			users = append(users, n[1:])
		}
		return users
	}
	order := arrivals(drain(t, members[0]))
	if len(order) != burst {
		t.Fatalf("m0 was told of %d joins, want %d", len(order), burst)
	}
	for _, m := range members[1:] {
		if got := arrivals(drain(t, m)); !reflect.DeepEqual(got, order) {
			t.Fatalf("%s was told %v, m0 %v: want one order", m.User(), got, order)
		}
	}
	for k, user := range order {
		events := drain(t, joiners[user])
		if len(events) == 0 || events[0].Type() != event.TypeJoined {
			t.Fatalf("%s got %#v, want Joined first", user, events)
		}
		if got, want := arrivals(events), order[k+1:]; !slices.Equal(got, want) {
			t.Fatalf("%s, admitted %dth, was told %v, want %v", user, k, got, want)
		}
	}
}

// TestJoinWithdrawnWhenContextEnds: a join whose context ends while it
// waits to be admitted returns the context's error and leaves no trace in
// the room.
func TestJoinWithdrawnWhenContextEnds(t *testing.T) {
	t.Parallel()
	h, g := gatedHub(t, Config{}, nil)
	ann := join(t, h, "ann", 0)
	send(t, h, ann, "", "so a fresh join checks the recent history")
	drain(t, ann)
	g.armed.Store(true)

	bob := NewClient(0)
	bobDone := goJoin(h, bob, event.DefaultRoom, "bob", 0)
	g.awaitRead(t) // the join loop is in bob's round
	ctx, cancel := context.WithCancel(context.Background())
	carol := NewClient(0)
	carolDone := make(chan error, 1)
	go func() {
		carolDone <- h.Join(ctx, carol, event.DefaultRoom, Identity{User: "carol", Name: "carol"}, 0)
	}()
	h.mu.RLock()
	r := h.rooms[event.DefaultRoom]
	h.mu.RUnlock()
	waitFor(t, func() error {
		r.joinMu.Lock()
		defer r.joinMu.Unlock()
		if len(r.joins) != 1 {
			return fmt.Errorf("%d joins waiting for the next round, want carol's", len(r.joins))
		}
		return nil
	})
	cancel()
	if err := await(t, "carol's Join", carolDone); !errors.Is(err, context.Canceled) {
		t.Fatalf("carol's Join: %v, want context.Canceled", err)
	}
	g.armed.Store(false)
	g.release <- struct{}{}
	if err := await(t, "bob's Join", bobDone); err != nil {
		t.Fatal(err)
	}
	if n := h.Members(event.DefaultRoom); n != 2 {
		t.Fatalf("Members = %d, want ann and bob", n)
	}
	if got := drain(t, carol); len(got) != 0 || len(carol.Rooms()) != 0 {
		t.Fatalf("carol, withdrawn, got %#v in rooms %q", got, carol.Rooms())
	}
	if got := drain(t, ann); !reflect.DeepEqual(got, []event.Event{event.Presence{Room: event.DefaultRoom, Joined: []event.Member{{User: "bob", Name: "name-bob"}}}}) {
		t.Fatalf("ann saw %#v, want bob's arrival only", got)
	}
}

// TestRecentRing checks the ring of a room's recent history once it has
// wrapped around: the newest that fit a budget, a resume's page, and a
// load merged with what was delivered meanwhile.
func TestRecentRing(t *testing.T) {
	t.Parallel()
	const capacity = 4
	enc := func(seq uint64) []byte { return fmt.Appendf(nil, "message %02d", seq) } // 10 bytes
	seqsOf := func(pieces ...[][]byte) []string {
		var out []string
		for _, p := range pieces {
			for _, b := range p {
				out = append(out, string(b[len(b)-2:]))
			}
		}
		return out
	}
	// ring holds 3..6 after 1..6 went in: its oldest is not at index 0.
	ring := func() *recent {
		rc := &recent{}
		for seq := uint64(1); seq <= 6; seq++ {
			rc.push(enc(seq), capacity)
		}
		return rc
	}
	if rc := ring(); !rc.complete || rc.n != capacity || rc.start == 0 {
		t.Fatalf("after 6 pushes: %+v, want full, complete and wrapped", rc)
	}

	for _, tt := range []struct {
		budget int
		want   []string
	}{
		{100, []string{"03", "04", "05", "06"}},
		{39, []string{"04", "05", "06"}},
		{20, []string{"05", "06"}},
		{9, nil},
	} {
		older, newer := ring().newestWithin(tt.budget)
		if got := seqsOf(older, newer); !slices.Equal(got, tt.want) {
			t.Errorf("newestWithin(%d) = %v, want %v", tt.budget, got, tt.want)
		}
	}

	for _, tt := range []struct {
		since         uint64
		limit, budget int
		want          []string
	}{
		{2, 100, 100, []string{"03", "04", "05", "06"}},
		{4, 100, 100, []string{"05", "06"}},
		{2, 2, 100, []string{"03", "04"}},
		{2, 100, 25, []string{"03", "04"}},
		{2, 100, 5, []string{"03"}}, // a page holds at least one
		{6, 100, 100, nil},
	} {
		if got := seqsOf(ring().after(tt.since, tt.limit, tt.budget, 6)); !slices.Equal(got, tt.want) {
			t.Errorf("after(%d, limit %d, budget %d) = %v, want %v", tt.since, tt.limit, tt.budget, got, tt.want)
		}
	}

	for _, tt := range []struct {
		name      string
		delivered []uint64 // pushed into an empty ring, ending at roomSeq
		loaded    []uint64 // read from the store, up to loadedTo
		loadedTo  uint64
		roomSeq   uint64
		want      []string
	}{
		{"cold, nothing delivered meanwhile", nil, []uint64{1, 2, 3}, 3, 3, []string{"01", "02", "03"}},
		{"cold, two delivered meanwhile", []uint64{4, 5}, []uint64{1, 2, 3}, 3, 5, []string{"02", "03", "04", "05"}},
		{"pruned: the delivered ones before the load are dropped", []uint64{3, 4, 5}, []uint64{4}, 4, 5, []string{"04", "05"}},
		{"all pruned", []uint64{1, 2}, nil, 2, 2, nil},
		{"more delivered meanwhile than it holds", []uint64{3, 4, 5, 6, 7, 8}, []uint64{1, 2}, 2, 8, []string{"05", "06", "07", "08"}},
	} {
		rc := &recent{}
		for _, seq := range tt.delivered {
			rc.push(enc(seq), capacity)
		}
		var loaded [][]byte
		for _, seq := range tt.loaded {
			loaded = append(loaded, enc(seq))
		}
		rc.replace(loaded, tt.loadedTo, tt.roomSeq, capacity)
		older, newer := rc.newestWithin(1 << 20)
		if got := seqsOf(older, newer); !rc.complete || !slices.Equal(got, tt.want) {
			t.Errorf("%s: holds %v (complete %v), want %v", tt.name, got, rc.complete, tt.want)
		}
	}
}

// TestConcurrentJoinsAndLeavesKeepMembership runs under -race in make test:
// joins, resumes and leaves racing through the join loop leave exactly the
// clients that stayed as members.
func TestConcurrentJoinsAndLeavesKeepMembership(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{History: 10, PresenceGrace: time.Millisecond})
	ann := join(t, h, "ann", 0)
	for i := range 30 {
		send(t, h, ann, "", fmt.Sprint("m", i))
	}
	const n = 60
	var wg sync.WaitGroup
	stayed := make([]*Client, n)
	for i := range n {
		wg.Go(func() {
			c := NewClient(0)
			since := []uint64{0, 25, 5, 30}[i%4] // fresh, near, far behind, up to date
			if err := h.Join(context.Background(), c, event.DefaultRoom, Identity{User: fmt.Sprint("u", i)}, since); err != nil {
				t.Error(err)
				return
			}
			if i%3 == 0 {
				h.Leave(c)
				return
			}
			stayed[i] = c
		})
	}
	wg.Wait()
	want := 1
	for _, c := range stayed {
		if c != nil {
			drain(t, c) // catch up, if behind
			want++
		}
	}
	if got := h.Members(event.DefaultRoom); got != want {
		t.Fatalf("Members = %d, want %d", got, want)
	}
}
