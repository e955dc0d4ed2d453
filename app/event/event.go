package event

// Type names an event on the wire: the value of its "type" field.
type Type string

// Event types. Join, Leave, Send and Pong travel from the browser to the server;
// Typing and History travel both ways, a client's request and the server's
// answer or relay under one name; the others travel from the server to the
// browser.
const (
	TypeJoin     Type = "join"     // client: enter a room (the first one under a name)
	TypeLeave    Type = "leave"    // client: leave one room, keep the connection
	TypeSend     Type = "send"     // client: post a message to a room
	TypePong     Type = "pong"     // client: answer to a ping
	TypeTyping   Type = "typing"   // client: "I am typing"; server, to the others: who is typing
	TypeHistory  Type = "history"  // client: ask for older messages; server, to the asker: a page of them
	TypeJoined   Type = "joined"   // server, to the joiner only: "You joined"
	TypePresence Type = "presence" // server, to the members: who connected and disconnected
	TypeMessage  Type = "message"  // server, to everyone in the room
	TypeAck      Type = "ack"      // server, to the sender: a resent message was already stored
	TypePing     Type = "ping"     // server: heartbeat, answer with pong
	TypeError    Type = "error"    // server, to one client: a refused frame
)

// Event is one event of the protocol. The concrete types below are the only
// implementations; a type switch on them is exhaustive.
type Event interface {
	// Type returns the event's wire name.
	Type() Type
}

// Join enters Room. The first Join of a connection is the first event a
// client sends: it establishes who the connection is, from Token or a new
// identity under Name; any other event but Pong before it is refused with
// CodeNotJoined. A connection may then Join more rooms, one Join each, up to
// MaxRoomsPerConn at once: a later Join keeps the connection's identity, and
// its Name and Token are ignored (Name must still be valid: the frame is
// checked before anything else). A Join for a room the connection is in is
// refused with CodeAlreadyJoined.
type Join struct {
	Name string `json:"name"`
	// Token is the identity the server issued in an earlier Joined. With a
	// valid token the client is the same user as before (a reload or a
	// reconnect); without one, or with one the server cannot verify, it is
	// a new user. Only a connection's first Join reads it.
	Token string `json:"token,omitempty"`
	// Room is the room to enter; empty means DefaultRoom.
	Room string `json:"room,omitempty"`
	// Since is the last Message.Seq of Room the client holds: the server
	// replays every message after it, then goes on live. Zero means none:
	// the server sends the room's recent history instead.
	Since uint64 `json:"since,omitempty"`
}

// Leave takes the connection out of Room, and keeps it open and in its
// other rooms: the person closed that room. Room empty means the
// connection's only room; with several joined it is refused with
// ErrRoomRequired. When it was the user's last connection in the room, the
// room is told at once (in a Presence), with no grace period: leaving was chosen,
// it is no network blip. There is no answer; closing the connection leaves
// every room it joined, with the grace period.
type Leave struct {
	Room string `json:"room,omitempty"`
}

// Send posts Text to Room, one the connection joined; empty means the
// connection's only room (with several joined it is refused with
// ErrRoomRequired). ID is chosen by the client and echoed in the resulting
// Message and in any Error about this Send, so that a client can match
// acknowledgements and refusals to what it sent.
type Send struct {
	Room string `json:"room,omitempty"`
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
	// The Joined of a connection's later Join, of another room, carries
	// the token of its first.
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
	// Members are the users present in Room when the client entered it,
	// the client's own user included, once each however many connections
	// they hold, and those in their grace period (the room was not told
	// they left): a snapshot that the Presence events after it keep up to
	// date (applied idempotently: the first of them may repeat changes the
	// snapshot holds already). They are in the order they arrived in the room,
	// within MaxMembers users and MaxMembersBytes of JSON; beyond those
	// bounds the earliest arrivals that fit, the client's own user always
	// among them (last when it arrived after them), and MembersTruncated.
	// The server always sends at least the client's own user.
	Members []Member `json:"members,omitempty"`
	// MembersTruncated is true when Members leaves out users who are
	// present: the room is larger than a Joined can list.
	MembersTruncated bool `json:"members_truncated,omitempty"`
}

// Member is one user present in a room, as Joined.Members and Presence list it: the
// user id tells apart two people of the same name.
type Member struct {
	User string `json:"user"`
	Name string `json:"name"`
}

