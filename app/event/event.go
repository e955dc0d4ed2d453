package event

// Type names an event on the wire: the value of its "type" field.
type Type string

// Event types. Join and Send travel from the browser to the server; the
// others travel from the server to the browser.
const (
	TypeJoin       Type = "join"        // client: enter the room under a name
	TypeSend       Type = "send"        // client: post a message to the room
	TypeJoined     Type = "joined"      // server, to the joiner only: "You joined"
	TypeUserJoined Type = "user_joined" // server, to the others: "<name> connected"
	TypeUserLeft   Type = "user_left"   // server, to the others: "<name> disconnected"
	TypeMessage    Type = "message"     // server, to everyone in the room
	TypeError      Type = "error"       // server, to one client: a refused frame
)

// Event is one event of the protocol. The concrete types below are the only
// implementations; a type switch on them is exhaustive.
type Event interface {
	// Type returns the event's wire name.
	Type() Type
}

// Join is the first event a client sends: it enters the room under Name.
// Any other event before it is refused with CodeNotJoined.
type Join struct {
	Name string `json:"name"`
}

// Send posts Text to the client's room. ID is chosen by the client and
// echoed in the resulting Message and in any Error about this Send, so that a
// client can match acknowledgements and refusals to what it sent.
type Send struct {
	ID   string `json:"id,omitempty"`
	Text string `json:"text"`
}

// Joined tells a client that its Join was accepted. User is the identity the
// server gave it: a Message whose User equals it is the client's own.
type Joined struct {
	Room string `json:"room"`
	User string `json:"user"`
	Name string `json:"name"`
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

// Error refuses one client frame. The connection stays open unless a close
// follows; nothing else the client sent is affected.
type Error struct {
	Code Code `json:"code"`
	// Message is a sentence for people, in English.
	Message string `json:"message"`
	// ID is the Send.ID of the refused Send, when there was one.
	ID string `json:"id,omitempty"`
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
