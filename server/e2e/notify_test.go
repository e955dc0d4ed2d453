package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// notifyToggle is the switch of desktop notifications.
const notifyToggle = `#notify-toggle`

// notificationRecorder, run before each document, puts in place of
// window.Notification a subclass of it that records the arguments of each
// notification the page makes, its show and error events and its close,
// in window.chatNotes, and then makes the real one: the page goes through
// the browser's own API, and the test sees what it asked for, which
// headless Chromium does not show. window.chatNoteObjects holds the
// notifications themselves, for a test to click; window.chatFocus counts
// the page's window.focus calls. With remove, the page has no
// Notification at all, as in a browser without the API.
func notificationRecorder(remove bool) string {
	if remove {
		return `delete window.Notification;`
	}
	return `(() => {
	window.chatNotes = [];
	window.chatNoteObjects = [];
	window.chatFocus = 0;
	const focus = window.focus.bind(window);
	window.focus = () => { window.chatFocus++; focus(); };
	const Real = window.Notification;
	window.Notification = class extends Real {
		constructor(title, options) {
			super(title, options);
			const rec = {title: title, options: options, events: [], closed: false};
			window.chatNotes.push(rec);
			window.chatNoteObjects.push(this);
			this.addEventListener("show", () => rec.events.push("show"));
			this.addEventListener("error", () => rec.events.push("error"));
			const close = this.close.bind(this);
			this.close = () => { rec.closed = true; close(); };
		}
	};
})()`
}

// shownNote is what the page asked of one notification.
type shownNote struct {
	Title   string            `json:"title"`
	Options map[string]string `json:"options"`
	Events  []string          `json:"events"`
	Closed  bool              `json:"closed"`
}

// initScript runs js in every document the browser opens, before the
// page's own scripts.
func (b *browser) initScript(t *testing.T, js string) {
	t.Helper()
	ctx, cancel := b.actx()
	defer cancel()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: js}); err != nil {
		b.fatalf(t, "add the script: %v", err)
	}
}

// setNotificationPermission sets the browser's answer for notifications on
// origin, as the person would in the site settings: "granted" or "denied".
func (b *browser) setNotificationPermission(t *testing.T, origin string, setting cdpbrowser.PermissionSetting) {
	t.Helper()
	ctx, cancel := b.actx()
	defer cancel()
	if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: string(cdpbrowser.PermissionTypeNotifications)},
		Setting:    setting,
		Origin:     origin,
	}); err != nil {
		b.fatalf(t, "Browser.setPermission notifications %s: %v", setting, err)
	}
}

// notes returns the notifications the page made so far.
func (b *browser) notes(t *testing.T) []shownNote {
	t.Helper()
	var out []shownNote
	b.eval(t, `window.chatNotes`, &out)
	return out
}

// waitNotes waits until the page made n notifications, and returns them.
func (b *browser) waitNotes(t *testing.T, n int) []shownNote {
	t.Helper()
	var notes []shownNote
	err := poll(b.ctx, actionTimeout, pollInterval, func() error {
		notes = b.notes(t)
		if len(notes) != n {
			return fmt.Errorf("%d notifications: %+v", len(notes), notes)
		}
		return nil
	})
	if err != nil {
		b.fatalf(t, "wait for %d notifications: %v", n, err)
	}
	return notes
}

// waitToggleReady waits until the WASM runs the switch: enabled, or
// disabled with a title that says why.
func (b *browser) waitToggleReady(t *testing.T) {
	t.Helper()
	err := poll(b.ctx, actionTimeout, pollInterval, func() error {
		var ready bool
		b.eval(t, `(() => { const el = document.querySelector("#notify-toggle"); return !!el && (!el.disabled || el.title !== ""); })()`, &ready)
		if !ready {
			return fmt.Errorf("disabled: %s", b.outerHTML(notifyToggle))
		}
		return nil
	})
	if err != nil {
		b.fatalf(t, "wait for the notifications switch: %v", err)
	}
}

// storedChoice returns what localStorage keeps of the person's choice.
func (b *browser) storedChoice(t *testing.T) string {
	t.Helper()
	var v string
	b.eval(t, `String(localStorage.getItem("chat/notify"))`, &v)
	return v
}

