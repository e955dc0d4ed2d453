package hub

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server/store"
)

// newHub returns a hub on a fresh store in a temporary directory.
func newHub(t testing.TB, cfg Config) *Hub {
	t.Helper()
	if cfg.Store == nil {
		st, err := store.Open(t.TempDir(), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		cfg.Store = st
	}
	h := New(cfg)
	// Every presence change is sent at once, so that a test reads the
	// effect of each step without waiting; the tests of the gathering set
	// their own tick.
	h.presenceTick = 0
	t.Cleanup(h.Close)
	return h
}

// join makes a client and joins it to the lobby as a fresh user.
func join(t testing.TB, h *Hub, user string, queueBytes int) *Client {
	t.Helper()
	return joinSince(t, h, user, queueBytes, 0)
}

// joinSince joins a client that holds the room's messages up to since.
func joinSince(t testing.TB, h *Hub, user string, queueBytes int, since uint64) *Client {
	t.Helper()
	c := NewClient(queueBytes)
	if err := h.Join(context.Background(), c, event.DefaultRoom, Identity{User: user, Name: "name-" + user, Token: "t-" + user}, since); err != nil {
		t.Fatalf("Join(%s): %v", user, err)
	}
	return c
}

// send publishes text from c and fails the test on error.
func send(t testing.TB, h *Hub, c *Client, id, text string) event.Message {
	t.Helper()
	m, _, err := h.Publish(context.Background(), c, event.Send{ID: id, Text: text})
	if err != nil {
		t.Fatalf("Publish(%q): %v", text, err)
	}
	return m
}

// waitFor polls f until it returns nil or 10 s pass.
func waitFor(t testing.TB, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// drain returns every event queued for c so far, without waiting.
func drain(t testing.TB, c *Client) []event.Event {
	t.Helper()
	var all []event.Event
	for {
		c.mu.Lock()
		empty := len(c.queue) == 0 && len(c.fills) == 0
		c.mu.Unlock()
		if empty {
			return all
		}
		frame, err := c.Next(context.Background(), nil)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		events, err := event.DecodeServer(frame)
		if err != nil {
			t.Fatalf("DecodeServer(%s): %v", frame, err)
		}
		all = append(all, events...)
	}
}

func TestJoinAndLeaveNotices(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{PresenceGrace: 20 * time.Millisecond})
	ann := join(t, h, "ann", 0)
	if got, want := drain(t, ann), []event.Event{event.Joined{Room: event.DefaultRoom, User: "ann", Name: "name-ann", Token: "t-ann",
		Members: []event.Member{{User: "ann", Name: "name-ann"}}}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ann after her join: %#v, want %#v", got, want)
	}

	bob := join(t, h, "bob", 0)
	if got, want := drain(t, ann), []event.Event{event.Presence{Room: event.DefaultRoom, Joined: []event.Member{{User: "bob", Name: "name-bob"}}}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ann after bob joined: %#v, want %#v", got, want)
	}
	if got := drain(t, bob); len(got) == 0 || got[0].Type() != event.TypeJoined || len(notices(got)) != 0 {
		t.Fatalf("bob after his join: %#v, want Joined and no change to it", got)
	}
	if err := h.Join(context.Background(), bob, event.DefaultRoom, Identity{User: "bob"}, 0); !errors.Is(err, ErrAlreadyJoined) {
		t.Fatalf("second Join: %v, want ErrAlreadyJoined", err)
	}

	h.Leave(bob)
	h.Leave(bob) // a second Leave is a no-op
	var got []event.Event
	waitFor(t, func() error {
		got = append(got, drain(t, ann)...)
		if len(got) == 0 {
			return errors.New("no departure after the grace period")
		}
		return nil
	})
	if want := []event.Event{event.Presence{Room: event.DefaultRoom, Left: []event.Member{{User: "bob", Name: "name-bob"}}}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ann after bob left: %#v, want %#v", got, want)
	}
	if n := h.Members(event.DefaultRoom); n != 1 {
		t.Fatalf("Members = %d, want 1", n)
	}
	if _, _, err := h.Publish(context.Background(), bob, event.Send{Text: "ghost"}); !errors.Is(err, ErrNotJoined) {
		t.Fatalf("Publish after Leave: %v, want ErrNotJoined", err)
	}
	if _, _, err := h.Publish(context.Background(), NewClient(0), event.Send{Text: "stranger"}); !errors.Is(err, ErrNotJoined) {
		t.Fatalf("Publish before Join: %v, want ErrNotJoined", err)
	}
}

// TestPresenceGrace: a reconnect within the grace period and a second tab
// are not announced; the last connection's leave is, once.
func TestPresenceGrace(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{PresenceGrace: time.Hour})
	ann := join(t, h, "ann", 0)
	bob := join(t, h, "bob", 0)
	drain(t, ann)
	h.Leave(bob)
	bob2 := join(t, h, "bob", 0) // the reload
	bobTab := join(t, h, "bob", 0)
	h.Leave(bobTab)
	if got := drain(t, ann); len(got) != 0 {
		t.Fatalf("ann saw %#v for a reconnect and a second tab", got)
	}
	h.cfg.PresenceGrace = 0 // expire at once from now on
	h.Leave(bob2)
	waitFor(t, func() error {
		if got := notices(drain(t, ann)); !slices.Equal(got, []string{"-bob"}) {
			return fmt.Errorf("ann was told %v, want bob's departure", got)
		}
		return nil
	})
}

