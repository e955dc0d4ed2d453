package app

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/chatwasm/chat/app/client"
	"github.com/chatwasm/chat/app/event"
)

// StatusSent is the data-status of a message row the server stored: every
// row of the room's messages has it; outbox rows have their OutboxItem.Status
// (pending, failed).
const StatusSent = "sent"

// gapText is the divider shown where messages are missing: they fell out of
// the server's retention while the page was away.
const gapText = "Some older messages are no longer available"

// maxEntries bounds the messages and notices kept on the page: 500 rows
// render in a few milliseconds with go-app's positional diffing, and one
// render never mounts more than go-app's 4,096 queued components.
const maxEntries = 500

// updateCheckInterval is how often the page asks the service worker to look
// for a new version: 10 minutes keeps an open tab current at a negligible
// cost (go-app v10 never looks on its own).
const updateCheckInterval = 10 * time.Minute

// Chat is the page: the connection state, the name prompt for a new person,
// the message list with the outbox at its end, and the send form. A Session
// does the talking; Chat shows its Updates. Its state changes only on
// go-app's UI goroutine (event handlers and ctx.Dispatch).
type Chat struct {
	goapp.Compo

	state   client.ConnState   // #connection's data-state; empty until mounted
	sess    *client.Session    // the person's session, nil until mounted
	cancel  context.CancelFunc // ends the session and the update checks
	release []func()           // remove the browser event listeners
	mounted bool               // the WASM runs: the forms are usable

	known     bool   // a stored identity joins by itself: no name prompt
	nameDraft string // what the name input holds
	name      string // the name joined under, or submitted and waiting
	nameErr   string // why the name was refused
	user      string // the identity from Joined; empty until joined

	draft   string // what the message input holds
	sendErr string // why the last message was refused

	entries     []entry             // the room's messages and notices, oldest first
	outbox      []client.OutboxItem // the person's messages not acknowledged yet
	updateReady bool                // a new version is installed: offer to reload
}

// entry is one row of the message list.
type entry struct {
	notice  bool
	divider bool
	own     bool
	user    string // who a message or notice is about; its colour
	name    string // their name; empty for "You joined" and dividers
	text    string // a message's text, or the words after a notice's name
	time    int64  // when the server accepted a message, Unix ms
}

// OnMount starts the session as soon as the app runs, before a name is
// given, and starts looking for updates.
func (c *Chat) OnMount(ctx goapp.Context) {
	c.mounted = true
	c.state = client.StateConnecting
	sess, err := client.NewSession(client.SessionConfig{
		URL:     socketURL(),
		Storage: ctx.LocalStorage(),
		Tab:     tabID(ctx),
		OnUpdate: func(u client.Update) {
			ctx.Dispatch(func(ctx goapp.Context) { c.received(ctx, u) })
		},
	})
	if err != nil {
		// Only a bad configuration fails, never the network.
		goapp.Log("chat:", err)
		c.state = client.StateOffline
		return
	}
	c.sess = sess
	c.known = !sess.NeedsName()
	c.outbox = sess.Outbox()
	cctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	ctx.Async(func() { _ = sess.Run(cctx) })
	ctx.Async(func() { checkForUpdates(cctx) })

	// Back online, or back in sight after the phone slept: reconnect now
	// rather than at the end of the backoff. Offline: the socket is dead
	// even if the browser does not say so for a while.
	win := goapp.Window()
	doc := win.Get("document")
	c.listen(win, "online", sess.Wake)
	c.listen(win, "offline", sess.Drop)
	c.listen(doc, "visibilitychange", func() {
		if doc.Get("visibilityState").String() == "visible" {
			sess.Wake()
		}
	})
}

// keyTab is where a tab keeps its id, in sessionStorage: a reload keeps it,
// another tab has its own.
const keyTab = "chat/tab"

// tabID returns this tab's id, making one on its first load.
func tabID(ctx goapp.Context) string {
	var id string
	store := ctx.SessionStorage()
	if err := store.Get(keyTab, &id); err == nil && id != "" {
		return id
	}
	id = uuid.NewString()
	if err := store.Set(keyTab, id); err != nil {
		return "" // no sessionStorage: one outbox for the room
	}
	return id
}

