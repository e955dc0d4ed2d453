package hub

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
)

// view is a client's presence list as the app keeps it: a Joined sets it,
// each Presence is applied idempotently. It counts the Presence events.
type view struct {
	list      map[string]bool
	presences int
}

// read folds events into v and returns what changed its list, as the app
// shows it: "+user" for each user added, "-user" for each removed.
func (v *view) read(events []event.Event) (changes []string) {
	for _, e := range events {
		switch e := e.(type) {
		case event.Joined:
			v.list = make(map[string]bool)
			for _, m := range e.Members {
				v.list[m.User] = true
			}
		case event.Presence:
			v.presences++
			for _, m := range e.Joined {
				if !v.list[m.User] {
					changes = append(changes, "+"+m.User)
				}
				v.list[m.User] = true
			}
			for _, m := range e.Left {
				if v.list[m.User] {
					changes = append(changes, "-"+m.User)
				}
				delete(v.list, m.User)
			}
		}
	}
	return changes
}

// users returns v's list, sorted.
func (v *view) users() []string { return slices.Sorted(maps.Keys(v.list)) }

// lobby returns h's lobby.
func lobby(h *Hub) *room {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.rooms[event.DefaultRoom]
}

// quiet makes the lobby's last Presence long past, as after a quiet spell.
func quiet(h *Hub) {
	r := lobby(h)
	r.mu.Lock()
	r.lastPresence = time.Time{}
	r.mu.Unlock()
}

// tickNow sends what the lobby gathered, as its timer does at the tick's
// end.
func tickNow(h *Hub) {
	quiet(h)
	h.presenceDue(lobby(h))
}

// TestPresenceBurstCoalesced: a burst of 200 joins into a room costs each
// member a few Presence events, about one per tick, not one per join, and
// every client, member or joiner, ends with the room's whole list.
func TestPresenceBurstCoalesced(t *testing.T) {
	t.Parallel()
	const burst = 200
	h := newHub(t, Config{})
	h.presenceTick = 100 * time.Millisecond
	members := []*Client{join(t, h, "m0", 0), join(t, h, "m1", 0)}
	views := make(map[*Client]*view)
	everyone := []string{"m0", "m1"}
	var clients []*Client
	var results []<-chan error
	start := time.Now()
	for i := range burst {
		user := fmt.Sprintf("j%03d", i)
		everyone = append(everyone, user)
		c := NewClient(0)
		clients = append(clients, c)
		results = append(results, goJoin(h, c, event.DefaultRoom, user, 0))
	}
	for i, done := range results {
		if err := await(t, fmt.Sprint("join ", i), done); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	clients = append(clients, members...)
	for _, c := range clients {
		views[c] = &view{}
	}
	slices.Sort(everyone)
	waitFor(t, func() error {
		for _, c := range clients {
			v := views[c]
			v.read(drain(t, c))
			if got := v.users(); !slices.Equal(got, everyone) {
				return fmt.Errorf("%s lists %d users, want %d", c.User(), len(got), len(everyone))
			}
		}
		return nil
	})
	// The burst's ticks, and one more for the changes of the last.
	bound := 2 + int(elapsed/h.presenceTick)
	for _, m := range members {
		if n := views[m].presences; n > bound {
			t.Errorf("%s got %d Presence events for %d joins in %v, want at most %d", m.User(), n, burst, elapsed, bound)
		}
	}
}

// TestPresenceFirstChangeAtOnce: the first change after a quiet spell is
// sent at once; the next, within the tick, waits for the tick's end.
func TestPresenceFirstChangeAtOnce(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{})
	h.presenceTick = 100 * time.Millisecond
	ann := join(t, h, "ann", 0)
	drain(t, ann)
	quiet(h)
	join(t, h, "bob", 0)
	if got := notices(drain(t, ann)); !slices.Equal(got, []string{"+bob"}) {
		t.Fatalf("ann was told %v at once, want bob's arrival", got)
	}
	join(t, h, "carl", 0)
	r := lobby(h)
	r.mu.Lock()
	gathered, armed := len(r.touched), r.timerArmed
	r.mu.Unlock()
	if gathered != 1 || !armed {
		t.Fatalf("carl's arrival right after bob's: %d gathered, timer armed %v; want it gathered for the tick", gathered, armed)
	}
	var told []string
	waitFor(t, func() error {
		if told = append(told, notices(drain(t, ann))...); len(told) == 0 {
			return fmt.Errorf("carl's arrival not sent at the tick's end")
		}
		return nil
	})
	if !slices.Equal(told, []string{"+carl"}) {
		t.Fatalf("ann was told %v at the tick's end, want carl's arrival", told)
	}
}

