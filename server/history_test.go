package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server"
	"github.com/chatwasm/chat/server/store"
)

// seedRoom stores n messages in the lobby of a data directory before a
// server opens it, the i-th (from 1) with text(i), and applies retention as
// a running server would. It returns the directory.
func seedRoom(t *testing.T, opts store.Options, n int, text func(i int) string) string {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]store.Pending, n)
	for i := range batch {
		batch[i] = store.Pending{ID: fmt.Sprint("s", i+1), User: "seed-user", Name: "seed", Text: text(i + 1), Time: time.Now().UnixMilli()}
	}
	if _, err := st.Append(context.Background(), event.DefaultRoom, batch); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Prune(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// seedText is the text of the i-th seeded message.
func seedText(i int) string { return fmt.Sprint("message ", i) }

// page asks for the history before before, waiting retry_after when the
// request is rate-limited as a client would, and returns the answer.
func (p *peer) page(t *testing.T, ctx context.Context, before uint64, limit int) event.History {
	t.Helper()
	for {
		p.sendEvent(t, ctx, event.HistoryRequest{Before: before, Limit: limit})
		switch e := p.next(t, ctx).(type) {
		case event.History:
			if e.Room != event.DefaultRoom || e.Before != before {
				t.Fatalf("%s: asked before %d, got the page %#v", p.name, before, e)
			}
			return e
		case event.Error:
			if e.Code != event.CodeRateLimited || e.RetryAfter <= 0 {
				t.Fatalf("%s: history before %d refused: %#v", p.name, before, e)
			}
			select {
			case <-time.After(time.Duration(e.RetryAfter) * time.Millisecond):
			case <-ctx.Done():
				t.Fatalf("%s: %v", p.name, ctx.Err())
			}
		default:
			t.Fatalf("%s: got %#v, want the history before %d", p.name, e, before)
		}
	}
}

// pageAll pages the lobby from before down to its first retained message,
// checking that each page is oldest first, ends right below where the one
// before began, and that only the last is complete: together they hold
// every seq below before once. It returns the seqs in the order they were
// received and the last page.
func (p *peer) pageAll(t *testing.T, ctx context.Context, before uint64, limit int) ([]uint64, event.History) {
	t.Helper()
	var seqs []uint64
	for {
		h := p.page(t, ctx, before, limit)
		for i, m := range h.Messages {
			if want := before - uint64(len(h.Messages)-i); m.Seq != want {
				t.Fatalf("page before %d: message %d has seq %d, want %d", before, i, m.Seq, want)
			}
			if m.Text != seedText(int(m.Seq)) || m.Name != "seed" || m.Room != event.DefaultRoom {
				t.Fatalf("page before %d: %#v is not the stored message", before, m)
			}
			seqs = append(seqs, m.Seq)
		}
		if h.Complete {
			return seqs, h
		}
		if len(h.Messages) == 0 {
			t.Fatalf("page before %d: empty, yet not complete", before)
		}
		before = h.Messages[0].Seq
	}
}

// TestHistoryPaging proves that a room of 1,000 messages pages from the
// newest down to seq 1 with no gap and no repeat at the page boundaries,
// pages of event.MaxHistoryLimit by default, the last one complete and not
// pruned; and that a page below seq 1 is empty and complete.
func TestHistoryPaging(t *testing.T) {
	t.Parallel()
	const n = 1000
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{DataDir: seedRoom(t, store.Options{}, n, seedText)})
	p := dial(t, ctx, wsURL, "ann", nil)
	j := p.join(t, ctx, "ann") // the newest 100 come with it
	if j.Seq != n {
		t.Fatalf("joined at seq %d, want %d", j.Seq, n)
	}
	first := p.page(t, ctx, j.Seq+1-100, 0)
	if len(first.Messages) != event.MaxHistoryLimit || first.Complete {
		t.Fatalf("the first page: %d messages, complete %v; want %d, not complete", len(first.Messages), first.Complete, event.MaxHistoryLimit)
	}
	seqs, last := p.pageAll(t, ctx, j.Seq+1-100, 0)
	if len(seqs) != n-100 || slices.Min(seqs) != 1 {
		t.Fatalf("paged %d messages down to %d, want %d down to 1", len(seqs), slices.Min(seqs), n-100)
	}
	if last.Pruned {
		t.Fatal("the last page says pruned, with every message kept")
	}
	if h := p.page(t, ctx, 1, 0); len(h.Messages) != 0 || !h.Complete || h.Pruned {
		t.Fatalf("before seq 1: %#v, want empty and complete", h)
	}

	// A smaller page, and a before past the room's end (the room's end).
	if h := p.page(t, ctx, 1<<64-1, 7); len(h.Messages) != 7 || h.Messages[6].Seq != n || h.Complete {
		t.Fatalf("the 7 newest: %#v", h)
	}
}

