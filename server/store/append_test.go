package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
)

// TestAppend_NumbersSurviveReopen checks that numbers start at 1, follow the
// batch order, and continue after a restart without reuse.
func TestAppend_NumbersSurviveReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := add(t, s, "lobby", msg("ann", "a1", "one"), msg("bob", "b1", "two"), msg("ann", "a2", "three"))
	want := []event.Message{
		{Room: "lobby", Seq: 1, ID: "a1", User: "ann", Name: "name-ann", Text: "one", Time: 1000},
		{Room: "lobby", Seq: 2, ID: "b1", User: "bob", Name: "name-bob", Text: "two", Time: 1000},
		{Room: "lobby", Seq: 3, ID: "a2", User: "ann", Name: "name-ann", Text: "three", Time: 1000},
	}
	for i, r := range res {
		if r.Duplicate || r.Message != want[i] {
			t.Errorf("result %d = %+v, want %+v", i, r, Result{Message: want[i]})
		}
	}
	add(t, s, "other", msg("cid", "", "elsewhere"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir, Options{})
	if got := lastSeqOf(t, s, "lobby"); got != 3 {
		t.Fatalf("LastSeq after reopen = %d, want 3", got)
	}
	res = add(t, s, "lobby", msg("ann", "a3", "four"))
	if got := res[0].Message.Seq; got != 4 {
		t.Errorf("first seq after reopen = %d, want 4", got)
	}
	res = add(t, s, "other", msg("cid", "", "again"))
	if got := res[0].Message.Seq; got != 2 {
		t.Errorf("other room's seq after reopen = %d, want 2", got)
	}
	got, complete, err := s.After(context.Background(), "lobby", 0, 10)
	if err != nil || !complete {
		t.Fatalf("After: complete %v, err %v", complete, err)
	}
	if !reflect.DeepEqual(got[:3], want) {
		t.Errorf("stored %+v, want %+v first", got, want)
	}
}

// TestAppend_NumbersSurvivePruningEverything checks that a room whose every
// message was deleted by retention still continues its numbering, across a
// restart too.
func TestAppend_NumbersSurvivePruningEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := Options{MaxAge: time.Hour}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	add(t, s, "lobby", msg("ann", "1", "a"), msg("ann", "2", "b"), msg("ann", "3", "c"))
	n, err := s.Prune(context.Background(), time.UnixMilli(1000).Add(2*time.Hour))
	if err != nil || n != 3 {
		t.Fatalf("Prune = %d, %v; want 3 deleted", n, err)
	}
	if got := lastSeqOf(t, s, "lobby"); got != 3 {
		t.Errorf("LastSeq after pruning everything = %d, want 3", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir, opts)
	if got := lastSeqOf(t, s, "lobby"); got != 3 {
		t.Errorf("LastSeq after reopen = %d, want 3", got)
	}
	// The client id "1" outlives its message: a resend is still the
	// original, whose text is gone; a new id takes the next number.
	res := add(t, s, "lobby", msg("ann", "1", "d"), msg("ann", "4", "e"))
	want := Result{Message: event.Message{Room: "lobby", Seq: 1, ID: "1", User: "ann", Time: 1000}, Duplicate: true}
	if res[0] != want {
		t.Errorf("resend after prune and reopen = %+v, want %+v", res[0], want)
	}
	if r := res[1]; r.Duplicate || r.Message.Seq != 4 {
		t.Errorf("new message after prune and reopen = %+v, want a new message 4", r)
	}
}

