package e2e

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	chatclient "github.com/chatwasm/chat/app/client"
	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server"
	"github.com/chatwasm/chat/server/servertest"
)

// recorder keeps every event a Session reports.
type recorder struct {
	mu     sync.Mutex
	events []event.Event
}

func (r *recorder) update(u chatclient.Update) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, u.Events...)
}

// all returns the events of type E reported so far.
func all[E event.Event](r *recorder) []E {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []E
	for _, e := range r.events {
		if e, ok := e.(E); ok {
			out = append(out, e)
		}
	}
	return out
}

// startRecorded runs a Session that joins under name and records what it
// reports, until the test ends; it returns once the Session has joined.
func startRecorded(t *testing.T, pageURL, name string) (*chatclient.Session, *recorder) {
	t.Helper()
	rec := &recorder{}
	s, err := chatclient.NewSession(chatclient.SessionConfig{URL: servertest.SocketURL(pageURL), OnUpdate: rec.update})
	if err != nil {
		t.Fatal(err)
	}
	runUntilEnd(t, s)
	if err := s.Join(name); err != nil {
		t.Fatal(err)
	}
	servertest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if len(all[event.Joined](rec)) == 0 {
			return errors.New("not joined")
		}
		return nil
	})
	return s, rec
}

// TestSessionPresenceTypingHistory proves the Session's side of presence,
// typing and history against the real server: Joined lists who is there,
// Typing goes out at most once per event.TypingInterval however often the
// person types and reaches the others with the typist's name, and
// LoadHistory pages back to the first message with no gap and no repeat.
func TestSessionPresenceTypingHistory(t *testing.T) {
	t.Parallel()
	_, ts := startServerConfig(t, server.Config{RateLimit: -1, RateBurst: -1})
	ann, annRec := startRecorded(t, ts.URL, "Ann")
	const total = 120
	for i := 1; i <= total; i++ {
		_, err := ann.Send(fmt.Sprintf("m%d", i))
		if errors.Is(err, chatclient.ErrOutboxFull) {
			// More than an outbox holds: let it drain, then go on.
			servertest.CheckFor(t, 20*time.Second, 10*time.Millisecond, func() error {
				if len(ann.Outbox()) >= chatclient.MaxOutbox/2 {
					return errors.New("the outbox is still full")
				}
				return nil
			})
			_, err = ann.Send(fmt.Sprintf("m%d", i))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	servertest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if n := len(ann.Outbox()); n > 0 {
			return fmt.Errorf("%d messages not acknowledged", n)
		}
		return nil
	})

	bob, bobRec := startRecorded(t, ts.URL, "Bob")
	joined := all[event.Joined](bobRec)[0]
	var names []string
	for _, m := range joined.Members {
		names = append(names, m.Name)
	}
	if !slices.Equal(names, []string{"Ann", "Bob"}) {
		t.Fatalf("Bob's joined lists %q, want [Ann Bob]", names)
	}

	// Typing: Bob types 30 times in 1.5 s; Ann hears it once, maybe twice.
	for range 30 {
		bob.Typing()
		time.Sleep(50 * time.Millisecond)
	}
	servertest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if len(all[event.Typing](annRec)) == 0 {
			return errors.New("Ann heard no typing")
		}
		return nil
	})
	typing := all[event.Typing](annRec)
	if len(typing) > 2 || typing[0].Name != "Bob" || typing[0].User != joined.User {
		t.Fatalf("Ann heard %#v, want at most two Typing from Bob", typing)
	}
	if n := len(all[event.Typing](bobRec)); n != 0 {
		t.Fatalf("Bob heard his own typing %d times", n)
	}

	// History: Bob holds the last 100 (the fresh join); he pages back.
	msgs := all[event.Message](bobRec)
	if len(msgs) == 0 {
		t.Fatal("Bob got no history on joining")
	}
	oldest := msgs[0].Seq
	seen := map[uint64]bool{}
	for _, m := range msgs {
		seen[m.Seq] = true
	}
	pages := 0
	for oldest > 1 {
		bob.LoadHistory(oldest)
		pages++
		var page event.History
		servertest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
			h := all[event.History](bobRec)
			if len(h) < pages {
				return errors.New("no history page yet")
			}
			page = h[pages-1]
			return nil
		})
		if page.Before != oldest || len(page.Messages) == 0 {
			t.Fatalf("page %d: %#v, want messages before %d", pages, page, oldest)
		}
		for i, m := range page.Messages {
			if seen[m.Seq] || (i > 0 && m.Seq != page.Messages[i-1].Seq+1) || m.Seq >= oldest {
				t.Fatalf("page %d: seq %d repeats, skips or is not before %d", pages, m.Seq, oldest)
			}
			seen[m.Seq] = true
		}
		if last := page.Messages[len(page.Messages)-1].Seq; last != oldest-1 {
			t.Fatalf("page %d ends at %d, want %d: a gap", pages, last, oldest-1)
		}
		oldest = page.Messages[0].Seq
		if page.Complete != (oldest == 1) || page.Pruned {
			t.Fatalf("page %d: complete %v pruned %v at seq %d", pages, page.Complete, page.Pruned, oldest)
		}
	}
	if len(seen) != total {
		t.Fatalf("Bob holds %d messages after %d pages, want %d", len(seen), pages, total)
	}
	t.Logf("Bob paged back %d messages in %d pages; Ann heard %d typing events for 30 keystrokes", total-len(msgs), pages, len(typing))
}
