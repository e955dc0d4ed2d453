package e2e

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server"
	"github.com/chatwasm/chat/server/hub"
	"github.com/chatwasm/chat/server/servertest"
)

// roster is the presence a Go client was told, folded as the page folds it
// into #presence (app.Chat.apply): the members of the last Joined, then
// each Presence after it. It keeps every state it went
// through, stamped with when it was told, so that a test can say when a
// person left the list and whether a ghost ever came back. The client's mu
// guards it.
type roster struct {
	members []event.Member
	joins   int // Joined events so far: one per connection that joined
	states  []rosterState
}

// rosterState is a roster as it was at one moment.
type rosterState struct {
	at      time.Time
	joins   int
	members []event.Member
}

// joined replaces the list with a Joined's: a new connection's list is
// the server's, whatever the last one said.
func (r *roster) joined(e event.Joined) {
	r.members = slices.Clone(e.Members)
	r.joins++
	r.record()
}

// presence applies a Presence as the app does, idempotently: each user of
// e.Joined not listed goes at the end, each of e.Left goes out.
func (r *roster) presence(e event.Presence) {
	members := slices.Clone(r.members)
	for _, m := range e.Joined {
		if !lists(members, m.User) {
			members = append(members, m)
		}
	}
	for _, m := range e.Left {
		members = slices.DeleteFunc(members, func(l event.Member) bool { return l.User == m.User })
	}
	r.members = members
	r.record()
}

// record keeps the state the roster is in now.
func (r *roster) record() {
	r.states = append(r.states, rosterState{at: time.Now(), joins: r.joins, members: slices.Clone(r.members)})
}

// firstWithout returns the first state after since that does not list
// user, and whether there is one.
func (r *roster) firstWithout(user string, since time.Time) (rosterState, bool) {
	for _, s := range r.states {
		if s.at.After(since) && !lists(s.members, user) {
			return s, true
		}
	}
	return rosterState{}, false
}

// rosterOf returns a copy of c's roster.
func (c *client) rosterOf() roster {
	c.mu.Lock()
	defer c.mu.Unlock()
	return roster{members: slices.Clone(c.roster.members), joins: c.roster.joins, states: slices.Clone(c.roster.states)}
}

// lists reports whether members holds user.
func lists(members []event.Member, user string) bool {
	return slices.ContainsFunc(members, func(m event.Member) bool { return m.User == user })
}

// listsExactly returns nil when members lists every one of want once and
// nobody else, in any order: after a restart the order is that of the
// reconnects.
func listsExactly(members []event.Member, want []event.Member) error {
	ok := len(members) == len(want)
	for _, w := range want {
		if n := slices.IndexFunc(members, func(m event.Member) bool { return m.User == w.User }); n < 0 ||
			slices.ContainsFunc(members[n+1:], func(m event.Member) bool { return m.User == w.User }) {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("lists %s, want %s", memberNames(members), memberNames(want))
	}
	return nil
}

// memberNames is members as their names, for messages.
func memberNames(members []event.Member) string {
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = m.Name
	}
	return "[" + strings.Join(out, " ") + "]"
}

// membersOf waits until every client has joined and returns them as members
// of the room, in the order of clients.
func membersOf(t *testing.T, clients []*client) []event.Member {
	t.Helper()
	out := make([]event.Member, len(clients))
	servertest.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		for i, c := range clients {
			c.mu.Lock()
			out[i] = event.Member{User: c.user, Name: c.name}
			c.mu.Unlock()
			if out[i].User == "" {
				return fmt.Errorf("%s has not joined", c.name)
			}
		}
		return nil
	})
	return out
}

// waitListing waits until every one of clients lists exactly want.
func waitListing(t *testing.T, within time.Duration, clients []*client, want []event.Member) {
	t.Helper()
	servertest.CheckFor(t, within, 10*time.Millisecond, func() error {
		var errs []error
		for _, c := range clients {
			if err := listsExactly(c.rosterOf().members, want); err != nil {
				errs = append(errs, fmt.Errorf("%s %w", c.name, err))
			}
		}
		return errors.Join(errs...)
	})
}

