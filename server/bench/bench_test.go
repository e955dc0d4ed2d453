package bench

import (
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chatwasm/chat/server"
	"github.com/chatwasm/chat/server/servertest"
)

// start serves a real chat server for cfg (per-IP limits off unless cfg sets
// them) on a random port and returns its WebSocket endpoint.
func start(t *testing.T, cfg server.Config) string {
	t.Helper()
	_, ts := servertest.Start(t, cfg)
	return servertest.SocketURL(ts.URL)
}

// runFor runs cfg with a deadline that fails the test instead of hanging it.
func runFor(t *testing.T, cfg Config) Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, rep)
	}
	t.Logf("report:\n%s", rep)
	return rep
}

// TestSmoke is the generator's smoke run, which make test runs to keep it
// working: 5 clients, 2 of them sending 20 msg/s in all for 1 s, against a
// real server; every message reaches every client once, and every figure is
// filled in. The test process is the server's, so its pid gives the memory
// and CPU figures a value.
func TestSmoke(t *testing.T) {
	url := start(t, server.Config{})
	rep := runFor(t, Config{
		URL: url, Clients: 5, Senders: 2, Rate: 20, Duration: time.Second,
		Drain: 10 * time.Second, ServerPID: os.Getpid(), LeaveWait: time.Second,
	})
	if p := rep.Problems(); len(p) > 0 {
		t.Errorf("problems: %v", p)
	}
	if rep.Joined != 5 {
		t.Errorf("joined %d of 5", rep.Joined)
	}
	if rep.PresenceRight != 5 || rep.PresenceSettle <= 0 {
		t.Errorf("presence right at %d of 5 clients, settled %v after the last join", rep.PresenceRight, rep.PresenceSettle)
	}
	if rep.Planned != 20 || rep.Sent != 20 {
		t.Errorf("sent %d of %d planned, want 20 of 20", rep.Sent, rep.Planned)
	}
	if rep.Expected != 20*5 || rep.Delivered != rep.Expected {
		t.Errorf("delivered %d of %d expected, want 100 of 100", rep.Delivered, rep.Expected)
	}
	if rep.Lost != 0 || rep.Duplicates != 0 || rep.Unexpected != 0 {
		t.Errorf("lost %d, duplicates %d, unexpected %d; want none", rep.Lost, rep.Duplicates, rep.Unexpected)
	}
	if !(rep.LatencyP50 > 0 && rep.LatencyP50 <= rep.LatencyP99 && rep.LatencyP99 <= rep.LatencyMax) {
		t.Errorf("latency p50 %v, p99 %v, max %v: want 0 < p50 <= p99 <= max", rep.LatencyP50, rep.LatencyP99, rep.LatencyMax)
	}
	if rep.DeliveriesPerSec <= 0 {
		t.Errorf("deliveries/s %v, want above 0", rep.DeliveriesPerSec)
	}
	if !(rep.JoinTime > 0 && rep.JoinP50 > 0 && rep.JoinP50 <= rep.JoinMax && rep.JoinMax <= rep.JoinTime) {
		t.Errorf("join time %v, p50 %v, max %v: want 0 < p50 <= max <= total", rep.JoinTime, rep.JoinP50, rep.JoinMax)
	}
	if rep.ServerRSSBefore <= 0 || rep.ServerRSSAfter <= 0 {
		t.Errorf("server RSS %d before, %d after: want both above 0", rep.ServerRSSBefore, rep.ServerRSSAfter)
	}
	// The last of the 20 messages is due 950 ms after the first.
	if rep.WallTime < 950*time.Millisecond {
		t.Errorf("wall time %v, want the 950 ms of sends at least", rep.WallTime)
	}
	if runtime.GOOS == "linux" {
		// The generator's CPU (getrusage) and the server's (/proc) are
		// reported; here both are this process's.
		if rep.CPUTime <= 0 || rep.CPUShare <= 0 {
			t.Errorf("generator CPU %v (share %v), want above 0", rep.CPUTime, rep.CPUShare)
		}
		if rep.ServerCPUTime <= 0 && rep.ServerCPUShare != 0 {
			t.Errorf("server CPU %v (share %v): want the share with the time", rep.ServerCPUTime, rep.ServerCPUShare)
		}
	}
	for _, want := range []string{"5 of 5 joined", "100 of 100 expected: 0 lost, 0 duplicates", "latency", "generator CPU", "server memory"} {
		if !strings.Contains(rep.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, rep)
		}
	}
}

