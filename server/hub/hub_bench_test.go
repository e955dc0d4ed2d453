package hub

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
)

// discard takes c's frames as a connection's writer would, without the
// socket, until ctx ends or c is stopped.
func discard(ctx context.Context, c *Client) {
	buf := make([]byte, 0, event.MaxServerFrameBytes)
	for {
		var err error
		if buf, err = c.Next(ctx, buf[:0]); err != nil {
			return
		}
	}
}

// BenchmarkHub_Publish measures messages stored (SQLite, one transaction per
// batch, durable on return) and fanned out to a room of N members, each with
// a writer goroutine draining its queue as a connection would (without the
// socket). 64 senders publish concurrently, so batches form as they would
// under load. deliveries/s counts one message reaching one member's queue.
func BenchmarkHub_Publish(b *testing.B) {
	for _, members := range []int{10, 1000} {
		b.Run(fmt.Sprint("members=", members), func(b *testing.B) {
			h := newHub(b, Config{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var clients []*Client
			for i := range members {
				c := join(b, h, fmt.Sprint("u", i), 64<<20)
				clients = append(clients, c)
				go discard(ctx, c)
			}
			const senders = 64
			s := event.Send{Text: "hello, how is everyone doing today?"}
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N/senders + 1
			for i := range senders {
				wg.Go(func() {
					c := clients[i%len(clients)]
					for range per {
						if _, _, err := h.Publish(ctx, c, s); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			n := per * senders
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(n*members)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkHub_JoinBurst measures a burst of 200 joins arriving at once at a
// room that holds a full recent history (100 messages of 200 bytes), each
// client with a writer goroutine draining its queue, while a member keeps
// publishing. One op is one burst: fresh joins get the recent history;
// resuming ones catch up with the 50 messages they missed, and the op ends
// once all are on the live stream. publish-max-ms is the slowest
// Publish (stored and queued to every member) seen during the bursts:
// what a live message pays for them.
func BenchmarkHub_JoinBurst(b *testing.B) {
	for _, mode := range []struct {
		name   string
		behind uint64 // messages a resuming client missed; 0 for a fresh join
	}{{"fresh", 0}, {"resume", 50}} {
		b.Run(mode.name, func(b *testing.B) {
			const burst, history = 200, 100
			h := newHub(b, Config{History: history, PresenceGrace: time.Hour})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ann := join(b, h, "ann", 64<<20)
			go discard(ctx, ann)
			text := strings.Repeat("x", 200)
			var last atomic.Uint64 // the room's last seq, as the publisher saw it
			for range history {
				last.Store(send(b, h, ann, "", text).Seq)
			}

			stop := make(chan struct{})
			worst := make(chan time.Duration)
			go func() {
				var w time.Duration
				for {
					select {
					case <-stop:
						worst <- w
						return
					default:
					}
					start := time.Now()
					m, _, err := h.Publish(ctx, ann, event.Send{Text: text})
					if err != nil {
						b.Error(err)
					}
					w = max(w, time.Since(start))
					last.Store(m.Seq)
					time.Sleep(time.Millisecond) // a busy room's pace, not a flood
				}
			}()

			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				since := uint64(0)
				if mode.behind > 0 {
					since = last.Load() - mode.behind
				}
				clients := make([]*Client, burst)
				var wg sync.WaitGroup
				for j := range clients {
					c := NewClient(0)
					clients[j] = c
					go discard(ctx, c)
					user := fmt.Sprintf("u%d-%d", i, j)
					wg.Go(func() {
						if err := h.Join(ctx, c, event.DefaultRoom, Identity{User: user, Name: user}, since); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
				for h.Members(event.DefaultRoom) < 1+burst {
					time.Sleep(100 * time.Microsecond) // resuming clients still catching up
				}
				for _, c := range clients {
					h.Leave(c)
					c.Close()
				}
			}
			b.StopTimer()
			close(stop)
			b.ReportMetric(float64(burst*b.N)/b.Elapsed().Seconds(), "joins/s")
			b.ReportMetric(float64((<-worst).Microseconds())/1000, "publish-max-ms")
		})
	}
}

// BenchmarkHub_Fanout measures the fan-out step alone, as deliver runs it
// once a batch is stored: one encoded message queued to every member of a
// room of N, each member's queue drained by a goroutine as a writer would
// (without the socket). One op is one message to all N members.
// allocs/recipient is the heap allocations per member reached, counted
// from the runtime's totals over the whole run, drainers included: the
// figure the writer's design aims to bring to 0.
func BenchmarkHub_Fanout(b *testing.B) {
	for _, members := range []int{10, 1000} {
		b.Run(fmt.Sprint("members=", members), func(b *testing.B) {
			h := newHub(b, Config{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var drained sync.WaitGroup
			for i := range members {
				c := join(b, h, fmt.Sprint("u", i), 64<<20)
				drained.Go(func() { discard(ctx, c) })
			}
			r, err := h.room(ctx, event.DefaultRoom)
			if err != nil {
				b.Fatal(err)
			}
			msg, err := event.Encode(event.Message{Room: event.DefaultRoom, Seq: 1, ID: "m1", User: "u0", Name: "u0", Text: "hello, how is everyone doing today?", Time: 1000})
			if err != nil {
				b.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for b.Loop() {
				r.mu.Lock()
				for m := range r.members {
					m.enqueue(msg)
				}
				r.mu.Unlock()
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			recipients := float64(b.N) * float64(members)
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/recipients, "allocs/recipient")
			b.ReportMetric(recipients/b.Elapsed().Seconds(), "deliveries/s")
			cancel()
			drained.Wait()
		})
	}
}

// countPresence takes c's frames as discard does and counts the Presence
// events among them in n.
func countPresence(ctx context.Context, c *Client, n *atomic.Int64) {
	prefix := []byte(`{"type":"` + string(event.TypePresence) + `"`)
	buf := make([]byte, 0, event.MaxServerFrameBytes)
	for {
		var err error
		if buf, err = c.Next(ctx, buf[:0]); err != nil {
			return
		}
		n.Add(int64(bytes.Count(buf, prefix)))
	}
}

// BenchmarkHub_JoinStorm measures a storm of N joins arriving at once at a
// room of N members, every client with a writer goroutine draining its
// queue, at the room's real presence tick. One op is one storm: the joins
// are timed until the last returns; then the storm's arrivals are sent
// (untimed), and the joiners leave the room at once. ns/join is the
// storm's time per join; presence-events/member the Presence events each
// member from before the storm received per storm, for its N arrivals and
// N departures: the figure that was 2N (a notice per join and per leave)
// before presence was coalesced.
func BenchmarkHub_JoinStorm(b *testing.B) {
	for _, n := range []int{200, 1000} {
		b.Run(fmt.Sprint("joins=", n), func(b *testing.B) {
			h := New(Config{Store: newHub(b, Config{}).cfg.Store, PresenceGrace: time.Hour})
			b.Cleanup(h.Close)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var got atomic.Int64 // Presence events to the members from before
			for i := range n {
				c := NewClient(64 << 20)
				if err := h.Join(ctx, c, event.DefaultRoom, Identity{User: fmt.Sprint("m", i), Name: fmt.Sprint("m", i)}, 0); err != nil {
					b.Fatal(err)
				}
				go countPresence(ctx, c, &got)
			}
			r, err := h.room(ctx, event.DefaultRoom)
			if err != nil {
				b.Fatal(err)
			}
			settled := func() {
				for {
					r.mu.Lock()
					left := len(r.touched)
					r.mu.Unlock()
					if left == 0 {
						return
					}
					time.Sleep(time.Millisecond) // the tick's end
				}
			}
			settled()
			got.Store(0)
			var storm time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				b.StartTimer()
				start := time.Now()
				clients := make([]*Client, n)
				var wg sync.WaitGroup
				for j := range clients {
					c := NewClient(64 << 20)
					clients[j] = c
					go discard(ctx, c)
					user := fmt.Sprintf("u%d-%d", i, j)
					wg.Go(func() {
						if err := h.Join(ctx, c, event.DefaultRoom, Identity{User: user, Name: user}, 0); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
				storm += time.Since(start)
				b.StopTimer()
				settled()
				for _, c := range clients {
					if err := h.LeaveRoom(c, ""); err != nil {
						b.Fatal(err)
					}
					c.Close()
				}
				settled()
			}
			b.StopTimer()
			// The members' writers count what was sent, at their pace.
			for last := int64(-1); got.Load() != last; time.Sleep(50 * time.Millisecond) {
				last = got.Load()
			}
			b.ReportMetric(float64(storm.Nanoseconds())/float64(n*b.N), "ns/join")
			b.ReportMetric(float64(got.Load())/float64(n*b.N), "presence-events/member")
		})
	}
}
