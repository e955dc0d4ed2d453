package app

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chatwasm/chat/app/client"
	"github.com/chatwasm/chat/app/event"
)

// roomMessage is message seq of a test room.
func roomMessage(seq uint64) event.Message {
	return event.Message{Room: event.DefaultRoom, Seq: seq, User: "u2", Name: "Bob", Text: fmt.Sprint("m", seq)}
}

// historyPage answers a request for the messages before before in a room
// whose first retained message is first: up to event.MaxHistoryLimit of
// them, oldest first, as the server would.
func historyPage(before, first uint64) event.History {
	h := event.History{Room: event.DefaultRoom, Before: before}
	from := first
	if before > event.MaxHistoryLimit && before-event.MaxHistoryLimit > from {
		from = before - event.MaxHistoryLimit
	}
	for seq := from; seq < before; seq++ {
		h.Messages = append(h.Messages, roomMessage(seq))
	}
	h.Complete = from == first
	h.Pruned = h.Complete && first > 1
	return h
}

// seqs returns the seqs of the message rows.
func seqs(rows []entry) []uint64 {
	var out []uint64
	for _, e := range rows {
		if e.seq > 0 {
			out = append(out, e.seq)
		}
	}
	return out
}

// checkWindow fails unless the timeline holds at most MaxEntries rows, the
// mark included, and its messages in order, each once, with none missing.
func checkWindow(t *testing.T, tl *timeline, where string) {
	t.Helper()
	n := len(tl.rows())
	if tl.top != topNone {
		n++
	}
	if n > MaxEntries {
		t.Fatalf("%s: %d rows, over %d", where, n, MaxEntries)
	}
	s := seqs(tl.rows())
	for i := 1; i < len(s); i++ {
		if s[i] != s[i-1]+1 {
			t.Fatalf("%s: seq %d follows %d", where, s[i], s[i-1])
		}
	}
}

// TestTimelinePagesBackThroughTheWholeHistory scrolls a room of 1,000
// messages from its live tail back to its first message, a page at a time:
// one request at a time, every message exactly once and in order, the
// window never over MaxEntries (its newest end goes, and it detaches), the
// row looked at kept in place, and the beginning marked at the end. Back
// at the bottom, the newest rows come back at once.
func TestTimelinePagesBackThroughTheWholeHistory(t *testing.T) {
	t.Parallel()
	const total = 1000
	var tl timeline
	tl.joined(event.Joined{User: "me", Seq: total}, true)
	for seq := uint64(total - 99); seq <= total; seq++ {
		tl.add(messageEntry(roomMessage(seq), "me"))
	}
	if r := tl.takeScroll(); !r.toEnd {
		t.Fatalf("the first history does not go to the bottom: %+v", r)
	}
	tl.scrolled(false) // the person scrolls up
	seen := map[uint64]int{}
	for _, s := range seqs(tl.rows()) {
		seen[s]++
	}
	pages := 0
	for {
		before, ok := tl.requestOlder()
		if !ok {
			break
		}
		if _, again := tl.requestOlder(); again {
			t.Fatal("a second request while one is pending")
		}
		if want := seqs(tl.rows())[0]; before != want {
			t.Fatalf("asked for the page before %d, want before the oldest held, %d", before, want)
		}
		page := historyPage(before, 1)
		tl.prepend(page, "me")
		pages++
		want := len(page.Messages)
		if page.Complete {
			want++ // the mark
		}
		if r := tl.takeScroll(); r.toEnd || r.shift != want {
			t.Fatalf("page %d: scroll %+v, want the anchor kept %d rows down", pages, r, want)
		}
		checkWindow(t, &tl, fmt.Sprintf("page %d", pages))
		for _, m := range page.Messages {
			seen[m.Seq]++
		}
	}
	if tl.top != topBeginning || seqs(tl.rows())[0] != 1 {
		t.Fatalf("after %d pages: top %v, first seq %d", pages, tl.top, seqs(tl.rows())[0])
	}
	for seq := uint64(1); seq <= total; seq++ {
		if seen[seq] != 1 {
			t.Fatalf("seq %d seen %d times", seq, seen[seq])
		}
	}
	if !tl.detached || len(tl.live) > MaxEntries || tl.live[len(tl.live)-1].seq != total {
		t.Fatalf("detached %v with %d live rows", tl.detached, len(tl.live))
	}
	t.Logf("%d pages, %d rows held at the end", pages, len(tl.rows()))

	// A new message while reading the beginning: the window stays, the
	// button shows.
	first := tl.rows()[0]
	tl.add(messageEntry(roomMessage(total+1), "me"))
	if !tl.unseen || tl.rows()[0] != first || tl.takeScroll() != (scrollRequest{}) {
		t.Fatalf("a new message moved the window, or shows no button")
	}
	// Back at the bottom: the newest rows, with the new one, at once.
	if !tl.scrolled(true) {
		t.Fatal("back at the bottom changed nothing")
	}
	s := seqs(tl.rows())
	if tl.detached || tl.unseen || tl.top != topNone || s[len(s)-1] != total+1 || !tl.takeScroll().toEnd {
		t.Fatalf("back at the bottom: detached %v, unseen %v, top %v, seqs %d…%d", tl.detached, tl.unseen, tl.top, s[0], s[len(s)-1])
	}
	checkWindow(t, &tl, "back at the bottom")
}