func TestBroadcastOrderAndSeq(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{})
	clients := []*Client{join(t, h, "a", 0), join(t, h, "b", 0), join(t, h, "c", 0)}
	for _, c := range clients {
		drain(t, c)
	}
	for i := range 50 {
		sender := clients[i%len(clients)]
		m := send(t, h, sender, fmt.Sprint("id", i), fmt.Sprint("text ", i))
		if m.Seq != uint64(i+1) || m.User != sender.User() || m.Name != sender.Name() {
			t.Fatalf("message %d: %#v", i, m)
		}
	}
	for _, c := range clients {
		got := drain(t, c)
		if len(got) != 50 {
			t.Fatalf("%s got %d events, want 50", c.User(), len(got))
		}
		for i, e := range got {
			m := e.(event.Message)
			if m.Seq != uint64(i+1) || m.Text != fmt.Sprint("text ", i) || m.ID != fmt.Sprint("id", i) {
				t.Fatalf("%s event %d: %#v", c.User(), i, m)
			}
		}
	}
}

func TestNextCoalescesWithinFrameLimit(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{})
	sender, reader := join(t, h, "s", 0), join(t, h, "r", 0)
	drain(t, sender)
	drain(t, reader)
	text := make([]byte, event.MaxTextLen)
	for i := range text {
		text[i] = 'x'
	}
	const n = 100
	for range n {
		send(t, h, sender, "", string(text))
	}
	frames, events := 0, 0
	for events < n {
		frame, err := reader.Next(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(frame) > event.MaxServerFrameBytes {
			t.Fatalf("frame of %d bytes, over the %d limit", len(frame), event.MaxServerFrameBytes)
		}
		got, err := event.DecodeServer(frame)
		if err != nil {
			t.Fatal(err)
		}
		frames++
		events += len(got)
	}
	if events != n || frames >= n {
		t.Fatalf("%d events in %d frames: want %d events coalesced into fewer frames", events, frames, n)
	}
}

func TestSlowClientIsStoppedWithoutBlockingOthers(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{})
	const limit = 4 << 10
	slow := join(t, h, "slow", limit) // never reads
	fast := join(t, h, "fast", 0)
	drain(t, fast)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	received := make(chan int)
	go func() {
		n := 0
		for n < 1000 {
			frame, err := fast.Next(ctx, nil)
			if err != nil {
				break
			}
			events, _ := event.DecodeServer(frame)
			n += len(events)
		}
		received <- n
	}()
	for i := range 1000 {
		send(t, h, fast, "", fmt.Sprint("message ", i))
	}
	if n := <-received; n != 1000 {
		t.Fatalf("fast client received %d of 1000 messages", n)
	}
	if _, err := slow.Next(ctx, nil); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("slow client's Next: %v, want ErrSlowConsumer", err)
	}
	slow.mu.Lock()
	queued := slow.queued
	slow.mu.Unlock()
	if queued != 0 {
		t.Fatalf("stopped slow client still holds %d queued bytes", queued)
	}
}

