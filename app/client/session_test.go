//go:build !(js && wasm)

package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server"
	"github.com/chatwasm/chat/server/servertest"
)

// These tests run Sessions against a real server in the process, over real
// sockets; faults come from a TCP proxy (cut, refuse, swallow) or from the
// server itself (restart, rate limit, refusals).

// checkSeqs fails unless the messages' seqs grow by exactly one from the
// first: nothing missing, nothing twice.
func checkSeqs(t *testing.T, who string, msgs []event.Message) {
	t.Helper()
	for i := 1; i < len(msgs); i++ {
		if msgs[i].Seq != msgs[i-1].Seq+1 {
			t.Fatalf("%s: seq %d follows seq %d", who, msgs[i].Seq, msgs[i-1].Seq)
		}
	}
}

// TestSessionConversation: two new people join, write, and see the same
// messages in one order; the identity is kept in Storage.
func TestSessionConversation(t *testing.T) {
	t.Parallel()
	url := wsURL(startChat(t, server.Config{}))
	annStore := new(MemoryStorage)
	ann := join(t, url, "  Ann ", SessionConfig{Storage: annStore})
	bob := join(t, url, "Bob", SessionConfig{})

	id := ann.Identity()
	var stored Identity
	if err := annStore.Get(keyIdentity, &stored); err != nil || stored != id || id.Name != "Ann" || id.Token == "" || id.User == "" {
		t.Fatalf("identity %#v, stored %#v (%v)", id, stored, err)
	}
	if ann.NeedsName() {
		t.Fatal("a joined Session still needs a name")
	}
	if _, err := ann.Send("hello <b>Bob</b>"); err != nil {
		t.Fatal(err)
	}
	bob.waitTexts(t, "hello <b>Bob</b>")
	if _, err := bob.Send("hi\nAnn"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{ann, bob} {
		c.waitTexts(t, "hello <b>Bob</b>", "hi\nAnn")
		checkSeqs(t, "", c.rec.messages())
	}
	if m := ann.rec.messages()[0]; m.User != id.User || m.Name != "Ann" || m.ID == "" {
		t.Fatalf("Ann's own message: %#v", m)
	}
	if got := ann.rec.notices(); !slices.Equal(got, []string{"Bob connected"}) {
		t.Fatalf("Ann's notices: %q", got)
	}
	if s := ann.rec.state(); s != StateConnected {
		t.Fatalf("state %s", s)
	}
	if n := len(ann.rec.outboxNow()); n != 0 {
		t.Fatalf("the last outbox reported holds %d messages", n)
	}
}

// TestSessionReload: a new Session on the same Storage (a reload) is the same
// person, joins by itself, sees its own messages in the history, and the
// room is not told it left or came back.
func TestSessionReload(t *testing.T) {
	t.Parallel()
	url := wsURL(startChat(t, server.Config{PresenceGrace: 5 * time.Second}))
	bob := join(t, url, "Bob", SessionConfig{})
	store := new(MemoryStorage)
	ann := join(t, url, "Ann", SessionConfig{Storage: store})
	if _, err := ann.Send("before"); err != nil {
		t.Fatal(err)
	}
	ann.waitTexts(t, "before")
	user := ann.Identity().User
	ann.stop()

	again := runSession(t, SessionConfig{URL: url, Storage: store})
	if again.NeedsName() {
		t.Fatal("the reloaded Session asks for a name")
	}
	again.waitJoins(t, 1)
	if j := again.rec.joins()[0]; j.User != user || j.Name != "Ann" {
		t.Fatalf("after the reload: %#v, want user %s", j, user)
	}
	again.waitTexts(t, "before")
	if m := again.rec.messages()[0]; m.User != user {
		t.Fatalf("the history's own message has user %s, want %s", m.User, user)
	}
	if _, err := again.Send("after"); err != nil {
		t.Fatal(err)
	}
	// Events reach Bob in order: had the server announced the reload, the
	// notices would be in before "after".
	bob.waitTexts(t, "before", "after")
	if got := bob.rec.notices(); !slices.Equal(got, []string{"Ann connected"}) {
		t.Fatalf("Bob's notices: %q, want Ann connected once", got)
	}
}

// TestSessionResume: a connection cut with no close frame; while it is down
// others write and the person writes too. Back online, the Session gets
// exactly what it missed, then its outbox goes out.
func TestSessionResume(t *testing.T) {
	t.Parallel()
	addr := startChat(t, server.Config{})
	p := servertest.StartProxy(t, addr)
	bob := join(t, wsURL(addr), "Bob", SessionConfig{})
	ann := join(t, wsURL(p.Addr()), "Ann", SessionConfig{})
	if _, err := bob.Send("m1"); err != nil {
		t.Fatal(err)
	}
	ann.waitTexts(t, "m1")

	p.SetDown(true)
	p.Cut()
	waitFor(t, func() error {
		if s := ann.rec.state(); s != StateOffline {
			return fmt.Errorf("state %s", s)
		}
		return nil
	})
	for _, text := range []string{"m2", "m3"} {
		if _, err := bob.Send(text); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ann.Send("written offline"); err != nil {
		t.Fatal(err)
	}
	bob.waitTexts(t, "m1", "m2", "m3")
	if got := ann.rec.outboxNow(); len(got) != 1 || got[0].Status != StatusPending {
		t.Fatalf("offline outbox: %#v", got)
	}

	p.SetDown(false)
	ann.Wake()
	want := []string{"m1", "m2", "m3", "written offline"}
	ann.waitTexts(t, want...)
	bob.waitTexts(t, want...)
	checkSeqs(t, "Ann", ann.rec.messages())
	joins := ann.rec.joins()
	if len(joins) != 2 || joins[1].Gap || joins[1].User != joins[0].User {
		t.Fatalf("joins: %#v", joins)
	}
}

// TestSessionLostAck: the server stores a message but its echo is lost with
// the connection. After the reconnect the replay acknowledges it: it is in
// the room once, and the outbox moves on.
func TestSessionLostAck(t *testing.T) {
	t.Parallel()
	addr := startChat(t, server.Config{})
	p := servertest.StartProxy(t, addr)
	bob := join(t, wsURL(addr), "Bob", SessionConfig{})
	ann := join(t, wsURL(p.Addr()), "Ann", SessionConfig{})

	p.Mute()
	if _, err := ann.Send("x"); err != nil {
		t.Fatal(err)
	}
	bob.waitTexts(t, "x")
	if n := len(ann.Outbox()); n != 1 {
		t.Fatalf("%d messages in the outbox without an acknowledgement, want 1", n)
	}
	p.Cut()
	ann.Wake()
	if _, err := ann.Send("y"); err != nil {
		t.Fatal(err)
	}
	ann.waitTexts(t, "x", "y")
	bob.waitTexts(t, "x", "y")
	checkSeqs(t, "Bob", bob.rec.messages())
}

// TestSessionAckOfResend: a reload finds a message in the outbox that the
// server stored long ago (its echo was lost, and it is older than the
// history a fresh join gets). The resend is acknowledged by an Ack, not
// stored twice.
func TestSessionAckOfResend(t *testing.T) {
	t.Parallel()
	addr := startChat(t, server.Config{History: 2})
	p := servertest.StartProxy(t, addr)
	bob := join(t, wsURL(addr), "Bob", SessionConfig{})
	store := new(MemoryStorage)
	ann := join(t, wsURL(p.Addr()), "Ann", SessionConfig{Storage: store})

	p.Mute()
	if _, err := ann.Send("x"); err != nil {
		t.Fatal(err)
	}
	bob.waitTexts(t, "x")
	p.SetDown(true)
	p.Cut()
	ann.stop()
	for _, text := range []string{"b1", "b2", "b3"} {
		if _, err := bob.Send(text); err != nil {
			t.Fatal(err)
		}
	}
	bob.waitTexts(t, "x", "b1", "b2", "b3")

	again := runSession(t, SessionConfig{URL: wsURL(addr), Storage: store})
	again.waitJoins(t, 1)
	waitFor(t, func() error {
		if n := len(again.Outbox()); n != 0 {
			return fmt.Errorf("%d messages in the outbox", n)
		}
		return nil
	})
	if _, err := again.Send("z"); err != nil {
		t.Fatal(err)
	}
	bob.waitTexts(t, "x", "b1", "b2", "b3", "z")
	// The fresh join's history is the last two; x is older and stays
	// unseen by this page.
	again.waitTexts(t, "b2", "b3", "z")
}

// TestSessionRateLimit: a burst beyond the server's rate limit arrives
// complete, once each and in order; the limit only slows it down.
func TestSessionRateLimit(t *testing.T) {
	t.Parallel()
	const (
		rate  = 20 // messages per second
		burst = 3
		n     = 15
	)
	url := wsURL(startChat(t, server.Config{RateLimit: rate, RateBurst: burst}))
	bob := join(t, url, "Bob", SessionConfig{})
	ann := join(t, url, "Ann", SessionConfig{})
	start := time.Now()
	var want []string
	for i := range n {
		text := fmt.Sprint("burst ", i)
		want = append(want, text)
		if _, err := ann.Send(text); err != nil {
			t.Fatal(err)
		}
	}
	bob.waitTexts(t, want...)
	ann.waitTexts(t, want...)
	elapsed := time.Since(start)
	if min := time.Duration(n-burst) * time.Second / rate; elapsed < min*9/10 {
		t.Fatalf("%d messages took %v: the rate limit (%d/s, burst %d) did not hold them back", n, elapsed, rate, burst)
	}
	ann.rec.mu.Lock()
	refused := ann.rec.refused
	ann.rec.mu.Unlock()
	if len(refused) != 0 {
		t.Fatalf("refusals reached the owner: %#v", refused)
	}
	t.Logf("%d messages at %d/s, burst %d: %v", n, rate, burst, elapsed.Round(time.Millisecond))
}

// TestSessionRefusedForGood: messages that the server refuses for their
// content (stored by an older client with other rules) fail, stay in the
// outbox, and do not hold up the others; Retry sends one again, Delete
// drops it.
func TestSessionRefusedForGood(t *testing.T) {
	t.Parallel()
	url := wsURL(startChat(t, server.Config{}))
	bob := join(t, url, "Bob", SessionConfig{})
	store := new(MemoryStorage)
	items := []OutboxItem{
		{ID: "ok-1", Text: "first", Status: StatusPending},
		{ID: "bad-text", Text: "bell\a", Status: StatusPending},
		{ID: "ok-2", Text: "second", Status: StatusPending},
		{ID: "bad id", Text: "an id with a space", Status: StatusPending},
		{ID: "ok-3", Text: "third", Status: StatusPending},
	}
	if err := store.Set(keyOutboxPrefix+event.DefaultRoom, items); err != nil {
		t.Fatal(err)
	}
	ann := join(t, url, "Ann", SessionConfig{Storage: store})
	bob.waitTexts(t, "first", "second", "third")
	failed := func() []string {
		var ids []string
		for _, it := range ann.Outbox() {
			if it.Status == StatusFailed && it.Reason != "" {
				ids = append(ids, it.ID)
			}
		}
		return ids
	}
	waitFor(t, func() error {
		if got := failed(); !slices.Equal(got, []string{"bad-text", "bad id"}) {
			return fmt.Errorf("failed: %q in %#v", got, ann.Outbox())
		}
		return nil
	})
	if r := ann.Outbox()[0].Reason; !strings.Contains(r, "control characters") {
		t.Fatalf("reason %q", r)
	}

	// Retry: sent again, refused again, now last.
	if err := ann.Retry("bad-text"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() error {
		if got := failed(); !slices.Equal(got, []string{"bad id", "bad-text"}) {
			return fmt.Errorf("failed after the retry: %q", got)
		}
		return nil
	})
	for _, id := range []string{"bad-text", "bad id"} {
		if err := ann.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := ann.Delete("bad id"); !errors.Is(err, ErrNotInOutbox) {
		t.Fatalf("second Delete: %v", err)
	}
	var kept []OutboxItem
	if err := store.Get(keyOutboxPrefix+event.DefaultRoom, &kept); err != nil || len(kept) != 0 {
		t.Fatalf("stored outbox after the deletes: %#v, %v", kept, err)
	}
	if _, err := ann.Send("fourth"); err != nil {
		t.Fatal(err)
	}
	bob.waitTexts(t, "first", "second", "third", "fourth")
}

// TestSessionServerRestart: the server shuts down (1012) and a new process
// comes up on the same address and data. The Sessions come back by
// themselves as the same people, the message written during the restart is
// delivered once, and the numbering goes on.
func TestSessionServerRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	serve := func(ln net.Listener) (stop func()) {
		srv := servertest.New(t, server.Config{DataDir: dir})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx, ln) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	stop := serve(ln)
	// Short waits: the test is about coming back, not about waiting.
	fast := Backoff{Base: 50 * time.Millisecond, Max: 200 * time.Millisecond}
	bob := join(t, wsURL(addr), "Bob", SessionConfig{Backoff: fast})
	ann := join(t, wsURL(addr), "Ann", SessionConfig{Backoff: fast})
	if _, err := bob.Send("m1"); err != nil {
		t.Fatal(err)
	}
	ann.waitTexts(t, "m1")

	stop()
	waitFor(t, func() error {
		if s := ann.rec.state(); s != StateOffline {
			return fmt.Errorf("state %s", s)
		}
		return nil
	})
	if _, err := ann.Send("during the restart"); err != nil {
		t.Fatal(err)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(serve(ln))

	want := []string{"m1", "during the restart"}
	ann.waitTexts(t, want...)
	bob.waitTexts(t, want...)
	checkSeqs(t, "Bob", bob.rec.messages())
	for _, c := range []*client{ann, bob} {
		joins := c.rec.joins()
		if len(joins) != 2 || joins[1].User != joins[0].User {
			t.Fatalf("joins across the restart: %#v", joins)
		}
	}
}

// TestSessionHeartbeat: the Session answers the server's pings, so a quiet
// connection stays up; when the network dies silently, the Session notices
// within its heartbeat timeout and reconnects.
func TestSessionHeartbeat(t *testing.T) {
	t.Parallel()
	// Margins for a loaded machine: a ping every 100 ms, dead after 1.5 s.
	const timeout = 1500 * time.Millisecond
	addr := startChat(t, server.Config{HeartbeatInterval: 100 * time.Millisecond, HeartbeatTimeout: timeout})
	p := servertest.StartProxy(t, addr)
	bob := join(t, wsURL(addr), "Bob", SessionConfig{})
	ann := join(t, wsURL(p.Addr()), "Ann", SessionConfig{HeartbeatTimeout: timeout})

	// Quiet for three timeouts: a Session that did not answer pings would
	// be closed by the server, one that did not hear them would drop the
	// connection itself. Either shows as a second join. The wait is the
	// point of the test.
	time.Sleep(3 * timeout)
	if n := len(ann.rec.joins()); n != 1 {
		t.Fatalf("a quiet connection was replaced: %d joins, states %v", n, ann.rec.stateLog())
	}

	start := time.Now()
	p.Blackhole()
	ann.waitJoins(t, 2)
	t.Logf("a dead connection was replaced after %v", time.Since(start).Round(time.Millisecond))
	if _, err := bob.Send("still there?"); err != nil {
		t.Fatal(err)
	}
	ann.waitTexts(t, "still there?")
}

// TestSessionWake: a Session waiting out a long backoff connects at once on
// Wake.
func TestSessionWake(t *testing.T) {
	t.Parallel()
	addr := startChat(t, server.Config{})
	p := servertest.StartProxy(t, addr)
	p.SetDown(true)
	ann := runSession(t, SessionConfig{URL: wsURL(p.Addr()), Backoff: Backoff{Base: time.Hour, Max: time.Hour}})
	if err := ann.Join("Ann"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() error {
		if s := ann.rec.state(); s != StateOffline {
			return fmt.Errorf("state %s", s)
		}
		return nil
	})
	p.SetDown(false)
	start := time.Now()
	ann.Wake()
	ann.waitJoins(t, 1)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Wake took %v", d)
	}
	if got := ann.rec.stateLog(); !slices.Equal(got, []ConnState{StateConnecting, StateOffline, StateConnected}) {
		t.Fatalf("states %v", got)
	}
}

// TestSessionDrop: Drop (the browser went offline) ends the connection at
// once; the Session comes back by itself, as the same person.
func TestSessionDrop(t *testing.T) {
	t.Parallel()
	url := wsURL(startChat(t, server.Config{}))
	ann := join(t, url, "Ann", SessionConfig{})
	ann.Wake() // connected: nothing to wake
	ann.Drop()
	ann.waitJoins(t, 2)
	if got := ann.rec.stateLog(); !slices.Equal(got, []ConnState{StateConnecting, StateConnected, StateOffline, StateConnected}) {
		t.Fatalf("states %v", got)
	}
	if j := ann.rec.joins(); j[1].User != j[0].User {
		t.Fatalf("a new person after Drop: %#v", j)
	}
}

// TestSessionRunTwice: one Session runs once at a time.
func TestSessionRunTwice(t *testing.T) {
	t.Parallel()
	ann := runSession(t, SessionConfig{URL: wsURL(startChat(t, server.Config{}))})
	waitFor(t, func() error {
		if !ann.running.Load() {
			return errors.New("not running yet")
		}
		return nil
	})
	if err := ann.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Fatalf("a second Run: %v", err)
	}
}

// TestSessionHandle checks the bookkeeping of incoming events without a
// network: deduplication by seq across rejoins, a history that went back,
// acknowledgements, and the refusals of a Join.
func TestSessionHandle(t *testing.T) {
	t.Parallel()
	s, err := NewSession(SessionConfig{URL: "ws://x/ws"})
	if err != nil {
		t.Fatal(err)
	}
	msg := func(seq uint64, user, id string) event.Message {
		return event.Message{Seq: seq, User: user, ID: id, Name: user, Text: fmt.Sprint("m", seq)}
	}
	seqs := func(u Update) []string {
		var out []string
		for _, e := range u.Events {
			switch e := e.(type) {
			case event.Message:
				out = append(out, fmt.Sprint(e.Seq))
			case event.Joined:
				out = append(out, fmt.Sprintf("J%d%s", e.Seq, map[bool]string{true: "gap"}[e.Gap]))
			}
		}
		return out
	}
	a, _ := s.Send("a")
	b, _ := s.Send("b")
	tests := []struct {
		name   string
		events []event.Event
		want   string // what is reported
		outbox int    // messages left in the outbox
	}{
		{"first join", []event.Event{event.Joined{User: "me", Name: "Me", Token: "t", Seq: 5}, msg(3, "u", ""), msg(4, "u", ""), msg(5, "u", ""), msg(5, "u", ""), msg(6, "me", a.ID)}, "J5 3 4 5 6", 1},
		{"rejoin with an overlapping replay", []event.Event{event.Joined{User: "me", Name: "Me", Token: "t", Seq: 7}, msg(5, "u", ""), msg(6, "me", a.ID), msg(7, "u", ""), msg(8, "u", "")}, "J7 7 8", 1},
		{"someone else's message with my id is not mine", []event.Event{msg(9, "u", b.ID)}, "9", 1},
		{"an Ack", []event.Event{event.Ack{ID: b.ID, Seq: 4}}, "", 0},
		{"the history went back", []event.Event{event.Joined{User: "me", Name: "Me", Token: "t", Seq: 2}, msg(3, "u", "")}, "J2gap 3", 0},
	}
	for _, tt := range tests {
		l := &link{joined: true}
		var u Update
		if err := s.handle(context.Background(), l, tt.events, &u); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(seqs(u), " "); got != tt.want {
			t.Errorf("%s: reported %q, want %q", tt.name, got, tt.want)
		}
		if n := len(s.Outbox()); n != tt.outbox {
			t.Errorf("%s: %d messages in the outbox, want %d", tt.name, n, tt.outbox)
		}
	}
	if s.Identity().User != "me" {
		t.Fatalf("identity %#v", s.Identity())
	}

	// A refused name: the Session needs another; other refusals of the
	// Join keep it.
	for _, tt := range []struct {
		code      event.Code
		needsName bool
	}{
		{event.CodeBadFrame, false},
		{event.CodeInvalidName, true},
	} {
		l := &link{}
		l.at(event.DefaultRoom).joinSent = true
		var u Update
		s.refused(l, event.Error{Code: tt.code, Message: "no"}, &u)
		if u.JoinRefused == nil || u.JoinRefused.Code != tt.code || l.at(event.DefaultRoom).joinSent || s.NeedsName() != tt.needsName {
			t.Errorf("%s: JoinRefused %v, joinSent %v, NeedsName %v", tt.code, u.JoinRefused, l.at(event.DefaultRoom).joinSent, s.NeedsName())
		}
	}
	// After the join, an error that names nothing goes to the owner.
	var u Update
	s.refused(&link{joined: true}, event.Error{Code: event.CodeBadFrame, Message: "?"}, &u)
	if len(u.Refusals) != 1 || u.JoinRefused != nil {
		t.Fatalf("a refusal after the join: %#v", u)
	}
}

// TestRateLimitedBeyondRetryFails: the head of the outbox is retried after
// each rate-limit refusal, and marked failed, for the person to retry or
// delete, once the server has refused it maxRateLimited times in a row.
func TestRateLimitedBeyondRetryFails(t *testing.T) {
	t.Parallel()
	s, err := NewSession(SessionConfig{URL: "ws://127.0.0.1:1/ws"})
	if err != nil {
		t.Fatal(err)
	}
	it, err := s.Send("again and again")
	if err != nil {
		t.Fatal(err)
	}
	l := &link{joined: true}
	refuse := func() {
		s.mu.Lock()
		s.rooms[0].out.sent(it.ID)
		s.mu.Unlock()
		s.refused(l, event.Error{Code: event.CodeRateLimited, ID: it.ID, RetryAfter: 1}, &Update{})
	}
	for range maxRateLimited {
		refuse()
		if got := s.Outbox()[0].Status; got != StatusPending {
			t.Fatalf("after a rate-limit refusal the message is %s, want pending", got)
		}
	}
	refuse()
	if got := s.Outbox()[0]; got.Status != StatusFailed || got.Reason == "" {
		t.Fatalf("after %d refusals in a row: %#v, want failed with a reason", maxRateLimited+1, got)
	}
}