func TestTimelineFollowsTheNewest(t *testing.T) {
	t.Parallel()
	var tl timeline
	for seq := uint64(1); seq <= 3; seq++ {
		tl.add(messageEntry(roomMessage(seq), "me"))
	}
	// The beginning is asked for and marked.
	before, ok := tl.requestOlder()
	if !ok || before != 1 {
		t.Fatalf("requestOlder = %d, %v", before, ok)
	}
	tl.prepend(event.History{Before: 1, Complete: true}, "me")
	if tl.top != topBeginning {
		t.Fatalf("top %v after a complete page", tl.top)
	}
	if _, ok := tl.requestOlder(); ok {
		t.Fatal("a request past the beginning")
	}
	// Following the bottom: a full window drops its oldest rows, all but
	// keepEntries at once, and the mark with them; nothing detaches.
	for seq := uint64(4); seq <= MaxEntries+10; seq++ {
		tl.add(messageEntry(roomMessage(seq), "me"))
		checkWindow(t, &tl, fmt.Sprint("seq ", seq))
	}
	s := seqs(tl.rows())
	if tl.detached || tl.unseen || tl.top != topNone || len(s) < keepEntries || s[len(s)-1] != MaxEntries+10 || s[0] != MaxEntries+10-uint64(len(s))+1 {
		t.Fatalf("detached %v, unseen %v, top %v, %d rows to %d", tl.detached, tl.unseen, tl.top, len(s), s[len(s)-1])
	}
	if r := tl.takeScroll(); !r.toEnd {
		t.Fatalf("new rows at the bottom do not scroll into view: %+v", r)
	}
}

