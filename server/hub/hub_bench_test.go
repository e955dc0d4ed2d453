package hub

import (
	"context"
	"fmt"
	"testing"

	"github.com/chatwasm/chat/app/event"
)

// BenchmarkHub_Publish measures one message fanned out to a room of N
// members, each with a writer goroutine draining its queue as a connection
// would (without the socket). deliveries/s counts one message reaching one
// member.
func BenchmarkHub_Publish(b *testing.B) {
	for _, members := range []int{10, 100, 1000} {
		b.Run(fmt.Sprint("members=", members), func(b *testing.B) {
			h := New()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var sender *Client
			for i := range members {
				c := join(b, h, fmt.Sprint("u", i), 0)
				if i == 0 {
					sender = c
				}
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
			s := event.Send{Text: "hello, how is everyone doing today?"}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := h.Publish(sender, s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*members)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}
