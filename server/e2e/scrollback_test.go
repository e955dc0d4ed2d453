package e2e

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatwasm/chat/app"
	chatclient "github.com/chatwasm/chat/app/client"
	"github.com/chatwasm/chat/server"
	"github.com/chatwasm/chat/server/servertest"
)

// beginning is the row above a room's first message.
const beginning = "Beginning of the conversation"

// fillText is the text of the filler's message i; fillRow, its row.
func fillText(i int) string { return fmt.Sprintf("message %04d", i) }
func fillRow(i int) string  { return "Filler: " + fillText(i) }

// fillRoom has p send messages from and to, in order, and waits until the
// server has stored them all: the outbox holds client.MaxOutbox at most.
func fillRoom(t *testing.T, p *probe, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		_, err := p.Send(fillText(i))
		if errors.Is(err, chatclient.ErrOutboxFull) {
			servertest.CheckFor(t, actionTimeout, 5*time.Millisecond, func() error {
				if len(p.Outbox()) >= chatclient.MaxOutbox/2 {
					return errors.New("the outbox is still full")
				}
				return nil
			})
			_, err = p.Send(fillText(i))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	servertest.CheckFor(t, actionTimeout, 10*time.Millisecond, func() error {
		if n := len(p.Outbox()); n > 0 {
			return fmt.Errorf("%d messages not stored yet", n)
		}
		return nil
	})
}

// startFilledServer starts a server without per-user and per-IP rates
// (everyone here is one 127.0.0.1) and a room of n messages, the filler's.
func startFilledServer(t *testing.T, n int) (string, *probe) {
	t.Helper()
	_, ts := startServerConfig(t, server.Config{Version: "e2e", RateLimit: -1, RateBurst: -1, IPRate: -1, IPBurst: -1})
	filler := joinProbe(t, ts.URL, "Filler")
	start := time.Now()
	fillRoom(t, filler, 1, n)
	t.Logf("filled the room with %d messages in %v", n, time.Since(start).Round(time.Millisecond))
	return ts.URL, filler
}

// listView is what a test reads of #message-container at one moment.
type listView struct {
	Rows []string `json:"rows"`
	// Top is scrollTop; Gap how far the list is scrolled above its end.
	Top float64 `json:"top"`
	Gap float64 `json:"gap"`
	// MaxRows is the most rows the list held at any moment since
	// watchRows.
	MaxRows int `json:"maxRows"`
	// Offsets are, for the rows named by the read, how far their tops are
	// below the list's top edge.
	Offsets map[string]float64 `json:"offsets"`
}

// watchRows records, from now on, the most rows #message-container holds
// after any change: a MutationObserver sees every render.
func (b *browser) watchRows(t *testing.T) {
	t.Helper()
	b.eval(t, `(() => { const el = document.getElementById("message-container");
		window.chatMaxRows = el.childElementCount;
		new MutationObserver(() => { window.chatMaxRows = Math.max(window.chatMaxRows, el.childElementCount); })
			.observe(el, {childList: true});
		return true; })()`, nil)
}

// readList reads the list, with the offsets of the rows that read one of
// named.
func (b *browser) readList(t *testing.T, named ...string) listView {
	t.Helper()
	var v listView
	b.eval(t, `((named) => { const el = document.getElementById("message-container");
		const top = el.getBoundingClientRect().top, rows = Array.from(el.children), offsets = {};
		for (const r of rows) if (named.includes(r.textContent)) offsets[r.textContent] = r.getBoundingClientRect().top - top;
		return {rows: rows.map(r => r.textContent), top: el.scrollTop, gap: el.scrollHeight - el.scrollTop - el.clientHeight,
			maxRows: window.chatMaxRows || 0, offsets};
	})(`+jsString(strings.Join(named, "\x00"))+`.split("\x00"))`, &v)
	return v
}

// scrollToTop scrolls the list to its top and returns it as it is then,
// with the first row's offset: the row a person looks at.
func (b *browser) scrollToTop(t *testing.T) (listView, string) {
	t.Helper()
	var v struct {
		listView
		Anchor string `json:"anchor"`
	}
	b.eval(t, `(() => { const el = document.getElementById("message-container");
		el.scrollTop = 0;
		const top = el.getBoundingClientRect().top, rows = Array.from(el.children);
		const first = rows.find(r => r.getBoundingClientRect().bottom > top);
		const offsets = {};
		if (first) offsets[first.textContent] = first.getBoundingClientRect().top - top;
		return {rows: rows.map(r => r.textContent), top: el.scrollTop, gap: el.scrollHeight - el.scrollTop - el.clientHeight,
			maxRows: window.chatMaxRows || 0, offsets, anchor: first ? first.textContent : ""};
	})()`, &v)
	return v.listView, v.Anchor
}

// firstVisible returns the first row of the list whose bottom is below the
// list's top edge: the row a person looks at.
func (b *browser) firstVisible(t *testing.T) string {
	t.Helper()
	var text string
	b.eval(t, `(() => { const el = document.getElementById("message-container"), top = el.getBoundingClientRect().top;
		const r = Array.from(el.children).find(r => r.getBoundingClientRect().bottom > top);
		return r ? r.textContent : ""; })()`, &text)
	return text
}

// fillSeqs checks that the filler's rows of rows are in order with none
// missing between them, and returns their numbers.
func fillSeqs(t *testing.T, rows []string) []int {
	t.Helper()
	var out []int
	for _, r := range rows {
		s, ok := strings.CutPrefix(r, "Filler: message ")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("row %q", r)
		}
		if len(out) > 0 && n != out[len(out)-1]+1 {
			t.Fatalf("row %d follows row %d: %q", n, out[len(out)-1], rows)
		}
		out = append(out, n)
	}
	return out
}