// TestHistoryPruned proves that when retention deleted the oldest messages,
// the last page is complete and pruned, and so is a page below what is kept.
func TestHistoryPruned(t *testing.T) {
	t.Parallel()
	const n, kept = 200, 30
	ctx := testContext(t)
	retain := store.Options{MaxMessages: kept}
	wsURL, _ := startServer(t, server.Config{DataDir: seedRoom(t, retain, n, seedText), Retention: retain})
	p := dial(t, ctx, wsURL, "ann", nil)
	j := p.join(t, ctx, "ann") // the 30 kept come with it
	seqs, last := p.pageAll(t, ctx, j.Seq+1, 12)
	if len(seqs) != kept || slices.Min(seqs) != n-kept+1 || !last.Pruned {
		t.Fatalf("paged %d messages down to %d, pruned %v; want %d down to %d, pruned", len(seqs), slices.Min(seqs), last.Pruned, kept, n-kept+1)
	}
	if h := p.page(t, ctx, 50, 0); len(h.Messages) != 0 || !h.Complete || !h.Pruned {
		t.Fatalf("below what is kept: %#v, want empty, complete and pruned", h)
	}
}

// TestHistoryFitsAFrame proves that a page of large messages is cut to fit
// in one server frame (the peer's read limit is event.MaxServerFrameBytes,
// so a larger frame fails the read), not complete, and that asking again
// from its oldest message gets the rest without a gap.
func TestHistoryFitsAFrame(t *testing.T) {
	t.Parallel()
	const n = 60
	// The largest messages in UTF-8: 2000 characters of 4 bytes, about 8 KB.
	big := func(i int) string {
		return seedText(i) + " " + strings.Repeat("😀", event.MaxTextLen-len(seedText(i))-1)
	}
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{DataDir: seedRoom(t, store.Options{}, n, big)})
	p := dial(t, ctx, wsURL, "ann", nil)
	p.sendEvent(t, ctx, event.Join{Name: "ann"})
	j := expect[event.Joined](t, ctx, p)
	for range n { // the whole room comes as its recent history
		expect[event.Message](t, ctx, p)
	}
	before := j.Seq + 1
	var seqs []uint64
	for {
		h := p.page(t, ctx, before, 0)
		b, err := event.Encode(h)
		if err != nil || len(b) > event.MaxServerFrameBytes {
			t.Fatalf("a page of %d bytes (%v)", len(b), err)
		}
		if len(h.Messages) >= event.MaxHistoryLimit || len(h.Messages) == 0 {
			t.Fatalf("a page of %d large messages, want it cut to fit a frame", len(h.Messages))
		}
		for i, m := range h.Messages {
			if m.Seq != before-uint64(len(h.Messages)-i) || m.Text != big(int(m.Seq)) {
				t.Fatalf("page before %d: message %d is seq %d", before, i, m.Seq)
			}
			seqs = append(seqs, m.Seq)
		}
		if h.Complete {
			break
		}
		before = h.Messages[0].Seq
	}
	if len(seqs) != n || slices.Min(seqs) != 1 {
		t.Fatalf("paged %d messages down to %d, want %d down to 1", len(seqs), slices.Min(seqs), n)
	}
}

