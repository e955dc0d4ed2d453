package app

import (
	"html"
	"slices"
	"strings"
	"testing"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/chatwasm/chat/app/client"
	"github.com/chatwasm/chat/app/event"
)

// fakeNotifications is a notificationAPI without a browser: a test sets
// what the browser would say and reads what was shown.
type fakeNotifications struct {
	why    string // unsupported's answer
	perm   string // the permission, now
	answer string // the permission after the person answers a request

	asked   int          // how many requests were made
	pending []func()     // the answers not delivered yet
	shown   []shownNote  // every show, in order
	clicked func(string) // start's click callback
	changed func()       // start's change callback
	stopped bool         // stop was called
}

// shownNote is one show's arguments.
type shownNote struct{ title, body, tag string }

func (f *fakeNotifications) unsupported() string { return f.why }
func (f *fakeNotifications) permission() string  { return f.perm }
func (f *fakeNotifications) request(answered func()) {
	f.asked++
	f.pending = append(f.pending, func() { f.perm = f.answer; answered() })
}
func (f *fakeNotifications) show(title, body, tag string) {
	f.shown = append(f.shown, shownNote{title, body, tag})
}
func (f *fakeNotifications) start(clicked func(string), changed func()) {
	f.clicked, f.changed = clicked, changed
}
func (f *fakeNotifications) stop() { f.stopped = true }

// now runs a dispatched function at once, as the UI goroutine would later;
// the functions the tests dispatch need no Context.
func now(f func(goapp.Context)) {
	var ctx goapp.Context
	f(ctx)
}

// startedNotifier starts n on api, with a storage that holds the choice
// on when on, and returns both.
func startedNotifier(t *testing.T, n *notifier, api *fakeNotifications, on bool) (*notifier, *client.MemoryStorage) {
	t.Helper()
	store := new(client.MemoryStorage)
	if on {
		if err := store.Set(keyNotify, true); err != nil {
			t.Fatal(err)
		}
	}
	n.start(api, store, now)
	return n, store
}

// stored returns the choice kept in store.
func stored(t *testing.T, store *client.MemoryStorage) bool {
	t.Helper()
	var on bool
	if err := store.Get(keyNotify, &on); err != nil {
		t.Fatal(err)
	}
	return on
}

// toggleTag renders a copy of tg (a component mounts once) and returns
// the #notify-toggle button's opening tag, attributes sorted, and the text
// of #notify-why.
func toggleTag(t *testing.T, tg *notifyToggle) (button, why string) {
	t.Helper()
	c := *tg
	c.Compo = goapp.Compo{}
	page := renderCompo(t, &c)
	m := openTag.FindAllString(page, -1)
	for _, tag := range m {
		if slices.Contains(attribute.FindAllString(tag, -1), `id="notify-toggle"`) {
			button = tag
		}
	}
	if button == "" {
		t.Fatalf("no #notify-toggle in %s", page)
	}
	i := strings.Index(page, `id="notify-why"`)
	if i < 0 {
		t.Fatalf("no #notify-why in %s", page)
	}
	rest := page[i:]
	rest = rest[strings.Index(rest, ">")+1:]
	return button, html.UnescapeString(rest[:strings.Index(rest, "<")])
}

// TestNotifyToggleStates: the switch as each state of the browser and of
// the person's choice draws it.
func TestNotifyToggleStates(t *testing.T) {
	t.Parallel()
	const (
		off      = `<button aria-pressed="false" class="notify-toggle" id="notify-toggle" type="button">`
		on       = `<button aria-pressed class="notify-toggle" id="notify-toggle" type="button">`
		disabled = `<button aria-pressed="false" class="notify-toggle" disabled id="notify-toggle" type="button">`
	)
	tests := []struct {
		name    string
		api     *fakeNotifications // nil: before the WASM runs
		chosen  bool
		want    string
		wantWhy string
	}{
		{name: "before the WASM runs", want: disabled},
		{name: "no Notification API", api: &fakeNotifications{why: whyNoAPI},
			want: `<button aria-pressed="false" class="notify-toggle" disabled id="notify-toggle" title="` + whyNoAPI + `" type="button">`},
		{name: "not a secure page", api: &fakeNotifications{why: whyInsecure}, chosen: true,
			want: `<button aria-pressed="false" class="notify-toggle" disabled id="notify-toggle" title="` + whyInsecure + `" type="button">`},
		{name: "never asked", api: &fakeNotifications{perm: permissionDefault}, want: off},
		{name: "allowed, not chosen", api: &fakeNotifications{perm: permissionGranted}, want: off},
		{name: "allowed and chosen", api: &fakeNotifications{perm: permissionGranted}, chosen: true, want: on},
		// Chosen once, blocked since in the site settings: off, and it
		// says why only when clicked.
		{name: "chosen, blocked since", api: &fakeNotifications{perm: permissionDenied}, chosen: true, want: off},
		{name: "chosen, permission reset", api: &fakeNotifications{perm: permissionDefault}, chosen: true, want: off},
	}
	for _, tt := range tests {
		tg := &notifyToggle{Notifier: new(notifier)}
		if tt.api != nil {
			tg.Notifier, _ = startedNotifier(t, new(notifier), tt.api, tt.chosen)
			tg.mounted = true
		}
		button, why := toggleTag(t, tg)
		if button != tt.want || why != tt.wantWhy {
			t.Errorf("%s: the switch is\n%s, #notify-why %q; want\n%s, %q", tt.name, button, why, tt.want, tt.wantWhy)
		}
	}
}

