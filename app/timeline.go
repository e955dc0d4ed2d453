package app

import (
	"slices"
	"strconv"

	"github.com/chatwasm/chat/app/event"
)

// MaxEntries bounds the rows of the room that #message-container holds:
// messages, notices, dividers and the mark at the top of the history; the
// person's outbox, at most client.MaxOutbox rows, comes on top. go-app diffs
// children by position, so that a page of history going in above the first
// row draws every row of the window again, and lays them all out: with 500
// rows that took 50 to 75 ms in the browser, a stutter on every page as the
// person scrolls back; with 200 (four pages of history, a dozen screens) it
// takes 10 to 25 ms. One render never mounts more than go-app's 4,096
// queued components either, however many messages an Update brings.
const MaxEntries = 200

// keepEntries is how many of the newest rows a full window keeps when it
// lets its oldest go while the person follows the newest: all the others
// at once, rather than one row per new one. go-app diffs children by
// position, so that dropping the first row rewrites every row after it: in
// a busy room that would be the whole window on every message (100 a
// second, each render over 50 ms in the browser), and this way it is
// keepEntries rows once every MaxEntries-keepEntries messages.
const keepEntries = MaxEntries / 10

// gapText is the divider shown where messages are missing: they fell out of
// the server's retention while the page was away, or before the oldest
// message the history still holds.
const gapText = "Some older messages are no longer available"

// beginningText is the mark above the room's very first message, once the
// person has scrolled back to it.
const beginningText = "Beginning of the conversation"

// entry is one row of the message list. An entry never changes once the
// timeline holds it: the list's rows point at theirs, and a row whose
// pointer did not change is not drawn again (row).
type entry struct {
	notice  bool
	divider bool
	own     bool
	seq     uint64 // a message's seq; 0 for notices and dividers
	user    string // who a message or notice is about; its colour
	name    string // their name; empty for "You joined" and dividers
	// other, in a summary of many people's arrivals or departures, is the
	// second name; the row reads "<name>, <other> and <text>", and user
	// is empty.
	other string
	text  string // a message's text, or the words after a notice's name
	time  int64  // when the server accepted a message, Unix ms
	// clock, date and full are time in words, computed once when the
	// message arrives: the clock and the date for rows too old for a
	// relative time, full for the hover title.
	clock, date, full string
	// class, initial and title are how the row looks: its classes, the
	// person's badge letter and the hover title of their name. dressed
	// works them out once, as the row goes in, so that a render, which
	// redraws every row the window shifted, only reads them.
	class, initial, title string
}

// isMessage reports whether e is a message of the room.
func (e entry) isMessage() bool { return !e.notice && !e.divider }

// messageEntry is the row of m, for the person whose user id is user.
func messageEntry(m event.Message, user string) entry {
	e := entry{own: m.User == user, seq: m.Seq, user: m.User, name: m.Name, text: m.Text, time: m.Time}
	if m.Time > 0 {
		e.clock, e.date, e.full = formatTime(m.Time)
	}
	return e.dressed()
}

// dressed returns e with its look worked out: "message", "own" and the
// person's hue for a message, "notice" and the hue for a notice, "divider"
// for a divider; the badge letter and the name's hover title of a message
// or a notice about someone.
func (e entry) dressed() entry {
	if e.class != "" {
		return e
	}
	switch {
	case e.divider:
		e.class = "divider"
		return e
	case e.notice:
		e.class = "notice"
	default:
		e.class = "message"
		if e.own {
			e.class += " own"
		}
	}
	if e.notice && e.name == "" {
		return e // "You joined": no one to show
	}
	if e.other != "" {
		e.class += " summary" // many people: no one's colour
		return e
	}
	if hue := hueClass(e.user); hue != "" {
		e.class += " " + hue
	}
	e.initial, e.title = initial(e.name), personTitle(e.user, e.name)
	return e
}

// The marks above the first row once the history has been paged back to
// its end: shared by every list, and never changed.
var (
	beginningMark = entry{divider: true, class: "divider start", text: beginningText}
	prunedMark    = entry{divider: true, class: "divider pruned", text: gapText}
)

// historyTop is what the list shows above its first row once the history
// has been paged back to its end.
type historyTop int

const (
	topNone      historyTop = iota // older messages may follow: none shown
	topBeginning                   // "Beginning of the conversation"
	topPruned                      // retention deleted the first messages: gapText
)

