package bench

import (
	"bytes"
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The servers RunPeers measures, PeersConfig.Servers: the chat, its peers,
// and the floor, the least a WebSocket hub does (the chat binary's `floor`
// command, speaking the chat's protocol, on -addr).
const (
	ServerChat       = "chat"
	ServerCentrifugo = "centrifugo"
	ServerSocketIO   = "socketio"
	ServerFloor      = "floor"
)

// socketIOServer is the socket.io chat demo that RunPeers serves with Node.js,
// written to a temporary directory for each run.
//
//go:embed peers/socketio/server.js
var socketIOServer []byte

// PeersConfig configures RunPeers: which servers, the scenario each runs, and
// where the programs are.
type PeersConfig struct {
	// Servers are the servers measured, in order, of ServerChat,
	// ServerCentrifugo, ServerSocketIO and ServerFloor.
	Servers []string
	// Rates are the scenario's total send rates, in messages per second;
	// each makes a row of the table.
	Rates []float64
	// Runs is how many times each server runs each rate, each time freshly
	// started; the table has the medians. At least 1.
	Runs int
	// Clients, Senders, Duration and Drain are those of each run's Config.
	Clients  int
	Senders  int
	Duration time.Duration
	Drain    time.Duration
	// Port is the port every server listens on, on 127.0.0.1, one at a time.
	Port int
	// ServerCPUs and GeneratorCPUs are taskset(1) CPU lists ("0", "1"): the
	// server runs on the first, the generator on the second, so that they
	// do not take each other's time. Empty: no pinning.
	ServerCPUs    string
	GeneratorCPUs string

	// Generator is the program whose `bench` command loads each server: the
	// chat binary. Chat is the chat binary that serves ServerChat and
	// ServerFloor.
	Generator string
	Chat      string
	// Centrifugo is the centrifugo binary (6.9), for ServerCentrifugo.
	Centrifugo string
	// Node is the Node.js program, and SocketIOModules a node_modules
	// directory that holds socket.io (4.8), for ServerSocketIO.
	Node            string
	SocketIOModules string
}

// PeerRun is one run of a server at a rate: its Report, and the generator's
// error when the run was not clean.
type PeerRun struct {
	Server string  `json:"server"`
	Rate   float64 `json:"rate"`
	Report Report  `json:"report"`
	Error  string  `json:"error,omitempty"`
}

// peerServer is how to serve one server for a run: the command, the
// protocol its clients speak and their URL.
type peerServer struct {
	protocol string
	url      string
	cmd      *exec.Cmd
	// flags are the generator's extra flags for this server.
	flags []string
}

// RunPeers runs the scenario of cfg against each of cfg.Servers at each of
// cfg.Rates, cfg.Runs times, each time starting the server afresh (a new
// data directory, no history) pinned to cfg.ServerCPUs and running the
// generator, `<Generator> bench -json`, pinned to cfg.GeneratorCPUs. The
// servers take turns at each rate, round after round, so that a machine's
// noise, which comes and goes, falls on all of them alike. It
// writes a line per run to progress and returns every run. The error is for
// a server that would not start or a generator that gave no report; a run
// that was not clean is in its PeerRun.
func RunPeers(ctx context.Context, cfg PeersConfig, progress io.Writer) ([]PeerRun, error) {
	if cfg.Runs < 1 {
		return nil, errors.New("peers: runs must be 1 or more")
	}
	var runs []PeerRun
	for i := range cfg.Runs {
		for _, rate := range cfg.Rates {
			for _, server := range cfg.Servers {
				run, err := runPeer(ctx, cfg, server, rate)
				if err != nil {
					return runs, fmt.Errorf("peers: %s at %g msg/s, run %d: %w", server, rate, i+1, err)
				}
				rep := run.Report
				fmt.Fprintf(progress, "%s %g msg/s run %d: join %v, p50 %v, p99 %v, max %v, lost %d, dups %d, server CPU %.0f%%%s\n",
					server, rate, i+1, ms(rep.JoinTime), ms(rep.LatencyP50), ms(rep.LatencyP99), ms(rep.LatencyMax),
					rep.Lost, rep.Duplicates, 100*rep.ServerCPUShare, problemNote(run.Error))
				runs = append(runs, run)
			}
		}
	}
	return runs, nil
}

// problemNote is ", not clean: <why>" for a run's error, or "".
func problemNote(err string) string {
	if err == "" {
		return ""
	}
	return ", not clean: " + err
}

// runPeer starts server, runs the generator at rate against it and stops
// it.
func runPeer(ctx context.Context, cfg PeersConfig, server string, rate float64) (PeerRun, error) {
	dir, err := os.MkdirTemp("", "bench-"+server+"-")
	if err != nil {
		return PeerRun{}, fmt.Errorf("a temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	srv, err := cfg.server(ctx, server, dir)
	if err != nil {
		return PeerRun{}, err
	}
	var serverOut bytes.Buffer
	srv.cmd.Stdout, srv.cmd.Stderr = &serverOut, &serverOut
	if err := srv.cmd.Start(); err != nil {
		return PeerRun{}, fmt.Errorf("start %s: %w", server, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.cmd.Wait() }()
	defer stopServer(srv.cmd, exited)
	if err := waitHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d/", cfg.Port), exited); err != nil {
		return PeerRun{}, fmt.Errorf("%s did not start: %w\n%s", server, err, serverOut.Bytes())
	}

	args := []string{"bench", "-json", "-protocol", srv.protocol, "-url", srv.url,
		"-clients", strconv.Itoa(cfg.Clients), "-senders", strconv.Itoa(cfg.Senders),
		"-rate", strconv.FormatFloat(rate, 'g', -1, 64), "-duration", cfg.Duration.String(),
		"-drain", cfg.Drain.String(), "-pid", strconv.Itoa(srv.cmd.Process.Pid)}
	args = append(args, srv.flags...)
	gen := pinned(ctx, cfg.GeneratorCPUs, cfg.Generator, args...)
	var out, errOut bytes.Buffer
	gen.Stdout, gen.Stderr = &out, &errOut
	genErr := gen.Run()
	run := PeerRun{Server: server, Rate: rate}
	if err := json.Unmarshal(out.Bytes(), &run.Report); err != nil {
		return run, fmt.Errorf("the generator gave no report (%v): %w\n%s", genErr, err, errOut.Bytes())
	}
	if genErr != nil {
		run.Error = strings.TrimSpace(lastLine(errOut.String()))
		if run.Error == "" {
			run.Error = genErr.Error()
		}
	}
	return run, nil
}

// server returns how to serve name for one run, with its files in dir.
func (cfg PeersConfig) server(ctx context.Context, name, dir string) (peerServer, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Port))
	switch name {
	case ServerChat:
		return peerServer{ProtocolChat, "ws://" + addr + "/ws", pinned(ctx, cfg.ServerCPUs, cfg.Chat,
			append([]string{"-addr", addr, "-data", dir}, serverLimitsOff...)...), nil}, nil
	case ServerFloor:
		return peerServer{ProtocolChat, "ws://" + addr + "/ws", pinned(ctx, cfg.ServerCPUs, cfg.Chat, "floor", "-addr", addr),
			[]string{"-presence=false"}}, nil // the floor keeps no presence list
	case ServerCentrifugo:
		if cfg.Centrifugo == "" {
			return peerServer{}, errors.New("no centrifugo binary (-centrifugo)")
		}
		conf := filepath.Join(dir, "config.json")
		if err := os.WriteFile(conf, centrifugoConfig(cfg.Port), 0o600); err != nil {
			return peerServer{}, fmt.Errorf("centrifugo's config: %w", err)
		}
		return peerServer{ProtocolCentrifugo, "ws://" + addr, pinned(ctx, cfg.ServerCPUs, cfg.Centrifugo, "--config", conf), nil}, nil
	case ServerSocketIO:
		if cfg.SocketIOModules == "" {
			return peerServer{}, errors.New("no node_modules holding socket.io (-socketio-modules)")
		}
		script := filepath.Join(dir, "server.js")
		if err := os.WriteFile(script, socketIOServer, 0o600); err != nil {
			return peerServer{}, fmt.Errorf("the socket.io server: %w", err)
		}
		cmd := pinned(ctx, cfg.ServerCPUs, cmp.Or(cfg.Node, "node"), script)
		cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(cfg.Port), "NODE_PATH="+cfg.SocketIOModules)
		return peerServer{ProtocolSocketIO, "ws://" + addr, cmd, nil}, nil
	}
	return peerServer{}, fmt.Errorf("no server %q: the servers are %s, %s, %s and %s",
		name, ServerChat, ServerCentrifugo, ServerSocketIO, ServerFloor)
}

