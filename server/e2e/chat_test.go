package e2e

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server/servertest"
)

// Selectors of the DOM contract.
const (
	connected    = `#connection`
	nameInput    = `#name-input`
	nameError    = `#name-error`
	messages     = `#message-container > *`
	messageInput = `#message-input`
	sendError    = `#send-error`
)

// person is one browser with the name it joined under.
type person struct {
	*browser
	name string
}

// open loads the page and waits until the WASM has connected the socket. It
// returns how long that took from the start of the navigation.
func open(t *testing.T, b *browser, url string) time.Duration {
	t.Helper()
	start := time.Now()
	b.navigate(t, url)
	b.waitAttr(t, connected, "data-state", "connected")
	return time.Since(start)
}

// join submits a name and waits for "You joined".
func (p person) join(t *testing.T) {
	t.Helper()
	p.typeText(t, nameInput, p.name)
	p.pressEnter(t, nameInput)
	p.waitTexts(t, messages, func(s []string) bool { return slices.Contains(s, "You joined") }, "You joined")
}

// send types a message and presses Enter.
func (p person) send(t *testing.T, text string) {
	t.Helper()
	p.typeText(t, messageInput, text)
	p.pressEnter(t, messageInput)
}

// setInput puts text in an input as a paste would, firing one input event:
// typing thousands of characters key by key is slow and proves nothing more.
func (p person) setInput(t *testing.T, css, text string) {
	t.Helper()
	p.eval(t, fmt.Sprintf(`(() => { const el = document.querySelector(%q);
		el.focus(); el.value = %s; el.dispatchEvent(new Event("input", {bubbles: true})); })()`, css, jsString(text)), nil)
}

// chatLines returns the message rows only, with "You" replaced by the
// person's name, so that two people's views compare equal.
func (p person) chatLines(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, s := range p.texts(t, `#message-container > .message`) {
		if rest, ok := strings.CutPrefix(s, "You: "); ok {
			s = p.name + ": " + rest
		}
		out = append(out, s)
	}
	return out
}

// waitLine waits until the list holds want.
func (p person) waitLine(t *testing.T, want string) {
	t.Helper()
	p.waitTexts(t, messages, func(s []string) bool { return slices.Contains(s, want) }, fmt.Sprintf("%q in the list", want))
}

