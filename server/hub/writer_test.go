package hub

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
)

// returns runs f in a goroutine and reports whether it returned within a
// minute: a bound for a wait that must end, not a timing.
func returns(t *testing.T, f func()) bool {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
		return true
	case <-time.After(time.Minute):
		return false
	}
}

// TestGather: a writer's gather ends when its channel fires, at once when
// a frame's worth is queued already, as soon as one is queued during it,
// and when the client stops; a gather that none of these end goes on.
func TestGather(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	event1 := []byte(strings.Repeat("e", 1000))
	frame := event.MaxServerFrameBytes/len(event1) + 1 // events that make a frame's worth

	c := NewClient(0)
	fire := make(chan time.Time, 1)
	fire <- time.Time{}
	if !returns(t, func() { c.Gather(ctx, fire) }) {
		t.Fatal("the gather did not end when its channel fired")
	}

	// Under way, it waits: nothing ends it until a frame's worth is queued.
	ended := make(chan struct{})
	go func() { defer close(ended); c.Gather(ctx, nil) }()
	for range frame - 1 {
		c.Enqueue(event1)
		select {
		case <-ended:
			t.Fatal("the gather ended with less than a frame's worth queued")
		default:
		}
	}
	c.Enqueue(event1)
	if !returns(t, func() { <-ended }) {
		t.Fatal("the gather went on with a frame's worth queued")
	}
	// With a frame's worth queued, a new gather ends at once.
	if !returns(t, func() { c.Gather(ctx, nil) }) {
		t.Fatal("a gather with a frame's worth queued waited")
	}

	// A stop ends it.
	d := NewClient(0)
	d.Enqueue(event1)
	ended = make(chan struct{})
	go func() { defer close(ended); d.Gather(ctx, nil) }()
	d.Close()
	if !returns(t, func() { <-ended }) {
		t.Fatal("the gather went on after Close")
	}
}

// TestOnWork: a client starts a writer when it gets work and none runs,
// never two at once, and lets it go only when it has nothing left.
func TestOnWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := NewClient(0)
	var started atomic.Int32
	c.OnWork(func() { started.Add(1) })
	if c.Wake() != true || started.Load() != 1 {
		t.Fatalf("Wake with no writer: %d started, want 1", started.Load())
	}
	c.Enqueue([]byte("a"))
	if started.Load() != 1 {
		t.Fatal("a second writer started while one runs")
	}
	if c.Idle() {
		t.Fatal("Idle let the writer go with an event queued")
	}
	buf, err := c.Next(ctx, nil)
	if err != nil || string(buf) != "a" {
		t.Fatalf("Next = %q, %v; want a", buf, err)
	}
	if !c.Idle() {
		t.Fatal("Idle kept the writer with nothing queued")
	}
	c.Enqueue([]byte("b"))
	if started.Load() != 2 {
		t.Fatalf("%d writers started after the work that followed Idle, want 2", started.Load())
	}
	c.Drain()
	if c.Idle() {
		t.Fatal("Idle let the writer go before it saw the drain")
	}
	if buf, err := c.Next(ctx, nil); err != nil || string(buf) != "b" {
		t.Fatalf("Next = %q, %v; want b", buf, err)
	}
	if _, err := c.Next(ctx, nil); err != ErrClosed {
		t.Fatalf("Next after the drain: %v, want ErrClosed", err)
	}
	if c.Wake() || started.Load() != 2 {
		t.Fatal("Wake started a writer on a drained client")
	}
}