// timeline is the message list's model: the rows the list shows, a window
// of at most MaxEntries, and what the list must do to its scroll position.
// The page applies the Session's Updates to it; the list reads it and tells
// it how the person scrolls. It knows nothing of go-app or the DOM, and
// its zero value is an empty list that follows the newest row.
//
// The window: new rows go at the end, and while the person follows the
// newest (the list is at its bottom) the oldest rows go when the window is
// full, all but the newest keepEntries at once. Older pages of history,
// asked for when the person scrolls to the top, go at the start; when the
// window is full then, the newest end goes instead, and the timeline is
// detached: the newest rows (at most MaxEntries of them) are kept apart, in
// live, and new rows go there, out of the window. When the person comes back to the bottom (by scrolling,
// with the "New messages" button, or by sending), the window becomes live
// again: the newest rows, at once, rather than the pages between what was
// shown and them. Scrolling up again pages back from there.
type timeline struct {
	view []entry // the rows shown, oldest first
	// live holds the newest rows while detached, oldest first; nil
	// otherwise (view holds them).
	live     []entry
	detached bool

	top historyTop // the mark above view's first row

	// pending is the Before of the history request in flight, 0 when none:
	// one page at a time.
	pending uint64

	scrolledUp bool // the person scrolled away from the newest row
	unseen     bool // messages arrived below what the person sees

	// toEnd and shift are what the list must do to its scroll position
	// after its next render (takeScroll): go to the newest row, or keep the
	// row the person was looking at in place while shift rows went in above
	// it.
	toEnd bool
	shift int

	version uint64 // counts the changes the list shows
}

// limit is how many rows view may hold: MaxEntries, the mark included.
func (t *timeline) limit() int {
	if t.top != topNone {
		return MaxEntries - 1
	}
	return MaxEntries
}

// rows returns the rows the list shows, oldest first.
func (t *timeline) rows() []entry { return t.view }

// add puts a new row of the room (a live message, a notice, a divider) at
// the end.
func (t *timeline) add(e entry) {
	e = e.dressed()
	t.version++
	if e.isMessage() && (t.scrolledUp || t.detached) {
		t.unseen = true
	}
	if t.detached {
		t.live = appendBounded(t.live, e)
		return
	}
	if len(t.view) >= t.limit() && t.scrolledUp {
		// The person reads older rows of a full window: they stay, and
		// the newest go on apart.
		t.live, t.detached = appendBounded(slices.Clone(t.view), e), true
		return
	}
	t.view = append(t.view, e)
	if len(t.view) > t.limit() {
		t.top = topNone // the first rows go, and the mark above them
		t.view = slices.Clone(t.view[len(t.view)-keepEntries:])
	}
	if !t.scrolledUp {
		t.toEnd = true
	}
}

// summaryOver is how many people one presence change may name row by row:
// 3. Past it, one row names the first two and counts the others, so that a
// burst of arrivals does not push the conversation out of the window.
const summaryOver = 3

// presence adds the rows of one presence change: "<name> <verb>" for each
// of people, or, when they are more than summaryOver, one row "<first>,
// <second> and <n> others <verb>".
func (t *timeline) presence(people []event.Member, verb string) {
	if len(people) <= summaryOver {
		for _, m := range people {
			t.add(entry{notice: true, user: m.User, name: m.Name, text: verb})
		}
		return
	}
	t.add(entry{notice: true, name: people[0].Name, other: people[1].Name,
		text: strconv.Itoa(len(people)-2) + " others " + verb})
}

// appendBounded appends e to rows, dropping the oldest past MaxEntries.
func appendBounded(rows []entry, e entry) []entry {
	rows = append(rows, e)
	if n := len(rows) - MaxEntries; n > 0 {
		rows = rows[n:]
	}
	return rows
}

// joined applies a Joined: "You joined" on the first, a divider where
// messages are missing. It returns the Before of a history request that
// went unanswered on the connection that ended, to be asked again (0 for
// none).
func (t *timeline) joined(e event.Joined, first bool) (again uint64) {
	// A history that went back (the server's store was reset) does not
	// continue what the list shows: start over with the one that follows.
	reset := e.Gap && e.Seq < t.newestSeq()
	if reset {
		*t = timeline{version: t.version + 1, scrolledUp: t.scrolledUp, toEnd: !t.scrolledUp}
	}
	if first {
		t.add(entry{notice: true, text: "You joined"})
	}
	if e.Gap && !reset {
		t.add(entry{divider: true, text: gapText})
	}
	return t.pending
}