// TestChat is the product end to end: two people in two browsers, the name
// prompt, joins, messages both ways in one order, HTML shown as text, inline
// errors, installability, a reload that keeps the person and their history
// without telling the room, and a leave announced after the grace period.
func TestChat(t *testing.T) {
	_, ts := startServer(t, "e2e")

	// Two browsers start at once: each takes about a second.
	var ann, bea person
	var wg sync.WaitGroup
	wg.Go(func() { ann = person{newBrowser(t), "Ann"} })
	wg.Go(func() { bea = person{newBrowser(t), `<i>Bea</i><img src=x>`} })
	wg.Wait()

	cold := open(t, ann.browser, ts.URL)
	t.Logf("cold load to connected: %v", cold.Round(time.Millisecond))

	// The name prompt refuses an empty and a too-long name, then accepts.
	ann.pressEnter(t, nameInput)
	ann.waitVisible(t, nameError)
	ann.typeText(t, nameInput, strings.Repeat("n", event.MaxNameLen+1))
	ann.pressEnter(t, nameInput)
	ann.waitTexts(t, nameError, func(s []string) bool {
		return len(s) == 1 && strings.Contains(s[0], "longer than 32")
	}, "the too-long name refused")
	ann.clear(t, nameInput)
	ann.join(t)

	open(t, bea.browser, ts.URL)
	bea.join(t)
	ann.waitLine(t, bea.name+" connected")
	if got := bea.texts(t, messages); !slices.Equal(got, []string{"You joined"}) {
		t.Fatalf("Bea's list after joining: %q, want only You joined", got)
	}

	// Messages both ways; the input is cleared and keeps the focus.
	ann.send(t, "hello Bea")
	ann.waitLine(t, "You: hello Bea")
	bea.waitLine(t, "Ann: hello Bea")
	if v := ann.value(t, messageInput); v != "" {
		t.Fatalf("message input holds %q after sending", v)
	}
	if id := ann.activeID(t); id != "message-input" {
		t.Fatalf("focus is on %q after sending, want message-input", id)
	}
	html := `<img src=x onerror=alert(1)><b>bold</b>`
	bea.send(t, html)
	bea.waitLine(t, "You: "+html)
	ann.waitLine(t, bea.name+": "+html)
	for _, p := range []person{ann, bea} {
		var elements int
		p.eval(t, `document.querySelectorAll("#message-container img, #message-container b, #message-container i").length`, &elements)
		if elements != 0 {
			t.Fatalf("%s: typed HTML became %d elements", p.name, elements)
		}
	}

	// Twenty quick messages, interleaved: both lists show one order.
	for i := range 10 {
		ann.send(t, fmt.Sprintf("ann %d", i))
		bea.send(t, fmt.Sprintf("bea %d", i))
	}
	ann.waitLine(t, bea.name+": bea 9")
	bea.waitLine(t, "Ann: ann 9")
	servertest.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		a, b := ann.chatLines(t), bea.chatLines(t)
		if len(a) != 22 || !slices.Equal(a, b) {
			return fmt.Errorf("lists differ:\nAnn: %q\nBea: %q", a, b)
		}
		return nil
	})
	if rows := bea.texts(t, `#message-container > .message:not([data-status="sent"])`); len(rows) != 0 {
		t.Fatalf("rows of stored messages without data-status=sent: %q", rows)
	}
	var gap float64
	ann.eval(t, `(() => { const el = document.getElementById("message-container");
		return el.scrollHeight - el.scrollTop - el.clientHeight; })()`, &gap)
	if gap > 2 {
		t.Fatalf("the list is scrolled %v px above its newest entry", gap)
	}

	// Empty and too-long messages: nothing sent, a clear error, text kept.
	before := len(ann.texts(t, messages))
	ann.pressEnter(t, messageInput)
	long := strings.Repeat("x", event.MaxTextLen+1)
	ann.setInput(t, messageInput, long)
	ann.pressEnter(t, messageInput)
	ann.waitTexts(t, sendError, func(s []string) bool {
		return len(s) == 1 && strings.Contains(s[0], "longer than 2000")
	}, "the too-long message refused")
	if v := ann.value(t, messageInput); v != long {
		t.Fatalf("the refused message was not kept in the input (%d characters left)", len(v))
	}
	if n := len(ann.texts(t, messages)); n != before {
		t.Fatalf("the list grew from %d to %d rows on an empty and a refused message", before, n)
	}

	if errs := ann.installabilityErrors(t); len(errs) != 0 {
		t.Fatalf("installability errors: %q", errs)
	}

	// A reload is served by the service worker, and Ann is the same person:
	// no name prompt, her history with her own messages as "You: …".
	reloadStart := time.Now()
	ann.reload(t)
	ann.waitAttr(t, connected, "data-state", "connected")
	t.Logf("warm load (service worker) to connected: %v", time.Since(reloadStart).Round(time.Millisecond))
	ann.waitLine(t, "You joined")
	if n := len(ann.texts(t, "#name-form")); n != 0 {
		t.Fatal("the name prompt shows after a reload")
	}
	ann.waitVisible(t, messageInput)
	servertest.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		a, b := ann.chatLines(t), bea.chatLines(t)
		if len(a) != 22 || !slices.Equal(a, b) {
			return fmt.Errorf("history after the reload differs:\nAnn: %q\nBea: %q", a, b)
		}
		return nil
	})
	own := ann.texts(t, `#message-container > .message.own[data-status="sent"]`)
	if len(own) != 11 || !slices.Contains(own, "You: hello Bea") || slices.Contains(ann.texts(t, messages), "Ann: hello Bea") {
		t.Fatalf("Ann's own messages after the reload: %q", own)
	}

	// Bea was not told that Ann left or came back. Events reach her in
	// order, so a message Ann sends once the grace period is over would
	// come after any such notice. Waiting out the grace period is the
	// point here: a departure is announced only after it.
	time.Sleep(time.Until(reloadStart.Add(presenceGrace + 500*time.Millisecond)))
	ann.send(t, "back again")
	bea.waitLine(t, "Ann: back again")
	for _, notice := range []string{"Ann connected", "Ann disconnected"} {
		if slices.Contains(bea.texts(t, messages), notice) {
			t.Fatalf("Bea saw %q for a reload", notice)
		}
	}

	// Closing Bea's browser is a departure: Ann hears of it once the
	// grace period has passed, not before.
	closed := time.Now()
	bea.close()
	ann.waitLine(t, bea.name+" disconnected")
	if d := time.Since(closed); d < presenceGrace {
		t.Fatalf("Bea's departure was announced after %v, within the grace period of %v", d, presenceGrace)
	} else {
		t.Logf("departure announced %v after the browser closed (grace %v)", d.Round(time.Millisecond), presenceGrace)
	}

	for _, p := range []person{ann} {
		if errs := p.consoleErrors(); len(errs) != 0 {
			t.Fatalf("%s: console errors: %q", p.name, errs)
		}
	}
}