// listen calls f on the target's DOM event until dismount.
func (c *Chat) listen(target goapp.Value, name string, f func()) {
	fn := goapp.FuncOf(func(goapp.Value, []goapp.Value) any {
		f()
		return nil
	})
	target.Call("addEventListener", name, fn)
	c.release = append(c.release, func() {
		target.Call("removeEventListener", name, fn)
		fn.Release()
	})
}

// OnDismount ends the session, which closes the connection, and removes the
// listeners: go-app never cancels a Context itself.
func (c *Chat) OnDismount() {
	if c.cancel != nil {
		c.cancel()
	}
	for _, f := range c.release {
		f()
	}
	c.release = nil
}

// OnAppUpdate shows the reload notice once a new version is ready.
func (c *Chat) OnAppUpdate(ctx goapp.Context) {
	c.updateReady = ctx.AppUpdateAvailable()
}

// onNameSubmit joins under the name typed, once it passes the protocol's
// own rules; the Session sends the Join when the connection allows.
func (c *Chat) onNameSubmit(ctx goapp.Context, e goapp.Event) {
	e.PreventDefault()
	if c.takeName() && c.sess != nil {
		if err := c.sess.Join(c.name); err != nil {
			c.nameErr, c.name = client.Sentence(err), ""
		}
	}
}

// takeName validates the typed name and keeps it as the name to join under,
// or shows why it is refused.
func (c *Chat) takeName() bool {
	name, err := event.NormalizeName(c.nameDraft)
	if err != nil {
		c.nameErr = client.Sentence(err)
		return false
	}
	c.nameErr, c.name = "", name
	return true
}

// onSend puts the typed message in the outbox, connected or not. An empty
// message is not sent; a refused one stays in the input.
func (c *Chat) onSend(ctx goapp.Context, e goapp.Event) {
	e.PreventDefault()
	defer focus("message-input")
	if c.submit() {
		setValue("message-input", "")
		ctx.Defer(func(goapp.Context) { scrollToBottom("message-container") })
	}
}

// submit hands the draft to the Session, or shows why it is refused (an
// empty message is not worth a word). It reports whether it was queued.
func (c *Chat) submit() bool {
	if c.sess == nil {
		return false
	}
	_, err := c.sess.Send(c.draft)
	switch {
	case errors.Is(err, event.ErrTextEmpty):
		c.sendErr = ""
		return false
	case err != nil:
		c.sendErr = client.Sentence(err)
		return false
	}
	c.draft, c.sendErr = "", ""
	c.outbox = c.sess.Outbox()
	return true
}

// onRetry sends a failed message again.
func (c *Chat) onRetry(id string) goapp.EventHandler {
	return func(ctx goapp.Context, e goapp.Event) {
		c.outboxAction(c.sess.Retry, id)
	}
}

// onDelete drops a failed message.
func (c *Chat) onDelete(id string) goapp.EventHandler {
	return func(ctx goapp.Context, e goapp.Event) {
		c.outboxAction(c.sess.Delete, id)
	}
}

// outboxAction applies a Retry or a Delete and shows the outbox it left.
func (c *Chat) outboxAction(action func(string) error, id string) {
	if err := action(id); err != nil {
		c.sendErr = client.Sentence(err)
	}
	c.outbox = c.sess.Outbox()
}

// onInput keeps a copy of what an input holds. The input is not bound to
// it: setting the value on each render would race with fast typing and drop
// characters.
func (c *Chat) onInput(dst *string) goapp.EventHandler {
	return func(ctx goapp.Context, e goapp.Event) {
		*dst = ctx.JSSrc().Get("value").String()
	}
}

// received applies a Session's Update, then scrolls to the newest row and,
// on joining, moves the focus to the message input.
func (c *Chat) received(ctx goapp.Context, u client.Update) {
	wasJoined := c.user != ""
	if c.apply(u) {
		ctx.Defer(func(goapp.Context) { scrollToBottom("message-container") })
	}
	if !wasJoined && c.user != "" {
		ctx.Defer(func(goapp.Context) { focus("message-input") })
	}
}