// TestNotifyTogglePress: a click asks the browser when it must, turns
// notifications on once allowed and keeps the choice; a block or a
// dismissed prompt leaves them off and says why; a click on turns them
// off.
func TestNotifyTogglePress(t *testing.T) {
	t.Parallel()
	t.Run("asked and allowed", func(t *testing.T) {
		t.Parallel()
		api := &fakeNotifications{perm: permissionDefault, answer: permissionGranted}
		n, store := startedNotifier(t, new(notifier), api, false)
		tg := &notifyToggle{Notifier: n, mounted: true}
		if !tg.press() || api.asked != 0 {
			t.Fatal("a click with the permission not asked yet does not ask")
		}
		// The prompt is open: the switch waits for the answer.
		if button, _ := toggleTag(t, tg); !strings.Contains(button, " disabled ") {
			t.Errorf("while the browser asks, the switch is %s", button)
		}
		if tg.press() {
			t.Fatal("a second click while the browser asks asks again")
		}
		answer(t, api, tg)
		if !n.on() || !stored(t, store) {
			t.Fatalf("allowed: on %v, stored %v", n.on(), stored(t, store))
		}
		if button, why := toggleTag(t, tg); !strings.Contains(button, `aria-pressed class`) || why != "" {
			t.Errorf("allowed, the switch is %s, #notify-why %q", button, why)
		}
		// Off again, with no question.
		if tg.press() || n.on() || stored(t, store) {
			t.Fatalf("a click on the switch on: on %v, stored %v", n.on(), stored(t, store))
		}
		// And on again: the browser allows it already.
		if tg.press() || !n.on() || !stored(t, store) {
			t.Fatalf("a click once allowed: on %v, stored %v", n.on(), stored(t, store))
		}
	})
	for _, tt := range []struct {
		name, answer, why string
	}{
		{"asked and blocked", permissionDenied, whyBlocked},
		{"asked, prompt dismissed", permissionDefault, whyDismissed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &fakeNotifications{perm: permissionDefault, answer: tt.answer}
			n, store := startedNotifier(t, new(notifier), api, false)
			tg := &notifyToggle{Notifier: n, mounted: true}
			if !tg.press() {
				t.Fatal("no question")
			}
			answer(t, api, tg)
			if n.on() || stored(t, store) {
				t.Fatalf("on %v, stored %v", n.on(), stored(t, store))
			}
			button, why := toggleTag(t, tg)
			if want := `<button aria-describedby="notify-why" aria-pressed="false" class="notify-toggle" id="notify-toggle" type="button">`; button != want || why != tt.why {
				t.Errorf("the switch is\n%s, #notify-why %q; want\n%s, %q", button, why, want, tt.why)
			}
		})
	}
	t.Run("blocked before", func(t *testing.T) {
		t.Parallel()
		api := &fakeNotifications{perm: permissionDenied}
		n, store := startedNotifier(t, new(notifier), api, true)
		tg := &notifyToggle{Notifier: n, mounted: true}
		if tg.press() || api.asked != 0 {
			t.Fatal("a blocked browser was asked: it cannot be")
		}
		if n.on() || stored(t, store) {
			t.Fatalf("blocked: on %v, stored %v", n.on(), stored(t, store))
		}
		if _, why := toggleTag(t, tg); why != whyBlocked {
			t.Errorf("#notify-why %q", why)
		}
		// Allowed in the site settings since: the next click turns them
		// on, and the reason goes.
		api.perm = permissionGranted
		if tg.press() || !n.on() {
			t.Fatal("allowed since, the click did not turn them on")
		}
		if _, why := toggleTag(t, tg); why != "" {
			t.Errorf("on, #notify-why still reads %q", why)
		}
	})
	t.Run("unsupported", func(t *testing.T) {
		t.Parallel()
		api := &fakeNotifications{why: whyNoAPI}
		n, _ := startedNotifier(t, new(notifier), api, true)
		tg := &notifyToggle{Notifier: n, mounted: true}
		if tg.press() || n.on() || api.clicked != nil {
			t.Fatal("a browser without notifications: asked, on or listened to")
		}
	})
}