func TestTimelineScrolledUp(t *testing.T) {
	t.Parallel()
	var tl timeline
	for seq := uint64(1); seq <= 10; seq++ {
		tl.add(messageEntry(roomMessage(seq), "me"))
	}
	tl.takeScroll()
	// A notice is not a new message; a message is.
	tl.scrolled(false)
	tl.add(entry{notice: true, user: "u3", name: "Cy", text: "connected"})
	if tl.unseen {
		t.Fatal("a notice shows the New messages button")
	}
	tl.add(messageEntry(roomMessage(11), "me"))
	if !tl.unseen || tl.detached || len(tl.rows()) != 12 {
		t.Fatalf("unseen %v, detached %v, %d rows", tl.unseen, tl.detached, len(tl.rows()))
	}
	if r := tl.takeScroll(); r != (scrollRequest{}) {
		t.Fatalf("a new message moved a list scrolled up: %+v", r)
	}
	// Scrolling without reaching the bottom changes nothing shown.
	if tl.scrolled(false) {
		t.Fatal("a scroll away from the bottom changed the list")
	}
	// The button (toLatest) shows the newest and hides itself; the page,
	// not rendered yet, still stands where it was, and a message then is
	// followed.
	tl.toLatest()
	tl.observe(false)
	tl.add(messageEntry(roomMessage(12), "me"))
	if tl.unseen || tl.scrolledUp || !tl.takeScroll().toEnd {
		t.Fatal("toLatest did not go to the newest")
	}
	// A scroll up that its event has not told yet: not followed.
	tl.observe(false)
	tl.add(messageEntry(roomMessage(13), "me"))
	if !tl.unseen || tl.takeScroll().toEnd {
		t.Fatal("a list scrolled up was followed")
	}

	// A full window scrolled up: the rows read stay, the newest go apart.
	tl = timeline{}
	for seq := uint64(1); seq <= MaxEntries; seq++ {
		tl.add(messageEntry(roomMessage(seq), "me"))
	}
	tl.scrolled(false)
	tl.add(messageEntry(roomMessage(MaxEntries+1), "me"))
	s := seqs(tl.rows())
	if !tl.detached || !tl.unseen || s[0] != 1 || s[len(s)-1] != MaxEntries || tl.live[len(tl.live)-1].seq != MaxEntries+1 || len(tl.live) != MaxEntries {
		t.Fatalf("detached %v, unseen %v, rows %d…%d, %d live", tl.detached, tl.unseen, s[0], s[len(s)-1], len(tl.live))
	}
}

// TestTimelineDropsStaleHistory: a page that answers no pending request,
// or a request made before the list changed, is not prepended.
func TestTimelineDropsStaleHistory(t *testing.T) {
	t.Parallel()
	var tl timeline
	for seq := uint64(101); seq <= 200; seq++ {
		tl.add(messageEntry(roomMessage(seq), "me"))
	}
	tl.prepend(historyPage(101, 1), "me") // nobody asked
	if s := seqs(tl.rows()); s[0] != 101 {
		t.Fatalf("an unasked page went in: first seq %d", s[0])
	}
	before, _ := tl.requestOlder()
	tl.prepend(historyPage(before-10, 1), "me") // another request's
	if s := seqs(tl.rows()); s[0] != 101 || tl.pending != before {
		t.Fatalf("another request's page went in: first seq %d, pending %d", s[0], tl.pending)
	}
	// Retention moved on: the page goes in, the mark says what is gone.
	tl.prepend(historyPage(before, 60), "me")
	if s := seqs(tl.rows()); s[0] != 60 || tl.top != topPruned || tl.pending != 0 {
		t.Fatalf("first seq %d, top %v, pending %d", s[0], tl.top, tl.pending)
	}

	// A refused request may be asked again.
	tl = timeline{}
	tl.add(messageEntry(roomMessage(5), "me"))
	if _, ok := tl.requestOlder(); !ok {
		t.Fatal("no request")
	}
	tl.historyRefused()
	if _, ok := tl.requestOlder(); !ok {
		t.Fatal("no request after a refusal")
	}
}

