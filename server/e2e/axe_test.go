package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// axeEnv names the environment variable that holds the path of axe-core's
// axe.min.js; make test installs the pinned axe-core with npm and sets it.
const axeEnv = "AXE_CORE_JS"

// axeSource returns axe-core's script, failing the test with what to do
// when it is missing: an accessibility audit that cannot run must not pass.
func axeSource(t *testing.T) string {
	t.Helper()
	path := os.Getenv(axeEnv)
	if path == "" {
		t.Fatalf("%s is not set: run the tests with make test, which installs axe-core", axeEnv)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read axe-core (%s=%s): %v", axeEnv, path, err)
	}
	return string(b)
}

// setColorScheme makes the page see prefers-color-scheme as scheme ("light"
// or "dark").
func (b *browser) setColorScheme(t *testing.T, scheme string) {
	t.Helper()
	ctx, cancel := b.actx()
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	}); err != nil {
		b.fatalf(t, "emulate prefers-color-scheme %s: %v", scheme, err)
	}
	// Let the colours' transitions end before anything measures them.
	b.eval(t, `new Promise(r => setTimeout(r, 400))`, nil)
}

// axeViolations injects axe-core into the page (through DevTools, which the
// page's policy does not govern) and returns its violations, one line each
// with the elements concerned.
func (b *browser) axeViolations(t *testing.T, source string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](source+"\n;true")); err != nil {
		b.fatalf(t, "inject axe-core: %v", err)
	}
	var out []string
	b.eval(t, `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v =>
		v.id + " (" + v.impact + "): " + v.help + " — " + v.nodes.map(n => n.target.join(" ") + " " + (n.failureSummary || "").replace(/\s+/g, " ")).join("; ")))`, &out)
	return out
}

// TestAccessibility runs axe-core on the name prompt, a busy room, the room
// list and, on a narrow screen, a room and the room drawer, in the light
// and the dark theme: no violation is allowed.
func TestAccessibility(t *testing.T) {
	source := axeSource(t)
	_, ts := startServer(t, "axe")
	// A room with history: others' messages, notices, a long message.
	other := joinProbe(t, ts.URL, "Bea")
	for i := range 12 {
		if _, err := other.Send(fmt.Sprintf("message %d from Bea %s", i, strings.Repeat("word ", i))); err != nil {
			t.Fatal(err)
		}
	}
	other.waitLine(t, "Bea: message 11 from Bea "+strings.TrimSpace(strings.Repeat("word ", 11)))

	p := person{newBrowser(t), "Ann"}
	check := func(where string) {
		t.Helper()
		for _, scheme := range []string{"light", "dark"} {
			p.setColorScheme(t, scheme)
			if v := p.axeViolations(t, source); len(v) > 0 {
				t.Errorf("axe-core, %s, %s theme: %d violations:\n%s", where, scheme, len(v), strings.Join(v, "\n"))
			}
		}
	}
	open(t, p.browser, ts.URL)
	check("the name prompt")

	p.join(t)
	p.send(t, "my own message")
	p.waitLine(t, "You: my own message")
	other.waitLine(t, "Ann: my own message")
	if _, err := other.Send("an answer"); err != nil {
		t.Fatal(err)
	}
	p.waitLine(t, "Bea: an answer")
	check("a busy room")

	// The room list: two rooms, the lobby with an unread count, a name
	// refused in the room form.
	p.typeText(t, "#room-input", "design")
	p.pressEnter(t, "#room-input")
	p.waitShown(t, "design", "/r/design")
	if _, err := other.Send("while Ann is in design"); err != nil {
		t.Fatal(err)
	}
	p.waitRooms(t, "an unread count in the lobby", func(s roomState) bool { return s.unreadOf("lobby") == "1" })
	p.typeText(t, "#room-input", "no spaces")
	p.pressEnter(t, "#room-input")
	p.waitVisible(t, "#room-error")
	check("the room list")

	// A narrow screen: the list is a drawer, closed, then opened.
	p.do(t, "a phone's viewport", chromedp.EmulateViewport(375, 740))
	if p.isVisible(t, "#room-nav") {
		t.Fatal("on a narrow screen the room list shows before the drawer is opened")
	}
	check("a room on a narrow screen")
	p.click(t, "#rooms-toggle")
	p.waitVisible(t, "#room-nav")
	p.waitAttr(t, "#rooms-toggle", "aria-expanded", "true")
	check("the room drawer")
	// Following a room of the drawer shows it, and closes the drawer.
	p.click(t, `#rooms [data-room="lobby"] a`)
	p.waitShown(t, "lobby", "/")
	p.waitAttr(t, "#rooms-toggle", "aria-expanded", "false")
	if p.isVisible(t, "#room-nav") {
		t.Fatal("the drawer stays open after a room was chosen in it")
	}
}

// isVisible reports whether the first element that matches css takes room
// on the page.
func (b *browser) isVisible(t *testing.T, css string) bool {
	t.Helper()
	var visible bool
	b.eval(t, `(() => { const el = document.querySelector(`+jsString(css)+`);
		return !!el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden"; })()`, &visible)
	return visible
}