// flushNotices makes each of clients send a message and waits until all of
// them have every message: a client gets a room's events in order, so any
// presence notice the server queued before those messages has arrived.
func flushNotices(t *testing.T, clients []*client, text string) {
	t.Helper()
	for _, c := range clients {
		c.send(t, c.name+" "+text)
	}
	waitSettled(t, clients, 30*time.Second)
}

// TestPresenceAfterRestart proves that after a restart of the server
// process, graceful (SIGTERM, as a deploy) or not (SIGKILL, as a crash),
// presence is rebuilt from the clients that reconnect. Of three people in a
// room, the third's Session ends just before the restart, while the old
// server still lists it (its grace period has not passed): once the two
// others are back, each lists exactly the two of them, within the heartbeat
// timeout plus the grace period of the third's leaving, and no list of
// theirs names the third again from their new Joined on, nor after a round
// of messages that flushes every notice.
func TestPresenceAfterRestart(t *testing.T) {
	// The binary has no flag for either: the protocol's heartbeat and the
	// hub's grace period.
	const bound = event.HeartbeatTimeout + hub.DefaultPresenceGrace
	for _, tt := range []struct {
		name  string
		fault func(*serverProcess)
	}{
		{"SIGTERM", func(p *serverProcess) { p.terminate() }},
		{"SIGKILL", func(p *serverProcess) { p.kill() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startProcess(t)
			clients := startClients(t, srv.URL(), 3)
			everyone := membersOf(t, clients)
			waitListing(t, 30*time.Second, clients, everyone)
			stayers, ghost, want := clients[:2], clients[2], everyone[:2]
			ghostUser := everyone[2].User

			left := time.Now()
			ghost.stop()
			joinsBefore := make([]int, len(stayers))
			for i, c := range stayers {
				r := c.rosterOf()
				if !lists(r.members, ghostUser) {
					t.Fatalf("%s no longer lists %s before the restart (%v after it left): the test proves nothing",
						c.name, ghost.name, time.Since(left))
				}
				joinsBefore[i] = r.joins
			}
			faulted := time.Now()
			tt.fault(srv)
			down := time.Now()
			srv.start()
			up := time.Since(down)

			servertest.CheckFor(t, time.Until(left.Add(bound)), 10*time.Millisecond, func() error {
				var errs []error
				for i, c := range stayers {
					r := c.rosterOf()
					if r.joins <= joinsBefore[i] {
						errs = append(errs, fmt.Errorf("%s has not joined the new server", c.name))
					} else if err := listsExactly(r.members, want); err != nil {
						errs = append(errs, fmt.Errorf("%s %w", c.name, err))
					}
				}
				return errors.Join(errs...)
			})
			settled := time.Since(left)
			flushNotices(t, stayers, "is back")

			var figures []string
			for i, c := range stayers {
				r := c.rosterOf()
				if err := listsExactly(r.members, want); err != nil {
					t.Errorf("%s, once every notice is in, %v", c.name, err)
				}
				var rejoined time.Time
				for _, s := range r.states {
					if s.joins <= joinsBefore[i] {
						continue
					}
					if rejoined.IsZero() {
						rejoined = s.at
					}
					if lists(s.members, ghostUser) {
						t.Errorf("%s listed %s %v after the restart: %s", c.name, ghost.name, s.at.Sub(down), memberNames(s.members))
					}
				}
				figures = append(figures, fmt.Sprintf("%s rejoined %v after the fault", c.name, rejoined.Sub(down).Round(time.Millisecond)))
			}
			t.Logf("%s: old process gone after %v, new one serving %v later; %s; both list exactly %s %v after %s left (bound %v)",
				tt.name, down.Sub(faulted).Round(time.Millisecond), up.Round(time.Millisecond), strings.Join(figures, ", "), memberNames(want),
				settled.Round(time.Millisecond), ghost.name, bound)
		})
	}
}

