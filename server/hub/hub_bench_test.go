package hub

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/chatwasm/chat/app/event"
)

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
				go func() {
					buf := make([]byte, 0, event.MaxServerFrameBytes)
					for {
						var err error
						if buf, err = c.Next(ctx, buf[:0]); err != nil {
							return
						}
					}
				}()
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
