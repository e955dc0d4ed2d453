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
	// A single event always fits: a Message stays below
	// MaxClientFrameBytes, and the three events that can grow beyond it are
	// bounded to fit, Joined by MaxMembers and MaxMembersBytes, History by
	// EncodeHistory, Presence by EncodePresence.
	MaxServerFrameBytes = 64 << 10

	// DefaultRoom is the room a Join without a room enters.
	DefaultRoom = "lobby"

	// MaxRoomLen is the longest room name in bytes: 64 fits a readable
	// slug in a URL path (/r/<room>).
	MaxRoomLen = 64

	// MaxRoomsPerConn is how many rooms one connection may be in at once:
	// 32, more than a person follows, and enough for a client to keep every
	// room it shows live (and its unread count exact) on one socket. Each
	// membership costs the server a join (a store read when it resumes) and
	// a place in the room's fan-out, so the bound caps what one socket can
	// cost; a Join beyond it is refused with CodeTooManyRooms.
	MaxRoomsPerConn = 32

	// MaxTokenLen is the longest identity token a Join may carry: 512 bytes
	// holds the longest token the server issues (442 bytes: a 64-byte user
	// id and 32 characters that JSON escapes to 6 bytes each).
	MaxTokenLen = 512

	// MaxMembers is the most users a Joined lists in Members: 1000, a large
	// room's presence list. Every joiner's Joined carries a copy of the
	// list, so it bounds what a burst of joins costs a room, and a list of
	// more people than that helps nobody find anyone.
	MaxMembers = 1000

	// MaxMembersBytes is the most bytes of JSON a Joined's Members take:
	// 60 KiB (61,440). The rest of a Joined takes under 1.5 KB (a
	// MaxTokenLen token, a MaxRoomLen room, a 64-byte user id and a
	// MaxNameLen name of 4-byte characters), so the largest Joined fits in
	// MaxServerFrameBytes. A member with a 36-byte user id and a name of 10
	// ASCII letters takes 68 bytes, so about 900 such members fit; one of
	// the largest (a 64-byte id, 32 characters of 4 bytes) takes 214.
	MaxMembersBytes = 60 << 10

	// MaxPresenceEntries is the most users one Presence lists, Joined and
	// Left together: 500. The server gathers a room's changes for about a
	// quarter of a second, so 500 is one gathering of a storm of 2,000
	// joins a second, the most the server is built to take: a storm costs
	// a member one event per gathering. The bound keeps what one event asks
	// of a client (decode, apply, render) small and even whatever the
	// room's size; a larger change comes as several events in a row. 500
	// entries of a 36-byte user id and a 10-letter name take about 34 KB;
	// larger ones are cut by MaxServerFrameBytes first.
	MaxPresenceEntries = 500

	// MaxHistoryLimit is the most messages one History holds, and what a
	// HistoryRequest without a limit gets: 50 fills a screen a few times
	// over and is one short store read. A page is cut further to fit in
	// MaxServerFrameBytes (EncodeHistory): 50 messages of MaxTextLen
	// characters outside the BMP would be about 400 KB.
	MaxHistoryLimit = 50
)

// Typing indicators. A client says that its person is typing at most once
// every TypingInterval, and shows someone else's indicator until
// TypingTimeout after the last Typing from them.
const (
	// TypingInterval is how often, at most, a client sends Typing while its
	// person types: 2 s keeps an indicator alive at the cost of one small
	// frame per typist every 2 s, and stays within the server's per
	// connection allowance (bursts of 3, then one a second), which drops
	// what exceeds it.
	TypingInterval = 2 * time.Second

	// TypingTimeout is how long a client shows that someone is typing after
	// the last Typing from them: 6 s, three intervals, so that one Typing
	// lost or dropped does not make the indicator blink, while a person who
	// stopped (or left) stops showing as typing within seconds.
	TypingTimeout = 6 * time.Second
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
