package app

import (
	"context"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/chatwasm/chat/app/client"
	"github.com/chatwasm/chat/app/event"
)

// StatusSent is the data-status of a message row the server stored: every
// row of the room's messages has it; outbox rows have their OutboxItem.Status
// (pending, failed).
const StatusSent = "sent"

// listID is the id of the message list: #message-container.
const listID = "message-container"

// Scroll thresholds of the message list, in CSS pixels.
const (
	// bottomSlack: a list scrolled less than this above its newest row is
	// at the bottom, and follows new rows. A quarter of a row: a scroll
	// position rounded by the browser, or a row that grew, is no intent.
	bottomSlack = 16
	// minTopSlack: a list scrolled less than this below its first row (or
	// one screen, when that is more) is near the top, and pages in older
	// history before the person gets there.
	minTopSlack = 200
)

// historian is what the message list asks of the page.
type historian interface {
	// loadOlder asks for the page of history above the first row, unless
	// one is pending or there is none.
	loadOlder()
	// retry sends a failed message of the outbox again; remove drops it.
	retry(id string)
	remove(id string)
}

// messageList is #message-container: the rows of the room (a bounded
// window of its timeline), the person's outbox after them, and the "New
// messages ↓" button while new messages wait below. It pages older history
// in as the person scrolls up, keeps the row they look at in place when
// rows go in above it, follows the newest row while they are at the bottom,
// and shows times relative to now, refreshed by one ticker.
type messageList struct {
	goapp.Compo

	// Timeline is the page's model of the rows; Version changes with it,
	// so that the list renders when, and only when, it changed.
	Timeline *timeline
	Version  uint64
	// Outbox is the person's messages not acknowledged yet, shown after
	// the newest row; User and Name are the person's, for those rows.
	Outbox []client.OutboxItem
	User   string
	Name   string
	Page   historian

	now    int64              // Unix ms of the relative times; 0 until mounted
	cancel context.CancelFunc // stops the ticker
}

// OnMount starts the ticker of the relative times.
func (l *messageList) OnMount(ctx goapp.Context) {
	l.now = nowMillis()
	tctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	ctx.Async(func() {
		t := time.NewTicker(relativeTimeRefresh)
		defer t.Stop()
		for {
			select {
			case <-tctx.Done():
				return
			case now := <-t.C:
				ctx.Dispatch(func(goapp.Context) { l.now = now.UnixMilli() })
			}
		}
	})
}

// OnDismount stops the ticker: go-app never cancels a Context itself.
func (l *messageList) OnDismount() {
	if l.cancel != nil {
		l.cancel()
	}
}

// OnUpdate runs when the page hands the list a changed timeline, before
// the list renders it: the DOM still shows the old rows, so that the row
// the person looks at can be found, and put back in place after the render.
func (l *messageList) OnUpdate(ctx goapp.Context) {
	r := l.Timeline.takeScroll()
	switch {
	case r.toEnd:
		ctx.Defer(func(goapp.Context) {
			scrollToBottom(listID)
			l.checkTop()
		})
	case r.shift != 0:
		list := goapp.Window().GetElementByID(listID)
		a := captureAnchor(list)
		ctx.Defer(func(goapp.Context) {
			a.restore(list, r.shift)
			l.checkTop()
		})
	}
}

// onScroll follows the person's scrolling: at the bottom the list follows
// new rows again (and a detached window becomes live), near the top it asks
// for older history. Most scroll events change nothing the list shows, and
// render nothing.
func (l *messageList) onScroll(ctx goapp.Context, e goapp.Event) {
	m := measure(ctx.JSSrc())
	changed := l.Timeline.scrolled(m.atBottom())
	if m.nearTop() {
		l.Page.loadOlder()
	}
	if !changed {
		ctx.PreventUpdate()
	}
}

// checkTop asks for older history when the list is near its top after a
// render: a list too short to scroll fills up without a scroll event.
func (l *messageList) checkTop() {
	if listNearTop() {
		l.Page.loadOlder()
	}
}

// listAtBottom reports whether the list in the page is at its newest row,
// and false for ok when there is no list (natively).
func listAtBottom() (atBottom, ok bool) {
	el := goapp.Window().GetElementByID(listID)
	if !el.Truthy() {
		return false, false
	}
	return measure(el).atBottom(), true
}