// TestHistoryRateLimit proves that history requests beyond the
// per-connection burst are refused with rate_limited and a retry_after,
// which is not a protocol error (16 invalid frames after it do not close
// the connection), and that a request after retry_after is answered.
func TestHistoryRateLimit(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{DataDir: seedRoom(t, store.Options{}, 5, seedText)})
	p := dial(t, ctx, wsURL, "ann", nil)
	p.join(t, ctx, "ann")
	// Far past the burst: however slowly this machine sends them, the
	// bucket (refilled at 5 a second) cannot keep up with all of them.
	const burst, sent = 10, 30
	start := time.Now()
	for range sent {
		p.sendEvent(t, ctx, event.HistoryRequest{Before: 6})
	}
	pages, refused := 0, 0
	for range sent {
		switch e := p.next(t, ctx).(type) {
		case event.History:
			if len(e.Messages) != 5 {
				t.Fatalf("a page of %d messages, want 5", len(e.Messages))
			}
			pages++
		case event.Error:
			if e.Code != event.CodeRateLimited || e.RetryAfter <= 0 || e.RetryAfter > 1000 {
				t.Fatalf("a request past the burst: %#v, want rate_limited with retry_after up to 1 s", e)
			}
			refused++
		default:
			t.Fatalf("got %#v, want a history page or a refusal", e)
		}
	}
	allowed := burst + int(time.Since(start).Seconds()*5) + 1
	t.Logf("%d history requests at once: %d pages, %d refused (the bucket allows %d)", sent, pages, refused, allowed)
	if pages < burst || refused == 0 || pages > allowed {
		t.Fatalf("%d pages and %d refusals for %d requests; want at least %d pages, at most %d, and a refusal", pages, refused, sent, burst, allowed)
	}
	for range event.MaxProtocolErrors {
		p.send(t, ctx, `{"type":"history","before":0}`)
	}
	for range event.MaxProtocolErrors {
		expectError(t, ctx, p, event.CodeBadFrame, "")
	}
	if h := p.page(t, ctx, 6, 2); len(h.Messages) != 2 || h.Messages[1].Seq != 5 {
		t.Fatalf("after the refusals: %#v, want messages 4 and 5", h)
	}
}

// TestHistoryRefused proves that a history request before a join, for
// another room, or with a before or limit out of range is refused with a
// clear error, and the connection stays usable.
func TestHistoryRefused(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{DataDir: seedRoom(t, store.Options{}, 3, seedText)})
	p := dial(t, ctx, wsURL, "ann", nil)
	p.send(t, ctx, `{"type":"history","before":4}`)
	expectError(t, ctx, p, event.CodeNotJoined, "")
	p.join(t, ctx, "ann")
	tests := []struct {
		frame string
		code  event.Code
		msg   string
	}{
		{`{"type":"history","before":4,"room":"elsewhere"}`, event.CodeNotJoined, event.ErrNotInRoom.Error()},
		{`{"type":"history","before":0}`, event.CodeBadFrame, event.ErrBeforeInvalid.Error()},
		{`{"type":"history"}`, event.CodeMissingField, `missing field: history needs "before"`},
		{`{"type":"history","before":4,"limit":51}`, event.CodeBadFrame, event.ErrLimitInvalid.Error()},
		{`{"type":"history","before":4,"limit":-1}`, event.CodeBadFrame, event.ErrLimitInvalid.Error()},
	}
	for _, tt := range tests {
		p.send(t, ctx, tt.frame)
		if e := expect[event.Error](t, ctx, p); e.Code != tt.code || e.Message != tt.msg {
			t.Fatalf("%s: refused with %#v, want %s %q", tt.frame, e, tt.code, tt.msg)
		}
	}
	if h := p.page(t, ctx, 4, 0); len(h.Messages) != 3 || !h.Complete || h.Pruned {
		t.Fatalf("after the refusals: %#v, want the 3 messages, complete", h)
	}
}