// TestRooms spreads 6 clients over 3 rooms with a sender in each: a message
// reaches the 2 members of its room and no one else.
func TestRooms(t *testing.T) {
	url := start(t, server.Config{})
	rep := runFor(t, Config{URL: url, Clients: 6, Senders: 3, Rooms: 3, Rate: 30, Duration: 500 * time.Millisecond, Room: "rooms"})
	if p := rep.Problems(); len(p) > 0 {
		t.Errorf("problems: %v", p)
	}
	if rep.Sent != 15 || rep.Expected != 15*2 || rep.Delivered != rep.Expected {
		t.Errorf("sent %d, delivered %d of %d expected; want 15 sent, 30 of 30", rep.Sent, rep.Delivered, rep.Expected)
	}
	if rep.Unexpected != 0 {
		t.Errorf("%d stamps arrived outside their room", rep.Unexpected)
	}
}

// TestHeartbeat runs against a server that pings every 50 ms and drops a
// client silent for 300 ms: the clients that only read stay, as they answer
// each ping.
func TestHeartbeat(t *testing.T) {
	url := start(t, server.Config{HeartbeatInterval: 50 * time.Millisecond, HeartbeatTimeout: 300 * time.Millisecond})
	rep := runFor(t, Config{URL: url, Clients: 3, Senders: 1, Rate: 2, Duration: 1500 * time.Millisecond})
	if p := rep.Problems(); len(p) > 0 {
		t.Errorf("problems: %v", p)
	}
	if rep.Expected != 3*3 || rep.Delivered != rep.Expected {
		t.Errorf("delivered %d of %d expected, want 9 of 9", rep.Delivered, rep.Expected)
	}
}

// TestRepeatedRun runs twice on one room: the second run's clients get the
// first run's messages as history, and count none of them.
func TestRepeatedRun(t *testing.T) {
	url := start(t, server.Config{})
	cfg := Config{URL: url, Clients: 3, Senders: 1, Rate: 20, Duration: 500 * time.Millisecond}
	runFor(t, cfg)
	rep := runFor(t, cfg)
	if p := rep.Problems(); len(p) > 0 {
		t.Errorf("problems: %v", p)
	}
	if rep.Expected != 10*3 || rep.Delivered != rep.Expected || rep.Duplicates != 0 {
		t.Errorf("second run: delivered %d of %d expected, %d duplicates; want 30 of 30, none", rep.Delivered, rep.Expected, rep.Duplicates)
	}
}

// TestSendsRefused runs a sender above the server's per-user rate: the
// refusals are reported by code, and the refused messages are not
// expected, so nothing counts as lost. (The server reads nothing more from
// a refused client until a token is due, so the accepted ones arrive late.)
func TestSendsRefused(t *testing.T) {
	url := start(t, server.Config{RateLimit: 10, RateBurst: 2})
	rep := runFor(t, Config{URL: url, Clients: 2, Senders: 1, Rate: 40, Duration: 500 * time.Millisecond})
	if rep.Refused["rate_limited"] == 0 {
		t.Fatalf("no send refused as rate_limited: %v", rep.Refused)
	}
	accepted := rep.Sent - rep.Refused["rate_limited"]
	if rep.Expected != accepted*2 || rep.Delivered != rep.Expected || rep.Lost != 0 {
		t.Errorf("%d accepted; delivered %d of %d expected, %d lost; want %d, none lost", accepted, rep.Delivered, rep.Expected, rep.Lost, accepted*2)
	}
	if !strings.Contains(strings.Join(rep.Problems(), "; "), "sends refused") {
		t.Errorf("problems %v do not name the refused sends", rep.Problems())
	}
}