// TestDesktopNotifications: Bob, in a browser that allows notifications,
// turns them on with the switch. While his tab is hidden, a message Ann
// sends from a Go client makes one notification, as text, with her name
// and the room in the title and her text as the body; his own message
// does not, nor does anything while he looks. Clicking it focuses the
// window, closes it and stays in the room; coming back to the tab closes
// the one still shown. A message in another joined room names that room,
// and its notification's click shows it. The choice outlives a reload; turned off, nothing
// shows. The page's Content-Security-Policy reports no violation (the
// harness fails on any), and the console holds no error.
func TestDesktopNotifications(t *testing.T) {
	_, ts := startServer(t, "e2e")
	bob := person{newBrowser(t), "Bob"}
	bob.setNotificationPermission(t, ts.URL, cdpbrowser.PermissionSettingGranted)
	bob.initScript(t, attentionStubs)
	bob.initScript(t, notificationRecorder(false))
	open(t, bob.browser, ts.URL)
	bob.join(t)
	bob.waitToggleReady(t)
	bob.waitAttr(t, notifyToggle, "aria-pressed", "false")
	if got := bob.storedChoice(t); got != "null" {
		t.Fatalf("before any click, the stored choice is %s", got)
	}

	bob.click(t, notifyToggle)
	bob.waitAttr(t, notifyToggle, "aria-pressed", "true")
	if got := bob.storedChoice(t); got != "true" {
		t.Fatalf("turned on, the stored choice is %s", got)
	}

	ann := joinProbe(t, ts.URL, "Ann")
	bob.waitLine(t, "Ann connected")
	send := func(text string) {
		t.Helper()
		if _, err := ann.Send(text); err != nil {
			t.Fatal(err)
		}
		bob.waitLine(t, "Ann: "+text)
	}
	send("while he looks")
	if n := bob.notes(t); len(n) != 0 {
		t.Fatalf("in sight, notifications: %+v", n)
	}

	bob.eval(t, `window.chatSetHidden(true)`, nil)
	bob.send(t, "his own, hidden")
	ann.waitLine(t, "Bob: his own, hidden")
	const markup = `<b>bold</b> & <img src=x onerror=alert(1)>`
	send(markup)
	notes := bob.waitNotes(t, 1)
	want := shownNote{Title: "Ann in #lobby", Options: map[string]string{"body": markup, "tag": "lobby"}}
	if got := notes[0]; got.Title != want.Title || len(got.Options) != 2 || got.Options["body"] != want.Options["body"] || got.Options["tag"] != want.Options["tag"] {
		t.Fatalf("the notification is %+v, want %+v", got, want)
	}
	// The real constructor ran: the browser fires show, or error where
	// it refused.
	err := poll(bob.ctx, actionTimeout, pollInterval, func() error {
		if ev := bob.notes(t)[0].Events; !slices.Equal(ev, []string{"show"}) {
			return fmt.Errorf("events %q", ev)
		}
		return nil
	})
	if err != nil {
		bob.fatalf(t, "wait for the notification's show event: %v", err)
	}

	// A click focuses the window and closes it; the lobby is the page
	// shown, so the page stays.
	bob.eval(t, `window.chatNoteObjects[0].dispatchEvent(new Event("click"))`, nil)
	var clicked struct {
		Focus  int    `json:"focus"`
		Closed bool   `json:"closed"`
		Path   string `json:"path"`
	}
	bob.eval(t, `({focus: window.chatFocus, closed: window.chatNotes[0].closed, path: location.pathname})`, &clicked)
	if clicked.Focus != 1 || !clicked.Closed || clicked.Path != "/" {
		t.Fatalf("after the click: %+v, want the window focused once, the notification closed, the page at /", clicked)
	}

	// Another while hidden; back in sight, it is closed.
	send("one more")
	notes = bob.waitNotes(t, 2)
	if notes[1].Options["body"] != "one more" || notes[1].Closed {
		t.Fatalf("the second notification is %+v", notes[1])
	}
	bob.eval(t, `window.chatSetHidden(false)`, nil)
	err = poll(bob.ctx, actionTimeout, pollInterval, func() error {
		if n := bob.notes(t); !n[1].Closed {
			return fmt.Errorf("still open: %+v", n[1])
		}
		return nil
	})
	if err != nil {
		bob.fatalf(t, "back in sight: %v", err)
	}

	// A message in a joined room not shown: its notification names the
	// room, and a click shows that room.
	if err := ann.Open("design"); err != nil {
		t.Fatal(err)
	}
	bob.typeText(t, "#room-input", "design")
	bob.pressEnter(t, "#room-input")
	bob.waitShown(t, "design", "/r/design")
	bob.click(t, `#rooms [data-room="lobby"] a`)
	bob.waitShown(t, "lobby", "/")
	bob.eval(t, `window.chatSetHidden(true)`, nil)
	if _, err := ann.SendIn("design", "in design"); err != nil {
		t.Fatal(err)
	}
	notes = bob.waitNotes(t, 3)
	if got := notes[2]; got.Title != "Ann in #design" || got.Options["body"] != "in design" || got.Options["tag"] != "design" {
		t.Fatalf("the notification of design is %+v", got)
	}
	bob.eval(t, `window.chatNoteObjects[2].dispatchEvent(new Event("click"))`, nil)
	bob.waitShown(t, "design", "/r/design")
	bob.waitLine(t, "Ann: in design")
	bob.eval(t, `window.chatSetHidden(false)`, nil)

	// The choice outlives a reload.
	open(t, bob.browser, ts.URL)
	bob.waitToggleReady(t)
	bob.waitAttr(t, notifyToggle, "aria-pressed", "true")

	// Turned off, a hidden tab shows nothing.
	bob.click(t, notifyToggle)
	bob.waitAttr(t, notifyToggle, "aria-pressed", "false")
	if got := bob.storedChoice(t); got != "false" {
		t.Fatalf("turned off, the stored choice is %s", got)
	}
	bob.eval(t, `window.chatSetHidden(true)`, nil)
	send("switched off")
	if n := bob.notes(t); len(n) != 0 {
		t.Fatalf("turned off, notifications: %+v", n)
	}
	if errs := bob.consoleErrors(); len(errs) != 0 {
		t.Fatalf("console errors: %q", errs)
	}
}

