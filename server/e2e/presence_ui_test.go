package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// presenceEntries is the selector of the people in the room.
const presenceEntries = `#presence > *`

// newTab opens another tab in b's browser process: the same profile, so
// the same localStorage (the stored identity) and service worker, and a
// sessionStorage of its own, as when a person opens the chat in a second
// tab. Its console is collected and its Content-Security-Policy violations
// fail the test, as for the first tab. It closes with closeTab, or with the
// browser.
func (b *browser) newTab(t *testing.T) *browser {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	tab := &browser{
		name:        fmt.Sprintf("%s/tab#%d", b.name, browserSeq.Add(1)),
		ctx:         ctx,
		cancelTab:   cancel,
		consoleDone: make(chan struct{}),
	}
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		b.fatalf(t, "open a tab: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		defer close(tab.consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			tab.addConsole(m)
		}
	}()
	actx, acancel := context.WithTimeout(ctx, actionTimeout)
	_, err := chromedp.Call(actx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspWatch})
	acancel()
	if err != nil {
		b.fatalf(t, "%s: install the CSP watch: %v", tab.name, err)
	}
	t.Cleanup(func() {
		if v := tab.cspViolations(); len(v) > 0 {
			t.Errorf("%s: Content-Security-Policy violations: %q", tab.name, v)
		}
		tab.closeTab()
	})
	return tab
}

// closeTab closes a tab that newTab opened, as a person closing it: its
// page goes, and its WebSocket with it.
func (b *browser) closeTab() {
	b.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- chromedp.Cancel(b.ctx) }()
		select {
		case b.closeErr = <-done:
		case <-ctx.Done():
			b.closeErr = ctx.Err()
		}
		b.cancelTab()
		<-b.consoleDone
	})
}

// personView is what a test reads of one entry of #presence.
type personView struct {
	Text    string `json:"text"`
	Class   string `json:"class"`
	Initial string `json:"initial"`
	// You is what CSS paints after the name (the computed content of
	// ::after, quoted): "(you)" for the person's own entry.
	You string `json:"you"`
}

// hue returns the entry's colour class, or "".
func (v personView) hue() string { return hueOf.FindString(v.Class) }

// self reports whether the entry is marked as the person's own.
func (v personView) self() bool { return slices.Contains(strings.Fields(v.Class), "self") }

// people returns the entries of b's #presence.
func (b *browser) people(t *testing.T) []personView {
	t.Helper()
	var out []personView
	b.eval(t, `Array.from(document.querySelectorAll("#presence > *"), li => ({
		text: li.textContent, class: li.className, initial: li.dataset.initial || "",
		you: getComputedStyle(li, "::after").content,
	}))`, &out)
	return out
}

// names returns the texts of entries.
func names(entries []personView) []string {
	out := []string{}
	for _, e := range entries {
		out = append(out, e.Text)
	}
	return out
}

// waitPeople waits until b's #presence reads want, in order.
func (b *browser) waitPeople(t *testing.T, want ...string) []personView {
	t.Helper()
	b.waitTexts(t, presenceEntries, func(s []string) bool { return slices.Equal(s, want) }, fmt.Sprintf("#presence to read %q", want))
	return b.people(t)
}