// apply folds an Update into the page's state. It reports whether the
// message list changed.
func (c *Chat) apply(u client.Update) (changed bool) {
	c.state = u.State
	for _, e := range u.Events {
		switch e := e.(type) {
		case event.Joined:
			// "You joined" once per page; a reconnect is not news.
			if c.user == "" {
				c.add(entry{notice: true, text: "You joined"})
			}
			c.user, c.name, c.known = e.User, e.Name, true
			if e.Gap {
				c.add(entry{divider: true, text: gapText})
			}
		case event.UserJoined:
			c.add(entry{notice: true, user: e.User, name: e.Name, text: "connected"})
		case event.UserLeft:
			c.add(entry{notice: true, user: e.User, name: e.Name, text: "disconnected"})
		case event.Message:
			c.add(entry{own: e.User == c.user, user: e.User, name: e.Name, text: e.Text, time: e.Time})
		default:
			continue
		}
		changed = true
	}
	if u.OutboxChanged {
		c.outbox, changed = u.Outbox, true
	}
	if r := u.JoinRefused; r != nil {
		c.nameErr = client.Sentence(errors.New(r.Message))
		switch r.Code {
		case event.CodeRateLimited:
			// The Session joins again by itself: keep "Joining…".
		case event.CodeInvalidName:
			c.name = ""
			c.known = false // the stored name no longer passes: ask
		default:
			c.name = ""
		}
	}
	for _, r := range u.Refusals {
		c.sendErr = client.Sentence(errors.New(r.Message))
	}
	return changed
}

// add appends an entry, dropping the oldest past maxEntries.
func (c *Chat) add(e entry) {
	c.entries = append(c.entries, e)
	if n := len(c.entries) - maxEntries; n > 0 {
		c.entries = append(c.entries[:0], c.entries[n:]...)
	}
}

// onReload loads the new version.
func (c *Chat) onReload(ctx goapp.Context, e goapp.Event) {
	ctx.Reload()
}

// prompting reports whether the page asks for a name: a new person, or one
// whose name the server refused.
func (c *Chat) prompting() bool { return c.user == "" && !c.known }

// Render draws the page from the component's state alone.
func (c *Chat) Render() goapp.UI {
	return goapp.Div().Class("chat").Body(
		goapp.Header().Class("topbar").Body(
			goapp.H1().Class("brand").Body(
				goapp.Img().Class("brand-icon").Src("/web/icon.svg").Alt("").Attr("role", "presentation"), // decorative: go-app drops the empty alt
				goapp.Text(" Chat"),
			),
			c.renderStatus(),
		),
		goapp.If(c.updateReady, func() goapp.UI {
			return goapp.Div().ID("update-banner").Class("update-banner").Role("status").Body(
				goapp.Text("A new version is available. "),
				goapp.Button().ID("reload-button").Class("link-button").Type("button").
					Text("Reload").OnClick(c.onReload),
			)
		}),
		goapp.Main().Class("main").Body(
			// Focusable, so that the keyboard alone can scroll the history.
			goapp.Ul().ID("message-container").Class("messages").Aria("live", "polite").
				Aria("label", "Messages").TabIndex(0).Body(
				goapp.Range(c.entries).Slice(func(i int) goapp.UI {
					e := c.entries[i]
					return &row{Notice: e.notice, Divider: e.divider, Own: e.own, User: e.user, Name: e.name, Text: e.text, Time: e.time}
				}),
				goapp.Range(c.outbox).Slice(func(i int) goapp.UI {
					return c.renderOutboxRow(c.outbox[i])
				}),
			),
		),
		goapp.If(c.prompting(), c.renderNameForm).Else(c.renderComposer),
	)
}

// statusLabels are the words of #connection for each state.
var statusLabels = map[client.ConnState]string{
	client.StateConnecting: "Connecting…",
	client.StateConnected:  "Online",
	client.StateOffline:    "Offline — reconnecting…",
}

// renderStatus draws #connection; data-state is absent until the WASM runs.
func (c *Chat) renderStatus() goapp.UI {
	label := statusLabels[c.state]
	if label == "" {
		label = statusLabels[client.StateConnecting]
	}
	status := goapp.Span().ID("connection").Class("status").Role("status").Text(label)
	if c.state != "" {
		status = status.DataSet("state", string(c.state))
	}
	return status
}

// renderNameForm draws the name prompt.
func (c *Chat) renderNameForm() goapp.UI {
	button := "Join"
	if c.name != "" {
		button = "Joining…"
	}
	// A named form is a landmark: everything on the page is in one.
	return goapp.Form().ID("name-form").Class("name-form").Aria("label", "Choose a name").OnSubmit(c.onNameSubmit).Body(
		goapp.Label().For("name-input").Class("name-label").Text("Choose a name"),
		goapp.Div().Class("row").Body(
			goapp.Input().ID("name-input").Class("input").Type("text").
				Attr("autocomplete", "nickname").Placeholder("Your name").
				AutoFocus(true).OnInput(c.onInput(&c.nameDraft)),
			goapp.Button().Type("submit").Class("button").
				Disabled(!c.mounted || c.name != "").Text(button),
		),
		goapp.If(c.nameErr != "", func() goapp.UI {
			return goapp.P().ID("name-error").Class("form-error").Role("alert").Text(c.nameErr)
		}),
	)
}

