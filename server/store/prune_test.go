package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestPrune checks retention by count, by age and by both, over two rooms.
func TestPrune(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) int64 { return now.Add(-d).UnixMilli() }
	// at is a message written d before now.
	at := func(d time.Duration) Pending {
		return Pending{User: "ann", Name: "Ann", Text: "x", Time: ago(d)}
	}
	// Room a: seqs 1..6, the first three older than an hour.
	roomA := []Pending{at(3 * time.Hour), at(2 * time.Hour), at(61 * time.Minute), at(30 * time.Minute), at(time.Minute), at(0)}
	// Room b: seqs 1..4, made while the clock jumped back: 3 looks old.
	roomB := []Pending{at(2 * time.Hour), at(10 * time.Minute), at(5 * time.Hour), at(0)}

	tests := []struct {
		name    string
		opts    Options
		deleted int
		keptA   []uint64
		keptB   []uint64
	}{
		{"default keeps everything this small", Options{}, 0, span(1, 6), span(1, 4)},
		{"unlimited", Options{MaxMessages: -1}, 0, span(1, 6), span(1, 4)},
		{"by count", Options{MaxMessages: 3}, 3 + 1, span(4, 6), span(2, 4)},
		{"by count, keep one", Options{MaxMessages: 1}, 5 + 3, span(6, 6), span(4, 4)},
		{"by age", Options{MaxMessages: -1, MaxAge: time.Hour}, 3 + 1, span(4, 6), span(2, 4)},
		{"by age, edge is kept", Options{MaxMessages: -1, MaxAge: 61 * time.Minute}, 2 + 1, span(3, 6), span(2, 4)},
		{"by age, everything old", Options{MaxMessages: -1, MaxAge: time.Nanosecond}, 5 + 3, span(6, 6), span(4, 4)},
		// In b, count leaves 3 and 4, and 3 looks old: age deletes it.
		{"by count and age, count stricter", Options{MaxMessages: 2, MaxAge: time.Hour}, 4 + 3, span(5, 6), span(4, 4)},
		{"by count and age, age stricter", Options{MaxMessages: 5, MaxAge: time.Hour}, 3 + 1, span(4, 6), span(2, 4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t, t.TempDir(), tt.opts)
			add(t, s, "a", roomA...)
			add(t, s, "b", roomB...)
			ctx := context.Background()
			n, err := s.Prune(ctx, now)
			if err != nil || n != tt.deleted {
				t.Errorf("Prune = %d, %v; want %d deleted", n, err, tt.deleted)
			}
			for room, want := range map[string][]uint64{"a": tt.keptA, "b": tt.keptB} {
				msgs, _, err := s.After(ctx, room, 0, 100)
				if err != nil {
					t.Fatal(err)
				}
				if got := seqsOf(msgs); !slices.Equal(got, want) {
					t.Errorf("room %s keeps %v, want %v", room, got, want)
				}
			}
			if n, err := s.Prune(ctx, now); err != nil || n != 0 {
				t.Errorf("second Prune = %d, %v; want nothing deleted", n, err)
			}
			if a, b := lastSeqOf(t, s, "a"), lastSeqOf(t, s, "b"); a != 6 || b != 4 {
				t.Errorf("LastSeq after Prune: a %d, b %d; want 6 and 4", a, b)
			}
		})
	}
}

// TestPrune_Chunks checks the default retention on a room larger than it,
// which Prune deletes over several transactions, while Appends go on.
func TestPrune_Chunks(t *testing.T) {
	t.Parallel()
	const extra = 2*PruneChunk + 10
	s := open(t, t.TempDir(), Options{})
	batch := make([]Pending, DefaultMaxMessages+extra)
	for i := range batch {
		batch[i] = msg("ann", fmt.Sprint(i), "x")
	}
	add(t, s, "lobby", batch...)

	ctx := context.Background()
	done := make(chan error, 1)
	go func() {
		for i := range 20 {
			if _, err := s.Append(ctx, "lobby", []Pending{msg("bob", fmt.Sprint(i), "during prune")}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	n, err := s.Prune(ctx, time.Now())
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Append during Prune: %v", err)
	}
	// Prune measured the room when it started: between 0 and 20 of the
	// Appends made meanwhile were seen; the rest wait for the next Prune.
	if n < extra || n > extra+20 {
		t.Errorf("Prune deleted %d, want %d to %d", n, extra, extra+20)
	}
	if more, err := s.Prune(ctx, time.Now()); err != nil || n+more != extra+20 {
		t.Errorf("second Prune = %d, %v; want %d in all", more, err, extra+20)
	}
	msgs, complete, err := s.After(ctx, "lobby", 0, 1)
	if err != nil || complete || len(msgs) != 1 || msgs[0].Seq != extra+21 {
		t.Errorf("oldest kept: %+v, complete %v, err %v; want seq %d, incomplete", msgs, complete, err, extra+21)
	}
}
