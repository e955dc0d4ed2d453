package app

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/chatwasm/chat/app/event"
)

// The values of #connection's data-state, part of the DOM contract.
const (
	StateConnecting = "connecting"
	StateConnected  = "connected"
	StateOffline    = "offline"
)

// maxEntries bounds the messages and notices kept on the page: 500 rows
// render in a few milliseconds with go-app's positional diffing, and one
// render never mounts more than go-app's 4,096 queued components.
const maxEntries = 500

// updateCheckInterval is how often the page asks the service worker to look
// for a new version: 10 minutes keeps an open tab current at a negligible
// cost (go-app v10 never looks on its own).
const updateCheckInterval = 10 * time.Minute

// Chat is the page: the connection state, the name prompt until the person
// joins, then the message list and the send form. Its state changes only on
// go-app's UI goroutine (event handlers and ctx.Dispatch).
type Chat struct {
	goapp.Compo

	state   string             // #connection's data-state; empty until mounted
	conn    *Conn              // the open connection, nil while not connected
	cancel  context.CancelFunc // ends the connection and the update checks
	mounted bool               // the WASM runs: the forms are usable

	nameDraft string // what the name input holds
	name      string // the name sent in a Join, until Joined or refused
	nameErr   string // why the name was refused
	user      string // the identity from Joined; empty until joined

	draft   string // what the message input holds
	sendErr string // why the last message was refused
	sent    uint64 // counts Sends, to give each an id

	entries     []entry // messages and notices, oldest first
	updateReady bool    // a new version is installed: offer to reload
}

// entry is one row of the message list.
type entry struct {
	notice bool
	own    bool
	name   string
	text   string
}

// OnMount opens the connection as soon as the app runs, before a name is
// given, and starts looking for updates.
func (c *Chat) OnMount(ctx goapp.Context) {
	c.mounted = true
	c.state = StateConnecting
	cctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	url := socketURL()
	ctx.Async(func() { c.connect(ctx, cctx, url) })
	ctx.Async(func() { checkForUpdates(cctx) })
}

// OnDismount closes the connection: go-app never cancels a Context itself.
func (c *Chat) OnDismount() {
	if c.cancel != nil {
		c.cancel()
	}
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
}

// OnAppUpdate shows the reload notice once a new version is ready.
func (c *Chat) OnAppUpdate(ctx goapp.Context) {
	c.updateReady = ctx.AppUpdateAvailable()
}

// connect dials and reads the connection until it ends. It runs outside the
// UI goroutine and hands everything to it through ctx.Dispatch.
func (c *Chat) connect(ctx goapp.Context, cctx context.Context, url string) {
	conn, err := Dial(cctx, url)
	if err != nil {
		ctx.Dispatch(func(ctx goapp.Context) { c.state = StateOffline })
		return
	}
	ctx.Dispatch(func(ctx goapp.Context) { c.connected(ctx, conn) })
	for {
		events, err := conn.Read(cctx)
		if err != nil {
			ctx.Dispatch(func(ctx goapp.Context) { c.disconnected() })
			return
		}
		ctx.Dispatch(func(ctx goapp.Context) { c.received(ctx, events) })
	}
}

// connected takes a new connection into use and sends a Join that waited
// for it.
func (c *Chat) connected(ctx goapp.Context, conn *Conn) {
	c.conn = conn
	c.state = StateConnected
	if c.name != "" && c.user == "" {
		c.sendJoin()
	}
}

// disconnected marks the connection lost.
func (c *Chat) disconnected() {
	c.conn = nil
	c.state = StateOffline
}

// onNameSubmit joins under the name typed, once it passes the protocol's
// own rules; a Join waits for the connection if need be.
func (c *Chat) onNameSubmit(ctx goapp.Context, e goapp.Event) {
	e.PreventDefault()
	if c.takeName() && c.conn != nil {
		c.sendJoin()
	}
}

// takeName validates the typed name and keeps it as the name to join under,
// or shows why it is refused.
func (c *Chat) takeName() bool {
	name, err := event.NormalizeName(c.nameDraft)
	if err != nil {
		c.nameErr = sentence(err)
		return false
	}
	c.nameErr, c.name = "", name
	return true
}

// sendJoin sends the pending name.
func (c *Chat) sendJoin() {
	if err := c.conn.Send(context.Background(), event.Join{Name: c.name}); err != nil {
		c.nameErr = "Could not reach the server; try again."
		c.name = ""
	}
}

// onSend sends the typed message once it passes the protocol's rules. An
// empty message is not sent; a refused one stays in the input.
func (c *Chat) onSend(ctx goapp.Context, e goapp.Event) {
	e.PreventDefault()
	defer focus("message-input")
	s, ok := c.takeDraft()
	if !ok {
		return
	}
	if c.conn == nil {
		c.sendErr = "Not connected: your message was not sent."
		return
	}
	if err := c.conn.Send(context.Background(), s); err != nil {
		c.sendErr = "Could not reach the server: your message was not sent."
		return
	}
	c.draft, c.sendErr = "", ""
	setValue("message-input", "")
}

