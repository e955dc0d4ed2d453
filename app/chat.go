package app

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
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

// Chat is the page, at "/" (the lobby) and at /r/<room>: it owns the
// person's client.Session and applies its Updates, and lays out the parts
// that show them: the connection badge, the room list, the shown room's
// message list, typing indicator and presence list, and the name prompt or
// the composer. One Session carries every open room, so that switching
// rooms (a link, back or forward: go-app navigates without reloading and
// calls OnNav) only changes which room's state is shown. Its state, and the
// state it hands its parts, changes only on go-app's UI goroutine (event
// handlers and ctx.Dispatch).
type Chat struct {
	goapp.Compo

	state   client.ConnState   // #connection's data-state; empty until mounted
	sess    *client.Session    // the person's session, nil until mounted
	cancel  context.CancelFunc // ends the session and the update checks
	release []func()           // remove the browser event listeners
	mounted bool               // the WASM runs: the forms are usable
	ctx     goapp.Context      // the page's, from OnMount: to navigate

	known   bool   // a stored identity joins by itself: no name prompt
	name    string // the name joined under, or submitted and waiting
	nameErr string // why the name was refused
	user    string // the identity from Joined; empty until joined

	sendErr string // why the last message was refused

	outbox []client.OutboxItem // the person's messages not acknowledged yet, every room's

	// current is the room shown, from the address; empty means the lobby.
	current string
	// badRoom is what an address under /r/ holds that is no room name:
	// the page says so instead of showing a room.
	badRoom string
	rooms   []string             // the open rooms, the lobby first
	views   map[string]*roomView // each open room's state
	roomErr string               // why the last room typed could not be opened
	drawer  bool                 // the room list is open on a narrow screen

	updateReady bool // a new version is installed: offer to reload

	away attention // the unread count while the tab is hidden

	notify notifier // desktop notifications of messages while hidden
}

// OnMount starts the session as soon as the app runs, before a name is
// given, and starts looking for updates.
func (c *Chat) OnMount(ctx goapp.Context) {
	c.mounted, c.ctx = true, ctx
	c.state = client.StateConnecting
	sess, err := client.NewSession(client.SessionConfig{
		URL:     socketURL(),
		Room:    event.DefaultRoom,
		Storage: ctx.LocalStorage(),
		Tab:     tabID(ctx),
		Dial:    earlyDial,
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
	c.rooms = sess.Rooms() // OnNav, next, shows the room of the address
	cctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	ctx.Async(func() { _ = sess.Run(cctx) })
	ctx.Async(func() { checkForUpdates(cctx) })

	win := goapp.Window()
	doc := win.Get("document")
	// A page put in the back-forward cache is frozen: its socket would
	// stay open on the server, unanswered, and keep the person present
	// in their rooms until the heartbeat times out. End the session as
	// the page goes. Restored, the page is as it was when left, with none
	// of the rooms opened since in another page (stored in the browser):
	// load it afresh.
	c.listenEvent(win, "pagehide", func(e goapp.Value) {
		if e.Get("persisted").Truthy() {
			cancel()
		}
	})
	c.listenEvent(win, "pageshow", func(e goapp.Value) {
		if e.Get("persisted").Truthy() {
			win.Get("location").Call("reload")
		}
	})
	// Another tab opened a room: list it here too, live.
	c.listenEvent(win, "storage", func(e goapp.Value) {
		if e.Get("key").String() != client.RoomsKey {
			return
		}
		ctx.Dispatch(func(goapp.Context) {
			if sess.OpenStored() {
				c.rooms = sess.Rooms()
			}
		})
	})
	// Back online, or back in sight after the phone slept: reconnect now
	// rather than at the end of the backoff. Offline: the socket is dead
	// even if the browser does not say so for a while.
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
			if v := c.view(); visible && v.unread > 0 {
				v.unread = 0 // the room shown is in sight again
				return
			}
			ctx.PreventUpdate() // nothing the page renders changed
		})
	})
}

// OnNav shows the room the address names, opening it if it is not open:
// a link of the room list, a room opened by name, back and forward, and a
// deep link all come here.
func (c *Chat) OnNav(ctx goapp.Context) {
	if c.sess == nil {
		return // rendered on the server: the WASM decides
	}
	c.navigated(ctx.Page().URL().Path)
}