// listNearTop reports whether the list in the page is near its first row.
func listNearTop() bool {
	el := goapp.Window().GetElementByID(listID)
	return el.Truthy() && measure(el).nearTop()
}

// onNewMessages jumps to the newest row, and gives the list the focus that
// the button, gone, held.
func (l *messageList) onNewMessages(ctx goapp.Context, e goapp.Event) {
	l.Timeline.toLatest()
	ctx.Defer(func(goapp.Context) { focus(listID) })
}

// ago returns the time of a row in words: relative to now, or its date when
// older than relativeWithin, or its clock before the list is mounted (the
// page rendered on the server).
func (l *messageList) ago(e entry) string {
	if l.now == 0 {
		return e.clock
	}
	if s, ok := relativeTime(e.time, l.now); ok {
		return s
	}
	return e.date
}

// Render draws the rows, the outbox (after the newest row only: while the
// window is detached its end is not the newest) and the button.
func (l *messageList) Render() goapp.UI {
	t := l.Timeline
	rows := t.rows()
	return goapp.Div().Class("message-pane").Body(
		// Focusable, so that the keyboard alone can scroll the history.
		goapp.Ul().ID(listID).Class("messages").Aria("live", "polite").
			Aria("label", "Messages").TabIndex(0).OnScroll(l.onScroll).Body(
			goapp.If(t.top != topNone, func() goapp.UI {
				if t.top == topPruned {
					return &row{Entry: &prunedMark}
				}
				return &row{Entry: &beginningMark}
			}),
			goapp.Range(rows).Slice(func(i int) goapp.UI {
				r := &row{Entry: &rows[i]}
				if rows[i].time > 0 {
					r.Time = l.ago(rows[i])
				}
				return r
			}),
			goapp.If(!t.detached, func() goapp.UI {
				return goapp.Range(l.Outbox).Slice(func(i int) goapp.UI {
					return l.renderOutboxRow(l.Outbox[i])
				})
			}),
		),
		goapp.If(t.unseen, func() goapp.UI {
			return goapp.Button().ID("new-messages").Class("new-messages").Type("button").
				Text("New messages ↓").OnClick(l.onNewMessages)
		}),
	)
}

// renderOutboxRow draws one of the person's messages not acknowledged yet:
// "You: text" like any own message, marked pending or failed, in the
// person's own colour once the page knows their user id. A failed one
// offers Retry and Delete; their words come from CSS and aria-label, so the
// row's text stays "You: text".
func (l *messageList) renderOutboxRow(it client.OutboxItem) goapp.UI {
	li := personRow(goapp.Li().Class("message", "own", string(it.Status)), l.User, l.Name).
		DataSet("status", string(it.Status))
	parts := messageParts(event.ReservedName, personTitle(l.User, l.Name), it.Text)
	if it.Status != client.StatusFailed {
		return li.Body(parts...)
	}
	id := it.ID
	return li.DataSet("reason", it.Reason).Title(it.Reason).Body(append(parts,
		goapp.Span().Class("row-actions").Body(
			goapp.Button().Type("button").Class("row-action retry").Aria("label", "Retry").
				OnClick(func(goapp.Context, goapp.Event) { l.Page.retry(id) }, goapp.EventScope(id)),
			goapp.Button().Type("button").Class("row-action delete").Aria("label", "Delete").
				OnClick(func(goapp.Context, goapp.Event) { l.Page.remove(id) }, goapp.EventScope(id)),
		),
	)...)
}

// messageParts are the parts of a message row: the name shown (with title,
// the full name and short id, on hover), ": " and the text. The name and the
// text are each in a <bdi>: what a person typed keeps its own direction, and
// a direction override in it cannot reorder the rest of the row.
func messageParts(name, title, text string) []goapp.UI {
	return []goapp.UI{
		goapp.Bdi().Class("name").Title(title).Text(name),
		goapp.Span().Class("sep").Text(": "),
		goapp.Bdi().Class("text").Text(text),
	}
}

