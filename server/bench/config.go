package bench

import (
	"fmt"
	"math"
	"time"

	"github.com/chatwasm/chat/app/event"
)

// Defaults of Config, each what a zero field means.
const (
	// DefaultURL is the endpoint of a server started with its defaults on
	// this machine (make run).
	DefaultURL = "ws://localhost:3000/ws"

	// DefaultClients is 100 connections: a busy room, and few enough that a
	// first run against a server with its per-IP limits on shows the
	// refusals rather than thousands of them.
	DefaultClients = 100

	// DefaultRoom is the room the clients join, or the prefix of the rooms
	// with Rooms above 1: a room of its own, so that a bench against a live
	// server does not write into the lobby.
	DefaultRoom = "bench"

	// DefaultDuration is how long the senders send: 10 s holds a few hundred
	// latency samples per sender at modest rates, and is short enough to
	// repeat while tuning.
	DefaultDuration = 10 * time.Second

	// DefaultDrain is how long the generator waits after the last send for
	// every message to arrive: 10 s, since a server that keeps up delivers
	// in milliseconds and one that is behind drains its queues (1 MiB a
	// client) within seconds, while a message missing after 10 s is lost
	// to a person too.
	DefaultDrain = 10 * time.Second

	// DefaultConnectConcurrency is how many connections dial and join at
	// once: 64 keeps a server's join path busy, and is few enough that a
	// refusing or slow server shows as refusals, not a storm of timeouts.
	DefaultConnectConcurrency = 64

	// DefaultLeaveWait is how long the generator waits after closing every
	// connection for the server's memory to settle: 60 s, since the Go
	// runtime returns freed memory to the system over tens of seconds
	// rather than at once.
	DefaultLeaveWait = time.Minute
)

// connectTimeout bounds one client's dial and join: 30 s, far above the
// seconds a thousand joins take, so that only a server that does not answer
// fails it.
const connectTimeout = 30 * time.Second

// Config configures a Run. The zero value of each field is usable unless its
// comment says otherwise.
type Config struct {
	// URL is the server's WebSocket endpoint, ws://host/ws or wss://host/ws.
	// Zero value means DefaultURL.
	URL string

	// Clients is how many connections join. Zero value means
	// DefaultClients.
	Clients int

	// Senders is how many of the clients send, spread over the rooms as the
	// clients are (client i is in room i mod Rooms, and the senders are
	// clients 0 to Senders-1). Zero value means none: a run that measures
	// joins and the server's memory per connection only. At most Clients.
	Senders int

	// Rate is the messages per second of all the senders together, each
	// sender taking an equal share at even intervals, staggered so that the
	// total is even too. Zero value means as fast as the server
	// acknowledges: each sender keeps Window sends unacknowledged for
	// Duration, and the rate is what the server sustains.
	Rate float64

	// Window is how many sends each sender keeps unacknowledged when Rate
	// is 0; unused otherwise. Zero value means DefaultWindow.
	Window int

	// Duration is how long the senders send; they send Rate × Duration
	// messages in all. Zero value means DefaultDuration.
	Duration time.Duration

	// Room is the room the clients join when Rooms is 1, or the prefix of
	// the rooms ("<Room>-0", "<Room>-1", …) otherwise. Zero value means
	// DefaultRoom. Each name must follow the room rules (event.ValidRoom).
	Room string

	// Rooms is how many rooms the clients are spread over, evenly: 10 rooms
	// of 10 clients is an ingest of many small rooms, 1 room of 100 a
	// fan-out. Zero value means 1. At most Clients.
	Rooms int

	// Drain is how long to wait, after the last send, for every message to
	// arrive; what has not arrived then is lost. Zero value means
	// DefaultDrain.
	Drain time.Duration

	// ServerPID is the server's process id, when it runs on this machine:
	// the generator then reads its resident memory (VmRSS in
	// /proc/<pid>/status) before connecting and after every client joined,
	// and its CPU time during the send. Zero value means unknown: the
	// report has no server figures.
	ServerPID int

	// ConnectConcurrency is how many clients dial and join at once. Zero
	// value means DefaultConnectConcurrency.
	ConnectConcurrency int

	// Protocol is what the server speaks: ProtocolChat, or a peer's
	// (ProtocolCentrifugo, ProtocolSocketIO) to measure it the same way
	// (peer.go). Zero value means ProtocolChat.
	Protocol string

	// NoJoin makes the clients connect only: each dials, answers the
	// server's pings and never joins, which measures what a connection
	// costs the server before its join. It takes no senders. The server
	// closes a connection that has not joined within its -join-timeout
	// (60 s): run it with -join-timeout -1 to hold them longer.
	NoJoin bool

	// NoPresence skips the check of the clients' presence lists, for a
	// server that keeps none (chat floor). A peer's protocol (Protocol)
	// and NoJoin skip it too.
	NoPresence bool

	// Hold is how long the clients stay connected and idle after the
	// joins before the generator reads the server's memory (ServerRSSAfter)
	// and the senders start: an idle server's memory, once what the joins
	// left behind was collected and returned, rather than its peak
	// during them. Zero value means none.
	Hold time.Duration

	// LeaveWait is how long the generator waits, once it closed every
	// connection, for the server's resident memory to settle, given
	// ServerPID: Report.ServerRSSLeft is what it settled to. Zero value
	// means DefaultLeaveWait.
	LeaveWait time.Duration
}

