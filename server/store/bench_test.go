package store

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkStore_Append measures stored messages per second for a few batch
// sizes. Each batch is one transaction and one fsync, so the figure grows with
// the batch size until inserting, not syncing, is the cost: that is group
// commit. Every message has a client id, so the deduplication index is paid
// for too.
func BenchmarkStore_Append(b *testing.B) {
	for _, size := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			text := "a typical chat line, about as long as this one is, say eighty."
			batch := make([]Pending, size)
			batches := 0
			for b.Loop() {
				for i := range batch {
					batch[i] = Pending{ID: fmt.Sprintf("%d.%d", batches, i), User: "ann", Name: "Ann", Text: text, Time: 1000}
				}
				if _, err := s.Append(ctx, "lobby", batch); err != nil {
					b.Fatal(err)
				}
				batches++
			}
			b.ReportMetric(float64(batches*size)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(batches*size), "µs/msg")
		})
	}
}
