package app

import goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

// joiner is what the name prompt asks of the page.
type joiner interface {
	// join joins under the name typed, or says why it cannot.
	join(name string)
}

// namePrompt is #name-form, the prompt for a new person's name. It keeps
// what the input holds; the page says whether the name was refused, and
// why.
type namePrompt struct {
	goapp.Compo

	// Ready: the WASM runs, and the form can be submitted.
	Ready bool
	// Joining: a name was submitted and waits for the server.
	Joining bool
	// Err is why the name was refused, empty when it was not.
	Err  string
	Page joiner

	draft string // what the input holds
}

// onInput keeps a copy of what the input holds. The input is not bound to
// it: setting the value on each render would race with fast typing and drop
// characters. Nothing shown changes.
func (n *namePrompt) onInput(ctx goapp.Context, e goapp.Event) {
	n.draft = ctx.JSSrc().Get("value").String()
	ctx.PreventUpdate()
}

// onSubmit joins under the name typed.
func (n *namePrompt) onSubmit(ctx goapp.Context, e goapp.Event) {
	e.PreventDefault()
	n.Page.join(n.draft)
}

// Render draws the form.
func (n *namePrompt) Render() goapp.UI {
	button := "Join"
	if n.Joining {
		button = "Joining…"
	}
	// A named form is a landmark: everything on the page is in one.
	return goapp.Form().ID("name-form").Class("name-form").Aria("label", "Choose a name").OnSubmit(n.onSubmit).Body(
		goapp.Label().For("name-input").Class("name-label").Text("Choose a name"),
		goapp.Div().Class("row").Body(
			goapp.Input().ID("name-input").Class("input").Type("text").
				Attr("autocomplete", "nickname").Placeholder("Your name").
				AutoFocus(true).OnInput(n.onInput),
			goapp.Button().Type("submit").Class("button").
				Disabled(!n.Ready || n.Joining).Text(button),
		),
		goapp.If(n.Err != "", func() goapp.UI {
			return goapp.P().ID("name-error").Class("form-error").Role("alert").Text(n.Err)
		}),
	)
}
