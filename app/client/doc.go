// Package client is the chat's protocol client: the connection logic of the
// browser page, with no go-app import, so that any Go program (a bot, a load
// tool, a test) talks to the chat with the same types the page uses.
//
// Conn is one WebSocket speaking the events of package event. Session, above
// it, owns one person's connection: it reconnects with Backoff, rejoins with
// the Identity it keeps in Storage (the browser's localStorage, or a
// MemoryStorage), resumes the room after the last message it reported, and
// sends the person's messages from a persistent outbox (OutboxItem), one at
// a time, in order, each once. It reports what happens as Updates, which a
// user interface shows and a bot reads.
//
// The package builds for the browser (js/wasm, on its WebSocket) and
// natively.
package client