// TestAppend_Dedup checks which repeated client ids are duplicates.
func TestAppend_Dedup(t *testing.T) {
	t.Parallel()
	// want describes one Result: the sequence number and text of the
	// message it holds, and whether it is a duplicate.
	type want struct {
		seq  uint64
		text string
		dup  bool
	}
	type step struct {
		room  string
		batch []Pending
		want  []want
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"retry in a later batch returns the original", []step{
			{"lobby", []Pending{msg("ann", "x", "first")}, []want{{1, "first", false}}},
			{"lobby", []Pending{msg("bob", "y", "other")}, []want{{2, "other", false}}},
			{"lobby", []Pending{msg("ann", "x", "retried"), msg("ann", "z", "next")}, []want{{1, "first", true}, {3, "next", false}}},
		}},
		{"same id from another user is new", []step{
			{"lobby", []Pending{msg("ann", "x", "ann's")}, []want{{1, "ann's", false}}},
			{"lobby", []Pending{msg("bob", "x", "bob's")}, []want{{2, "bob's", false}}},
		}},
		{"same id in another room is new", []step{
			{"a", []Pending{msg("ann", "x", "in a")}, []want{{1, "in a", false}}},
			{"b", []Pending{msg("ann", "x", "in b")}, []want{{1, "in b", false}}},
		}},
		{"repeat within one batch", []step{
			{"lobby", []Pending{msg("ann", "x", "one"), msg("ann", "x", "two"), msg("bob", "x", "three"), msg("ann", "x", "four")},
				[]want{{1, "one", false}, {1, "one", true}, {2, "three", false}, {1, "one", true}}},
			{"lobby", []Pending{msg("ann", "y", "five")}, []want{{3, "five", false}}},
		}},
		{"batch of only duplicates uses no number", []step{
			{"lobby", []Pending{msg("ann", "x", "one")}, []want{{1, "one", false}}},
			{"lobby", []Pending{msg("ann", "x", "again"), msg("ann", "x", "and again")}, []want{{1, "one", true}, {1, "one", true}}},
			{"lobby", []Pending{msg("ann", "", "no id")}, []want{{2, "no id", false}}},
		}},
		{"empty id is never a duplicate", []step{
			{"lobby", []Pending{msg("ann", "", "a"), msg("ann", "", "a")}, []want{{1, "a", false}, {2, "a", false}}},
			{"lobby", []Pending{msg("ann", "", "a")}, []want{{3, "a", false}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t, t.TempDir(), Options{})
			for i, st := range tt.steps {
				res := add(t, s, st.room, st.batch...)
				for j, r := range res {
					w := st.want[j]
					if r.Message.Seq != w.seq || r.Message.Text != w.text || r.Duplicate != w.dup ||
						r.Message.Room != st.room || r.Message.User != st.batch[j].User || r.Message.ID != st.batch[j].ID {
						t.Errorf("step %d, message %d: got %+v, want seq %d text %q duplicate %v", i, j, r, w.seq, w.text, w.dup)
					}
				}
			}
		})
	}
}

// TestAppend_Refused checks the arguments Append refuses or ignores, and that
// a refused or failed Append stores nothing.
func TestAppend_Refused(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir(), Options{})
	ctx := context.Background()

	if _, err := s.Append(ctx, "", []Pending{msg("ann", "", "x")}); !errors.Is(err, ErrInvalidRoom) {
		t.Errorf("Append to \"\": %v, want ErrInvalidRoom", err)
	}
	if res, err := s.Append(ctx, "lobby", nil); err != nil || res != nil {
		t.Errorf("Append of nothing = %v, %v; want nil, nil", res, err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Append(canceled, "lobby", []Pending{msg("ann", "", "x")}); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a canceled context: %v, want context.Canceled", err)
	}
	if got := lastSeqOf(t, s, "lobby"); got != 0 {
		t.Errorf("LastSeq after refused Appends = %d, want 0", got)
	}
	if res := add(t, s, "lobby", msg("ann", "", "x")); res[0].Message.Seq != 1 {
		t.Errorf("first stored message has seq %d, want 1", res[0].Message.Seq)
	}
}

