// Package event is the chat's wire protocol, shared by the browser client and
// the server: every event type, its JSON form, its validation and its limits.
//
// It is the one place where the wire format lives. Neither side declares an
// event, a type name, an error code, a close code or a limit of its own; both
// import them from here. The package has no dependency on go-app or on the
// server so that the server's hot path does not link UI code and the browser
// binary does not link server code.
//
// A client frame (browser → server) is one WebSocket text message holding
// exactly one event: a JSON object with a "type" field. A server frame
// (server → browser) holds one or more events, each a JSON object, separated
// by a newline ('\n'); the server coalesces what is queued for a client into
// one frame when it falls behind, and sends a single event when it is quiet.
// JSON never contains a raw newline inside an encoded value, so splitting on
// '\n' is exact.
//
// Presence travels as a snapshot and deltas: a Joined lists who is in the
// room, then Presence events carry who arrived and who left, each the net
// effect of the changes a room gathered for a short while, so that a burst
// of joins costs each member a few events rather than one per person. A
// client applies them idempotently (EncodePresence splits a large change
// within MaxPresenceEntries and MaxServerFrameBytes). docs/PROTOCOL.md
// describes the protocol for people.
package event
