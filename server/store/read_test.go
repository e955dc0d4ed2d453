package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
)

// filled returns a store whose room "lobby" holds messages 1..n, with
// retention opts, after Prune (at a time that deletes nothing by age) has
// applied opts.MaxMessages.
func filled(t *testing.T, n int, opts Options) *Store {
	t.Helper()
	s := open(t, t.TempDir(), opts)
	batch := make([]Pending, n)
	for i := range batch {
		batch[i] = msg("ann", fmt.Sprint(i+1), fmt.Sprintf("message %d", i+1))
	}
	add(t, s, "lobby", batch...)
	if _, err := s.Prune(context.Background(), time.UnixMilli(1000)); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	return s
}

// TestAfter checks order, limits and the complete flag, with and without
// pruned history.
func TestAfter(t *testing.T) {
	t.Parallel()
	full := filled(t, 10, Options{})
	pruned := filled(t, 10, Options{MaxMessages: 5}) // holds 6..10
	empty := filled(t, 3, Options{MaxAge: time.Millisecond})
	if _, err := empty.Prune(context.Background(), time.UnixMilli(5000)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		s            *Store
		room         string
		since        uint64
		limit        int
		want         []uint64
		wantComplete bool
	}{
		{"everything", full, "lobby", 0, 100, span(1, 10), true},
		{"limited", full, "lobby", 0, 4, span(1, 4), true},
		{"middle page", full, "lobby", 3, 4, span(4, 7), true},
		{"tail", full, "lobby", 8, 100, span(9, 10), true},
		{"caught up", full, "lobby", 10, 100, nil, true},
		{"ahead of the room", full, "lobby", 11, 100, nil, true},
		{"far ahead", full, "lobby", math.MaxUint64, 100, nil, true},
		{"unknown room", full, "nowhere", 0, 100, nil, true},
		{"pruned: from the start", pruned, "lobby", 0, 100, span(6, 10), false},
		{"pruned: just before the gap", pruned, "lobby", 4, 100, span(6, 10), false},
		{"pruned: right at the gap", pruned, "lobby", 5, 100, span(6, 10), true},
		{"pruned: after the gap", pruned, "lobby", 7, 2, span(8, 9), true},
		{"pruned: caught up", pruned, "lobby", 10, 100, nil, true},
		{"all pruned: from the start", empty, "lobby", 0, 100, nil, false},
		{"all pruned: partly seen", empty, "lobby", 2, 100, nil, false},
		{"all pruned: caught up", empty, "lobby", 3, 100, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			msgs, complete, err := tt.s.After(context.Background(), tt.room, tt.since, tt.limit)
			if err != nil {
				t.Fatalf("After: %v", err)
			}
			if got := seqsOf(msgs); !slices.Equal(got, tt.want) || complete != tt.wantComplete {
				t.Errorf("After(%s, %d, %d) = %v, complete %v; want %v, complete %v",
					tt.room, tt.since, tt.limit, got, complete, tt.want, tt.wantComplete)
			}
			for _, m := range msgs {
				if m.Room != tt.room || m.Text != fmt.Sprintf("message %d", m.Seq) || m.ID != fmt.Sprint(m.Seq) || m.User != "ann" || m.Name != "name-ann" || m.Time != 1000 {
					t.Errorf("message %d read back as %+v", m.Seq, m)
				}
			}
		})
	}
}

// TestLastAndBefore checks order, limits and the more flag, with and without
// pruned history.
func TestLastAndBefore(t *testing.T) {
	t.Parallel()
	full := filled(t, 10, Options{})
	pruned := filled(t, 10, Options{MaxMessages: 5}) // holds 6..10
	tests := []struct {
		name     string
		s        *Store
		room     string
		before   uint64 // 0: call Last
		limit    int
		want     []uint64
		wantMore bool
	}{
		{"last few", full, "lobby", 0, 3, span(8, 10), true},
		{"last all", full, "lobby", 0, 10, span(1, 10), false},
		{"last more than all", full, "lobby", 0, 50, span(1, 10), false},
		{"last of unknown room", full, "nowhere", 0, 5, nil, false},
		{"last few after pruning", pruned, "lobby", 0, 3, span(8, 10), true},
		{"last all after pruning", pruned, "lobby", 0, 5, span(6, 10), false},
		{"last more than kept", pruned, "lobby", 0, 8, span(6, 10), false},
		{"before, older exist", full, "lobby", 5, 2, span(3, 4), true},
		{"before, reaching the start", full, "lobby", 3, 5, span(1, 2), false},
		{"before the first", full, "lobby", 1, 5, nil, false},
		{"before beyond the end", full, "lobby", 100, 2, span(9, 10), true},
		{"before, reaching the pruned start", pruned, "lobby", 8, 5, span(6, 7), false},
		{"before the pruned start", pruned, "lobby", 6, 5, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var (
				msgs []event.Message
				more bool
				err  error
			)
			if tt.before == 0 {
				msgs, more, err = tt.s.Last(ctx, tt.room, tt.limit)
			} else {
				msgs, more, err = tt.s.Before(ctx, tt.room, tt.before, tt.limit)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := seqsOf(msgs); !slices.Equal(got, tt.want) || more != tt.wantMore {
				t.Errorf("got %v, more %v; want %v, more %v", got, more, tt.want, tt.wantMore)
			}
			for _, m := range msgs {
				if m.Room != tt.room || m.Text != fmt.Sprintf("message %d", m.Seq) {
					t.Errorf("message %d read back as %+v", m.Seq, m)
				}
			}
		})
	}
}

// TestRead_Limits checks that a too large limit is lowered to MaxReadLimit
// and that invalid arguments are refused.
func TestRead_Limits(t *testing.T) {
	t.Parallel()
	s := filled(t, MaxReadLimit+5, Options{})
	ctx := context.Background()

	msgs, complete, err := s.After(ctx, "lobby", 0, MaxReadLimit*3)
	if err != nil || !complete || !slices.Equal(seqsOf(msgs), span(1, MaxReadLimit)) {
		t.Errorf("After with a large limit: %d messages, complete %v, err %v; want 1..%d", len(msgs), complete, err, MaxReadLimit)
	}
	msgs, more, err := s.Last(ctx, "lobby", math.MaxInt)
	if err != nil || !more || !slices.Equal(seqsOf(msgs), span(6, MaxReadLimit+5)) {
		t.Errorf("Last with a large limit: %d messages, more %v, err %v; want 6..%d", len(msgs), more, err, MaxReadLimit+5)
	}

	for _, tt := range []struct {
		name string
		call func() error
		want error
	}{
		{"After limit 0", func() error { _, _, err := s.After(ctx, "lobby", 0, 0); return err }, ErrInvalidLimit},
		{"Last limit -1", func() error { _, _, err := s.Last(ctx, "lobby", -1); return err }, ErrInvalidLimit},
		{"Before limit 0", func() error { _, _, err := s.Before(ctx, "lobby", 5, 0); return err }, ErrInvalidLimit},
		{"After empty room", func() error { _, _, err := s.After(ctx, "", 0, 1); return err }, ErrInvalidRoom},
		{"Last empty room", func() error { _, _, err := s.Last(ctx, "", 1); return err }, ErrInvalidRoom},
		{"Before empty room", func() error { _, _, err := s.Before(ctx, "", 5, 1); return err }, ErrInvalidRoom},
		{"LastSeq empty room", func() error { _, err := s.LastSeq(ctx, ""); return err }, ErrInvalidRoom},
	} {
		if err := tt.call(); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}