// TestPresenceNetworkCut proves that a person whose network goes away, with
// no close frame, leaves the others' presence within the heartbeat timeout
// plus the grace period, and not before the grace period: a blip shorter
// than it is no departure. The person's client reaches the server through a
// TCP proxy that either stops forwarding, both ways, with the connection
// left open (silent: only the heartbeat can tell), or drops it at the TCP
// level (reset: the server knows at once); in both cases it refuses the
// client's reconnects from then on.
func TestPresenceNetworkCut(t *testing.T) {
	const (
		// The last Pong before a silent cut reached the server less than
		// interval before it, so the server cannot time out until timeout
		// minus interval (1.25 s) after the cut: not before the grace
		// period starts.
		interval = 250 * time.Millisecond
		timeout  = 1500 * time.Millisecond
		bound    = timeout + presenceGrace
		// slack is what the departure may take past bound to reach the
		// others: the room's presence tick (250 ms), a timer, a queue and
		// a socket on a loaded machine.
		slack = time.Second
	)
	for _, tt := range []struct {
		name string
		cut  func(*servertest.Proxy)
	}{
		{"silent", func(p *servertest.Proxy) { p.SetDown(true); p.Blackhole() }},
		{"reset", func(p *servertest.Proxy) { p.SetDown(true); p.Cut() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, ts := startServerConfig(t, server.Config{HeartbeatInterval: interval, HeartbeatTimeout: timeout})
			px := servertest.StartProxy(t, strings.TrimPrefix(ts.URL, "http://"))
			others := []*client{newClient(t, ts.URL, "ann", fastBackoff), newClient(t, ts.URL, "bob", fastBackoff)}
			gone := newClient(t, px.URL(), "carl", fastBackoff)
			// Before gone's Session stops: a blackholed socket would hold
			// its close for the close handshake's timeout.
			t.Cleanup(px.Cut)
			everyone := membersOf(t, slices.Concat(others, []*client{gone}))
			waitListing(t, 30*time.Second, slices.Concat(others, []*client{gone}), everyone)
			goneUser, want := everyone[2].User, everyone[:2]

			// Quiet for twice the heartbeat timeout, the person is kept
			// alive by its Pongs alone, and the cut then strikes a
			// connection whose last frame was a Pong, not its Join.
			listed := time.Now()
			time.Sleep(2 * timeout)
			for _, c := range others {
				r := c.rosterOf()
				if s, ok := r.firstWithout(goneUser, listed); ok {
					t.Fatalf("%s stopped listing %s %v before the cut, its connection up", c.name, gone.name, s.at.Sub(listed))
				}
			}
			if n := gone.rosterOf().joins; n != 1 {
				t.Fatalf("%s joined %d times before the cut, want once: the heartbeat dropped a live connection", gone.name, n)
			}

			cut := time.Now()
			tt.cut(px)
			waitListing(t, bound+30*time.Second, others, want)
			flushNotices(t, others, "is still here")

			var figures []string
			for _, c := range others {
				r := c.rosterOf()
				s, ok := r.firstWithout(goneUser, cut)
				if !ok {
					t.Fatalf("%s never stopped listing %s", c.name, gone.name)
				}
				switch d := s.at.Sub(cut); {
				case d < presenceGrace:
					t.Errorf("%s stopped listing %s %v after the cut, within the grace period (%v)", c.name, gone.name, d, presenceGrace)
				case d > bound+slack:
					t.Errorf("%s stopped listing %s %v after the cut, past the heartbeat timeout plus the grace period (%v)", c.name, gone.name, d, bound)
				default:
					figures = append(figures, fmt.Sprintf("%s after %v", c.name, d.Round(time.Millisecond)))
				}
				if err := listsExactly(r.members, want); err != nil {
					t.Errorf("%s, once every notice is in, %v", c.name, err)
				}
				for _, later := range r.states {
					if later.at.After(s.at) && lists(later.members, goneUser) {
						t.Errorf("%s listed %s again %v after the cut", c.name, gone.name, later.at.Sub(cut))
					}
				}
			}
			t.Logf("%s cut: %s left the others' lists: %s (grace %v, heartbeat timeout %v, bound %v)",
				tt.name, gone.name, strings.Join(figures, ", "), presenceGrace, timeout, bound)
		})
	}
}
