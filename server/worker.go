package server

import (
	_ "embed"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// roomLinksJS is the service worker's handler of room deep links
// (worker.js): a navigation under /r/ opens the precached app shell, so that
// a room's address opens offline.
//
//go:embed worker.js
var roomLinksJS string

// serviceWorkerTemplate is the template of app-worker.js: go-app's own with
// roomLinksJS in front. go-app's worker answers a request from its cache,
// else from the network, with no fallback, so a room's address, which it
// never precaches, fails offline. The handler goes first because the first
// fetch listener to respond wins, and it stops the event so that go-app's
// never responds a second time. Its text is constant: the worker's bytes
// depend on the version alone, so a restart of the same build offers no
// update.
var serviceWorkerTemplate = roomLinksJS + "\n" + goapp.DefaultAppWorkerJS