func TestTimelineJoined(t *testing.T) {
	t.Parallel()
	var tl timeline
	tl.joined(event.Joined{User: "me", Seq: 0}, true)
	tl.add(messageEntry(roomMessage(1), "me"))
	tl.add(messageEntry(roomMessage(2), "me"))
	before, _ := tl.requestOlder()
	// A reconnect asks again for the page the old connection did not answer.
	if again := tl.joined(event.Joined{User: "me", Seq: 2}, false); again != before {
		t.Fatalf("joined returns %d to ask again, want %d", again, before)
	}
	// Messages missing: a divider, and no paging across it from the top.
	tl = timeline{}
	tl.joined(event.Joined{User: "me", Seq: 0}, true)
	tl.joined(event.Joined{User: "me", Seq: 900, Gap: true}, false)
	tl.add(messageEntry(roomMessage(850), "me"))
	var texts []string
	for _, e := range tl.rows() {
		texts = append(texts, e.text)
	}
	if got := strings.Join(texts, "|"); got != "You joined|"+gapText+"|m850" {
		t.Fatalf("rows %q", got)
	}
	if _, ok := tl.requestOlder(); ok {
		t.Fatal("a request from above a gap")
	}
	// The server's history went back: what the list showed goes.
	tl = timeline{}
	tl.joined(event.Joined{User: "me", Seq: 500}, true)
	tl.add(messageEntry(roomMessage(500), "me"))
	tl.joined(event.Joined{User: "me", Seq: 3, Gap: true}, false)
	tl.add(messageEntry(roomMessage(3), "me"))
	if s := seqs(tl.rows()); len(s) != 1 || s[0] != 3 || len(tl.rows()) != 1 {
		t.Fatalf("after a reset: %d rows, seqs %v", len(tl.rows()), s)
	}
}

// TestChatRendersABoundedList: an Update of 5,000 messages (a long
// catch-up) renders no more than MaxEntries rows, far below go-app's 4,096
// components in one render.
func TestChatRendersABoundedList(t *testing.T) {
	t.Parallel()
	c := &Chat{mounted: true, user: "me", name: "Ann", known: true}
	var events []event.Event
	for seq := uint64(1); seq <= 5000; seq++ {
		events = append(events, roomMessage(seq))
	}
	c.apply(client.Update{State: client.StateConnected, Events: events})
	rows := rowTexts(render(t, c))
	if len(rows) > MaxEntries || len(rows) < keepEntries || rows[0] != fmt.Sprint("Bob: m", 5000-len(rows)+1) || rows[len(rows)-1] != "Bob: m5000" {
		t.Fatalf("%d rows, from %q to %q", len(rows), rows[0], rows[len(rows)-1])
	}
}

// TestChatHistory: the page prepends the page it asked for, asks again on
// a new connection, and takes a refusal of its request for a pause, not an
// error to show.
func TestChatHistory(t *testing.T) {
	t.Parallel()
	c := &Chat{mounted: true, known: true, sess: newTestSession(t)}
	c.apply(client.Update{State: client.StateConnected, Events: []event.Event{
		event.Joined{User: "me", Name: "Ann", Token: "t", Seq: 120},
		roomMessage(100), roomMessage(120),
	}})
	c.loadOlder()
	if c.view().timeline.pending != 100 {
		t.Fatalf("pending %d, want 100", c.view().timeline.pending)
	}
	a := c.apply(client.Update{State: client.StateConnected, Refusals: []event.Error{{Code: event.CodeRateLimited, Message: "too many history requests: wait and retry", RetryAfter: 250}}})
	if c.sendErr != "" || c.view().timeline.pending != 0 || a.historyWait.Milliseconds() != 250 {
		t.Fatalf("refused: error %q, pending %d, wait %v", c.sendErr, c.view().timeline.pending, a.historyWait)
	}
	c.loadOlder()
	if a := c.apply(client.Update{State: client.StateConnected, Events: []event.Event{event.Joined{User: "me", Name: "Ann", Token: "t", Seq: 120}}}); a.historyAgain[event.DefaultRoom] != 100 {
		t.Fatalf("after a reconnect: ask again for %d, want 100", a.historyAgain[event.DefaultRoom])
	}
	c.apply(client.Update{State: client.StateConnected, Events: []event.Event{historyPage(100, 1)}})
	html := render(t, c)
	rows := rowTexts(html)
	if len(rows) != 50+3 || rows[0] != "Bob: m50" || rows[49] != "Bob: m99" || rows[50] != "You joined" {
		t.Fatalf("rows after the page: %q", rows)
	}
	// Any other refusal still shows.
	c.apply(client.Update{State: client.StateConnected, Refusals: []event.Error{{Code: event.CodeInvalidText, Message: "message is empty"}}})
	if c.sendErr != "Message is empty." {
		t.Fatalf("send error %q", c.sendErr)
	}
}
