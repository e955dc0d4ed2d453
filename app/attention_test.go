package app

import (
	"testing"

	"github.com/chatwasm/chat/app/client"
	"github.com/chatwasm/chat/app/event"
)

// TestAttentionCountsOthersWhileHidden: hidden, the page counts the live
// messages of others, and only those: not the person's own, not notices,
// not the history shown on joining nor pages of older history; in sight,
// it counts nothing, and coming back clears the count.
func TestAttentionCountsOthersWhileHidden(t *testing.T) {
	t.Parallel()
	c := &Chat{}
	c.away.hidden = true
	a := c.apply(client.Update{Events: []event.Event{
		event.Joined{User: "me", Name: "Ann", Seq: 2},
		roomMessage(1), roomMessage(2), // the history before the join
	}})
	if a.unread || c.away.unread != 0 {
		t.Fatalf("the history on joining counted: %d", c.away.unread)
	}
	a = c.apply(client.Update{Events: []event.Event{
		roomMessage(3),
		event.Message{Room: event.DefaultRoom, Seq: 4, User: "me", Name: "Ann", Text: "mine"},
		event.Presence{Joined: []event.Member{{User: "u3", Name: "Cy"}}},
		roomMessage(5),
		event.Presence{Left: []event.Member{{User: "u3", Name: "Cy"}}},
	}})
	if !a.unread || c.away.unread != 2 {
		t.Fatalf("unread %d (changed %v), want the 2 messages of others", c.away.unread, a.unread)
	}
	if !c.away.setHidden(false) || c.away.unread != 0 {
		t.Fatalf("back in sight, unread %d", c.away.unread)
	}
	if a := c.apply(client.Update{Events: []event.Event{roomMessage(6)}}); a.unread || c.away.unread != 0 {
		t.Fatalf("in sight, a message counted: %d", c.away.unread)
	}
	if c.away.setHidden(false) {
		t.Fatal("in sight with nothing unread, the count changed")
	}
}