// TestScrollback pages a room of 1,000 messages back to its beginning in
// the browser: the person scrolls to the top of the list again and again;
// each time the page above goes in, one request at a time, and the row they
// looked at stays where it was. At the end "Beginning of the conversation"
// tops the list, every message was shown exactly once and in order, and the
// list never held more than app.MaxEntries rows. A message arriving then
// leaves the view where it is and brings the "New messages ↓" button, which
// goes to the newest; axe-core audits the list with its marks.
func TestScrollback(t *testing.T) {
	const total = 1000
	source := axeSource(t)
	url, filler := startFilledServer(t, total)
	ann := person{newBrowser(t), "Ann"}
	open(t, ann.browser, url)
	ann.join(t)
	ann.waitLine(t, fillRow(total))
	ann.watchRows(t)

	seen := map[int]int{}
	for _, n := range fillSeqs(t, ann.readList(t).Rows) {
		seen[n]++
	}
	start := time.Now()
	pages := 0
	for {
		// Scroll to the top: the row there is the one looked at. The list
		// is read in the same evaluation, before the scroll event runs.
		before, anchor := ann.scrollToTop(t)
		if anchor == beginning {
			break
		}
		var after listView
		err := poll(ann.ctx, actionTimeout, pollInterval, func() error {
			after = ann.readList(t, anchor)
			if after.Rows[0] == before.Rows[0] {
				return errors.New("no page went in above the first row")
			}
			return nil
		})
		if err != nil {
			ann.fatalf(t, "page %d: %v (first row %q)", pages+1, err, before.Rows[0])
		}
		pages++
		if d := after.Offsets[anchor] - before.Offsets[anchor]; d > 2 || d < -2 {
			t.Fatalf("page %d: the row looked at, %q, moved by %.1f px", pages, anchor, d)
		}
		for _, n := range fillSeqs(t, after.Rows) {
			if n < fillSeqs(t, before.Rows)[0] {
				seen[n]++
			}
		}
		if len(after.Rows) > app.MaxEntries || after.MaxRows > app.MaxEntries {
			t.Fatalf("page %d: %d rows, at most %d since the start: over %d", pages, len(after.Rows), after.MaxRows, app.MaxEntries)
		}
	}
	elapsed := time.Since(start)
	end := ann.readList(t)
	if end.Rows[0] != beginning || fillSeqs(t, end.Rows)[0] != 1 {
		t.Fatalf("the list ends with %q", end.Rows[:3])
	}
	for i := 1; i <= total; i++ {
		if seen[i] != 1 {
			t.Fatalf("message %d was shown %d times", i, seen[i])
		}
	}
	t.Logf("paged back through %d messages in %d pages in %v; at most %d rows in the list (cap %d)",
		total, pages, elapsed.Round(time.Millisecond), end.MaxRows, app.MaxEntries)

	// A message while the person reads the beginning: the view stays, the
	// button shows.
	if _, err := filler.Send("after the scroll"); err != nil {
		t.Fatal(err)
	}
	ann.waitVisible(t, "#new-messages")
	now := ann.readList(t)
	if now.Rows[0] != beginning || now.Top != end.Top {
		t.Fatalf("a new message moved the view from %.0f px to %.0f px, first row %q", end.Top, now.Top, now.Rows[0])
	}
	for _, scheme := range []string{"light", "dark"} {
		ann.setColorScheme(t, scheme)
		if v := ann.axeViolations(t, source); len(v) > 0 {
			t.Errorf("axe-core, the beginning of the history and New messages, %s theme: %d violations:\n%s", scheme, len(v), strings.Join(v, "\n"))
		}
	}
	ann.click(t, "#new-messages")
	ann.waitTexts(t, messages, func(s []string) bool { return len(s) > 0 && s[len(s)-1] == "Filler: after the scroll" }, "the newest row after New messages")
	ann.waitTexts(t, "#new-messages", func(s []string) bool { return len(s) == 0 }, "the New messages button gone")
	servertest.CheckFor(t, actionTimeout, pollInterval, func() error {
		if v := ann.readList(t); v.Gap > 2 {
			return fmt.Errorf("the list is %.0f px above its newest row", v.Gap)
		}
		return nil
	})
	if v := ann.readList(t); v.MaxRows > app.MaxEntries {
		t.Fatalf("the list held %d rows, over %d", v.MaxRows, app.MaxEntries)
	}
	if errs := ann.consoleErrors(); len(errs) != 0 {
		t.Fatalf("console errors: %q", errs)
	}
}