// withDefaults returns cfg with its zero fields set to their defaults, or an
// error saying which field is invalid.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	if cfg.Clients == 0 {
		cfg.Clients = DefaultClients
	}
	if cfg.Duration == 0 {
		cfg.Duration = DefaultDuration
	}
	if cfg.Room == "" {
		cfg.Room = DefaultRoom
	}
	if cfg.Rooms == 0 {
		cfg.Rooms = 1
	}
	if cfg.Drain == 0 {
		cfg.Drain = DefaultDrain
	}
	if cfg.ConnectConcurrency == 0 {
		cfg.ConnectConcurrency = DefaultConnectConcurrency
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.LeaveWait == 0 {
		cfg.LeaveWait = DefaultLeaveWait
	}
	switch {
	case cfg.Clients < 0:
		return cfg, fmt.Errorf("clients: %d is negative", cfg.Clients)
	case cfg.Senders < 0 || cfg.Senders > cfg.Clients:
		return cfg, fmt.Errorf("senders: %d is not between 0 and the %d clients", cfg.Senders, cfg.Clients)
	case !(cfg.Rate >= 0) || math.IsInf(cfg.Rate, 1):
		return cfg, fmt.Errorf("rate: %g is not a number of messages per second, 0 or more", cfg.Rate)
	case cfg.Window < 0:
		return cfg, fmt.Errorf("window: %d is negative", cfg.Window)
	case cfg.Duration < 0:
		return cfg, fmt.Errorf("duration: %v is negative", cfg.Duration)
	case cfg.Rooms < 0 || cfg.Rooms > cfg.Clients:
		return cfg, fmt.Errorf("rooms: %d is not between 1 and the %d clients", cfg.Rooms, cfg.Clients)
	case cfg.Drain < 0:
		return cfg, fmt.Errorf("drain: %v is negative", cfg.Drain)
	case cfg.ServerPID < 0:
		return cfg, fmt.Errorf("server pid: %d is negative", cfg.ServerPID)
	case cfg.ConnectConcurrency < 0:
		return cfg, fmt.Errorf("connect concurrency: %d is negative", cfg.ConnectConcurrency)
	case cfg.NoJoin && cfg.Senders > 0:
		return cfg, fmt.Errorf("senders: %d senders cannot send without joining: 0 with no join", cfg.Senders)
	case cfg.Hold < 0:
		return cfg, fmt.Errorf("hold: %v is negative", cfg.Hold)
	case cfg.LeaveWait < 0:
		return cfg, fmt.Errorf("leave wait: %v is negative", cfg.LeaveWait)
	}
	if err := cfg.checkProtocol(); err != nil {
		return cfg, err
	}
	for k := range cfg.Rooms {
		if name := cfg.roomName(k); !event.ValidRoom(name) {
			return cfg, fmt.Errorf("room: %q is not a valid room name: %w", name, event.ErrRoomInvalid)
		}
	}
	return cfg, nil
}

// roomName is the name of room k of the run.
func (cfg Config) roomName(k int) string {
	if cfg.Rooms == 1 {
		return cfg.Room
	}
	return fmt.Sprintf("%s-%d", cfg.Room, k)
}

// planned is how many messages the run sends in all when every sender
// joined: Rate × Duration, rounded down; 0 with Rate 0, which sends as many
// as the server acknowledges.
func (cfg Config) planned() int64 {
	if cfg.Senders == 0 {
		return 0
	}
	return int64(cfg.Rate * cfg.Duration.Seconds())
}