// oldestSeq is the Before of the next page of history: the seq of the first
// message shown, or 0 when there is none or a divider comes before it (the
// history above a gap does not continue it).
func (t *timeline) oldestSeq() uint64 {
	for _, e := range t.view {
		switch {
		case e.divider:
			return 0
		case e.seq > 0:
			return e.seq
		}
	}
	return 0
}

// newestSeq is the seq of the newest message held, shown or not.
func (t *timeline) newestSeq() uint64 {
	rows := t.view
	if t.detached {
		rows = t.live
	}
	for i := len(rows) - 1; i >= 0; i-- {
		if rows[i].seq > 0 {
			return rows[i].seq
		}
	}
	return 0
}

// requestOlder returns the Before of the page of history to ask for now,
// and marks it pending; it reports false while a page is pending, once the
// history is complete, or with no message to page back from.
func (t *timeline) requestOlder() (uint64, bool) {
	if t.pending != 0 || t.top != topNone {
		return 0, false
	}
	before := t.oldestSeq()
	if before == 0 {
		return 0, false
	}
	t.pending = before
	return before, true
}

// historyRefused forgets the pending request: the server refused it (too
// many at once, or a read that failed), and it may be asked again.
func (t *timeline) historyRefused() { t.pending = 0 }

// prepend puts a page of older history above the first row, when it is the
// answer to the pending request and the list still starts where it did;
// other pages are dropped. With the page's Complete, the mark of the
// beginning (or of what retention deleted) goes on top. A full window loses
// its newest end and is detached.
func (t *timeline) prepend(h event.History, user string) {
	if t.pending == 0 || h.Before != t.pending {
		return
	}
	t.pending = 0
	oldest := t.oldestSeq()
	if oldest == 0 || oldest != h.Before {
		return // the list changed since the request: ask again from its top
	}
	rows := make([]entry, 0, len(h.Messages))
	for _, m := range h.Messages {
		if m.Seq >= oldest || (len(rows) > 0 && m.Seq <= rows[len(rows)-1].seq) {
			continue // out of order: a server bug, not worth a wrong list
		}
		rows = append(rows, messageEntry(m, user))
	}
	shift := len(rows)
	if h.Complete {
		t.top = topBeginning
		if h.Pruned {
			t.top = topPruned
		}
		shift++
	}
	if shift == 0 {
		return
	}
	view := make([]entry, 0, len(rows)+len(t.view))
	view = append(append(view, rows...), t.view...)
	if len(view) > t.limit() {
		if !t.detached {
			t.live, t.detached = t.view, true
		}
		view = view[:t.limit()]
	}
	t.view = view
	t.shift += shift
	t.version++
}

// scrolled records whether the person is at the newest row. It reports
// whether what the list shows changed: back at the bottom, the new messages
// are seen, and a detached window becomes live again.
func (t *timeline) scrolled(atBottom bool) bool {
	t.scrolledUp = !atBottom
	if !atBottom {
		return false
	}
	if t.detached {
		t.toLatest()
		return true
	}
	if t.unseen {
		t.unseen = false
		t.version++
		return true
	}
	return false
}

// observe records where the list stands, read from the page, without
// acting on it as scrolled does: that waits for the scroll event. While the
// list is to go to its newest row (toLatest, not rendered yet), the page
// still shows where it was, and the person follows the newest.
func (t *timeline) observe(atBottom bool) {
	if !t.toEnd {
		t.scrolledUp = !atBottom
	}
}

// toLatest shows the newest rows and follows them: the window becomes live
// again if it was detached, and the list goes to its bottom.
func (t *timeline) toLatest() {
	if t.detached {
		t.view, t.live, t.detached, t.top = t.live, nil, false, topNone
	}
	t.scrolledUp, t.unseen, t.toEnd, t.shift = false, false, true, 0
	t.version++
}

// scrollRequest is what the list does to its scroll position after a
// render.
type scrollRequest struct {
	toEnd bool // go to the newest row
	shift int  // keep the row looked at in place: it moved down by shift rows
}

// takeScroll returns, and forgets, what the list must do to its scroll
// position since the last call. A person following the newest row stays
// there whatever went in above.
func (t *timeline) takeScroll() scrollRequest {
	r := scrollRequest{toEnd: t.toEnd || (t.shift != 0 && !t.scrolledUp)}
	if !r.toEnd {
		r.shift = t.shift
	}
	t.toEnd, t.shift = false, 0
	return r
}
