package app

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/chatwasm/chat/app/client"
	"github.com/chatwasm/chat/app/event"
)

// updateCheckInterval is how often the page asks the service worker to look
// for a new version: 10 minutes keeps an open tab current at a negligible
// cost (go-app v10 never looks on its own).
const updateCheckInterval = 10 * time.Minute

// historyRetry is how long the page waits before asking again for a page
// of history the server could not read.
const historyRetry = time.Second

// Chat is the page: it owns the person's client.Session and applies its
// Updates, and lays out the parts that show them: the connection badge,
// the message list, the typing indicator, the presence list, and the name
// prompt or the composer. Its state, and the state it hands its parts,
// changes only on go-app's UI goroutine (event handlers and ctx.Dispatch).
type Chat struct {
	goapp.Compo

	state   client.ConnState   // #connection's data-state; empty until mounted
	sess    *client.Session    // the person's session, nil until mounted
	cancel  context.CancelFunc // ends the session and the update checks
	release []func()           // remove the browser event listeners
	mounted bool               // the WASM runs: the forms are usable

	known   bool   // a stored identity joins by itself: no name prompt
	name    string // the name joined under, or submitted and waiting
	nameErr string // why the name was refused
	user    string // the identity from Joined; empty until joined
	// joinedSeq is the room's last seq at the last Joined: messages after
	// it are live, not history.
	joinedSeq uint64

	sendErr string // why the last message was refused

	timeline timeline            // the message list's rows
	outbox   []client.OutboxItem // the person's messages not acknowledged yet

	members    []event.Member // who is in the room, in arrival order
	membersCut bool           // the room holds more than members lists
	typists    []typist       // who else is typing
	// spoke is when each person's last live message arrived, Unix ms: a
	// Typing from them just after it was sent before it, and is stale.
	spoke map[string]int64

	updateReady bool // a new version is installed: offer to reload

	away attention // the unread count while the tab is hidden

	notify notifier // desktop notifications of messages while hidden
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
	// Hidden, the title and the app badge count others' new messages;
	// in sight again, both are cleared.
	c.away.start(doc)
	c.listen(doc, "visibilitychange", func() {
		visible := doc.Get("visibilityState").String() == "visible"
		if visible {
			sess.Wake()
		}
		ctx.Dispatch(func(ctx goapp.Context) {
			if c.away.setHidden(!visible) {
				c.away.show()
			}
			ctx.PreventUpdate() // nothing the page renders changed
		})
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
	c.away.stop()
}

// OnAppUpdate shows the reload notice once a new version is ready.
func (c *Chat) OnAppUpdate(ctx goapp.Context) {
	c.updateReady = ctx.AppUpdateAvailable()
}

// join joins under the name typed, once it passes the protocol's own rules;
// the Session sends the Join when the connection allows. (namePrompt)
func (c *Chat) join(draft string) {
	if c.takeName(draft) && c.sess != nil {
		if err := c.sess.Join(c.name); err != nil {
			c.nameErr, c.name = client.Sentence(err), ""
		}
	}
}

// takeName validates a typed name and keeps it as the name to join under,
// or shows why it is refused.
func (c *Chat) takeName(draft string) bool {
	name, err := event.NormalizeName(draft)
	if err != nil {
		c.nameErr = client.Sentence(err)
		return false
	}
	c.nameErr, c.name = "", name
	return true
}

// send puts a message in the outbox, connected or not, and shows the
// newest rows, where it goes; or shows why it is refused (an empty message
// is not worth a word). It reports whether it was queued. (composer)
func (c *Chat) send(text string) bool {
	if c.sess == nil {
		return false
	}
	_, err := c.sess.Send(text)
	switch {
	case errors.Is(err, event.ErrTextEmpty):
		c.sendErr = ""
		return false
	case err != nil:
		c.sendErr = client.Sentence(err)
		return false
	}
	c.sendErr = ""
	c.outbox = c.sess.Outbox()
	c.timeline.toLatest()
	return true
}

// typing tells the room that the person is typing. (composer)
func (c *Chat) typing() {
	if c.sess != nil {
		c.sess.Typing()
	}
}

// loadOlder asks for the page of history above the list's first row,
// unless one is pending. (messageList)
func (c *Chat) loadOlder() {
	if c.sess == nil {
		return
	}
	if before, ok := c.timeline.requestOlder(); ok {
		c.sess.LoadHistory(before)
	}
}

// retry sends a failed message again. (messageList)
func (c *Chat) retry(id string) { c.outboxAction(c.sess.Retry, id) }

// remove drops a failed message. (messageList)
func (c *Chat) remove(id string) { c.outboxAction(c.sess.Delete, id) }

// outboxAction applies a Retry or a Delete and shows the outbox it left.
func (c *Chat) outboxAction(action func(string) error, id string) {
	if err := action(id); err != nil {
		c.sendErr = client.Sentence(err)
	}
	c.outbox = c.sess.Outbox()
}

// received applies a Session's Update and does what it asks of the page:
// a history request to repeat, the focus on the message input on joining.
func (c *Chat) received(ctx goapp.Context, u client.Update) {
	wasJoined := c.user != ""
	// Where the list stands now, rather than as of the last scroll event
	// handled: a person who just scrolled up is not followed.
	if atBottom, ok := listAtBottom(); ok {
		c.timeline.observe(atBottom)
	}
	a := c.apply(u)
	if a.unread {
		c.away.show()
	}
	c.notify.flush()
	if a.historyAgain != 0 && c.sess != nil {
		// Asked on a connection that ended: ask the new one.
		c.sess.LoadHistory(a.historyAgain)
	}
	if a.historyWait > 0 {
		ctx.After(a.historyWait, func(ctx goapp.Context) {
			if listNearTop() {
				c.loadOlder()
			}
			ctx.PreventUpdate() // nothing shown changed
		})
	}
	if !wasJoined && c.user != "" {
		ctx.Defer(func(goapp.Context) { focus("message-input") })
	}
}

// applied is what an Update asks of the page besides its state.
type applied struct {
	historyAgain uint64        // the Before of a history request to send again
	historyWait  time.Duration // ask for older history after this, if near the top
	unread       bool          // the unread count changed: show it
}

// apply folds an Update into the page's state.
func (c *Chat) apply(u client.Update) (a applied) {
	c.state = u.State
	now := nowMillis()
	for _, e := range u.Events {
		switch e := e.(type) {
		case event.Joined:
			// "You joined" once per page; a reconnect is not news.
			first := c.user == ""
			c.user, c.name, c.known, c.joinedSeq = e.User, e.Name, true, e.Seq
			// The list is the server's; the person is in it, whatever a
			// server that lists nobody says.
			c.members, c.membersCut = withMember(slices.Clone(e.Members), event.Member{User: e.User, Name: e.Name}), e.MembersTruncated
			c.typists = nil // those typing were told to the connection that ended
			a.historyAgain = c.timeline.joined(e, first)
		case event.UserJoined:
			if present(c.members, e.User) {
				continue // already here: no news
			}
			c.members = withMember(c.members, event.Member{User: e.User, Name: e.Name})
			c.timeline.add(entry{notice: true, user: e.User, name: e.Name, text: "connected"})
		case event.UserLeft:
			c.members = withoutMember(c.members, e.User)
			c.typists = withoutTypist(c.typists, e.User)
			c.timeline.add(entry{notice: true, user: e.User, name: e.Name, text: "disconnected"})
		case event.Message:
			c.timeline.add(messageEntry(e, c.user))
			// Their message is what they were typing.
			c.typists = withoutTypist(c.typists, e.User)
			if e.Seq > c.joinedSeq {
				c.spokeAt(e.User, now)
				if e.User != c.user && c.away.count() {
					a.unread = true
					c.notify.queue(e.Room, e.Name, e.Text)
				}
			}
		case event.Typing:
			if e.User != c.user && !c.justSpoke(e.User, now) {
				c.typists = withTypist(c.typists, e.User, e.Name, now+event.TypingTimeout.Milliseconds(), now)
			}
		case event.History:
			c.timeline.prepend(e, c.user)
		}
	}
	if u.OutboxChanged {
		c.outbox = u.Outbox
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
		// A refusal without an id, while a page of history is asked
		// for, is that request's (a Send always has an id, a Typing is
		// never refused): ask again, later, rather than show it.
		if r.ID == "" && c.timeline.pending != 0 && (r.Code == event.CodeRateLimited || r.Code == event.CodeInternal) {
			c.timeline.historyRefused()
			a.historyWait = historyRetry
			if r.RetryAfter > 0 {
				a.historyWait = time.Duration(r.RetryAfter) * time.Millisecond
			}
			continue
		}
		c.sendErr = client.Sentence(errors.New(r.Message))
	}
	return a
}

// spokeAt records that user's live message arrived at now (Unix ms),
// forgetting those older than event.TypingInterval.
func (c *Chat) spokeAt(user string, now int64) {
	if c.spoke == nil {
		c.spoke = make(map[string]int64)
	}
	for u, at := range c.spoke {
		if now-at >= event.TypingInterval.Milliseconds() {
			delete(c.spoke, u)
		}
	}
	c.spoke[user] = now
}

// justSpoke reports whether user's last live message arrived less than
// event.TypingInterval before now: a Typing from them now was sent with the
// message's last keystroke, and overtook it or lagged behind it.
func (c *Chat) justSpoke(user string, now int64) bool {
	at, ok := c.spoke[user]
	return ok && now-at < event.TypingInterval.Milliseconds()
}

// onReload loads the new version.
func (c *Chat) onReload(ctx goapp.Context, e goapp.Event) {
	ctx.Reload()
}

// prompting reports whether the page asks for a name: a new person, or one
// whose name the server refused.
func (c *Chat) prompting() bool { return c.user == "" && !c.known }

// Render lays the page out from the component's state alone.
func (c *Chat) Render() goapp.UI {
	return goapp.Div().Class("chat").Body(
		goapp.Header().Class("topbar").Body(
			goapp.H1().Class("brand").Body(
				goapp.Img().Class("brand-icon").Src("/web/icon.svg").Alt("").Attr("role", "presentation"), // decorative: go-app drops the empty alt
				goapp.Text(" Chat"),
			),
			&notifyToggle{Notifier: &c.notify},
			c.renderStatus(),
		),
		goapp.If(c.updateReady, func() goapp.UI {
			return goapp.Div().ID("update-banner").Class("update-banner").Role("status").Body(
				goapp.Text("A new version is available. "),
				goapp.Button().ID("reload-button").Class("link-button").Type("button").
					Text("Reload").OnClick(c.onReload),
			)
		}),
		goapp.Div().Class("room").Body(
			goapp.Main().Class("main").Body(
				&messageList{
					Timeline: &c.timeline, Version: c.timeline.version,
					Outbox: c.outbox, User: c.user, Name: c.name, Page: c,
				},
				&typingIndicator{Typists: c.typists},
			),
			goapp.If(c.user != "", func() goapp.UI {
				return &presenceList{People: c.members, Self: c.user, Truncated: c.membersCut}
			}),
		),
		goapp.If(c.prompting(), func() goapp.UI {
			return &namePrompt{Ready: c.mounted, Joining: c.name != "", Err: c.nameErr, Page: c}
		}).Else(func() goapp.UI {
			return &composer{Err: c.sendErr, Page: c}
		}),
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
