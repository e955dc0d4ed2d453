// Package bench is the chat's load generator, for operators sizing a
// deployment: `chat bench` runs it against a server at any URL, and Run is
// the same from Go.
//
// It opens Config.Clients WebSockets, joins each under a fresh name, spread
// over Config.Rooms rooms, then makes Config.Senders of them send at a fixed
// total rate (or, with Rate 0, as fast as the server acknowledges) for
// Config.Duration, and waits up to Config.Drain for every message to reach
// every member of its room. The Report gives what an
// operator sizes by: deliveries per second (one message reaching one
// client), latency from send to arrival, what was lost or duplicated, how
// long the joins took, what the server refused, how fast and how soon the
// sends were acknowledged (stored durably), and, given the server's pid, its
// memory per connection and its CPU beside the generator's own. Suite runs
// the standard scenarios (make bench) against fresh servers it starts.
//
// It speaks the protocol of package event, and stays much cheaper than the
// server it loads: each message's text carries a stamp (the run, the sender,
// the message's number and its send time), and each connection's one reader
// goroutine reads whole frames into a reused buffer and finds the stamps with
// bytes.Index, decoding events as JSON only before its join and for the rare
// ping and error. Reads and writes pass a context that is never cancelled,
// which spares coder/websocket a timer per frame; the connections are closed
// to stop them.
//
// With Config.Protocol it speaks a peer's protocol instead (Centrifugo's,
// socket.io's), the stamp riding in a text field the peer relays as is, so
// that a peer is measured exactly as the chat is; RunPeers (`chat bench
// peers`) starts the chat and each peer in turn and sets their figures side
// by side.
//
// A server's per-IP limits refuse most of a load from one machine: run the
// server under test with them off (see the command's help). The generator
// reports every refusal (HTTP status at connect, error events at join and
// send, closes) rather than hide it.
//
// The package is for native programs only: the browser build never links it
// (main.go, which imports it, does not build for js/wasm).
package bench
