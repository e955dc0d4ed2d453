package event

import "time"

// Limits of the protocol. Both sides enforce them: the browser to answer a
// person at once, the server because it trusts no client.
const (
	// MaxNameLen is the longest name, in characters (Unicode code points)
	// after trimming: 32 fits a full name on a phone's message row.
	MaxNameLen = 32

	// MaxTextLen is the longest message, in characters after trimming:
	// 2000 is a long paragraph, the order of what other chats allow.
	MaxTextLen = 2000

	// MaxClientFrameBytes is the largest frame a client may send: 32 KiB
	// (32,768 bytes). The largest valid frame is a Send of MaxTextLen
	// characters outside the BMP, each written as an escaped surrogate pair
	// ("\ud83d\ude00", 12 bytes): 24,000 bytes, plus a MaxIDLen id and the
	// envelope, about 24,100 bytes in all. The largest Join is under 4 KB
	// (its token and room escaped to 6 bytes a byte). 32 KiB holds either
	// with room to spare and still bounds what one read costs the server. A
	// larger frame closes the connection with 1009 (message too big).
	MaxClientFrameBytes = 32 << 10

	// MaxServerFrameBytes is the largest frame the server sends: 64 KiB.
	// The server coalesces queued events into one frame up to this size, and
	// the client sets its read limit to it (the browser's default is 32 KiB).
	// A single event is always below MaxClientFrameBytes, so it always fits.
	MaxServerFrameBytes = 64 << 10

	// DefaultRoom is the room a Join without a room enters.
	DefaultRoom = "lobby"

	// MaxRoomLen is the longest room name in bytes: 64 fits a readable
	// slug in a URL path (/r/<room>).
	MaxRoomLen = 64

	// MaxTokenLen is the longest identity token a Join may carry: 512 bytes
	// holds the longest token the server issues (442 bytes: a 64-byte user
	// id and 32 characters that JSON escapes to 6 bytes each).
	MaxTokenLen = 512
)

// Heartbeats. Browsers cannot see WebSocket pings, so the heartbeat is made
// of events: the server sends Ping every interval, the client answers Pong.
const (
	// HeartbeatInterval is how often the server sends a Ping, busy or not:
	// 25 s keeps NATs and proxies (often 30–60 s idle timeouts) from dropping
	// an idle connection, and the Pong proves a client that only reads alive.
	HeartbeatInterval = 25 * time.Second

	// HeartbeatTimeout is how long a peer may stay silent before the other
	// side takes it for dead: 60 s is two missed heartbeats plus slack for a
	// throttled background tab. The server drops such a client (no close
	// frame: it is not listening); the client drops such a connection and
	// reconnects.
	HeartbeatTimeout = 60 * time.Second
)

// StatusSlowConsumer is the close code (4001, from the range 4000–4999 that
// RFC 6455 leaves to applications) of a client that did not read fast enough:
// its outbound queue overflowed. It may reconnect. The server's other close
// codes are RFC 6455's: 1012 service restart (shutdown), 1008 policy violation
// (more than MaxProtocolErrors invalid frames), 1009 message too big (a frame
// over MaxClientFrameBytes), 1011 internal error.
const StatusSlowConsumer = 4001

// StatusJoinTimeout is the close code (4002) of a connection that did not
// join within JoinTimeout. It is not a failure: a page that is still waiting
// for a person to choose a name reconnects at once, without telling them.
const StatusJoinTimeout = 4002

// JoinTimeout is how long a connection may stay open without joining a room:
// 60 s, the heartbeat timeout. Pings alone keep a socket alive, so without
// it an attacker could hold thousands of unjoined sockets for free.
const JoinTimeout = 60 * time.Second

// MaxProtocolErrors is how many invalid frames a connection may send before
// the server closes it with policy violation (1008): 16 forgives a buggy client
// a few mistakes but stops a flood of garbage from filling the logs.
const MaxProtocolErrors = 16
