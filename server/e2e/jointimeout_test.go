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

// joinTimeout is the server's join timeout in these tests: the real one is
// 60 s; a person taking "two minutes" over the name prompt is two and a half
// of these.
const joinTimeout = 1500 * time.Millisecond

// states records the connection states a Session reports.
type states struct {
	mu     sync.Mutex
	seen   []chatclient.ConnState
	joined bool
	errs   []event.Error
}

func (s *states) update(u chatclient.Update) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 || s.seen[len(s.seen)-1] != u.State {
		s.seen = append(s.seen, u.State)
	}
	for _, e := range u.Events {
		if _, ok := e.(event.Joined); ok {
			s.joined = true
		}
	}
	if u.JoinRefused != nil {
		s.errs = append(s.errs, *u.JoinRefused)
	}
}

func (s *states) snapshot() ([]chatclient.ConnState, bool, []event.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen), s.joined, slices.Clone(s.errs)
}

// runSession runs a Session against the server at pageURL until the test
// ends, recording its states.
func runSession(t *testing.T, pageURL string) (*chatclient.Session, *states) {
	t.Helper()
	rec := &states{}
	s, err := chatclient.NewSession(chatclient.SessionConfig{URL: servertest.SocketURL(pageURL), OnUpdate: rec.update})
	if err != nil {
		t.Fatal(err)
	}
	runUntilEnd(t, s)
	return s, rec
}

// TestJoinTimeoutIsQuiet proves that a Session waiting for a name is not
// disturbed by the server closing its unjoined socket (4002): it
// reconnects at once without ever reporting offline, and joins as soon as
// the name comes.
func TestJoinTimeoutIsQuiet(t *testing.T) {
	t.Parallel()
	_, ts := startServerConfig(t, server.Config{JoinTimeout: joinTimeout})
	sess, rec := runSession(t, ts.URL)
	time.Sleep(joinTimeout*5/2 + 200*time.Millisecond) // over two join timeouts at the name prompt
	seen, _, _ := rec.snapshot()
	if slices.Contains(seen, chatclient.StateOffline) {
		t.Fatalf("states at the name prompt: %v; the join timeout showed as offline", seen)
	}
	if err := sess.Join("Slow Typist"); err != nil {
		t.Fatal(err)
	}
	servertest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if _, joined, _ := rec.snapshot(); !joined {
			return errors.New("not joined")
		}
		return nil
	})
	seen, _, _ = rec.snapshot()
	t.Logf("states over %v at the name prompt, then the join: %v", joinTimeout*5/2, seen)
}

// TestJoinRateLimitedRetries proves that a join refused because the
// network minted too many identities is sent again by the Session once the
// server allows, without the person doing anything.
func TestJoinRateLimitedRetries(t *testing.T) {
	t.Parallel()
	// One new identity every 5 s: the second join, sent once the first is
	// in, finds the bucket empty however slow the machine.
	_, ts := startServerConfig(t, server.Config{IPIdentities: 12, IPIdentityBurst: 1})
	first, firstRec := runSession(t, ts.URL)
	if err := first.Join("First"); err != nil {
		t.Fatal(err)
	}
	servertest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if _, joined, _ := firstRec.snapshot(); !joined {
			return errors.New("the first person has not joined")
		}
		return nil
	})
	second, secondRec := runSession(t, ts.URL)
	if err := second.Join("Second"); err != nil {
		t.Fatal(err)
	}
	servertest.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		_, a, _ := firstRec.snapshot()
		_, b, _ := secondRec.snapshot()
		if !a || !b {
			return fmt.Errorf("joined: first %v, second %v", a, b)
		}
		return nil
	})
	_, _, errs := secondRec.snapshot()
	if len(errs) == 0 || errs[0].Code != event.CodeRateLimited {
		t.Fatalf("the second join's refusals: %#v, want a rate_limited one first", errs)
	}
	t.Logf("the second person was refused (%q, retry after %d ms), then joined by itself", errs[0].Message, errs[0].RetryAfter)
}

// TestNamePromptSurvivesJoinTimeout is the same in the browser: a person
// who takes over two join timeouts over the name prompt sees the badge stay
// Online the whole time (every data-state the page takes is recorded), and
// then joins.
func TestNamePromptSurvivesJoinTimeout(t *testing.T) {
	_, ts := startServerConfig(t, server.Config{Version: "jointimeout", JoinTimeout: joinTimeout})
	p := person{newBrowser(t), "Slow Typist"}
	open(t, p.browser, ts.URL)
	p.eval(t, `(() => {
		const el = document.querySelector("#connection");
		window.__states = [el.dataset.state];
		new MutationObserver(() => window.__states.push(el.dataset.state)).observe(el, {attributes: true});
	})()`, nil)
	time.Sleep(joinTimeout*5/2 + 200*time.Millisecond)
	var seen []string
	p.eval(t, `window.__states`, &seen)
	if slices.Contains(seen, string(chatclient.StateOffline)) || slices.Contains(seen, string(chatclient.StateConnecting)) {
		t.Fatalf("data-state over %v at the name prompt: %v; want connected throughout", joinTimeout*5/2, seen)
	}
	if errs := p.texts(t, nameError); len(errs) != 0 {
		t.Fatalf("the name prompt shows %q", errs)
	}
	p.join(t)
	p.eval(t, `window.__states`, &seen)
	t.Logf("data-state at the prompt and through the join: %v", seen)
}