// OnPreRender shows, in the page the server renders, the room the address
// names, so that the page does not change rooms when the WASM starts.
func (c *Chat) OnPreRender(ctx goapp.Context) {
	if c.mounted {
		return // the WASM's page follows the address itself (OnNav)
	}
	if name, ok := roomOfPath(ctx.Page().URL().Path); ok {
		c.current = name
	} else {
		c.badRoom = name
	}
}

// navigated makes the room at path the one shown.
func (c *Chat) navigated(path string) {
	name, ok := roomOfPath(path)
	c.drawer = false
	if !ok {
		c.badRoom, c.current = name, ""
		return
	}
	c.badRoom = ""
	if err := c.sess.Open(name); err != nil {
		// Only too many rooms: the list says why, the lobby is shown.
		c.roomErr, c.current = client.Sentence(err), event.DefaultRoom
		return
	}
	c.rooms = c.sess.Rooms()
	if name != c.current {
		c.current = name
		c.sendErr = ""
		c.view().timeline.toLatest()
	}
	if !c.away.hidden {
		c.view().unread = 0
	}
}

// shown is the room shown.
func (c *Chat) shown() string {
	if c.current == "" {
		return event.DefaultRoom
	}
	return c.current
}

// view returns the state of the room shown.
func (c *Chat) view() *roomView { return c.viewOf(c.shown()) }

// viewOf returns the state of a room, making it on first use.
func (c *Chat) viewOf(room string) *roomView {
	if room == "" {
		room = event.DefaultRoom
	}
	if c.views == nil {
		c.views = make(map[string]*roomView)
	}
	v := c.views[room]
	if v == nil {
		v = new(roomView)
		c.views[room] = v
	}
	return v
}

// openRoom opens the room typed and shows it, or says why it cannot.
// (roomList)
func (c *Chat) openRoom(draft string) bool {
	name := strings.TrimSpace(draft)
	if !event.ValidRoom(name) {
		c.roomErr = client.Sentence(event.ErrRoomInvalid)
		return false
	}
	if c.sess != nil {
		if err := c.sess.Open(name); err != nil {
			c.roomErr = client.Sentence(err)
			return false
		}
		c.rooms = c.sess.Rooms()
	}
	c.roomErr = ""
	c.navigate(roomPath(name))
	return true
}

// leaveRoom closes a room; leaving the room shown goes to the lobby.
// (roomList)
func (c *Chat) leaveRoom(name string) {
	if c.sess == nil {
		return
	}
	if err := c.sess.Leave(name); err != nil {
		c.roomErr = client.Sentence(err)
		return
	}
	c.rooms = c.sess.Rooms()
	delete(c.views, name)
	if name == c.shown() {
		c.navigate("/")
	}
}

// onToggleRooms opens or closes the room list's drawer: the top bar's
// button, on a narrow screen.
func (c *Chat) onToggleRooms(ctx goapp.Context, e goapp.Event) { c.drawer = !c.drawer }

// navigate moves the page to path as a link would, with a history entry:
// OnNav follows.
func (c *Chat) navigate(path string) {
	if c.mounted {
		c.ctx.Navigate(path)
	}
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
	c.listenEvent(target, name, func(goapp.Value) { f() })
}

