package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// attentionStubs, run before each document, record the page's calls of
// navigator.setAppBadge and navigator.clearAppBadge (headless Chromium may
// lack them or refuse them) in window.chatBadges, and let the test hide and
// show the tab: document.visibilityState and document.hidden read
// window.chatHidden, and chatSetHidden fires visibilitychange as a browser
// does when the tab goes to the background or comes back.
const attentionStubs = `(() => {
	window.chatBadges = [];
	navigator.setAppBadge = (n) => { window.chatBadges.push("set " + n); return Promise.resolve(); };
	navigator.clearAppBadge = () => { window.chatBadges.push("clear"); return Promise.resolve(); };
	window.chatHidden = false;
	Object.defineProperty(document, "visibilityState", {configurable: true, get: () => window.chatHidden ? "hidden" : "visible"});
	Object.defineProperty(document, "hidden", {configurable: true, get: () => window.chatHidden});
	window.chatSetHidden = (hidden) => { window.chatHidden = hidden; document.dispatchEvent(new Event("visibilitychange")); return true; };
})()`

// attention is what a test reads of a page's unread count.
type attention struct {
	Title  string   `json:"title"`
	Badges []string `json:"badges"`
}

// readAttention reads the document's title and the badge calls so far.
func (b *browser) readAttention(t *testing.T) attention {
	t.Helper()
	var a attention
	b.eval(t, `({title: document.title, badges: window.chatBadges})`, &a)
	return a
}

// waitAttention waits until the page's title and badge calls satisfy ok.
func (b *browser) waitAttention(t *testing.T, what string, ok func(attention) bool) attention {
	t.Helper()
	var a attention
	err := poll(b.ctx, actionTimeout, pollInterval, func() error {
		a = b.readAttention(t)
		if !ok(a) {
			return fmt.Errorf("title %q, badge calls %q", a.Title, a.Badges)
		}
		return nil
	})
	if err != nil {
		b.fatalf(t, "wait for %s: %v", what, err)
	}
	return a
}

// TestUnreadAttention: while Bob's tab is hidden, the messages Ann sends
// show as "(3) Chat" in his title and as 3 on the app badge; his own
// message and a notice count for nothing. Back in sight, the title reads
// "Chat" again and the badge is cleared. Ann, looking, sees no count.
// Visibility is emulated: attentionStubs overrides document.visibilityState
// and document.hidden and fires visibilitychange.
func TestUnreadAttention(t *testing.T) {
	_, ts := startServer(t, "e2e")
	ann, bob := person{newBrowser(t), "Ann"}, person{newBrowser(t), "Bob"}
	{
		ctx, cancel := context.WithTimeout(bob.ctx, actionTimeout)
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: attentionStubs})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	open(t, ann.browser, ts.URL)
	ann.join(t)
	open(t, bob.browser, ts.URL)
	bob.join(t)
	ann.waitLine(t, "Bob connected")
	if a := bob.readAttention(t); a.Title != "Chat" || len(a.Badges) != 0 {
		t.Fatalf("in sight, Bob's title reads %q, badge calls %q", a.Title, a.Badges)
	}

	bob.eval(t, `window.chatSetHidden(true)`, nil)
	// His own message, and a notice, are no news to him.
	bob.send(t, "hidden but here")
	ann.waitLine(t, "Bob: hidden but here")
	joinProbe(t, ts.URL, "Carl")
	bob.waitLine(t, "Carl connected")
	if a := bob.readAttention(t); a.Title != "Chat" || len(a.Badges) != 0 {
		t.Fatalf("after his own message and a notice, Bob's title reads %q, badge calls %q", a.Title, a.Badges)
	}

	for i := 1; i <= 3; i++ {
		ann.send(t, fmt.Sprintf("unread %d", i))
	}
	a := bob.waitAttention(t, `"(3) Chat" and the badge at 3`, func(a attention) bool {
		return a.Title == "(3) Chat" && len(a.Badges) > 0 && a.Badges[len(a.Badges)-1] == "set 3"
	})
	if slices.Contains(a.Badges, "clear") {
		t.Fatalf("the badge was cleared while hidden: %q", a.Badges)
	}
	bob.waitLine(t, "Ann: unread 3")
	if got := ann.readAttention(t).Title; got != "Chat" {
		t.Fatalf("Ann, looking, has the title %q", got)
	}

	bob.eval(t, `window.chatSetHidden(false)`, nil)
	bob.waitAttention(t, `"Chat" and the badge cleared`, func(a attention) bool {
		return a.Title == "Chat" && a.Badges[len(a.Badges)-1] == "clear"
	})
	// In sight, new messages count for nothing.
	ann.send(t, "seen at once")
	bob.waitLine(t, "Ann: seen at once")
	if a := bob.readAttention(t); a.Title != "Chat" || a.Badges[len(a.Badges)-1] != "clear" {
		t.Fatalf("in sight again, Bob's title reads %q, badge calls %q", a.Title, a.Badges)
	}
	for _, p := range []person{ann, bob} {
		if errs := p.consoleErrors(); len(errs) != 0 {
			t.Fatalf("%s: console errors: %q", p.name, errs)
		}
	}
}
