package server_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server"
	"github.com/chatwasm/chat/server/servertest"
)

// rejoin joins p as the user of token (another tab, a reload) and returns
// the joined event, its room's history skipped as join does.
func (p *peer) rejoin(t *testing.T, ctx context.Context, name, token string) event.Joined {
	t.Helper()
	p.sendEvent(t, ctx, event.Join{Name: name, Token: token})
	j := expect[event.Joined](t, ctx, p)
	for seq := j.Seq; seq > 0; {
		if m := expect[event.Message](t, ctx, p); m.Seq == j.Seq {
			break
		}
	}
	return j
}

// member is the event.Member of j's own user.
func member(j event.Joined) event.Member { return event.Member{User: j.User, Name: j.Name} }

// TestPresenceSnapshot proves that joined lists the users present in the
// room, the joiner included, in the order they arrived, with their names,
// and that the others are still told of the arrival.
func TestPresenceSnapshot(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{})
	var joined []event.Joined
	var peers []*peer
	for _, name := range []string{"ann", "Bob <b>", "ça va"} {
		p := dial(t, ctx, wsURL, name, nil)
		j := p.join(t, ctx, name)
		joined, peers = append(joined, j), append(peers, p)
		var want []event.Member
		for _, k := range joined {
			want = append(want, member(k))
		}
		if !reflect.DeepEqual(j.Members, want) || j.MembersTruncated {
			t.Fatalf("%s joined listing %v (truncated %v), want %v", name, j.Members, j.MembersTruncated, want)
		}
		for _, other := range peers[:len(peers)-1] {
			expectEvent(t, ctx, other, event.Presence{Room: event.DefaultRoom, Joined: []event.Member{{User: j.User, Name: j.Name}}})
		}
	}

	// Another room lists only its own.
	elsewhere := dial(t, ctx, wsURL, "dan", nil)
	elsewhere.sendEvent(t, ctx, event.Join{Name: "dan", Room: "elsewhere"})
	if j := expect[event.Joined](t, ctx, elsewhere); !reflect.DeepEqual(j.Members, []event.Member{member(j)}) {
		t.Fatalf("dan in another room listed %v, want only himself", j.Members)
	}
}

// TestPresenceTabs proves that one user with three tabs is one member: it
// is listed once, announced once, and leaves only once its last tab has
// closed and the grace period has passed.
func TestPresenceTabs(t *testing.T) {
	t.Parallel()
	const grace = 200 * time.Millisecond
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{PresenceGrace: grace})
	tabs := []*peer{dial(t, ctx, wsURL, "ann tab 1", nil)}
	annJ := tabs[0].join(t, ctx, "ann")
	for i := 2; i <= 3; i++ {
		tab := dial(t, ctx, wsURL, fmt.Sprint("ann tab ", i), nil)
		if j := tab.rejoin(t, ctx, "ann", annJ.Token); !reflect.DeepEqual(j.Members, []event.Member{member(annJ)}) {
			t.Fatalf("tab %d listed %v, want ann once", i, j.Members)
		}
		tabs = append(tabs, tab)
	}
	bob := dial(t, ctx, wsURL, "bob", nil)
	bobJ := bob.join(t, ctx, "bob")
	if want := []event.Member{member(annJ), member(bobJ)}; !reflect.DeepEqual(bobJ.Members, want) {
		t.Fatalf("bob listed %v, want %v: ann once", bobJ.Members, want)
	}
	// Ann's tabs were told of bob only: none of her own tabs.
	for _, tab := range tabs {
		expectEvent(t, ctx, tab, event.Presence{Room: event.DefaultRoom, Joined: []event.Member{{User: bobJ.User, Name: "bob"}}})
	}

	// Two tabs close; for several grace periods bob hears only the third
	// tab's messages, no departure.
	for _, tab := range tabs[:2] {
		if err := tab.ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
			t.Fatalf("%s: close: %v", tab.name, err)
		}
	}
	closed := time.Now()
	seq := uint64(0)
	servertest.CheckFor(t, testTimeout, grace/4, func() error {
		seq++
		id := fmt.Sprint("a", seq)
		tabs[2].sendEvent(t, ctx, event.Send{ID: id, Text: "still here"})
		expectMessage(t, ctx, bob, annJ, seq, id, "still here")
		expectMessage(t, ctx, tabs[2], annJ, seq, id, "still here")
		if d := time.Since(closed); d < 3*grace {
			return fmt.Errorf("%v since two tabs closed", d)
		}
		return nil
	})

	// The last tab closes: bob is told, once the grace period has passed
	// (measured from before the close, which the server sees after).
	closed = time.Now()
	if err := tabs[2].ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("ann tab 3: close: %v", err)
	}
	expectEvent(t, ctx, bob, event.Presence{Room: event.DefaultRoom, Left: []event.Member{{User: annJ.User, Name: "ann"}}})
	if d := time.Since(closed); d < grace {
		t.Fatalf("bob was told ann left %v after her last tab closed, within the %v grace period", d, grace)
	}
}

// TestPresenceJoinDuringGrace proves that a user in its grace period is
// listed to a joiner (the room was not told it left), who is then told it
// left with the others once the grace period passes.
func TestPresenceJoinDuringGrace(t *testing.T) {
	t.Parallel()
	const grace = 2 * time.Second
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{PresenceGrace: grace})
	ann, bob, annJ, bobJ := joinedPair(t, ctx, wsURL)
	closed := time.Now() // before the close, which the server sees after
	if err := bob.ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("bob: close: %v", err)
	}
	carl := dial(t, ctx, wsURL, "carl", nil)
	carlJ := carl.join(t, ctx, "carl")
	if d := time.Since(closed); d >= grace {
		t.Fatalf("carl's join took %v, past the grace period: the test proves nothing", d)
	}
	if want := []event.Member{member(annJ), member(bobJ), member(carlJ)}; !reflect.DeepEqual(carlJ.Members, want) {
		t.Fatalf("carl listed %v, want %v: bob is in his grace period", carlJ.Members, want)
	}
	expectEvent(t, ctx, ann, event.Presence{Room: event.DefaultRoom, Joined: []event.Member{{User: carlJ.User, Name: "carl"}}})
	left := event.Presence{Room: event.DefaultRoom, Left: []event.Member{{User: bobJ.User, Name: "bob"}}}
	for _, p := range []*peer{carl, ann} {
		expectEvent(t, ctx, p, left)
	}
	if d := time.Since(closed); d < grace {
		t.Fatalf("bob's departure was told %v after he closed, within the %v grace period", d, grace)
	}

	// A joiner now does not list him.
	dan := dial(t, ctx, wsURL, "dan", nil)
	if j := dan.join(t, ctx, "dan"); !reflect.DeepEqual(j.Members, []event.Member{member(annJ), member(carlJ), member(j)}) {
		t.Fatalf("dan listed %v after bob left", j.Members)
	}
}
