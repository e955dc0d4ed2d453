// Package app is the chat's browser client, written with go-app and compiled
// to WebAssembly: the page's components, one per file. Chat (chat.go), the
// page, owns the client.Session and applies its Updates; namePrompt,
// messageList with its rows (over the timeline, the window of rows it
// shows), composer, presenceList and typingIndicator show them. Package
// client does the talking, with no go-app import, so that other Go programs
// can too.
//
// The page is the lobby at "/" and a room at /r/<room>; the room list
// (roomList) switches between the rooms a person opened, all live on one
// Session.
//
// The page keeps a DOM contract that tests and styles rely on: #name-form
// with #name-input, #rooms with one child per open room (data-room,
// data-unread), #room-title, #message-container with one child per message or notice
// (at most MaxEntries of the room's), #new-messages, #send-container with
// #message-input and #send-button, #presence with one child per person,
// #typing, and #connection whose data-state is set by the WASM only
// (docs/PROTOCOL.md lists it). The wire format comes from package event,
// shared with the server.
package app

import goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

// Routes registers the app's pages. Both programs call it: the browser to
// mount the components, the server to render the page before the WASM runs.
// A room's address is /r/<room>. Every path under /r/ is the page, a name
// that event.ValidRoom refuses included: the server answers it with 200
// rather than 404, and the page is where a wrong name can be explained.
func Routes() {
	goapp.Route("/", func() goapp.Composer { return &Chat{} })
	goapp.RouteWithRegexp("^/r/", func() goapp.Composer { return &Chat{} })
}
