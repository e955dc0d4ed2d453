// Package app is the chat's browser client, written with go-app and compiled
// to WebAssembly: the page's components (name prompt, message list, send
// form). Chat, the page, shows the Updates of a client.Session; package
// client does the talking, with no go-app import, so that other Go programs
// can too.
//
// The page keeps a DOM contract that tests and styles rely on: #name-form
// with #name-input, #message-container with one child per message or notice,
// #send-container with #message-input and #send-button, and #connection whose
// data-state is set by the WASM only. The wire format comes from package
// event, shared with the server.
package app

import goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

// Routes registers the app's pages. Both programs call it: the browser to
// mount the components, the server to render the page before the WASM runs.
func Routes() {
	goapp.Route("/", func() goapp.Composer { return &Chat{} })
}