// Presence tells the members of Room who arrived (Joined) and who left
// (Left: closed the room, the tab, or lost the connection past the grace
// period) since the last Presence. The server gathers the changes of a
// room for a short while and sends their net effect to every member at
// once, so that a burst of joins costs each member a few events, not one
// per person: a user who left and came back within that while is in Joined,
// one who came and went is in Left. A user is in at most one of the two.
//
// A client applies it to its list idempotently: adding a user it lists
// already, or removing one it does not list, changes nothing. That makes a
// Presence right after a Joined whose Members already hold some of its
// changes. One Presence holds at most MaxPresenceEntries users and fits in
// MaxServerFrameBytes; a larger change comes as several in a row
// (EncodePresence).
type Presence struct {
	Room   string   `json:"room"`
	Joined []Member `json:"joined,omitempty"`
	Left   []Member `json:"left,omitempty"`
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

// Ack acknowledges a Send whose (room, user, ID) the server had already stored,
// such as a resend after a lost acknowledgement. It goes to the sender only;
// the message itself is not stored or broadcast again. A first Send is
// acknowledged by its Message instead. It names no room: it answers the
// Send whose ID it carries, and IDs are unique per user.
type Ack struct {
	ID  string `json:"id"`
	Seq uint64 `json:"seq"`
}

// Typing says that someone is typing in Room. A client sends it, with only
// Room (empty means its only room, as for Send), at most every TypingInterval while
// its person types; the server relays it to the other users of the room
// with User and Name set from the sender's identity (what a client puts in
// them is ignored). It is never stored, never queued for a client that is
// behind, and a client shows it for TypingTimeout after the last one.
type Typing struct {
	Room string `json:"room,omitempty"`
	User string `json:"user,omitempty"`
	Name string `json:"name,omitempty"`
}

// HistoryRequest asks for the messages of Room (empty means the
// connection's only room, as for Send) older than Before, a Message.Seq: the page above the
// oldest message a client shows. Limit is how many at most, 1 to
// MaxHistoryLimit; zero means MaxHistoryLimit. The server answers with a
// History.
type HistoryRequest struct {
	Room   string `json:"room,omitempty"`
	Before uint64 `json:"before"`
	Limit  int    `json:"limit,omitempty"`
}

// History answers a HistoryRequest, to the asking connection only: the
// newest stored messages of Room with a Seq below Before, oldest first, at
// most the request's limit and as many as fit with the rest of the event in
// MaxServerFrameBytes (EncodeHistory cuts them). Before is the request's.
type History struct {
	Room     string    `json:"room"`
	Before   uint64    `json:"before"`
	Messages []Message `json:"messages"`
	// Complete is true when no message older than Messages is stored: the
	// page reaches the room's first retained message. When it is false,
	// the client asks again with Before set to Messages[0].Seq.
	Complete bool `json:"complete"`
	// Pruned, with Complete, is true when older messages did exist and
	// retention deleted them (the first retained Seq is above 1): the
	// client shows that they are no longer available rather than the
	// beginning of the conversation.
	Pruned bool `json:"pruned,omitempty"`
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
	// Room is the room the refused frame named (a Join's, DefaultRoom when
	// it named none), when it named one: on a connection in several rooms
	// it tells the client which room's join, history request or send was
	// refused.
	Room string `json:"room,omitempty"`
	// RetryAfter, with CodeRateLimited, is how many milliseconds to wait
	// before sending the refused message again.
	RetryAfter int64 `json:"retry_after,omitempty"`
}

// Type implements Event.
func (Join) Type() Type { return TypeJoin }

// Type implements Event.
func (Leave) Type() Type { return TypeLeave }

// Type implements Event.
func (Send) Type() Type { return TypeSend }

// Type implements Event.
func (Joined) Type() Type { return TypeJoined }

// Type implements Event.
func (Presence) Type() Type { return TypePresence }

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

// Type implements Event.
func (Typing) Type() Type { return TypeTyping }

// Type implements Event.
func (HistoryRequest) Type() Type { return TypeHistory }

// Type implements Event.
func (History) Type() Type { return TypeHistory }

// RoomOf returns the room an event names: the Room of a Join, Leave, Send,
// Typing, HistoryRequest, Joined, Presence, Message, History or
// Error, empty when it names none; and empty for the events that have no
// room (Ack, Ping, Pong). A client frame that names none means the
// connection's only room (DefaultRoom, for a Join); a server event always
// names its room, except Error.
func RoomOf(e Event) string {
	switch e := e.(type) {
	case Join:
		return e.Room
	case Leave:
		return e.Room
	case Send:
		return e.Room
	case Typing:
		return e.Room
	case HistoryRequest:
		return e.Room
	case Joined:
		return e.Room
	case Presence:
		return e.Room
	case Message:
		return e.Room
	case History:
		return e.Room
	case Error:
		return e.Room
	}
	return ""
}