// renderComposer draws the send form.
func (c *Chat) renderComposer() goapp.UI {
	return goapp.Form().ID("send-container").Class("composer").Aria("label", "Send a message").OnSubmit(c.onSend).Body(
		goapp.Div().Class("row").Body(
			goapp.Input().ID("message-input").Class("input").Type("text").
				AutoComplete(false).Placeholder("Message").Aria("label", "Message").
				OnInput(c.onInput(&c.draft)),
			goapp.Button().ID("send-button").Type("submit").Class("button").Text("Send"),
		),
		goapp.If(c.sendErr != "", func() goapp.UI {
			return goapp.P().ID("send-error").Class("form-error").Role("alert").Text(c.sendErr)
		}),
	)
}

// renderOutboxRow draws one of the person's messages not acknowledged yet:
// "You: text" like any own message, marked pending or failed, in the
// person's own colour once the page knows their user id. A failed one
// offers Retry and Delete; their words come from CSS and aria-label, so the
// row's text stays "You: text".
func (c *Chat) renderOutboxRow(it client.OutboxItem) goapp.UI {
	li := personRow(goapp.Li().Class("message", "own", string(it.Status)), c.user, c.name).
		DataSet("status", string(it.Status))
	parts := messageParts(event.ReservedName, personTitle(c.user, c.name), it.Text)
	if it.Status != client.StatusFailed {
		return li.Body(parts...)
	}
	return li.DataSet("reason", it.Reason).Title(it.Reason).Body(append(parts,
		goapp.Span().Class("row-actions").Body(
			goapp.Button().Type("button").Class("row-action retry").Aria("label", "Retry").
				OnClick(c.onRetry(it.ID), goapp.EventScope(it.ID)),
			goapp.Button().Type("button").Class("row-action delete").Aria("label", "Delete").
				OnClick(c.onDelete(it.ID), goapp.EventScope(it.ID)),
		),
	)...)
}

// messageParts are the parts of a message row: the name shown (with title,
// the full name and short id, on hover), ": " and the text. The name and the
// text are each in a <bdi>: what a person typed keeps its own direction, and
// a direction override in it cannot reorder the rest of the row.
func messageParts(name, title, text string) []goapp.UI {
	return []goapp.UI{
		goapp.Bdi().Class("name").Title(title).Text(name),
		goapp.Span().Class("sep").Text(": "),
		goapp.Bdi().Class("text").Text(text),
	}
}

// paletteSize is how many colours tell people apart: 12 hues stay distinct
// from each other and readable on both themes. Two people share a colour
// with a chance of 1 in 12; their hover titles, with the short id, differ
// still.
const paletteSize = 12

// shortIDLen is how much of a user id the hover title shows: 8 characters,
// 32 bits of a random UUID, tell apart the people of any room.
const shortIDLen = 8

// hueClass returns the colour class of a user, hue-0 to hue-11: a hash
// (FNV-1a) of the user id, so that everyone sees a person in the same
// colour on every page. It is a class, not a style attribute, so that the
// page needs no inline styles. An unknown user ("") has none.
func hueClass(user string) string {
	if user == "" {
		return ""
	}
	h := uint32(2166136261)
	for i := 0; i < len(user); i++ {
		h = (h ^ uint32(user[i])) * 16777619
	}
	return "hue-" + strconv.Itoa(int(h%paletteSize))
}

// initial returns the badge letter of a name: its first letter or digit,
// upper-cased, with the combining marks that follow it (so "ễ" stays
// whole); "" if it has none.
func initial(name string) string {
	i := strings.IndexFunc(name, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) })
	if i < 0 {
		return ""
	}
	r, size := utf8.DecodeRuneInString(name[i:])
	rest := name[i+size:]
	marks := strings.IndexFunc(rest, func(r rune) bool { return !unicode.IsMark(r) })
	if marks < 0 {
		marks = len(rest)
	}
	return string(unicode.ToUpper(r)) + rest[:marks]
}

