package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// usage heads the help of `chat bench`.
const usage = `usage: chat bench [flags]

Loads a chat server with clients that join and senders that send at a fixed
total rate (or, with -rate 0, as fast as the server acknowledges), then
reports deliveries per second (one message reaching one client), latency
from send to arrival (p50, p99, max), acknowledged messages per second and
the time from a send to its acknowledgement, deliveries lost and
duplicated after a drain, connect and join times, every refusal, the
generator's CPU and, with -pid, the server's memory per connection and CPU.

All the clients come from this machine's address, so the server's per-IP
limits refuse most of them. Run the server under test with them off (never
on the internet):

  chat -ip-conns -1 -ip-rate -1 -ip-burst -1 -ip-identities -1 \
       -ip-identity-burst -1 -rate -1 -burst -1

and -max-conns -1 beyond 10,000 clients. Give -pid the server's process id
when it runs on this machine.

chat bench suite runs the standard scenarios against fresh servers and
writes a table of them (chat bench suite -h).

-protocol centrifugo or socketio loads a peer the same way (Centrifugo's
JSON protocol, the socket.io chat demo); chat bench peers runs the chat and
its peers in turn, pinned, and prints their medians side by side
(chat bench peers -h).

Exits with status 1 when the run was not clean: a client that did not join,
a refused send, a closed connection, a delivery lost or duplicated.

Flags:
`

// Command runs `chat bench` with args, the flags after "bench": it parses
// them, runs a load and writes its Report to out, as a table or, with -json,
// as JSON; the help and flag errors go to errOut. It returns flag.ErrHelp
// after printing the help for -h, the error of Run, or an error naming the
// Report's problems, so that a script sees an unclean run in the exit
// status.
//
// `chat bench suite [flags]` runs Suite instead, and `chat bench peers
// [flags]` PeersCommand.
func Command(ctx context.Context, args []string, out, errOut io.Writer) error {
	if len(args) > 0 && args[0] == "suite" {
		return Suite(ctx, args[1:], out, errOut)
	}
	if len(args) > 0 && args[0] == "peers" {
		return PeersCommand(ctx, args[1:], out, errOut)
	}
	fs := flag.NewFlagSet("chat bench", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	var cfg Config
	fs.StringVar(&cfg.URL, "url", DefaultURL, "the server's WebSocket endpoint (ws:// or wss://)")
	fs.IntVar(&cfg.Clients, "clients", DefaultClients, "connections that join")
	fs.IntVar(&cfg.Senders, "senders", 10, "clients that send, spread over the rooms, at most -clients (0: none, a join and memory test)")
	fs.Float64Var(&cfg.Rate, "rate", 100, "messages per second of all the senders together (0: as fast as the server acknowledges, -window per sender in flight)")
	fs.IntVar(&cfg.Window, "window", DefaultWindow, "with -rate 0, the sends each sender keeps unacknowledged")
	fs.DurationVar(&cfg.Duration, "duration", DefaultDuration, "how long the senders send")
	fs.IntVar(&cfg.Rooms, "rooms", 1, "rooms the clients are spread over evenly (10 rooms of 10: many small rooms)")
	fs.StringVar(&cfg.Room, "room", DefaultRoom, `the room, or with -rooms above 1 the rooms' prefix ("bench-0", "bench-1", …)`)
	fs.DurationVar(&cfg.Drain, "drain", DefaultDrain, "how long to wait after the last send for every message to arrive")
	fs.IntVar(&cfg.ServerPID, "pid", 0, "the server's process id on this machine: its memory per connection and CPU (Linux /proc)")
	fs.IntVar(&cfg.ConnectConcurrency, "concurrency", DefaultConnectConcurrency, "clients that dial and join at once")
	fs.StringVar(&cfg.Protocol, "protocol", ProtocolChat, "what the server speaks: "+strings.Join(Protocols, ", ")+" (a peer measured the same way; chat bench peers runs them all)")
	presence := fs.Bool("presence", true, "check that every client ends the joins with the right presence list; -presence=false for a server that keeps none (chat floor)")
	join := fs.Bool("join", true, "join the clients; -join=false only connects them and answers pings (0 senders; the server needs -join-timeout -1)")
	fs.DurationVar(&cfg.Hold, "hold", 0, "how long to hold the clients idle after the joins before reading the server's memory (-pid) and sending")
	fs.DurationVar(&cfg.LeaveWait, "leave-wait", DefaultLeaveWait, "with -pid: how long to wait after closing every client for the server's memory to settle")
	asJSON := fs.Bool("json", false, "write the report as JSON (durations in nanoseconds, memory in bytes)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	if cfg.Clients <= 0 {
		return errors.New("bench: -clients must be 1 or more")
	}
	cfg.NoJoin = !*join
	cfg.NoPresence = !*presence
	if !isSet(fs, "senders") {
		cfg.Senders = min(cfg.Senders, cfg.Clients) // -clients 5 alone is a run, not an error
		if cfg.NoJoin {
			cfg.Senders = 0 // -join=false alone is a run, not an error
		}
	}
	raiseFileLimit(cfg.Clients, errOut)
	if cfg.Rooms <= 0 {
		return errors.New("bench: -rooms must be 1 or more")
	}
	rep, runErr := Run(ctx, cfg)
	if rep.Clients > 0 { // Run got past the Config: what it measured is worth reading
		if err := write(out, rep, *asJSON); err != nil {
			return err
		}
	}
	if runErr != nil {
		return runErr
	}
	if p := rep.Problems(); len(p) > 0 {
		return fmt.Errorf("bench: the run was not clean: %s", strings.Join(p, "; "))
	}
	return nil
}

// isSet reports whether the flag name was given.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// write writes rep to out, as a table or as indented JSON.
func write(out io.Writer, rep Report, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("bench: write the report: %w", err)
		}
		return nil
	}
	if _, err := io.WriteString(out, rep.String()); err != nil {
		return fmt.Errorf("bench: write the report: %w", err)
	}
	return nil
}
