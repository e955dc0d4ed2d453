package app

import (
	"strconv"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/chatwasm/chat/app/event"
)

// roomPicker is what the room list asks of the page.
type roomPicker interface {
	// openRoom opens the room named draft, or says why it cannot; it
	// reports whether the room is open.
	openRoom(draft string) bool
	// leaveRoom closes a room and takes it off the list.
	leaveRoom(name string)
}

// roomItem is one room of the list: its name and unread count.
type roomItem struct {
	Name   string
	Unread int
}

// roomList is the side list of the person's rooms: #rooms, one item per
// open room (data-room, data-unread), the room shown marked with
// aria-current, each a link to its address, a leave button on each but the
// lobby, and a form to open or create a room by name. On a narrow screen it
// is a drawer, open while Open.
type roomList struct {
	goapp.Compo

	Rooms   []roomItem
	Current string
	// Open: the drawer is open (narrow screens only; CSS shows the list
	// beside the room on a wide one).
	Open bool
	// Err is why the last name typed was refused, empty when none.
	Err  string
	Page roomPicker

	draft string // what the name input holds
}

// onInput keeps a copy of what the name input holds; nothing shown changes.
func (rl *roomList) onInput(ctx goapp.Context, e goapp.Event) {
	rl.draft = ctx.JSSrc().Get("value").String()
	ctx.PreventUpdate()
}

// onSubmit opens the room typed; the input is cleared once it is open.
func (rl *roomList) onSubmit(ctx goapp.Context, e goapp.Event) {
	e.PreventDefault()
	if rl.Page.openRoom(rl.draft) {
		rl.draft = ""
		setValue("room-input", "")
	}
}

// Render draws the list and the form.
func (rl *roomList) Render() goapp.UI {
	nav := goapp.Nav().ID("room-nav").Class("rooms-panel").Aria("labelledby", "rooms-title")
	if rl.Open {
		nav = nav.Class("open")
	}
	return nav.Body(
		goapp.H2().ID("rooms-title").Class("rooms-title").Text("Rooms"),
		goapp.Ul().ID("rooms").Class("rooms").Body(
			goapp.Range(rl.Rooms).Slice(func(i int) goapp.UI {
				return rl.renderRoom(rl.Rooms[i])
			}),
		),
		goapp.Form().ID("room-form").Class("room-form").Aria("label", "Open a room").OnSubmit(rl.onSubmit).Body(
			goapp.Label().For("room-input").Class("room-label").Text("Open or create a room"),
			goapp.Div().Class("row").Body(
				goapp.Input().ID("room-input").Class("input").Type("text").
					AutoComplete(false).Placeholder("room-name").MaxLength(event.MaxRoomLen).
					Aria("describedby", "room-hint").OnInput(rl.onInput),
				goapp.Button().ID("room-button").Type("submit").Class("button").Text("Open"),
			),
			goapp.P().ID("room-hint").Class("hint").Text("Letters, digits, - or _."),
			goapp.If(rl.Err != "", func() goapp.UI {
				return goapp.P().ID("room-error").Class("form-error").Role("alert").Text(rl.Err)
			}),
		),
	)
}

// renderRoom draws one room's item: its link, its unread count, and its
// leave button.
func (rl *roomList) renderRoom(r roomItem) goapp.UI {
	li := goapp.Li().Class("room-item").DataSet("room", r.Name).DataSet("unread", r.Unread)
	link := goapp.A().Class("room-link").Href(roomPath(r.Name))
	label := "#" + r.Name
	if r.Name == rl.Current {
		li = li.Class("current")
		link = link.Aria("current", "page")
	}
	return li.Body(
		link.Body(
			goapp.Span().Class("room-name").Text(label),
			goapp.If(r.Unread > 0, func() goapp.UI {
				// The count shows; a screen reader reads the words too.
				return goapp.Span().Class("unread").Body(
					goapp.Text(strconv.Itoa(r.Unread)),
					goapp.Span().Class("visually-hidden").Text(unreadWords(r.Unread)),
				)
			}),
		),
		goapp.If(r.Name != event.DefaultRoom, func() goapp.UI {
			return goapp.Button().Class("leave-button").Type("button").
				Aria("label", "Leave "+label).Title("Leave " + label).Text("×").
				OnClick(func(goapp.Context, goapp.Event) { rl.Page.leaveRoom(r.Name) })
		}),
	)
}

// unreadWords are the words after an unread count, for a screen reader:
// " unread message", " unread messages".
func unreadWords(n int) string {
	if n == 1 {
		return " unread message"
	}
	return " unread messages"
}