// TestConnectRefused runs more clients than the server lets one IP hold: the
// others are reported with the server's answer, HTTP 429, and the run goes
// on with those that joined.
func TestConnectRefused(t *testing.T) {
	url := start(t, server.Config{MaxConnsPerIP: 3})
	rep := runFor(t, Config{URL: url, Clients: 5, Senders: 5, Rate: 50, Duration: 200 * time.Millisecond})
	if rep.Joined != 3 || rep.ConnectRefused["HTTP 429"] != 2 {
		t.Errorf("joined %d, refused %v; want 3 joined, HTTP 429: 2", rep.Joined, rep.ConnectRefused)
	}
	// The 3 senders that joined send their share, 2 each, to the 3 members.
	if rep.Sent != 6 || rep.Expected != 6*3 || rep.Delivered != rep.Expected {
		t.Errorf("sent %d, delivered %d of %d expected; want 6 sent, 18 of 18", rep.Sent, rep.Delivered, rep.Expected)
	}
	if !strings.Contains(strings.Join(rep.Problems(), "; "), "2 of 5 clients did not join") {
		t.Errorf("problems %v do not name the clients refused", rep.Problems())
	}
}

// TestNoServer reports the dial's failure for every client, and no error:
// the run was made, against nothing.
func TestNoServer(t *testing.T) {
	_, ts := servertest.Start(t, server.Config{})
	ts.Close() // a port that was just served and is closed now
	url := servertest.SocketURL(ts.URL)
	rep := runFor(t, Config{URL: url, Clients: 2, Senders: 1, Rate: 10, Duration: 100 * time.Millisecond})
	if rep.Joined != 0 || rep.ConnectRefused["connection refused"] != 2 {
		t.Errorf("joined %d, refused %v; want none joined, connection refused: 2", rep.Joined, rep.ConnectRefused)
	}
}

// TestCommand runs `chat bench` with flags and -json against a real server,
// and refuses a bad flag.
func TestCommand(t *testing.T) {
	url := start(t, server.Config{})
	var out, errOut strings.Builder
	err := Command(context.Background(), []string{"-url", url, "-clients", "3", "-senders", "1", "-rate", "10", "-duration", "300ms", "-json"}, &out, &errOut)
	if err != nil {
		t.Fatalf("Command: %v\n%s%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{`"joined": 3`, `"lost": 0`, `"latency_p99_ns": `, `"cpu_share": `} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the JSON report lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	// -clients alone: the default 10 senders are cut to the clients.
	if err := Command(context.Background(), []string{"-url", url, "-clients", "2", "-rate", "10", "-duration", "200ms"}, &out, &errOut); err != nil {
		t.Errorf("-clients 2 alone: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "2 clients in 1 room(s), 2 senders") {
		t.Errorf("-clients 2 alone did not run 2 senders:\n%s", out.String())
	}
	if err := Command(context.Background(), []string{"-clients", "0"}, &out, &errOut); err == nil {
		t.Error("-clients 0 accepted")
	}
	if err := Command(context.Background(), []string{"-senders", "5", "-clients", "2"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "senders") {
		t.Errorf("5 senders of 2 clients: %v, want an error naming senders", err)
	}
}

// TestNoJoin connects clients that never join against a server that pings
// every 50 ms and drops a client silent for 300 ms: they stay connected for
// the run, answering the pings, and the server's memory after they leave is
// reported.
func TestNoJoin(t *testing.T) {
	url := start(t, server.Config{HeartbeatInterval: 50 * time.Millisecond, HeartbeatTimeout: 300 * time.Millisecond, JoinTimeout: -1})
	start := time.Now()
	rep := runFor(t, Config{URL: url, Clients: 4, NoJoin: true, Hold: 200 * time.Millisecond, ServerPID: os.Getpid(), LeaveWait: time.Second})
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("the run took %v, less than its hold of 200ms", took)
	}
	if p := rep.Problems(); len(p) > 0 {
		t.Errorf("problems: %v", p)
	}
	if rep.Joined != 4 || rep.Sent != 0 {
		t.Errorf("%d connected, %d sent; want 4, 0", rep.Joined, rep.Sent)
	}
	if rep.ServerRSSLeft <= 0 || rep.LeaveSettle <= 0 {
		t.Errorf("RSS after the leave %d, settled after %v; want both above 0", rep.ServerRSSLeft, rep.LeaveSettle)
	}
	for _, want := range []string{"4 of 4 connected (no join)", "after the leave"} {
		if !strings.Contains(rep.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, rep)
		}
	}
	if _, err := Run(context.Background(), Config{URL: url, Clients: 2, Senders: 1, Rate: 1, NoJoin: true}); err == nil || !strings.Contains(err.Error(), "senders") {
		t.Errorf("a sender with no join: %v, want an error naming senders", err)
	}
}
