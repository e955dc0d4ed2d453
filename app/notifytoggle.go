package app

import goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

// Why notifications stayed off after a click, as #notify-why says it.
const (
	whyBlocked   = "Notifications are blocked for this site. Allow them in the browser's site settings, then turn them on here."
	whyDismissed = "Notifications stay off: the browser did not get your permission."
)

// notifyToggle is #notify-toggle, the switch of desktop notifications in
// the top bar: a button whose aria-pressed says whether they are on. They
// are off until the person turns them on; the first time, the click asks
// the browser's permission (a browser asks only on a person's gesture).
// Where the browser blocks them, #notify-why says so, and how to allow
// them, and the switch stays off; where the browser has none, the switch is
// disabled and its title says why. Before the WASM runs it is disabled.
type notifyToggle struct {
	goapp.Compo

	// Notifier is the page's: the toggle starts it when mounted, shows
	// its state and changes its choice.
	Notifier *notifier

	mounted bool   // the WASM runs and the notifier started
	asking  bool   // the browser's permission prompt is open
	why     string // why notifications stayed off at the last click
}

// OnMount starts the notifier, which reads the stored choice and the
// browser's permission.
func (tg *notifyToggle) OnMount(ctx goapp.Context) {
	tg.Notifier.start(&browserNotifications{}, ctx.LocalStorage(), ctx.Dispatch)
	tg.mounted = true
}

// OnDismount stops the notifier.
func (tg *notifyToggle) OnDismount() {
	tg.Notifier.stop()
	tg.mounted = false
}

// onClick turns notifications on or off, asking the browser first where it
// must.
func (tg *notifyToggle) onClick(ctx goapp.Context, e goapp.Event) {
	if tg.press() {
		tg.Notifier.api.request(func() {
			ctx.Dispatch(func(goapp.Context) { tg.answered() })
		})
	}
}

// press applies a click: off when on; on when the browser allows it; the
// reason when it blocks them. It reports whether the browser must ask the
// person first: answered applies the answer then.
func (tg *notifyToggle) press() (ask bool) {
	n := tg.Notifier
	n.refresh() // the site settings may have changed since
	tg.why = ""
	switch {
	case !tg.mounted || tg.asking || n.unsupported != "":
		// A disabled switch: nothing to do.
	case n.on():
		n.choose(false)
	case n.permission == permissionGranted:
		n.choose(true)
	case n.permission == permissionDenied:
		n.choose(false)
		tg.why = whyBlocked
	default:
		tg.asking = true
		return true
	}
	return false
}

// answered applies the person's answer to the browser's prompt.
func (tg *notifyToggle) answered() {
	n := tg.Notifier
	tg.asking = false
	n.refresh()
	switch n.permission {
	case permissionGranted:
		n.choose(true)
	case permissionDenied:
		tg.why = whyBlocked
	default:
		tg.why = whyDismissed
	}
}

// Render draws the switch, and the live region that tells why it stayed
// off: always there, so that a screen reader hears what goes in it.
func (tg *notifyToggle) Render() goapp.UI {
	n := tg.Notifier
	unsupported := ""
	if tg.mounted {
		unsupported = n.unsupported
	}
	button := goapp.Button().ID("notify-toggle").Class("notify-toggle").Type("button").
		Aria("pressed", tg.mounted && n.on()).
		OnClick(tg.onClick).Body(
		goapp.Span().Class("notify-label").Text("Notifications"),
	)
	if !tg.mounted || tg.asking || unsupported != "" {
		// Only when true: go-app writes disabled="false" in the
		// prerendered page, which is disabled all the same.
		button = button.Disabled(true)
	}
	if unsupported != "" {
		button = button.Title("%s", unsupported)
	}
	if tg.why != "" {
		button = button.Aria("describedby", "notify-why")
	}
	return goapp.Div().Class("notify").Body(
		button,
		goapp.Div().ID("notify-why").Class("notify-why").Role("status").Text(tg.why),
	)
}