// row is one message, notice or divider of the room. go-app draws a row
// again when one of its exported fields changed, comparing a pointer with
// reflect.DeepEqual, which returns at once when both point at the same
// entry: a row whose entry stayed (entries never change once in the
// timeline) costs a comparison or two, and a row that shows another entry
// (the window shifted under it) is drawn again. A render of the list draws
// again only the rows that changed.
type row struct {
	goapp.Compo
	Entry *entry
	// Time is when the message was accepted, in words ("2 min ago");
	// empty without a time.
	Time string
}

// Render draws "You: text", "name: text", a notice ("You joined",
// "name connected", "name disconnected", "name, name and n others
// connected") or a divider, always as text, with
// what a person typed in <bdi> and the person's colour and initial on their
// messages and notices.
func (r *row) Render() goapp.UI {
	e := r.Entry
	li := goapp.Li().Class(e.class)
	if e.initial != "" {
		li = li.Attr("data-initial", e.initial)
	}
	switch {
	case e.divider, e.notice && e.name == "":
		return li.Text(e.text)
	case e.other != "":
		return li.Body(
			goapp.Bdi().Class("name").Text(e.name),
			goapp.Span().Text(", "),
			goapp.Bdi().Class("name").Text(e.other),
			goapp.Span().Class("verb").Text(" and "+e.text),
		)
	case e.notice:
		return li.Body(
			goapp.Bdi().Class("name").Title(e.title).Text(e.name),
			goapp.Span().Class("verb").Text(" "+e.text),
		)
	}
	name := e.name
	if e.own {
		name = event.ReservedName
	}
	li = li.Attr("data-status", StatusSent)
	if e.full != "" {
		// The time shows through CSS (attr(data-time)), so that the row's
		// text stays "name: text".
		li = li.Attr("data-time", r.Time).Title(e.full)
	}
	return li.Body(messageParts(name, e.title, e.text)...)
}

// scrollMetrics is where a scrolled element stands, in CSS pixels.
type scrollMetrics struct {
	top, height, client float64 // scrollTop, scrollHeight, clientHeight
}

// measure reads el's scroll position.
func measure(el goapp.Value) scrollMetrics {
	return scrollMetrics{
		top:    el.Get("scrollTop").Float(),
		height: el.Get("scrollHeight").Float(),
		client: el.Get("clientHeight").Float(),
	}
}

// atBottom reports whether the newest row is in view.
func (m scrollMetrics) atBottom() bool { return m.height-m.top-m.client <= bottomSlack }

// nearTop reports whether the first row is less than a screen away.
func (m scrollMetrics) nearTop() bool { return m.top <= max(m.client, minTopSlack) }

// anchor is the row a person looks at: the first one whose bottom is below
// the list's top edge, and how far its top is from that edge.
type anchor struct {
	index  int
	offset float64
	ok     bool
}

// captureAnchor finds the row the person looks at in list, by bisection:
// rows stand one below the other.
func captureAnchor(list goapp.Value) anchor {
	if !list.Truthy() {
		return anchor{}
	}
	children := list.Get("children")
	top := rect(list).Get("top").Float()
	lo, hi := 0, children.Length()
	for lo < hi {
		mid := (lo + hi) / 2
		if rect(children.Index(mid)).Get("bottom").Float() > top {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if lo >= children.Length() {
		return anchor{}
	}
	return anchor{index: lo, offset: rect(children.Index(lo)).Get("top").Float() - top, ok: true}
}

// restore scrolls list so that the anchored row, now shift rows further
// down, stands where it stood.
func (a anchor) restore(list goapp.Value, shift int) {
	if !a.ok || !list.Truthy() {
		return
	}
	children := list.Get("children")
	i := a.index + shift
	if i < 0 || i >= children.Length() {
		return
	}
	moved := rect(children.Index(i)).Get("top").Float() - rect(list).Get("top").Float() - a.offset
	list.Set("scrollTop", list.Get("scrollTop").Float()+moved)
}

// rect returns el's bounding client rectangle.
func rect(el goapp.Value) goapp.Value { return el.Call("getBoundingClientRect") }

// focus gives the element with the id the keyboard focus.
func focus(id string) {
	if el := goapp.Window().GetElementByID(id); el.Truthy() {
		el.Call("focus")
	}
}

// scrollToBottom scrolls the element with the id to its newest entry.
func scrollToBottom(id string) {
	if el := goapp.Window().GetElementByID(id); el.Truthy() {
		el.Set("scrollTop", el.Get("scrollHeight"))
	}
}
