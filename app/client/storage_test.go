package client

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/chatwasm/chat/app/event"
)

func TestMemoryStorageRoundTrip(t *testing.T) {
	t.Parallel()
	var s MemoryStorage // the zero value is ready
	want := []OutboxItem{{ID: "a", Text: "one\n<two>", Status: StatusPending}, {ID: "b", Text: "é🙂", Status: StatusFailed, Reason: "Nope."}}
	if err := s.Set(keyOutboxPrefix+"lobby", want); err != nil {
		t.Fatal(err)
	}
	var got []OutboxItem
	if err := s.Get(keyOutboxPrefix+"lobby", &got); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Get = %#v, %v; want %#v", got, err, want)
	}

	// A missing key leaves the value as it was, as in the browser.
	id := Identity{User: "keep"}
	if err := s.Get("missing", &id); err != nil || id.User != "keep" {
		t.Fatalf("Get of a missing key: %#v, %v", id, err)
	}
	s.Del(keyOutboxPrefix + "lobby")
	s.Del("never there")
	got = nil
	if err := s.Get(keyOutboxPrefix+"lobby", &got); err != nil || got != nil {
		t.Fatalf("Get after Del = %#v, %v", got, err)
	}

	// Values go through JSON: what does not encode or decode is an error.
	if err := s.Set("bad", func() {}); err == nil {
		t.Fatal("Set of a func succeeded")
	}
	if err := s.Set("k", "a string"); err != nil {
		t.Fatal(err)
	}
	if err := s.Get("k", &id); err == nil {
		t.Fatal("Get of a string into a struct succeeded")
	}
}

// TestSessionStorage checks what a Session keeps and finds again: the
// identity and the outbox survive a new Session (a reload), and a value that
// does not decode is dropped with a report instead of stopping the Session.
func TestSessionStorage(t *testing.T) {
	t.Parallel()
	store := new(MemoryStorage)
	s, err := NewSession(SessionConfig{URL: "ws://x/ws", Storage: store})
	if err != nil {
		t.Fatal(err)
	}
	if !s.NeedsName() || s.Identity() != (Identity{}) {
		t.Fatalf("a new person: NeedsName %v, identity %#v", s.NeedsName(), s.Identity())
	}
	a, err := s.Send("  first  ")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send("second"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(" \n "); err == nil {
		t.Fatal("an empty message was queued")
	}
	if a.Text != "first" || a.Status != StatusPending || len(a.ID) != 36 {
		t.Fatalf("Send returned %#v", a)
	}
	if err := store.Set(keyIdentity, Identity{User: "u1", Name: " Ann ", Token: "tok"}); err != nil {
		t.Fatal(err)
	}

	s2, err := NewSession(SessionConfig{URL: "ws://x/ws", Storage: store})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s2.Outbox(), s.Outbox(); !reflect.DeepEqual(got, want) || len(got) != 2 {
		t.Fatalf("outbox after a reload: %#v, want %#v", got, want)
	}
	if s2.NeedsName() || s2.Identity() != (Identity{User: "u1", Name: "Ann", Token: "tok"}) {
		t.Fatalf("identity after a reload: %#v (NeedsName %v)", s2.Identity(), s2.NeedsName())
	}
	// Another room has its own outbox.
	s3, err := NewSession(SessionConfig{URL: "ws://x/ws", Storage: store, Room: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s3.Outbox()); n != 0 {
		t.Fatalf("room other sees %d messages of the lobby", n)
	}

	// Corrupt values: the Session starts fresh and says why.
	if err := store.Set(keyIdentity, []int{1}); err != nil {
		t.Fatal(err)
	}
	if err := store.Set(keyOutboxPrefix+event.DefaultRoom, "not a list"); err != nil {
		t.Fatal(err)
	}
	s4, err := NewSession(SessionConfig{URL: "ws://x/ws", Storage: store})
	if err != nil {
		t.Fatal(err)
	}
	if !s4.NeedsName() || len(s4.Outbox()) != 0 || s4.storageErr == nil {
		t.Fatalf("corrupt storage: NeedsName %v, outbox %d, error %v", s4.NeedsName(), len(s4.Outbox()), s4.storageErr)
	}
}

// fullStorage refuses every Set, as localStorage over its quota does.
type fullStorage struct{ MemoryStorage }

func (*fullStorage) Set(string, any) error { return errors.New("quota exceeded") }

// TestSessionStorageFull: a storage that refuses to keep the outbox does not
// stop a message from being queued; the failure is reported.
func TestSessionStorageFull(t *testing.T) {
	t.Parallel()
	var got []Update
	s, err := NewSession(SessionConfig{URL: "ws://x/ws", Storage: new(fullStorage), OnUpdate: func(u Update) { got = append(got, u) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send("kept in memory"); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if n := len(s.Outbox()); n != 1 {
		t.Fatalf("%d messages in the outbox", n)
	}
	s.emit(Update{}, StateOffline)
	if len(got) != 1 || got[0].StorageErr == nil || !got[0].OutboxChanged || len(got[0].Outbox) != 1 || s.State() != StateOffline {
		t.Fatalf("updates %#v", got)
	}
	// Reported once.
	s.emit(Update{}, StateOffline)
	if len(got) != 1 {
		t.Fatalf("an update with nothing new was reported: %#v", got[1:])
	}
}

// TestTabsKeepTheirOwnOutbox: two tabs sharing Storage each keep their own
// outbox, so that neither overwrites the other's, and a tab opened after
// one was closed with messages unsent adopts them.
func TestTabsKeepTheirOwnOutbox(t *testing.T) {
	t.Parallel()
	shared := &MemoryStorage{}
	open := func(tab string) *Session {
		s, err := NewSession(SessionConfig{URL: "ws://127.0.0.1:1/ws", Storage: shared, Tab: tab})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := open("a"), open("b")
	if _, err := a.Send("from tab a"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Send("from tab b"); err != nil {
		t.Fatal(err)
	}
	var stored []OutboxItem
	if err := shared.Get(outboxKey(event.DefaultRoom, "a"), &stored); err != nil || len(stored) != 1 || stored[0].Text != "from tab a" {
		t.Fatalf("tab a's stored outbox: %#v, %v; tab b overwrote it?", stored, err)
	}
	// Tab a is closed before its message went out; a new tab adopts it.
	c := open("c")
	var texts []string
	for _, it := range c.Outbox() {
		texts = append(texts, it.Text)
	}
	slices.Sort(texts)
	if !slices.Equal(texts, []string{"from tab a", "from tab b"}) {
		t.Fatalf("the new tab's outbox: %q, want both unsent messages", texts)
	}
	var left []OutboxItem
	if err := shared.Get(outboxKey(event.DefaultRoom, "a"), &left); err != nil || len(left) != 0 {
		t.Fatalf("tab a's outbox is still stored after the adoption: %#v", left)
	}
}
