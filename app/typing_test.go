package app

import (
	"strings"
	"testing"

	"github.com/chatwasm/chat/app/client"
	"github.com/chatwasm/chat/app/event"
)

// typingText returns what #typing reads in page.
func typingText(t *testing.T, page string) string {
	t.Helper()
	i := strings.Index(page, `<div aria-atomic aria-live="polite" class="typing" id="typing">`)
	if i < 0 {
		t.Fatalf("no #typing polite live region in %s", page)
	}
	region := page[i:]
	region = region[:strings.Index(region, "</div>")]
	return anyTag.ReplaceAllString(region, "")
}

func TestTypingParts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		names []string
		want  string
	}{
		{nil, ""},
		{[]string{"alice"}, "alice is typing…"},
		{[]string{"alice", "bob"}, "alice and bob are typing…"},
		{[]string{"alice", "bob", "carl"}, "several people are typing…"},
		{[]string{"alice", "bob", "carl", "dan"}, "several people are typing…"},
	}
	for _, tt := range tests {
		var typists []typist
		for _, n := range tt.names {
			typists = append(typists, typist{User: "u-" + n, Name: n, Until: 1})
		}
		if got := typingText(t, renderCompo(t, &typingIndicator{Typists: typists})); got != tt.want {
			t.Errorf("%q: #typing reads %q, want %q", tt.names, got, tt.want)
		}
	}
	// Names are isolated: a direction override cannot take the sentence.
	html := renderCompo(t, &typingIndicator{Typists: []typist{{User: "u", Name: "\u202eecila", Until: 1}}})
	mustContain(t, html, "<bdi class=\"name\">\u202eecila</bdi><span> is typing…</span>")
}

// TestTypingIndicatorExpires: an entry shows until its Until and not after.
func TestTypingIndicatorExpires(t *testing.T) {
	t.Parallel()
	typists := []typist{{User: "u1", Name: "alice", Until: 1000}, {User: "u2", Name: "bob", Until: 2000}}
	for _, tt := range []struct {
		now  int64
		want string
	}{
		{999, "alice and bob are typing…"},
		{1000, "bob is typing…"},
		{1999, "bob is typing…"},
		{2000, ""},
	} {
		if got := typingText(t, renderCompo(t, &typingIndicator{Typists: typists, now: tt.now})); got != tt.want {
			t.Errorf("at %d: #typing reads %q, want %q", tt.now, got, tt.want)
		}
	}
}

// TestChatTyping: the page keeps who else types, for event.TypingTimeout
// after their last Typing, and drops them at once when their message
// arrives (and a Typing that lagged behind it), or when they leave.
func TestChatTyping(t *testing.T) {
	t.Parallel()
	c := &Chat{mounted: true, state: client.StateConnected}
	c.apply(client.Update{State: client.StateConnected, Events: []event.Event{
		event.Joined{User: "me", Name: "Ann", Token: "t", Seq: 5},
		event.Typing{User: "u2", Name: "Bob"},
		event.Typing{User: "me", Name: "Ann"}, // one's own typing is not shown
	}})
	if got := typingText(t, render(t, c)); got != "Bob is typing…" {
		t.Fatalf("#typing reads %q", got)
	}
	before := nowMillis()
	c.apply(client.Update{State: client.StateConnected, Events: []event.Event{event.Typing{User: "u3", Name: "Cy"}, event.Typing{User: "u2", Name: "Bob"}}})
	if got := typingText(t, render(t, c)); got != "Bob and Cy are typing…" {
		t.Fatalf("#typing reads %q", got) // Bob keeps his place
	}
	for _, ty := range c.view().typists {
		if ty.Until < before+event.TypingTimeout.Milliseconds() {
			t.Fatalf("%s shows until %d, before the last Typing plus %v", ty.Name, ty.Until, event.TypingTimeout)
		}
	}
	c.apply(client.Update{State: client.StateConnected, Events: []event.Event{event.Typing{User: "u4", Name: "Dee"}}})
	if got := typingText(t, render(t, c)); got != "several people are typing…" {
		t.Fatalf("#typing reads %q", got)
	}
	// History does not stop anyone typing; a live message does, and the
	// Typing sent with its last keystroke is stale.
	c.apply(client.Update{State: client.StateConnected, Events: []event.Event{
		event.Message{Seq: 4, User: "u3", Name: "Cy", Text: "old"},
		event.Message{Seq: 6, User: "u2", Name: "Bob", Text: "done"},
		event.Typing{User: "u2", Name: "Bob"},
	}})
	if got := typingText(t, render(t, c)); got != "Dee is typing…" {
		t.Fatalf("after Bob's and Cy's messages, #typing reads %q", got)
	}
	c.apply(client.Update{State: client.StateConnected, Events: []event.Event{event.Typing{User: "u3", Name: "Cy"}}})
	if got := typingText(t, render(t, c)); got != "Dee and Cy are typing…" {
		t.Fatalf("#typing reads %q", got)
	}
	c.apply(client.Update{State: client.StateConnected, Events: []event.Event{event.Presence{Left: []event.Member{{User: "u4", Name: "Dee"}}}}})
	if got := typingText(t, render(t, c)); got != "Cy is typing…" {
		t.Fatalf("after Dee left, #typing reads %q", got)
	}
	// The connection's typing ends with it.
	c.apply(client.Update{State: client.StateConnected, Events: []event.Event{event.Joined{User: "me", Name: "Ann", Token: "t", Seq: 6}}})
	if got := typingText(t, render(t, c)); got != "" {
		t.Fatalf("after a reconnect, #typing reads %q", got)
	}
}
