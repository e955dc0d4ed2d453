//go:build js && wasm

// Command chat is the chat, one program on both sides. Built for the browser
// (GOOS=js GOARCH=wasm, this file) it mounts the client of package app;
// built for the server (main.go) it serves that client and the WebSocket
// hub. Build tags keep every line of server code out of the browser binary.
package main

import (
	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/chatwasm/chat/app"
)

func main() {
	app.Routes()
	app.DialEarly()
	goapp.RunWhenOnBrowser()
}