// TestAppend_Concurrent appends from many goroutines to a few rooms at once
// and checks that each room's numbers are unique and contiguous, that each
// writer sees its own messages in the order it sent them, and that what was
// returned is what was stored.
func TestAppend_Concurrent(t *testing.T) {
	t.Parallel()
	const (
		writers = 12
		rooms   = 3
		appends = 15 // per writer
	)
	s := open(t, t.TempDir(), Options{})
	ctx := context.Background()

	var mu sync.Mutex
	got := make(map[string][]event.Message) // room → every returned message
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			user := fmt.Sprintf("user%d", w)
			lastSeen := make(map[string]uint64)
			for i := range appends {
				room := fmt.Sprintf("room%d", (w+i)%rooms)
				batch := make([]Pending, 1+(w+i)%4)
				for j := range batch {
					batch[j] = msg(user, fmt.Sprintf("%d.%d", i, j), fmt.Sprintf("%s %d.%d", user, i, j))
				}
				res, err := s.Append(ctx, room, batch)
				if err != nil {
					t.Errorf("%s: Append: %v", user, err)
					return
				}
				mu.Lock()
				for _, r := range res {
					if r.Duplicate {
						t.Errorf("%s: unexpected duplicate %+v", user, r)
					}
					if r.Message.Seq <= lastSeen[room] {
						t.Errorf("%s: seq %d in %s after %d", user, r.Message.Seq, room, lastSeen[room])
					}
					lastSeen[room] = r.Message.Seq
					got[room] = append(got[room], r.Message)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	total := 0
	for room, msgs := range got {
		slices.SortFunc(msgs, func(a, b event.Message) int { return int(a.Seq) - int(b.Seq) })
		if seqs := seqsOf(msgs); !slices.Equal(seqs, span(1, uint64(len(msgs)))) {
			t.Errorf("%s: returned seqs %v, want 1..%d", room, seqs, len(msgs))
		}
		stored, complete, err := s.After(ctx, room, 0, MaxReadLimit)
		if err != nil || !complete {
			t.Fatalf("%s: After: complete %v, err %v", room, complete, err)
		}
		if !reflect.DeepEqual(stored, msgs) {
			t.Errorf("%s: stored messages differ from returned ones", room)
		}
		if last := lastSeqOf(t, s, room); last != uint64(len(msgs)) {
			t.Errorf("%s: LastSeq %d, want %d", room, last, len(msgs))
		}
		total += len(msgs)
	}
	want := 0
	for w := range writers {
		for i := range appends {
			want += 1 + (w+i)%4
		}
	}
	if total != want {
		t.Errorf("%d messages stored, want %d", total, want)
	}
}

// TestAppend_FailedBatchStoresNothing makes the second message of a batch
// fail, after the first was inserted, and checks that the whole batch was
// rolled back. The failure is a clash on (room, seq), made by winding the
// room's last number back by hand: Append must report it, not skip it.
func TestAppend_FailedBatchStoresNothing(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir(), Options{MaxMessages: 2})
	ctx := context.Background()
	add(t, s, "lobby", msg("ann", "1", "one"), msg("ann", "2", "two"), msg("ann", "3", "three"))
	if n, err := s.Prune(ctx, time.UnixMilli(1000)); err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1", n, err)
	}
	// Stored: 2 and 3. With last_seq 0 the batch gets 1 (free) and 2 (taken).
	if _, err := s.db.ExecContext(ctx, "UPDATE rooms SET last_seq = 0 WHERE name = 'lobby'"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Append(ctx, "lobby", []Pending{msg("bob", "x", "fits"), msg("bob", "y", "clashes"), msg("bob", "z", "never tried")})
	if err == nil {
		t.Fatal("Append over a clashing seq succeeded")
	}
	msgs, _, err := s.Before(ctx, "lobby", 100, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqsOf(msgs); !slices.Equal(got, []uint64{2, 3}) || msgs[0].Text != "two" {
		t.Errorf("after the failed Append the room holds %+v, want 2 and 3 as before", msgs)
	}
	if got := lastSeqOf(t, s, "lobby"); got != 0 {
		t.Errorf("LastSeq after the failed Append = %d, want 0 (untouched)", got)
	}
}