// takeDraft validates the typed message and returns it as a Send with a new
// id, or shows why it is refused (an empty message is not worth a word).
func (c *Chat) takeDraft() (event.Send, bool) {
	text, err := event.NormalizeText(c.draft)
	switch {
	case errors.Is(err, event.ErrTextEmpty):
		c.sendErr = ""
		return event.Send{}, false
	case err != nil:
		c.sendErr = sentence(err)
		return event.Send{}, false
	}
	c.sent++
	return event.Send{ID: strconv.FormatUint(c.sent, 10), Text: text}, true
}

// onInput keeps a copy of what an input holds. The input is not bound to
// it: setting the value on each render would race with fast typing and drop
// characters.
func (c *Chat) onInput(dst *string) goapp.EventHandler {
	return func(ctx goapp.Context, e goapp.Event) {
		*dst = ctx.JSSrc().Get("value").String()
	}
}

// received applies a frame's events, then scrolls to the newest entry and,
// on joining, moves the focus to the message input.
func (c *Chat) received(ctx goapp.Context, events []event.Event) {
	wasJoined := c.user != ""
	if c.apply(events) {
		ctx.Defer(func(goapp.Context) { scrollToBottom("message-container") })
	}
	if !wasJoined && c.user != "" {
		ctx.Defer(func(goapp.Context) { focus("message-input") })
	}
}

// apply folds server events into the page's state, in order. It reports
// whether the message list grew.
func (c *Chat) apply(events []event.Event) (grew bool) {
	for _, e := range events {
		switch e := e.(type) {
		case event.Joined:
			c.user, c.name = e.User, e.Name
			c.add(entry{notice: true, text: "You joined"})
		case event.UserJoined:
			c.add(entry{notice: true, text: e.Name + " connected"})
		case event.UserLeft:
			c.add(entry{notice: true, text: e.Name + " disconnected"})
		case event.Message:
			c.add(entry{own: e.User == c.user, name: e.Name, text: e.Text})
		case event.Error:
			c.refused(e)
			continue
		default:
			continue
		}
		grew = true
	}
	return grew
}

// refused shows a server's refusal next to the form it concerns.
func (c *Chat) refused(e event.Error) {
	msg := sentence(errors.New(e.Message))
	if c.user == "" {
		c.nameErr, c.name = msg, ""
		return
	}
	c.sendErr = msg
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

// Render draws the page from the component's state alone.
func (c *Chat) Render() goapp.UI {
	return goapp.Div().Class("chat").Body(
		goapp.Header().Class("topbar").Body(
			goapp.H1().Class("brand").Body(
				goapp.Img().Class("brand-icon").Src("/web/icon.svg").Alt(""),
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
			goapp.Ul().ID("message-container").Class("messages").Aria("live", "polite").Body(
				goapp.Range(c.entries).Slice(func(i int) goapp.UI {
					e := c.entries[i]
					return &row{Notice: e.notice, Own: e.own, Name: e.name, Text: e.text}
				}),
			),
		),
		goapp.If(c.user == "", c.renderNameForm).Else(c.renderComposer),
	)
}

// renderStatus draws #connection; data-state is absent until the WASM runs.
func (c *Chat) renderStatus() goapp.UI {
	label := map[string]string{
		StateConnected: "Online",
		StateOffline:   "Offline",
	}[c.state]
	if label == "" {
		label = "Connecting…"
	}
	status := goapp.Span().ID("connection").Class("status").Role("status").Text(label)
	if c.state != "" {
		status = status.DataSet("state", c.state)
	}
	return status
}

// renderNameForm draws the name prompt.
func (c *Chat) renderNameForm() goapp.UI {
	button := "Join"
	if c.name != "" {
		button = "Joining…"
	}
	return goapp.Form().ID("name-form").Class("name-form").OnSubmit(c.onNameSubmit).Body(
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
	return goapp.Form().ID("send-container").Class("composer").OnSubmit(c.onSend).Body(
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

// row is one message or notice. Its fields are scalars so that go-app
// re-renders a row only when it changed.
type row struct {
	goapp.Compo
	Notice bool
	Own    bool
	Name   string
	Text   string
}

// Render draws "You: text", "name: text" or a notice, always as text.
func (r *row) Render() goapp.UI {
	if r.Notice {
		return goapp.Li().Class("notice").Text(r.Text)
	}
	class, name := "message", r.Name
	if r.Own {
		class, name = "message own", "You"
	}
	return goapp.Li().Class(class).Body(
		goapp.Span().Class("name").Text(name),
		goapp.Span().Class("sep").Text(": "),
		goapp.Span().Class("text").Text(r.Text),
	)
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

// sentence turns an error into a sentence for the page.
func sentence(err error) string {
	s := err.Error()
	r, size := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[size:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
