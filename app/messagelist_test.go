package app

import (
	"testing"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/chatwasm/chat/app/client"
	"github.com/chatwasm/chat/app/event"
)

func TestRelativeTime(t *testing.T) {
	t.Parallel()
	const now = int64(1_800_000_000_000)
	tests := []struct {
		ago  time.Duration
		want string
	}{
		{-time.Minute, "now"}, // a clock ahead of this one
		{0, "now"},
		{59 * time.Second, "now"},
		{time.Minute, "1 min ago"},
		{2*time.Minute + 59*time.Second, "2 min ago"},
		{59 * time.Minute, "59 min ago"},
		{time.Hour, "1 h ago"},
		{23 * time.Hour, "23 h ago"},
		{24 * time.Hour, "1 d ago"},
		{6*24*time.Hour + 23*time.Hour, "6 d ago"},
	}
	for _, tt := range tests {
		if got, ok := relativeTime(now-tt.ago.Milliseconds(), now); !ok || got != tt.want {
			t.Errorf("%v ago: %q, %v; want %q", tt.ago, got, ok, tt.want)
		}
	}
	if got, ok := relativeTime(now-relativeWithin.Milliseconds(), now); ok {
		t.Errorf("a week ago: %q, want the date instead", got)
	}
}

// TestMessageListTimes: rows show their time relative to the list's clock
// through data-time, the exact time on hover, and their date when older
// than a week; the text stays "name: text".
func TestMessageListTimes(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 9, 5, 0, 0, time.Local)
	var tl timeline
	for i, ago := range []time.Duration{10 * time.Second, 2 * time.Minute, 3 * time.Hour, 8 * 24 * time.Hour} {
		tl.add(messageEntry(event.Message{Seq: uint64(4 - i), User: "u2", Name: "Bob", Text: "t", Time: now.Add(-ago).UnixMilli()}, "me"))
	}
	html := renderCompo(t, &messageList{Timeline: &tl, now: now.UnixMilli()})
	mustContain(t, html,
		`data-time="now" title="2026-11-26 09:04:50"`,
		`data-time="2 min ago" title="2026-11-26 09:03:00"`,
		`data-time="3 h ago" title="2026-11-26 06:05:00"`,
		`data-time="18 Nov 2026" title="2026-11-18 09:05:00"`,
	)
	for _, r := range rowTexts(html) {
		if r != "Bob: t" {
			t.Fatalf("a row reads %q", r)
		}
	}
}

// TestMessageListMarks: the top of the history shows as a row of its own;
// "New messages ↓" shows while new messages wait below; the outbox follows
// the newest row only.
func TestMessageListMarks(t *testing.T) {
	t.Parallel()
	var tl timeline
	tl.add(messageEntry(event.Message{Seq: 1, User: "u2", Name: "Bob", Text: "first"}, "me"))
	tl.top = topBeginning
	outbox := []client.OutboxItem{{ID: "a", Text: "waiting", Status: client.StatusPending}}
	html := renderCompo(t, &messageList{Timeline: &tl, Outbox: outbox, User: "me", Name: "Ann"})
	mustContain(t, html, `<ul aria-label="Messages" aria-live="polite" class="messages" id="message-container" tabindex="0"><li class="divider start">Beginning of the conversation</li>`)
	mustNotContain(t, html, `id="new-messages"`)
	if got := rowTexts(html); len(got) != 3 || got[0] != beginningText || got[1] != "Bob: first" || got[2] != "You: waiting" {
		t.Fatalf("rows read %q", got)
	}
	tl.top = topPruned
	mustContain(t, renderCompo(t, &messageList{Timeline: &tl}), `<li class="divider pruned">Some older messages are no longer available</li>`)

	tl.unseen, tl.detached = true, true
	html = renderCompo(t, &messageList{Timeline: &tl, Outbox: outbox, User: "me", Name: "Ann"})
	mustContain(t, html, `<button class="new-messages" id="new-messages" type="button">New messages ↓</button>`)
	mustNotContain(t, html, "waiting") // the end shown is not the newest
}

// benchPage hosts a messageList in a test engine, as the page does: its
// Version changes with the timeline.
type benchPage struct {
	goapp.Compo
	tl  *timeline
	ctx goapp.Context
}

// OnPreRender keeps the context to dispatch changes with: natively, the
// engine prerenders and never mounts.
func (p *benchPage) OnPreRender(ctx goapp.Context) { p.ctx = ctx }

func (p *benchPage) Render() goapp.UI {
	return &messageList{Timeline: p.tl, Version: p.tl.version}
}

// BenchmarkMessageListPage renders a page of history going in above a full
// window, the work of each page as a person scrolls back (the browser's
// part, DOM and layout, aside).
func BenchmarkMessageListPage(b *testing.B) {
	const total = 1_000_000
	var tl timeline
	tl.joined(event.Joined{User: "me", Seq: total}, true)
	for seq := uint64(total - MaxEntries + 1); seq <= total; seq++ {
		tl.add(messageEntry(roomMessage(seq), "me"))
	}
	p := &benchPage{tl: &tl}
	e := goapp.NewTestEngine()
	if err := e.Load(p); err != nil {
		b.Fatal(err)
	}
	e.ConsumeAll()
	tl.scrolled(false)
	b.ReportAllocs()
	for b.Loop() {
		p.ctx.Dispatch(func(goapp.Context) {
			before, ok := tl.requestOlder()
			if !ok {
				b.Fatal("no page to ask for")
			}
			tl.prepend(historyPage(before, 1), "me")
		})
		e.ConsumeAll()
	}
}
