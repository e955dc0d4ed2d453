package app

import (
	"net/url"
	"strings"

	"github.com/chatwasm/chat/app/event"
)

// roomPrefix starts a room's address: /r/<room>. The lobby's is "/".
const roomPrefix = "/r/"

// roomPath is the address of a room: "/" for the lobby, /r/<room> for the
// others. A name that is no room's gives the lobby's.
func roomPath(room string) string {
	if room == event.DefaultRoom || !event.ValidRoom(room) {
		return "/"
	}
	return roomPrefix + room
}

// roomOfPath returns the room an address names: the lobby for "/" (and for
// /r/ and /r/lobby), the room after /r/ otherwise. ok is false for a name that
// event.ValidRoom refuses; name is then what the address holds, decoded,
// for the page to show.
func roomOfPath(path string) (name string, ok bool) {
	rest, found := strings.CutPrefix(path, roomPrefix)
	if !found || rest == "" {
		return event.DefaultRoom, true // "/", or /r/ with no name
	}
	if u, err := url.PathUnescape(rest); err == nil {
		rest = u
	}
	return rest, event.ValidRoom(rest)
}

// roomView is the page's state of one open room: what its message list,
// presence list and typing indicator show, and its unread count. Each room
// keeps its own, so that switching rooms and back shows each as it was.
type roomView struct {
	// joined: a Joined of the room arrived on this page (it said "You
	// joined" once).
	joined bool
	// joinedSeq is the room's last seq at its last Joined: messages after
	// it are live, not history.
	joinedSeq uint64

	timeline   timeline       // the message list's rows
	members    []event.Member // who is in the room, in arrival order
	membersCut bool           // the room holds more than members lists
	typists    []typist       // who else is typing
	// spoke is when each person's last live message arrived, Unix ms: a
	// Typing from them just after it was sent before it, and is stale.
	spoke map[string]int64

	// unread counts the others' live messages that arrived while the
	// room was not in sight (another room shown, or the tab hidden).
	unread int
}

// spokeAt records that user's live message arrived at now (Unix ms),
// forgetting those older than event.TypingInterval.
func (v *roomView) spokeAt(user string, now int64) {
	if v.spoke == nil {
		v.spoke = make(map[string]int64)
	}
	for u, at := range v.spoke {
		if now-at >= event.TypingInterval.Milliseconds() {
			delete(v.spoke, u)
		}
	}
	v.spoke[user] = now
}

// justSpoke reports whether user's last live message arrived less than
// event.TypingInterval before now: a Typing from them now was sent with the
// message's last keystroke, and overtook it or lagged behind it.
func (v *roomView) justSpoke(user string, now int64) bool {
	at, ok := v.spoke[user]
	return ok && now-at < event.TypingInterval.Milliseconds()
}
