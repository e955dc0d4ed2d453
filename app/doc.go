// Package app is the chat's browser client, written with go-app and compiled
// to WebAssembly: the page's components (name prompt, message list, send
// form) and the Session that talks to the server.
//
// Session (session.go, outbox.go, backoff.go, storage.go, conn.go) has no
// go-app import: it runs natively too, as a protocol client for tests and
// tools. It owns one person's connection: it reconnects with backoff,
// rejoins with the identity it keeps in Storage, resumes the room after the
// last message it reported, and sends the person's messages from a
// persistent outbox, one at a time, in order, each once. Chat, the page,
// shows its Updates.
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