// personTitle returns the hover title of a person's name: the full name
// and the first shortIDLen characters of the user id, "Ann (3f2b8c1e)", so
// that two people of the same name can be told apart. The name is isolated
// (U+2068 … U+2069) so that its direction cannot take the id along.
func personTitle(user, name string) string {
	if user == "" {
		return "\u2068" + name + "\u2069"
	}
	short := user
	if utf8.RuneCountInString(user) > shortIDLen {
		short = string([]rune(user)[:shortIDLen])
	}
	return "\u2068" + name + "\u2069 (" + short + ")"
}

// personRow gives a row the colour and badge of the person it is about:
// their hue class, and data-initial, which CSS paints (attr(data-initial))
// so that the row's text stays "name: text".
func personRow(li goapp.HTMLLi, user, name string) goapp.HTMLLi {
	if hue := hueClass(user); hue != "" {
		li = li.Class(hue)
	}
	if ini := initial(name); ini != "" {
		li = li.DataSet("initial", ini)
	}
	return li
}

// row is one message, notice or divider of the room. Its fields are scalars
// so that go-app re-renders a row only when it changed.
type row struct {
	goapp.Compo
	Notice  bool
	Divider bool
	Own     bool
	User    string
	Name    string
	Text    string
	Time    int64
}

// Render draws "You: text", "name: text", a notice ("You joined",
// "name connected", "name disconnected") or a divider, always as text, with
// what a person typed in <bdi> and the person's colour and initial on their
// messages and notices.
func (r *row) Render() goapp.UI {
	switch {
	case r.Divider:
		return goapp.Li().Class("divider").Text(r.Text)
	case r.Notice && r.Name == "":
		return goapp.Li().Class("notice").Text(r.Text)
	case r.Notice:
		return personRow(goapp.Li().Class("notice"), r.User, r.Name).Body(
			goapp.Bdi().Class("name").Title(personTitle(r.User, r.Name)).Text(r.Name),
			goapp.Span().Class("verb").Text(" "+r.Text),
		)
	}
	li := goapp.Li().Class("message")
	name := r.Name
	if r.Own {
		li, name = li.Class("own"), event.ReservedName
	}
	li = personRow(li, r.User, r.Name).DataSet("status", StatusSent)
	if r.Time > 0 {
		// The time shows through CSS (attr(data-time)), so that the row's
		// text stays "name: text".
		clock, full := formatTime(r.Time)
		li = li.DataSet("time", clock).Title(full)
	}
	return li.Body(messageParts(name, personTitle(r.User, r.Name), r.Text)...)
}

// formatTime returns a message time as a short clock and in full, in the
// browser's locale and time zone (natively, in the process's).
func formatTime(ms int64) (clock, full string) {
	if goapp.IsClient {
		d := goapp.Window().Get("Date").New(float64(ms))
		opts := map[string]any{"hour": "2-digit", "minute": "2-digit"}
		return d.Call("toLocaleTimeString", []any{}, opts).String(), d.Call("toLocaleString").String()
	}
	t := time.UnixMilli(ms)
	return t.Format("15:04"), t.Format("2006-01-02 15:04:05")
}

// socketURL is the WebSocket endpoint on the page's own host.
func socketURL() string {
	loc := goapp.Window().Get("location")
	scheme := "ws://"
	if loc.Get("protocol").String() == "https:" {
		scheme = "wss://"
	}
	return scheme + loc.Get("host").String() + "/ws"
}

// checkForUpdates asks the service worker to look for a new version now and
// then, until ctx ends; OnAppUpdate fires when one is ready.
func checkForUpdates(ctx context.Context) {
	t := time.NewTicker(updateCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			goapp.TryUpdate()
		}
	}
}

// focus gives the element with the id the keyboard focus.
func focus(id string) {
	if el := goapp.Window().GetElementByID(id); el.Truthy() {
		el.Call("focus")
	}
}

// setValue sets the value of the input with the id.
func setValue(id, v string) {
	if el := goapp.Window().GetElementByID(id); el.Truthy() {
		el.Set("value", v)
	}
}

// scrollToBottom scrolls the element with the id to its newest entry.
func scrollToBottom(id string) {
	if el := goapp.Window().GetElementByID(id); el.Truthy() {
		el.Set("scrollTop", el.Get("scrollHeight"))
	}
}