// centrifugoConfig is Centrifugo's configuration for a run, on
// 127.0.0.1:port: the memory engine (its default), anonymous connections
// without a token, and channels without a namespace that anonymous clients
// subscribe and publish to, with a history of 100 messages for 300 s
// (recovered on a resubscribe), presence, and a join message to every
// subscriber, as the chat's join notice is.
func centrifugoConfig(port int) []byte {
	conf := map[string]any{
		"log":         map[string]any{"level": "error"},
		"http_server": map[string]any{"address": "127.0.0.1", "port": port},
		"engine":      map[string]any{"type": "memory"},
		"client": map[string]any{
			"allow_anonymous_connect_without_token": true,
			"allowed_origins":                       []string{"*"},
		},
		"channel": map[string]any{"without_namespace": map[string]any{
			"allow_subscribe_for_anonymous": true, "allow_subscribe_for_client": true,
			"allow_publish_for_anonymous": true, "allow_publish_for_client": true,
			"history_size": 100, "history_ttl": "300s", "force_recovery": true,
			"presence": true, "join_leave": true, "force_push_join_leave": true,
		}},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		panic(err) // maps of strings, numbers and booleans always marshal
	}
	return b
}

// lastLine is the last line of s that is not empty.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// PeersTable writes the medians of runs as a table, a row per server and
// rate in the order of their first run (RunPeers': the servers side by side
// at each rate): connect+join of every client, latency p50, p99 and max,
// deliveries lost and duplicated, deliveries per second, the server's CPU
// and the generator's (near a whole core, the generator is the
// bottleneck), the server's memory per connection, and how many runs were
// clean.
func PeersTable(w io.Writer, runs []PeerRun) error {
	type key struct {
		server string
		rate   float64
	}
	var keys []key
	groups := map[key][]PeerRun{}
	for _, r := range runs {
		k := key{r.Server, r.Rate}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tmsg/s\tjoin\tp50\tp99\tmax\tlost\tdups\tdeliv/s\tsrv CPU\tgen CPU\tRSS/conn\tclean\t")
	for _, k := range keys {
		g := groups[k]
		med := func(f func(Report) float64) float64 {
			v := make([]float64, len(g))
			for i, r := range g {
				v[i] = f(r.Report)
			}
			return median(v)
		}
		dur := func(f func(Report) time.Duration) time.Duration {
			return ms(time.Duration(med(func(r Report) float64 { return float64(f(r)) })))
		}
		clean := 0
		for _, r := range g {
			if r.Error == "" {
				clean++
			}
		}
		fmt.Fprintf(tw, "%s\t%g\t%v\t%v\t%v\t%v\t%.0f\t%.0f\t%.0f\t%.0f%%\t%.0f%%\t%s\t%d/%d\t\n", k.server, k.rate,
			dur(func(r Report) time.Duration { return r.JoinTime }),
			dur(func(r Report) time.Duration { return r.LatencyP50 }),
			dur(func(r Report) time.Duration { return r.LatencyP99 }),
			dur(func(r Report) time.Duration { return r.LatencyMax }),
			med(func(r Report) float64 { return float64(r.Lost) }),
			med(func(r Report) float64 { return float64(r.Duplicates) }),
			med(func(r Report) float64 { return r.DeliveriesPerSec }),
			med(func(r Report) float64 { return 100 * r.ServerCPUShare }),
			med(func(r Report) float64 { return 100 * r.CPUShare }),
			size(int64(med(func(r Report) float64 { return float64(r.ServerRSSPerConn) }))),
			clean, len(g))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("peers: write the table: %w", err)
	}
	return nil
}

// peersUsage heads the help of `chat bench peers`.
const peersUsage = `usage: chat bench peers [flags]

Measures the chat beside its peers in one run of measurements, on this
machine: Centrifugo (memory engine, history on) and the socket.io chat demo,
each started afresh for every run on -server-cpus while the generator
(chat bench, speaking each one's protocol) runs on -generator-cpus. Every
server runs the same scenario at each rate, -runs times; the table has the
medians. The chat runs with its per-IP limits off.

Flags:
`

// PeersCommand runs `chat bench peers` with args, the flags after "peers":
// it runs RunPeers and writes the table of its medians to out, and each
// run's line to errOut; with -json, every run as JSON to out instead.
func PeersCommand(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("chat bench peers", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), peersUsage)
		fs.PrintDefaults()
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("peers: this program's path: %w", err)
	}
	cfg := PeersConfig{Generator: self}
	servers := fs.String("servers", strings.Join([]string{ServerChat, ServerCentrifugo, ServerSocketIO}, ","),
		"the servers, comma-separated, of "+strings.Join([]string{ServerChat, ServerCentrifugo, ServerSocketIO, ServerFloor}, ", "))
	rates := fs.String("rates", "10,100,300", "the total send rates, messages per second, comma-separated")
	fs.IntVar(&cfg.Runs, "runs", 3, "runs of each server at each rate (the table has the medians)")
	fs.IntVar(&cfg.Clients, "clients", 1000, "connections that join, in one room")
	fs.IntVar(&cfg.Senders, "senders", 50, "clients that send")
	fs.DurationVar(&cfg.Duration, "duration", 8*time.Second, "how long the senders send")
	fs.DurationVar(&cfg.Drain, "drain", DefaultDrain, "how long to wait after the last send for every message to arrive")
	fs.IntVar(&cfg.Port, "port", 3000, "the port each server listens on, on 127.0.0.1")
	fs.StringVar(&cfg.ServerCPUs, "server-cpus", "0", "the CPUs of the server (taskset -c; empty: no pinning)")
	fs.StringVar(&cfg.GeneratorCPUs, "generator-cpus", "1", "the CPUs of the generator (taskset -c; empty: no pinning)")
	fs.StringVar(&cfg.Chat, "chat", self, "the chat binary, for chat and floor")
	fs.StringVar(&cfg.Centrifugo, "centrifugo", "", "the centrifugo binary (6.9)")
	fs.StringVar(&cfg.Node, "node", "node", "the Node.js program")
	fs.StringVar(&cfg.SocketIOModules, "socketio-modules", "", "a node_modules directory holding socket.io (4.8)")
	asJSON := fs.Bool("json", false, "write every run as JSON rather than the table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("peers: unexpected argument %q", fs.Arg(0))
	}
	cfg.Servers = strings.Split(*servers, ",")
	for _, s := range strings.Split(*rates, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || !(r > 0) {
			return fmt.Errorf("peers: -rates: %q is not a rate above 0", s)
		}
		cfg.Rates = append(cfg.Rates, r)
	}
	runs, runErr := RunPeers(ctx, cfg, errOut)
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(runs); err != nil {
			return fmt.Errorf("peers: write the runs: %w", err)
		}
	} else if err := PeersTable(out, runs); err != nil {
		return err
	}
	return runErr
}