// answer delivers the browser's answer to the toggle's one request, as
// onClick does.
func answer(t *testing.T, api *fakeNotifications, tg *notifyToggle) {
	t.Helper()
	tg.Notifier.api.request(tg.answered)
	if api.asked != 1 || len(api.pending) != 1 {
		t.Fatalf("%d requests", api.asked)
	}
	api.pending[0]()
	api.pending = nil
}

// TestNotifyOthersWhileHidden: hidden, with notifications on, a live
// message of someone else shows one, as text: the sender and the room in
// the title, the text as the body, the room as the tag; not the person's
// own, not notices, not history; a burst shows the newest per room. In
// sight, or off, nothing shows.
func TestNotifyOthersWhileHidden(t *testing.T) {
	t.Parallel()
	api := &fakeNotifications{perm: permissionGranted}
	c := &Chat{}
	_, store := startedNotifier(t, &c.notify, api, true)
	c.away.hidden = true
	update := func(events ...event.Event) {
		c.apply(client.Update{Events: events})
		c.notify.flush()
	}
	update(event.Joined{User: "me", Name: "Ann", Seq: 2}, roomMessage(1), roomMessage(2))
	if len(api.shown) != 0 {
		t.Fatalf("the history on joining notified: %q", api.shown)
	}
	update(
		event.Message{Room: event.DefaultRoom, Seq: 3, User: "u2", Name: "Bob", Text: `<b>hi</b> & "bye"`},
		event.Message{Room: event.DefaultRoom, Seq: 4, User: "me", Name: "Ann", Text: "mine"},
		event.Presence{Room: event.DefaultRoom, Joined: []event.Member{{User: "u3", Name: "Cy"}}},
	)
	want := []shownNote{{"Bob in #lobby", `<b>hi</b> & "bye"`, event.DefaultRoom}}
	if !slices.Equal(api.shown, want) {
		t.Fatalf("shown %q, want %q", api.shown, want)
	}
	// A burst in one Update: the newest of each room, once.
	api.shown = nil
	update(
		event.Message{Room: event.DefaultRoom, Seq: 5, User: "u2", Name: "Bob", Text: "one"},
		event.Message{Room: event.DefaultRoom, Seq: 6, User: "u3", Name: "Cy", Text: "two"},
	)
	if want := []shownNote{{"Cy in #lobby", "two", event.DefaultRoom}}; !slices.Equal(api.shown, want) {
		t.Fatalf("a burst showed %q, want %q", api.shown, want)
	}
	// In sight: nothing.
	api.shown = nil
	c.away.setHidden(false)
	update(roomMessage(7))
	// Hidden, but turned off in another tab.
	c.away.setHidden(true)
	if err := store.Set(keyNotify, false); err != nil {
		t.Fatal(err)
	}
	api.changed()
	update(roomMessage(8))
	if len(api.shown) != 0 {
		t.Fatalf("in sight, or turned off, shown %q", api.shown)
	}
	// A notifier never started (no browser) shows nothing and holds
	// nothing.
	var idle notifier
	idle.queue(event.DefaultRoom, "Bob", "x")
	idle.flush()
	if len(idle.pending) != 0 {
		t.Fatal("an idle notifier queued")
	}
}

// TestNotifyClickOpensRoom: a click on a notification opens its room
// through the page's callback; stop ends the listening and the showing.
func TestNotifyClickOpensRoom(t *testing.T) {
	t.Parallel()
	api := &fakeNotifications{perm: permissionGranted}
	var opened []string
	n := &notifier{open: func(room string) { opened = append(opened, room) }}
	store := new(client.MemoryStorage)
	n.start(api, store, now)
	api.clicked("lobby")
	api.clicked("go-dev")
	if !slices.Equal(opened, []string{"lobby", "go-dev"}) {
		t.Fatalf("opened %q", opened)
	}
	n.choose(true)
	n.stop()
	n.queue(event.DefaultRoom, "Bob", "after")
	n.flush()
	if !api.stopped || len(api.shown) != 0 {
		t.Fatalf("after stop: stopped %v, shown %q", api.stopped, api.shown)
	}
	for room, want := range map[string]string{
		event.DefaultRoom: "/",
		"go-dev":          "/r/go-dev",
		"":                "/",
		"../x":            "/",
	} {
		if got := roomPath(room); got != want {
			t.Errorf("roomPath(%q) = %q, want %q", room, got, want)
		}
	}
}
