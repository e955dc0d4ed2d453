package e2e

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
)

// typingRegion is the selector of the typing indicator.
const typingRegion = `#typing`

// waitTyping waits until b's #typing reads want.
func (b *browser) waitTyping(t *testing.T, want string) {
	t.Helper()
	b.waitTexts(t, typingRegion, func(s []string) bool { return len(s) == 1 && s[0] == want }, fmt.Sprintf("#typing to read %q", want))
}

// keepTyping has p type, as a page does on each keystroke, every 300 ms
// until the returned function is called (once or more): its Session sends
// one Typing every event.TypingInterval.
func keepTyping(p *probe) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for {
			p.Typing()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	var once sync.Once
	return func() { once.Do(func() { close(done) }); wg.Wait() }
}

// typeUntil has a person type one more character, every 500 ms, until b's
// #typing reads want: a page sends at most one Typing every
// event.TypingInterval, and one sent just after the person's last message
// is not shown.
func typeUntil(t *testing.T, typist person, b *browser, want string) {
	t.Helper()
	deadline := time.Now().Add(actionTimeout)
	for {
		typist.typeText(t, messageInput, "x")
		texts, err := b.textsOnce(typingRegion)
		for end := time.Now().Add(500 * time.Millisecond); err == nil && time.Now().Before(end); texts, err = b.textsOnce(typingRegion) {
			if len(texts) == 1 && texts[0] == want {
				return
			}
			time.Sleep(pollInterval)
		}
		if err != nil || time.Now().After(deadline) {
			b.fatalf(t, "wait for #typing to read %q while %s types: last %q, %v", want, typist.name, texts, err)
		}
	}
}

// TestTypingIndicator is the typing indicator end to end: what a person
// types shows in the others' #typing with their name (never in their own),
// then two names, then "several people" for three; it goes at once when
// their message arrives, and by itself event.TypingTimeout after their last
// Typing. axe-core finds nothing wrong with the busy room, the people and
// the indicator showing, in either theme.
func TestTypingIndicator(t *testing.T) {
	source := axeSource(t)
	_, ts := startServer(t, "e2e")
	ann, bea := person{newBrowser(t), "Ann"}, person{newBrowser(t), "Bea"}
	open(t, ann.browser, ts.URL)
	ann.join(t)
	open(t, bea.browser, ts.URL)
	bea.join(t)
	carl, dan := joinProbe(t, ts.URL, "Carl"), joinProbe(t, ts.URL, "Dan")
	ann.waitPeople(t, "Ann", "Bea", "Carl", "Dan")

	// Bea types: Ann sees it, Bea does not.
	bea.typeText(t, messageInput, "hello")
	ann.waitTyping(t, "Bea is typing…")
	if got := bea.texts(t, typingRegion); !slices.Equal(got, []string{""}) {
		t.Fatalf("Bea's own #typing reads %q", got)
	}

	// Her message arrives: in the same render, her name leaves #typing.
	bea.pressEnter(t, messageInput)
	var snap struct {
		Rows   []string `json:"rows"`
		Typing string   `json:"typing"`
	}
	err := poll(ann.ctx, actionTimeout, pollInterval, func() error {
		ann.eval(t, `({rows: Array.from(document.querySelectorAll("#message-container > *"), e => e.textContent),
			typing: document.getElementById("typing").textContent})`, &snap)
		if !slices.Contains(snap.Rows, "Bea: hello") {
			return fmt.Errorf("no row of Bea's message in %q", snap.Rows)
		}
		return nil
	})
	if err != nil {
		ann.fatalf(t, "wait for Bea's message: %v", err)
	}
	if snap.Typing != "" {
		t.Fatalf("#typing reads %q as Bea's message arrives", snap.Typing)
	}

	// Two, then three people type.
	stopCarl := keepTyping(carl)
	defer stopCarl()
	ann.waitTyping(t, "Carl is typing…")
	stopDan := keepTyping(dan)
	defer stopDan()
	ann.waitTyping(t, "Carl and Dan are typing…")
	typeUntil(t, bea, ann.browser, "several people are typing…")

	// The busy room with the people and the indicator showing.
	for _, scheme := range []string{"light", "dark"} {
		ann.setColorScheme(t, scheme)
		if v := ann.axeViolations(t, source); len(v) > 0 {
			t.Errorf("axe-core, the room with people typing, %s theme: %d violations:\n%s", scheme, len(v), strings.Join(v, "\n"))
		}
		if got := ann.texts(t, typingRegion); len(got) != 1 || !strings.HasSuffix(got[0], "are typing…") {
			t.Fatalf("#typing reads %q during the audit", got)
		}
	}

	// Everyone stops; once the indicator is empty, Eve types once. It
	// goes by itself event.TypingTimeout after that Typing, not before.
	stopCarl()
	stopDan()
	ann.waitTyping(t, "")
	eve := joinProbe(t, ts.URL, "Eve")
	typed := time.Now()
	eve.Typing()
	ann.waitTyping(t, "Eve is typing…")
	shown := time.Since(typed)
	ann.waitTyping(t, "")
	gone := time.Since(typed)
	t.Logf("Eve's Typing shown after %v, gone %v after it (timeout %v)", shown.Round(time.Millisecond), gone.Round(time.Millisecond), event.TypingTimeout)
	if gone < event.TypingTimeout-500*time.Millisecond || gone > event.TypingTimeout+5*time.Second {
		t.Fatalf("the indicator went %v after the Typing, want %v (a few seconds late at most)", gone, event.TypingTimeout)
	}

	for _, p := range []person{ann, bea} {
		if errs := p.consoleErrors(); len(errs) != 0 {
			t.Fatalf("%s: console errors: %q", p.name, errs)
		}
	}
}
