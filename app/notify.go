package app

import (
	"slices"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/chatwasm/chat/app/client"
	"github.com/chatwasm/chat/app/event"
)

// keyNotify holds, in localStorage, whether the person turned desktop
// notifications on: one choice for every tab of the browser, kept across
// reloads. Absent means off.
const keyNotify = "chat/notify"

// The values of Notification.permission.
const (
	// permissionDefault: not asked yet, or the person dismissed the prompt.
	permissionDefault = "default"
	// permissionGranted: the page may show notifications.
	permissionGranted = "granted"
	// permissionDenied: blocked; only the browser's site settings can
	// allow notifications again, the page cannot even ask.
	permissionDenied = "denied"
)

// Why a browser cannot show notifications, as the disabled toggle's title
// says it.
const (
	whyNoAPI    = "This browser cannot show notifications."
	whyInsecure = "Notifications need a secure (https) connection."
)

// notificationAPI is the browser's Notification API as the notifier uses
// it: browserNotifications in the page, a fake in the native tests.
type notificationAPI interface {
	// unsupported says why this browser cannot show notifications; empty
	// when it can.
	unsupported() string
	// permission is Notification.permission: permissionDefault,
	// permissionGranted or permissionDenied.
	permission() string
	// request asks the person for permission, and calls answered once
	// they answered, from a browser callback; permission then tells the
	// answer.
	request(answered func())
	// show shows a notification, as text; it replaces the one shown
	// before with the same tag.
	show(title, body, tag string)
	// start listens until stop: clicked gets the tag of the notification
	// the person clicked, from the browser's click callback, after the
	// notification was closed and the window focused; changed is called,
	// from a browser callback too, when the tab comes back in sight (the
	// notifications shown are closed then: they are news no longer) and
	// when another tab changed keyNotify.
	start(clicked func(tag string), changed func())
	// stop ends what start began.
	stop()
}

// notifier shows a desktop notification for the messages others send in a
// joined room while the tab is hidden, once the person turned them on and
// the browser allows it. The title names the sender and the room, the body
// is the text; both are plain text, which a notification cannot render as
// markup. The tag is the room: a newer message of a room replaces its
// notification rather than piling up, and coming back to the tab closes
// them all. Clicking one focuses the tab and opens its room.
//
// The page queues, in apply, each message a notification is for, and
// flushes after it: apply stays free of side effects, and a burst applied
// at once shows one notification per room. The toggle starts the notifier
// and changes the choice. State changes on the UI goroutine only.
type notifier struct {
	// open switches the page to room when the person clicked a
	// notification of it. It is called from the browser's click
	// callback, not on the UI goroutine: it must ctx.Dispatch what it
	// changes. Nil opens the room's page (roomPath) unless it is the one
	// shown. Set it before the notifier starts.
	open func(room string)

	api      notificationAPI           // nil until started: nothing is shown
	store    client.Storage            // keeps keyNotify
	dispatch func(func(goapp.Context)) // runs a function on the UI goroutine
	started  bool                      // api listens: stop must end it

	// What the toggle shows, read at start and on every change.
	unsupported string // why the browser cannot notify; empty when it can
	permission  string // Notification.permission
	chosen      bool   // the person turned notifications on

	pending []notification // queued since the last flush, one per room
}

// notification is one queued notification's content.
type notification struct {
	room, name, text string
}

// start reads the person's choice and the browser's state and listens for
// clicks and changes until stop; dispatch is the UI goroutine's (the
// toggle's ctx.Dispatch, which updates the toggle after a change).
func (n *notifier) start(api notificationAPI, store client.Storage, dispatch func(func(goapp.Context))) {
	n.api, n.store, n.dispatch = api, store, dispatch
	n.refresh()
	if n.unsupported != "" {
		return
	}
	api.start(n.clicked, func() { dispatch(func(goapp.Context) { n.refresh() }) })
	n.started = true
}

// stop ends the listening; nothing is shown after it.
func (n *notifier) stop() {
	if n.started {
		n.api.stop()
	}
	n.api, n.pending, n.started = nil, nil, false
}

// refresh reads again the browser's support and permission and the
// stored choice, which another tab or the site settings may have changed.
func (n *notifier) refresh() {
	if n.api == nil {
		return
	}
	n.unsupported = n.api.unsupported()
	n.permission = permissionDefault
	if n.unsupported == "" {
		n.permission = n.api.permission()
	}
	var on bool
	if n.store != nil {
		if err := n.store.Get(keyNotify, &on); err != nil {
			on = false // an unreadable choice is no choice
		}
	}
	n.chosen = on
}

// on reports whether a message that arrives while the tab is hidden shows
// a notification: the person chose it, and the browser allows it.
func (n *notifier) on() bool {
	return n.api != nil && n.unsupported == "" && n.chosen && n.permission == permissionGranted
}

// choose records the person's choice, for every tab and the next visits.
// Where the storage refuses it, the choice holds for this page only.
func (n *notifier) choose(on bool) {
	n.chosen = on
	if n.store == nil {
		return
	}
	if err := n.store.Set(keyNotify, on); err != nil {
		goapp.Log("notifications: the choice is not kept:", err)
	}
}

