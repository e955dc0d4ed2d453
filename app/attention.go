package app

import (
	"strconv"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// attention counts the messages that arrive while the tab is hidden, and
// shows the count where a person looks for it from another tab or app: in
// the document's title, "(3) Chat", and on the app's icon where the browser
// has app badges. Back in sight, both are cleared. Only others' live
// messages count: not the person's own, not notices, not history.
type attention struct {
	hidden bool
	unread int
	title  string // the document's own title, read when mounted
	// settled swallows the answer of the badge calls: a browser that
	// refuses badges (not installed, no permission) rejects, which is no
	// error of the page.
	settled goapp.Func
}

// start reads the document's title and whether the tab is hidden.
func (a *attention) start(doc goapp.Value) {
	a.title = doc.Get("title").String()
	a.hidden = doc.Get("hidden").Truthy()
	a.settled = goapp.FuncOf(func(goapp.Value, []goapp.Value) any { return nil })
}

// stop releases what start made.
func (a *attention) stop() {
	if a.settled != nil {
		a.settled.Release()
		a.settled = nil
	}
}

// count counts one message from someone else; it reports whether the count
// changed, which is only while the tab is hidden.
func (a *attention) count() bool {
	if !a.hidden {
		return false
	}
	a.unread++
	return true
}

// setHidden records whether the tab is hidden; back in sight, the count is
// cleared. It reports whether the count changed.
func (a *attention) setHidden(hidden bool) bool {
	a.hidden = hidden
	if hidden || a.unread == 0 {
		return false
	}
	a.unread = 0
	return true
}

// show puts the count in the title and on the app badge, or clears both.
func (a *attention) show() {
	win := goapp.Window()
	doc := win.Get("document")
	nav := win.Get("navigator")
	if a.unread == 0 {
		doc.Set("title", a.title)
		a.badge(nav, "clearAppBadge")
		return
	}
	doc.Set("title", "("+strconv.Itoa(a.unread)+") "+a.title)
	a.badge(nav, "setAppBadge", a.unread)
}

// badge calls one of navigator's badge methods, where the browser has it.
func (a *attention) badge(nav goapp.Value, method string, args ...any) {
	if !nav.Truthy() || !nav.Get(method).Truthy() {
		return
	}
	p := nav.Call(method, args...)
	if a.settled != nil && p.Truthy() && p.Get("catch").Truthy() {
		p.Call("catch", a.settled)
	}
}