// TestPresenceBeforeTheirWords: a Message or a Typing from someone whose
// arrival is still gathered sends the gathered changes first, so that
// nobody sees a person speak before being told they are there.
func TestPresenceBeforeTheirWords(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{})
	h.presenceTick = time.Hour // only the words can send the changes
	ann := join(t, h, "ann", 0)
	drain(t, ann)
	carl := join(t, h, "carl", 0)
	if got := drain(t, ann); len(got) != 0 {
		t.Fatalf("ann got %#v within the tick", got)
	}
	send(t, h, carl, "", "hello")
	got := drain(t, ann)
	if len(got) != 2 || !slices.Equal(notices(got[:1]), []string{"+carl"}) || got[1].Type() != event.TypeMessage {
		t.Fatalf("ann got %#v, want carl's arrival, then the message", got)
	}

	dave := join(t, h, "dave", 0)
	if err := h.Typing(dave, ""); err != nil {
		t.Fatal(err)
	}
	got = drain(t, ann)
	if len(got) != 2 || !slices.Equal(notices(got[:1]), []string{"+dave"}) || got[1].Type() != event.TypeTyping {
		t.Fatalf("ann got %#v, want dave's arrival, then the typing", got)
	}
	// A sender whose arrival was sent does not send the gathered changes.
	join(t, h, "erin", 0)
	send(t, h, carl, "", "again")
	if got := drain(t, ann); len(got) != 1 || got[0].Type() != event.TypeMessage {
		t.Fatalf("ann got %#v, want the message alone: erin's arrival waits for the tick", got)
	}
}

// TestPresenceNetEffect: within one tick, a user who comes and goes, and
// one who goes and comes back, are sent as their net effect; every client
// ends with the right list, among them a joiner whose Joined already holds
// some of the tick's changes and gets the Presence after it.
func TestPresenceNetEffect(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		// steps run within one tick, after ann and bob are in and told.
		steps func(t *testing.T, h *Hub, bob *Client) (joiner *Client)
		want  []string
		// told is what ann, there before the tick, is told at its end.
		told []string
	}{
		{
			name: "join, then leave, seen by a joiner in between",
			steps: func(t *testing.T, h *Hub, _ *Client) *Client {
				carl := join(t, h, "carl", 0)
				dave := join(t, h, "dave", 0) // lists carl
				if err := h.LeaveRoom(carl, ""); err != nil {
					t.Fatal(err)
				}
				return dave
			},
			want: []string{"ann", "bob", "dave"},
			told: []string{"+dave"},
		},
		{
			name: "leave, then return, a joiner in between",
			steps: func(t *testing.T, h *Hub, bob *Client) *Client {
				if err := h.LeaveRoom(bob, ""); err != nil {
					t.Fatal(err)
				}
				dave := join(t, h, "dave", 0) // does not list bob
				join(t, h, "bob", 0)
				return dave
			},
			want: []string{"ann", "bob", "dave"},
			told: []string{"+dave"}, // bob never left, as far as ann can tell
		},
		{
			name: "leave, then return, a joiner after",
			steps: func(t *testing.T, h *Hub, bob *Client) *Client {
				if err := h.LeaveRoom(bob, ""); err != nil {
					t.Fatal(err)
				}
				join(t, h, "bob", 0)
				return join(t, h, "dave", 0) // lists all: the Presence tells it nothing
			},
			want: []string{"ann", "bob", "dave"},
			told: []string{"+dave"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHub(t, Config{})
			ann := join(t, h, "ann", 0)
			bob := join(t, h, "bob", 0)
			var annView view
			annView.read(drain(t, ann))
			h.presenceTick = time.Hour // the steps are one tick
			joiner := tt.steps(t, h, bob)
			var joinerView view
			joinerView.read(drain(t, joiner))
			if got := drain(t, ann); len(got) != 0 {
				t.Fatalf("ann got %#v within the tick", got)
			}
			tickNow(h)
			if got := annView.read(drain(t, ann)); !slices.Equal(got, tt.told) {
				t.Fatalf("ann was told %v, want %v", got, tt.told)
			}
			joinerView.read(drain(t, joiner))
			for who, v := range map[string]*view{"ann": &annView, "the joiner": &joinerView} {
				if got := v.users(); !slices.Equal(got, tt.want) {
					t.Errorf("%s lists %v, want %v", who, got, tt.want)
				}
			}
		})
	}
}

// TestPresenceSplitPastTheBound: a change of more users than one Presence
// may list reaches the members as several, which together hold them all.
func TestPresenceSplitPastTheBound(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{})
	ann := join(t, h, "ann", 0)
	var v view
	v.read(drain(t, ann))
	h.presenceTick = time.Hour
	n := event.MaxPresenceEntries + 10
	for i := range n {
		join(t, h, fmt.Sprint("u", i), 0)
	}
	tickNow(h)
	v.read(drain(t, ann))
	if len(v.list) != n+1 || v.presences != 2 {
		t.Fatalf("ann lists %d users after %d Presence events, want %d after 2", len(v.list), v.presences, n+1)
	}
}

// TestCloseStopsPresenceTimer: Close stops a room's timer, and no change
// arms it again.
func TestCloseStopsPresenceTimer(t *testing.T) {
	t.Parallel()
	h := newHub(t, Config{})
	h.presenceTick = time.Hour
	ann := join(t, h, "ann", 0)
	join(t, h, "bob", 0)
	r := lobby(h)
	r.mu.Lock()
	armed := r.timerArmed
	r.mu.Unlock()
	if !armed {
		t.Fatal("bob's arrival within the tick armed no timer")
	}
	h.Close()
	r.mu.Lock()
	stopped := !r.timerArmed && !r.presenceTimer.Stop() // Stop reports whether it was still running
	r.mu.Unlock()
	if !stopped {
		t.Fatal("the presence timer still runs after Close")
	}
	h.LeaveRoom(ann, "")
	r.mu.Lock()
	armed = r.timerArmed
	r.mu.Unlock()
	if armed {
		t.Fatal("a change after Close armed the timer")
	}
}