// queue keeps a message to show at the next flush, in place of the one
// queued before for the same room. The page calls it for each live message
// of someone else that arrives while the tab is hidden; with notifications
// off, it keeps nothing.
func (n *notifier) queue(room, name, text string) {
	if !n.on() {
		return
	}
	if room == "" {
		room = event.DefaultRoom
	}
	n.pending = slices.DeleteFunc(n.pending, func(q notification) bool { return q.room == room })
	n.pending = append(n.pending, notification{room: room, name: name, text: text})
}

// flush shows what was queued, and forgets it.
func (n *notifier) flush() {
	if len(n.pending) == 0 {
		return
	}
	if n.on() {
		for _, q := range n.pending {
			n.api.show(notificationTitle(q.room, q.name), q.text, q.room)
		}
	}
	n.pending = n.pending[:0]
}

// notificationTitle is the title of a notification of name's message in
// room: "Ann in #lobby".
func notificationTitle(room, name string) string {
	return name + " in #" + room
}

// clicked opens the room of the notification the person clicked (its tag),
// from the browser's click callback.
func (n *notifier) clicked(room string) {
	if n.open != nil {
		n.open(room)
		return
	}
	n.dispatch(func(ctx goapp.Context) {
		if path := roomPath(room); ctx.Page().URL().Path != path {
			ctx.Navigate(path)
		}
		ctx.PreventUpdate() // nothing the toggle shows changed
	})
}

// browserNotifications is the browser's Notification API, through
// goapp.Window(). The notifications it shows are plain objects of the page
// ("new Notification"), which need no service worker; they live as long as
// the page does.
type browserNotifications struct {
	shown   map[string]goapp.Value // the notifications shown, by tag
	click   goapp.Func             // every notification's onclick
	release []func()               // remove the listeners
}

// class is window.Notification: undefined where the browser lacks it.
func (b *browserNotifications) class() goapp.Value {
	return goapp.Window().Get("Notification")
}

// unsupported implements notificationAPI.
func (b *browserNotifications) unsupported() string {
	switch {
	case !b.class().Truthy():
		return whyNoAPI
	case !goapp.Window().Get("isSecureContext").Truthy():
		return whyInsecure
	}
	return ""
}

// permission implements notificationAPI.
func (b *browserNotifications) permission() string {
	return b.class().Get("permission").String()
}

// request implements notificationAPI.
func (b *browserNotifications) request(answered func()) {
	var done goapp.Func
	done = goapp.FuncOf(func(goapp.Value, []goapp.Value) any {
		done.Release()
		answered()
		return nil
	})
	// Every current browser answers with a promise; one that takes a
	// callback only answers nothing here, and the permission stays as it
	// was.
	p := b.class().Call("requestPermission")
	if !p.Truthy() || !p.Get("then").Truthy() {
		done.Release()
		answered()
		return
	}
	p.Call("then", done, done)
}

// show implements notificationAPI.
func (b *browserNotifications) show(title, body, tag string) {
	// A browser that only shows notifications from a service worker
	// (Chrome on Android) throws: the message is still in the list.
	defer func() {
		if r := recover(); r != nil {
			goapp.Log("notifications: the browser refused one:", r)
		}
	}()
	note := b.class().New(title, map[string]any{"body": body, "tag": tag})
	note.Set("onclick", b.click)
	if b.shown == nil {
		b.shown = make(map[string]goapp.Value)
	}
	b.shown[tag] = note
}

// start implements notificationAPI.
func (b *browserNotifications) start(clicked func(tag string), changed func()) {
	win := goapp.Window()
	doc := win.Get("document")
	b.click = goapp.FuncOf(func(this goapp.Value, args []goapp.Value) any {
		// In the click's own callback: the browser lets a page focus its
		// window only while the person's click is being handled.
		win.Call("focus")
		this.Call("close")
		tag := this.Get("tag").String()
		delete(b.shown, tag)
		clicked(tag)
		return nil
	})
	b.listen(doc, "visibilitychange", func(goapp.Value) {
		if doc.Get("visibilityState").String() != "visible" {
			return
		}
		for tag, note := range b.shown {
			note.Call("close")
			delete(b.shown, tag)
		}
		changed()
	})
	b.listen(win, "storage", func(e goapp.Value) {
		if k := e.Get("key"); k.IsNull() || k.String() == keyNotify {
			changed() // null: the storage was cleared
		}
	})
}

// listen calls f with each of target's events of that name until stop.
func (b *browserNotifications) listen(target goapp.Value, name string, f func(e goapp.Value)) {
	fn := goapp.FuncOf(func(_ goapp.Value, args []goapp.Value) any {
		if len(args) > 0 {
			f(args[0])
		}
		return nil
	})
	target.Call("addEventListener", name, fn)
	b.release = append(b.release, func() {
		target.Call("removeEventListener", name, fn)
		fn.Release()
	})
}

// stop implements notificationAPI.
func (b *browserNotifications) stop() {
	for _, f := range b.release {
		f()
	}
	b.release = nil
	for tag, note := range b.shown {
		note.Set("onclick", nil)
		delete(b.shown, tag)
	}
	if b.click != nil {
		b.click.Release()
		b.click = nil
	}
}
