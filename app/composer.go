package app

import goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

// sender is what the composer asks of the page.
type sender interface {
	// send queues text, or says why it cannot; it reports whether it was
	// queued.
	send(text string) bool
	// typing tells the room that the person is typing.
	typing()
}

// composer is #send-container, the send form. It keeps what the input
// holds, tells the room the person types on each change (the Session sends
// at most one Typing every event.TypingInterval), and hands the text to the
// page on submit; a refused text stays in the input.
type composer struct {
	goapp.Compo

	// Err is why the last message was refused, empty when it was not.
	Err  string
	Page sender

	draft string // what the input holds
}

// onInput keeps a copy of what the input holds (the input is not bound to
// it: setting the value on each render would race with fast typing and drop
// characters) and says the person is typing. Nothing shown changes.
func (cp *composer) onInput(ctx goapp.Context, e goapp.Event) {
	cp.draft = ctx.JSSrc().Get("value").String()
	if cp.draft != "" {
		cp.Page.typing()
	}
	ctx.PreventUpdate()
}

// onSubmit sends the message typed; the input is cleared once it is queued,
// and keeps the focus either way.
func (cp *composer) onSubmit(ctx goapp.Context, e goapp.Event) {
	e.PreventDefault()
	defer focus("message-input")
	if cp.submit() {
		setValue("message-input", "")
	}
}

// submit hands the draft to the page, and forgets it once queued.
func (cp *composer) submit() bool {
	if !cp.Page.send(cp.draft) {
		return false
	}
	cp.draft = ""
	return true
}

// Render draws the form.
func (cp *composer) Render() goapp.UI {
	return goapp.Form().ID("send-container").Class("composer").Aria("label", "Send a message").OnSubmit(cp.onSubmit).Body(
		goapp.Div().Class("row").Body(
			goapp.Input().ID("message-input").Class("input").Type("text").
				AutoComplete(false).Placeholder("Message").Aria("label", "Message").
				OnInput(cp.onInput),
			goapp.Button().ID("send-button").Type("submit").Class("button").Text("Send"),
		),
		goapp.If(cp.Err != "", func() goapp.UI {
			return goapp.P().ID("send-error").Class("form-error").Role("alert").Text(cp.Err)
		}),
	)
}

// setValue sets the value of the input with the id.
func setValue(id, v string) {
	if el := goapp.Window().GetElementByID(id); el.Truthy() {
		el.Set("value", v)
	}
}