// TestPresence is the presence list end to end: two people see each other
// in #presence, each in the colour and with the initial of their messages,
// their own entry marked; a person with three tabs of one browser is one
// entry, announced once, and leaves only when the last tab has closed and
// the grace period has passed.
func TestPresence(t *testing.T) {
	_, ts := startServer(t, "e2e")
	ann, bea, carl := person{newBrowser(t), "Ann"}, person{newBrowser(t), "Bea"}, person{newBrowser(t), "Carl"}

	open(t, ann.browser, ts.URL)
	ann.join(t)
	ann.waitPeople(t, "Ann")
	open(t, bea.browser, ts.URL)
	bea.join(t)
	annSees := ann.waitPeople(t, "Ann", "Bea")
	beaSees := bea.waitPeople(t, "Ann", "Bea")

	// Own entry marked, in each page; the mark is painted, not text.
	for _, tt := range []struct {
		who  string
		view []personView
		self int
	}{{"Ann", annSees, 0}, {"Bea", beaSees, 1}} {
		for i, e := range tt.view {
			if e.self() != (i == tt.self) {
				t.Errorf("%s's page: entry %q marked as own: %v", tt.who, e.Text, e.self())
			}
			if want := map[bool]string{true: `"(you)"`, false: "none"}[i == tt.self]; e.You != want {
				t.Errorf("%s's page: entry %q paints %s after the name, want %s", tt.who, e.Text, e.You, want)
			}
		}
	}
	// Each person has one colour and initial everywhere: their entry in
	// both pages, and their messages.
	ann.send(t, "hello from Ann")
	bea.send(t, "hello from Bea")
	bea.waitLine(t, "Ann: hello from Ann")
	ann.waitLine(t, "Bea: hello from Bea")
	for i, who := range []string{"Ann", "Bea"} {
		inAnn, inBea := annSees[i], beaSees[i]
		var row rowView
		if who == "Ann" {
			row = bea.row(t, "Ann: hello from Ann")
		} else {
			row = ann.row(t, "Bea: hello from Bea")
		}
		if inAnn.hue() == "" || inAnn.hue() != inBea.hue() || inAnn.hue() != row.hue() {
			t.Errorf("%s: colour %q in Ann's list, %q in Bea's, %q on their message", who, inAnn.hue(), inBea.hue(), row.hue())
		}
		if inAnn.Initial != who[:1] || inBea.Initial != inAnn.Initial || row.Initial != inAnn.Initial {
			t.Errorf("%s: initial %q in Ann's list, %q in Bea's, %q on their message", who, inAnn.Initial, inBea.Initial, row.Initial)
		}
	}
	if annSees[0].hue() == annSees[1].hue() {
		t.Logf("Ann and Bea share the colour %s (1 chance in 12)", annSees[0].hue())
	}

	// Carl opens the chat in three tabs of one browser: the first asks his
	// name, the others join as him by themselves.
	open(t, carl.browser, ts.URL)
	carl.join(t)
	ann.waitPeople(t, "Ann", "Bea", "Carl")
	tabs := []*browser{carl.newTab(t), carl.newTab(t)}
	for _, tab := range tabs {
		open(t, tab, ts.URL)
		tab.waitVisible(t, messageInput) // no name prompt: the stored identity
		seen := tab.waitPeople(t, "Ann", "Bea", "Carl")
		if !seen[2].self() || seen[0].self() || seen[1].self() {
			t.Fatalf("%s: own entry not marked, or another one is: %+v", tab.name, seen)
		}
	}
	// Everyone heard of Carl once, and lists him once.
	carl.send(t, "three tabs")
	for _, p := range []person{ann, bea} {
		p.waitLine(t, "Carl: three tabs")
		if n := count(p.texts(t, messages), "Carl connected"); n != 1 {
			t.Fatalf("%s heard of Carl %d times", p.name, n)
		}
		if got := names(p.people(t)); !slices.Equal(got, []string{"Ann", "Bea", "Carl"}) {
			t.Fatalf("%s lists %q", p.name, got)
		}
	}

	// Two tabs close: Carl is still here after the grace period. Events
	// reach Ann in order, so a message sent after the grace period comes
	// after any departure; waiting it out is the point.
	closed := time.Now()
	for _, tab := range tabs {
		tab.closeTab()
	}
	time.Sleep(time.Until(closed.Add(presenceGrace + 500*time.Millisecond)))
	bea.send(t, "still three?")
	ann.waitLine(t, "Bea: still three?")
	if got := names(ann.people(t)); !slices.Equal(got, []string{"Ann", "Bea", "Carl"}) {
		t.Fatalf("with one tab of Carl's left, Ann lists %q", got)
	}
	if slices.Contains(ann.texts(t, messages), "Carl disconnected") {
		t.Fatal("Carl was announced as gone with a tab still open")
	}

	// The last tab closes: Carl goes, once the grace period has passed.
	closed = time.Now()
	carl.close()
	ann.waitPeople(t, "Ann", "Bea")
	if d := time.Since(closed); d < presenceGrace {
		t.Fatalf("Carl left Ann's list %v after his last tab closed, within the grace period of %v", d, presenceGrace)
	} else {
		t.Logf("Carl left the list %v after his last tab closed (grace %v)", d.Round(time.Millisecond), presenceGrace)
	}
	ann.waitLine(t, "Carl disconnected")
	bea.waitPeople(t, "Ann", "Bea")

	for _, p := range []person{ann, bea} {
		if errs := p.consoleErrors(); len(errs) != 0 {
			t.Fatalf("%s: console errors: %q", p.name, errs)
		}
	}
}