// TestNewMessagesButton: scrolled up in a room, a new message leaves the
// row looked at where it is and shows "New messages ↓"; the button goes to
// the newest and disappears; at the bottom, new messages scroll into view
// with no button.
func TestNewMessagesButton(t *testing.T) {
	url, filler := startFilledServer(t, 60)
	ann := person{newBrowser(t), "Ann"}
	open(t, ann.browser, url)
	ann.join(t)
	ann.waitLine(t, fillRow(60))

	// Two screens above the newest row.
	ann.eval(t, `(() => { const el = document.getElementById("message-container");
		el.scrollTop = el.scrollHeight - 3 * el.clientHeight; })()`, nil)
	anchor := ann.firstVisible(t)
	before := ann.readList(t, anchor)
	if _, err := filler.Send("new while up"); err != nil {
		t.Fatal(err)
	}
	ann.waitVisible(t, "#new-messages")
	after := ann.readList(t, anchor)
	if after.Rows[len(after.Rows)-1] != "Filler: new while up" {
		t.Fatalf("the new message is not the last row: %q", after.Rows[len(after.Rows)-5:])
	}
	if d := after.Offsets[anchor] - before.Offsets[anchor]; d > 1 || d < -1 || after.Top != before.Top {
		t.Fatalf("the view moved: %q by %.1f px, scrollTop %.0f to %.0f", anchor, d, before.Top, after.Top)
	}
	if got := ann.texts(t, "#new-messages"); len(got) != 1 || got[0] != "New messages ↓" {
		t.Fatalf("the button reads %q", got)
	}

	ann.click(t, "#new-messages")
	ann.waitTexts(t, "#new-messages", func(s []string) bool { return len(s) == 0 }, "the New messages button gone")
	atBottom := func(what string) {
		t.Helper()
		servertest.CheckFor(t, actionTimeout, pollInterval, func() error {
			if v := ann.readList(t); v.Gap > 2 {
				return fmt.Errorf("%s: the list is %.0f px above its newest row", what, v.Gap)
			}
			return nil
		})
	}
	atBottom("after the button")

	// At the bottom, the list follows.
	if _, err := filler.Send("at the bottom"); err != nil {
		t.Fatal(err)
	}
	ann.waitLine(t, "Filler: at the bottom")
	atBottom("after a message at the bottom")
	if n := len(ann.texts(t, "#new-messages")); n != 0 {
		t.Fatal("the button shows at the bottom")
	}
	if errs := ann.consoleErrors(); len(errs) != 0 {
		t.Fatalf("console errors: %q", errs)
	}
}