func TestCloseWakesNext(t *testing.T) {
	t.Parallel()
	c := NewClient(0)
	done := make(chan error)
	go func() {
		_, err := c.Next(context.Background(), nil)
		done <- err
	}()
	c.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v, want ErrClosed", err)
	}
}

// TestConcurrentJoinsAndSends runs under -race in make test: many clients
// join, send and leave at once, and every member that stayed sees every
// message in one order.
func TestConcurrentJoinsAndSends(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{})
	const stayers, churners, perClient = 8, 16, 25
	var stay []*Client
	for i := range stayers {
		stay = append(stay, join(t, h, fmt.Sprint("stay", i), 0))
	}
	var wg sync.WaitGroup
	errs := make(chan error, stayers+churners)
	for i := range stayers + churners {
		wg.Go(func() {
			var c *Client
			if i < stayers {
				c = stay[i]
			} else {
				c = NewClient(0)
				if err := h.Join(context.Background(), c, event.DefaultRoom, Identity{User: fmt.Sprint("churn", i), Name: "churner"}, 0); err != nil {
					errs <- err
					return
				}
				defer h.Leave(c)
			}
			for j := range perClient {
				if _, _, err := h.Publish(context.Background(), c, event.Send{Text: fmt.Sprintf("%d/%d", i, j)}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	var first []string
	for _, c := range stay {
		var seqs []string
		for _, e := range drain(t, c) {
			if m, ok := e.(event.Message); ok {
				seqs = append(seqs, fmt.Sprint(m.Seq, m.Text))
			}
		}
		if len(seqs) != (stayers+churners)*perClient {
			t.Fatalf("%s saw %d messages, want %d", c.User(), len(seqs), (stayers+churners)*perClient)
		}
		if first == nil {
			first = seqs
		} else if !reflect.DeepEqual(seqs, first) {
			t.Fatalf("%s saw another order than stay0", c.User())
		}
	}
	if n := h.Members(event.DefaultRoom); n != stayers {
		t.Fatalf("Members = %d after churners left, want %d", n, stayers)
	}
}

func TestDrainDeliversQueuedThenCloses(t *testing.T) {
	t.Parallel()
	c := NewClient(0)
	c.Enqueue([]byte(`{"type":"error","code":"bad_frame","message":"x"}`))
	c.Drain()
	c.Enqueue([]byte(`{"type":"error","code":"bad_frame","message":"late"}`))
	frame, err := c.Next(context.Background(), nil)
	if err != nil || !strings.Contains(string(frame), `"x"`) || strings.Contains(string(frame), "late") {
		t.Fatalf("first Next after Drain: %q, %v; want only the event queued before", frame, err)
	}
	if _, err := c.Next(context.Background(), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Next after Drain: %v, want ErrClosed", err)
	}
}

// TestNextUntil: NextUntil returns ErrIdle when its channel fires with
// nothing queued, and what is queued otherwise, the channel unread.
func TestNextUntil(t *testing.T) {
	t.Parallel()
	c := NewClient(0)
	tick := make(chan time.Time, 1)
	tick <- time.Now()
	if buf, err := c.NextUntil(context.Background(), nil, tick); !errors.Is(err, ErrIdle) || len(buf) != 0 {
		t.Fatalf("with nothing queued: %q, %v; want ErrIdle", buf, err)
	}
	c.Enqueue([]byte(`{"type":"ping"}`))
	tick <- time.Now()
	buf, err := c.NextUntil(context.Background(), nil, tick)
	if err != nil || string(buf) != `{"type":"ping"}` {
		t.Fatalf("with a frame queued: %q, %v", buf, err)
	}
	if len(tick) != 1 {
		t.Fatal("NextUntil read its channel while a frame was queued")
	}
}