// listenEvent calls f with the event on the target's DOM event until
// dismount.
func (c *Chat) listenEvent(target goapp.Value, name string, f func(e goapp.Value)) {
	fn := goapp.FuncOf(func(_ goapp.Value, args []goapp.Value) any {
		if len(args) > 0 {
			f(args[0])
		}
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
	_, err := c.sess.SendIn(c.shown(), text)
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
	c.view().timeline.toLatest()
	return true
}

// typing tells the room that the person is typing. (composer)
func (c *Chat) typing() {
	if c.sess != nil {
		c.sess.TypingIn(c.shown())
	}
}

// loadOlder asks for the page of history above the list's first row,
// unless one is pending. (messageList)
func (c *Chat) loadOlder() {
	if c.sess == nil {
		return
	}
	if before, ok := c.view().timeline.requestOlder(); ok {
		c.sess.LoadHistoryIn(c.shown(), before)
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
// history requests to repeat, the focus on the message input on joining.
func (c *Chat) received(ctx goapp.Context, u client.Update) {
	wasJoined := c.user != ""
	// Where the list stands now, rather than as of the last scroll event
	// handled: a person who just scrolled up is not followed.
	if atBottom, ok := listAtBottom(); ok {
		c.view().timeline.observe(atBottom)
	}
	a := c.apply(u)
	if a.unread {
		c.away.show()
	}
	c.notify.flush()
	for room, before := range a.historyAgain {
		// Asked on a connection that ended: ask the new one.
		if c.sess != nil {
			c.sess.LoadHistoryIn(room, before)
		}
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
	// historyAgain is, by room, the Before of a history request to send
	// again.
	historyAgain map[string]uint64
	historyWait  time.Duration // ask for older history after this, if near the top
	unread       bool          // the hidden tab's count changed: show it
}

// apply folds an Update into the page's state, each event into its room's.
func (c *Chat) apply(u client.Update) (a applied) {
	c.state = u.State
	now := nowMillis()
	for _, e := range u.Events {
		// A server that names no room means the lobby.
		room := cmp.Or(event.RoomOf(e), event.DefaultRoom)
		v := c.viewOf(room)
		switch e := e.(type) {
		case event.Joined:
			// "You joined" once per room and page; a reconnect is not
			// news.
			first := !v.joined
			v.joined, v.joinedSeq = true, e.Seq
			c.user, c.name, c.known = e.User, e.Name, true
			// The list is the server's; the person is in it, whatever a
			// server that lists nobody says.
			v.members, v.membersCut = withMember(slices.Clone(e.Members), event.Member{User: e.User, Name: e.Name}), e.MembersTruncated
			v.typists = nil // those typing were told to the connection that ended
			if again := v.timeline.joined(e, first); again != 0 {
				if a.historyAgain == nil {
					a.historyAgain = make(map[string]uint64)
				}
				a.historyAgain[room] = again
			}
		case event.Presence:
			// Applied idempotently: only what changes the list is news.
			var arrived, gone []event.Member
			v.members, arrived, gone = applyPresence(v.members, e, c.user)
			for _, m := range e.Left { // listed or not (a truncated list)
				v.typists = withoutTypist(v.typists, m.User)
			}
			v.timeline.presence(arrived, "connected")
			v.timeline.presence(gone, "disconnected")
		case event.Message:
			v.timeline.add(messageEntry(e, c.user))
			// Their message is what they were typing.
			v.typists = withoutTypist(v.typists, e.User)
			if e.Seq > v.joinedSeq {
				v.spokeAt(e.User, now)
				if e.User != c.user {
					if room != c.shown() || c.away.hidden {
						v.unread++
					}
					if c.away.count() {
						a.unread = true
						c.notify.queue(room, e.Name, e.Text)
					}
				}
			}
		case event.Typing:
			if e.User != c.user && !v.justSpoke(e.User, now) {
				v.typists = withTypist(v.typists, e.User, e.Name, now+event.TypingTimeout.Milliseconds(), now)
			}
		case event.History:
			v.timeline.prepend(e, c.user)
		}
	}
	if u.OutboxChanged {
		c.outbox = u.Outbox
	}
	if r := u.JoinRefused; r != nil {
		c.joinRefused(*r)
	}
	for _, r := range u.Refusals {
		// A refusal without an id, while a page of history is asked
		// for, is that request's (a Send always has an id, a Typing is
		// never refused): ask again, later, rather than show it.
		v := c.viewOf(r.Room)
		if r.ID == "" && v.timeline.pending != 0 && (r.Code == event.CodeRateLimited || r.Code == event.CodeInternal) {
			v.timeline.historyRefused()
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

// joinRefused shows the refusal of a Join: the lobby's is the name
// prompt's (the lobby's Join says who the person is), another room's the
// room list's.
func (c *Chat) joinRefused(r event.Error) {
	if r.Room != "" && r.Room != event.DefaultRoom {
		if r.Code != event.CodeRateLimited { // joined again by the Session
			c.roomErr = "#" + r.Room + ": " + client.Sentence(errors.New(r.Message))
		}
		return
	}
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

// onReload loads the new version.
func (c *Chat) onReload(ctx goapp.Context, e goapp.Event) {
	ctx.Reload()
}

// prompting reports whether the page asks for a name: a new person, or one
// whose name the server refused.
func (c *Chat) prompting() bool { return c.user == "" && !c.known }

// Render lays the page out from the component's state alone.
func (c *Chat) Render() goapp.UI {
	room := c.shown()
	v := c.peek(room)
	return goapp.Div().Class("chat").Body(
		goapp.Header().Class("topbar").Body(
			goapp.Button().ID("rooms-toggle").Class("rooms-toggle").Type("button").
				Aria("controls", "room-nav").Aria("expanded", c.drawer).
				Aria("label", "Rooms").Title("Rooms").Text("☰").OnClick(c.onToggleRooms),
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
			&roomList{Rooms: c.roomItems(), Current: room, Open: c.drawer, Err: c.roomErr, Page: c},
			goapp.Main().Class("main").Body(
				goapp.If(c.badRoom != "", func() goapp.UI {
					return c.renderBadRoom()
				}).Else(func() goapp.UI {
					return goapp.Div().Class("room-body").Body(
						goapp.H2().ID("room-title").Class("room-title").Text("#"+room),
						&messageList{
							Timeline: &v.timeline, Version: v.timeline.version,
							Outbox: c.roomOutbox(room), User: c.user, Name: c.name, Page: c,
						},
						&typingIndicator{Typists: v.typists},
					)
				}),
			),
			goapp.If(c.user != "" && c.badRoom == "", func() goapp.UI {
				return &presenceList{People: v.members, Self: c.user, Truncated: v.membersCut}
			}),
		),
		goapp.If(c.prompting(), func() goapp.UI {
			return &namePrompt{Ready: c.mounted, Joining: c.name != "", Err: c.nameErr, Page: c}
		}).ElseIf(c.badRoom == "", func() goapp.UI {
			return &composer{Err: c.sendErr, Page: c}
		}),
	)
}

// renderBadRoom draws #room-invalid: what the address holds is no room
// name; the way back is a link to the lobby.
func (c *Chat) renderBadRoom() goapp.UI {
	return goapp.Div().ID("room-invalid").Class("room-invalid").Role("alert").Body(
		goapp.P().Body(
			goapp.Text("There is no room called “"),
			goapp.Bdi().Text(c.badRoom),
			goapp.Text("”: "+client.Sentence(event.ErrRoomInvalid)),
		),
		goapp.A().ID("lobby-link").Class("button").Href("/").Text("Go to the lobby"),
	)
}

// peek returns the state of a room without making it: an empty one for a
// room nothing was received of yet.
func (c *Chat) peek(room string) *roomView {
	if v := c.views[room]; v != nil {
		return v
	}
	return new(roomView)
}

// roomItems lists the open rooms with their unread counts.
func (c *Chat) roomItems() []roomItem {
	rooms := c.rooms
	if len(rooms) == 0 {
		rooms = []string{event.DefaultRoom}
	}
	items := make([]roomItem, len(rooms))
	for i, r := range rooms {
		items[i] = roomItem{Name: r}
		if v := c.views[r]; v != nil {
			items[i].Unread = v.unread
		}
	}
	return items
}

// roomOutbox returns the outbox items of room, in order.
func (c *Chat) roomOutbox(room string) []client.OutboxItem {
	var items []client.OutboxItem
	for _, it := range c.outbox {
		if it.Room == room || (it.Room == "" && room == event.DefaultRoom) {
			items = append(items, it)
		}
	}
	return items
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

// earlyDial is the Session's dial func once DialEarly has run; nil means
// client.Dial.
var earlyDial func(ctx context.Context, url string) (*client.Conn, error)

// DialEarly begins the connection to the server now, before go-app builds
// the page: the browser's handshake then goes on while the Go program
// starts go-app and renders the page, and the Session that Chat makes
// once mounted takes the connection instead of dialling only then (after
// the first render). The browser's main calls it, before
// goapp.RunWhenOnBrowser.
func DialEarly() { earlyDial = client.EarlyDial(socketURL()) }

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
