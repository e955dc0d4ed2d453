package event

// Type names an event on the wire: the value of its "type" field.
type Type string

// Event types. Join and Send travel from the browser to the server; the
// others travel from the server to the browser.
const (
	TypeJoin       Type = "join"        // client: enter the room under a name
	TypeSend       Type = "send"        // client: post a message to the room
	TypePong       Type = "pong"        // client: answer to a ping
	TypeJoined     Type = "joined"      // server, to the joiner only: "You joined"
	TypeUserJoined Type = "user_joined" // server, to the others: "<name> connected"
	TypeUserLeft   Type = "user_left"   // server, to the others: "<name> disconnected"
	TypeMessage    Type = "message"     // server, to everyone in the room
	TypeAck        Type = "ack"         // server, to the sender: a resent message was already stored
	TypePing       Type = "ping"        // server: heartbeat, answer with pong
	TypeError      Type = "error"       // server, to one client: a refused frame
)

// Event is one event of the protocol. The concrete types below are the only
// implementations; a type switch on them is exhaustive.
type Event interface {
	// Type returns the event's wire name.
	Type() Type
}

// Join is the first event a client sends: it enters Room under Name. Any
// other event but Pong before it is refused with CodeNotJoined.
type Join struct {
	Name string `json:"name"`
	// Token is the identity the server issued in an earlier Joined. With a
	// valid token the client is the same user as before (a reload or a
	// reconnect); without one, or with one the server cannot verify, it is
	// a new user.
	Token string `json:"token,omitempty"`
	// Room is the room to enter; empty means DefaultRoom.
	Room string `json:"room,omitempty"`
	// Since is the last Message.Seq of Room the client holds: the server
	// replays every message after it, then goes on live. Zero means none:
	// the server sends the room's recent history instead.
	Since uint64 `json:"since,omitempty"`
}

// Send posts Text to the client's room. ID is chosen by the client and
// echoed in the resulting Message and in any Error about this Send, so that a
// client can match acknowledgements and refusals to what it sent.
type Send struct {
	ID   string `json:"id,omitempty"`
	Text string `json:"text"`
}

// Joined tells a client that its Join was accepted. The messages of the
// room's history follow it (those after Join.Since, or the recent ones), then
// the live events, with no gap and no repeat between the two.
type Joined struct {
	Room string `json:"room"`
	// User is the client's identity: a Message whose User equals it is the
	// client's own, in the live stream and in history alike.
	User string `json:"user"`
	Name string `json:"name"`
	// Token proves User and Name on the next Join; the client keeps it.
	Token string `json:"token"`
	// Seq is the room's last sequence number when the client joined. A
	// client catching up from Since may receive messages past it before
	// the live stream: the catch-up goes on until it has caught up.
	Seq uint64 `json:"seq"`
	// Gap is true when the history that follows does not continue from
	// Join.Since: messages after it fell out of retention, or Since is past
	// the room's last seq (its store was reset). The recent history follows
	// instead, and the client should say that messages are missing.
	Gap bool `json:"gap,omitempty"`
}

// UserJoined tells the members of Room that someone entered it.
type UserJoined struct {
	Room string `json:"room"`
	User string `json:"user"`
	Name string `json:"name"`
}

// UserLeft tells the members of Room that someone left it (closed the tab or
// lost the connection).
type UserLeft struct {
	Room string `json:"room"`
	User string `json:"user"`
	Name string `json:"name"`
}

// Message is a post accepted by the server, sent to every member of Room,
// the sender included, in the order the server accepted them.
type Message struct {
	Room string `json:"room"`
	// Seq numbers the room's messages: it starts at 1 and grows by one with
	// each accepted message, so a gap or a repeat is visible to a client.
	Seq uint64 `json:"seq"`
	// ID is the sender's Send.ID, empty when the sender gave none.
	ID   string `json:"id,omitempty"`
	User string `json:"user"`
	Name string `json:"name"`
	Text string `json:"text"`
	// Time is when the server accepted the message, in Unix milliseconds.
	Time int64 `json:"time"`
}

// Ack acknowledges a Send whose (user, ID) the server had already stored,
// such as a resend after a lost acknowledgement. It goes to the sender only;
// the message itself is not stored or broadcast again. A first Send is
// acknowledged by its Message instead.
type Ack struct {
	ID  string `json:"id"`
	Seq uint64 `json:"seq"`
}

// Ping is the server's heartbeat, sent every HeartbeatInterval. The client
// answers with Pong.
type Ping struct{}

// Pong answers a Ping. Any client frame proves the client alive; Pong is
// what keeps a client that only reads from looking dead.
type Pong struct{}

// Error refuses one client frame. The connection stays open unless a close
// follows; nothing else the client sent is affected.
type Error struct {
	Code Code `json:"code"`
	// Message is a sentence for people, in English.
	Message string `json:"message"`
	// ID is the Send.ID of the refused Send, when there was one.
	ID string `json:"id,omitempty"`
	// RetryAfter, with CodeRateLimited, is how many milliseconds to wait
	// before sending the refused message again.
	RetryAfter int64 `json:"retry_after,omitempty"`
}

// Type implements Event.
func (Join) Type() Type { return TypeJoin }

// Type implements Event.
func (Send) Type() Type { return TypeSend }

// Type implements Event.
func (Joined) Type() Type { return TypeJoined }

// Type implements Event.
func (UserJoined) Type() Type { return TypeUserJoined }

// Type implements Event.
func (UserLeft) Type() Type { return TypeUserLeft }

// Type implements Event.
func (Message) Type() Type { return TypeMessage }

// Type implements Event.
func (Error) Type() Type { return TypeError }

// Type implements Event.
func (Ack) Type() Type { return TypeAck }

// Type implements Event.
func (Ping) Type() Type { return TypePing }

// Type implements Event.
func (Pong) Type() Type { return TypePong }