// TestNotificationsRefused: where the browser blocks notifications for
// the site, a click on the switch leaves it off and says how to allow
// them; where the browser has no Notification API, the switch is disabled
// and its title says so. Both pass axe-core, in the light and the dark
// theme, and the switch on passes it too.
func TestNotificationsRefused(t *testing.T) {
	source := axeSource(t)
	_, ts := startServer(t, "e2e")
	audit := func(p person, where string) {
		t.Helper()
		for _, scheme := range []string{"light", "dark"} {
			p.setColorScheme(t, scheme)
			if v := p.axeViolations(t, source); len(v) > 0 {
				t.Errorf("axe-core, %s, %s theme: %d violations:\n%s", where, scheme, len(v), strings.Join(v, "\n"))
			}
		}
	}

	blocked := person{newBrowser(t), "Cy"}
	blocked.setNotificationPermission(t, ts.URL, cdpbrowser.PermissionSettingDenied)
	open(t, blocked.browser, ts.URL)
	blocked.join(t)
	blocked.waitToggleReady(t)
	blocked.click(t, notifyToggle)
	blocked.waitTexts(t, "#notify-why", func(s []string) bool {
		return len(s) == 1 && strings.Contains(s[0], "blocked") && strings.Contains(s[0], "site settings")
	}, "the reason in #notify-why")
	blocked.waitAttr(t, notifyToggle, "aria-pressed", "false")
	blocked.waitAttr(t, notifyToggle, "aria-describedby", "notify-why")
	if got := blocked.storedChoice(t); got == "true" {
		t.Fatalf("blocked, the stored choice is %s", got)
	}
	audit(blocked, "the reason shown")

	// Allowed since in the settings: the next click turns them on.
	blocked.setNotificationPermission(t, ts.URL, cdpbrowser.PermissionSettingGranted)
	blocked.click(t, notifyToggle)
	blocked.waitAttr(t, notifyToggle, "aria-pressed", "true")
	blocked.waitTexts(t, "#notify-why", func(s []string) bool { return len(s) == 1 && s[0] == "" }, "no reason")
	audit(blocked, "the switch on")

	none := person{newBrowser(t), "Di"}
	none.initScript(t, notificationRecorder(true))
	open(t, none.browser, ts.URL)
	none.waitToggleReady(t)
	var state struct {
		Disabled bool   `json:"disabled"`
		Title    string `json:"title"`
		Pressed  string `json:"pressed"`
	}
	none.eval(t, `(() => { const el = document.querySelector("#notify-toggle");
		return {disabled: el.disabled, title: el.title, pressed: el.getAttribute("aria-pressed")}; })()`, &state)
	if !state.Disabled || state.Title != "This browser cannot show notifications." || state.Pressed != "false" {
		t.Fatalf("without the API, the switch is %+v", state)
	}
	for _, p := range []person{blocked, none} {
		if errs := p.consoleErrors(); len(errs) != 0 {
			t.Fatalf("%s: console errors: %q", p.name, errs)
		}
	}
}
