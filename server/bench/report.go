package bench

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what a Run measured. Durations are time.Duration, which JSON
// writes in nanoseconds (hence the _ns names); memory is in bytes. A
// delivery is one message reaching one client.
type Report struct {
	// The run's Config, with its defaults applied. Window is 0 unless Rate
	// is: it is used with Rate 0 only.
	URL      string        `json:"url"`
	Clients  int           `json:"clients"`
	Senders  int           `json:"senders"`
	Rooms    int           `json:"rooms"`
	Rate     float64       `json:"rate"`
	Window   int           `json:"window"`
	Duration time.Duration `json:"duration_ns"`

	// Joined is how many clients joined. JoinTime is the connect phase, from
	// the first dial to the last join; JoinP50, JoinP99 and JoinMax are the
	// times of one client, from its dial to its joined.
	Joined   int           `json:"joined"`
	JoinTime time.Duration `json:"join_time_ns"`
	JoinP50  time.Duration `json:"join_p50_ns"`
	JoinP99  time.Duration `json:"join_p99_ns"`
	JoinMax  time.Duration `json:"join_max_ns"`
	// ConnectRefused counts the clients whose upgrade failed, by reason
	// ("HTTP 429": the server's -ip-conns; "HTTP 503": -max-conns);
	// JoinRefused those whose join failed, by error code ("rate_limited":
	// -ip-identities) or how the connection ended.
	ConnectRefused map[string]int `json:"connect_refused"`
	JoinRefused    map[string]int `json:"join_refused"`
	// PresenceRight is how many joined clients ended the connect phase with
	// the right presence list: their room's bench users, all and only them
	// (a client whose joined was truncated, PresenceTruncated of them, is
	// checked by its count). PresenceSettle is how long after the last
	// join the last of them became right; zero when some were still wrong
	// Config.Drain after it. PresenceChecked is false when the lists were
	// not checked: a peer's protocol (Config.Protocol) has none.
	PresenceChecked   bool          `json:"presence_checked"`
	PresenceRight     int           `json:"presence_right"`
	PresenceTruncated int           `json:"presence_truncated"`
	PresenceSettle    time.Duration `json:"presence_settle_ns"`
	// SettleTime is how long the server took, after the last join, to
	// deliver what the joins queued (no frame but pings for 100 ms), before
	// the senders started; at least 100 ms, at most Config.Drain.
	SettleTime time.Duration `json:"settle_time_ns"`

	// Planned is Rate × Duration, the messages the senders were to send;
	// Sent those written to the socket (fewer when a sender did not join or
	// its connection ended). SendTime is from the first send to the last;
	// SendRate the messages per second sent, below Rate when the writes
	// could not keep up.
	Planned  int64         `json:"planned"`
	Sent     int64         `json:"sent"`
	SendTime time.Duration `json:"send_time_ns"`
	SendRate float64       `json:"send_rate"`
	// Refused counts the sends the server refused, by error code
	// ("rate_limited": -rate, -burst, -ip-rate, -ip-burst); they are not
	// expected, so not lost. Errors counts the other error events.
	Refused map[string]int64 `json:"refused"`
	Errors  map[string]int64 `json:"errors"`

	// Expected is the deliveries the sent and accepted messages make, one
	// to each member of the sender's room, the sender included; Delivered
	// the distinct deliveries that arrived by the end of the drain; Lost
	// the difference; Duplicates the deliveries that arrived again.
	// Unexpected counts stamps of this run at a client outside the sender's
	// room, or unreadable: 0 unless the server mixes up rooms or texts.
	Expected   int64 `json:"expected"`
	Delivered  int64 `json:"delivered"`
	Lost       int64 `json:"lost"`
	Duplicates int64 `json:"duplicates"`
	Unexpected int64 `json:"unexpected"`
	// DeliveriesPerSec is Delivered over the time from the first send to
	// the last delivery.
	DeliveriesPerSec float64 `json:"deliveries_per_sec"`
	// LatencyP50, LatencyP99 and LatencyMax are the times from a message's
	// send to its arrival at a client, over every delivery; the
	// percentiles are the upper bounds of histogram buckets, within 3%.
	LatencyP50 time.Duration `json:"latency_p50_ns"`
	LatencyP99 time.Duration `json:"latency_p99_ns"`
	LatencyMax time.Duration `json:"latency_max_ns"`
	// Acked is how many sends were acknowledged: the sender's own copy of
	// its message arrived, which the server queues only once the message is
	// stored durably. AckedPerSec is Acked over the time from the first send
	// to the last acknowledgement. AckP50, AckP99 and AckMax are the times
	// from a send to its acknowledgement, within 3% as the latencies.
	// AckEvents counts the sends answered by an ack event, which answers a
	// resend of a message stored before: the generator never resends, so
	// each is a first send the server took for a repeat (and did not store).
	Acked       int64         `json:"acked"`
	AckedPerSec float64       `json:"acked_per_sec"`
	AckP50      time.Duration `json:"ack_p50_ns"`
	AckP99      time.Duration `json:"ack_p99_ns"`
	AckMax      time.Duration `json:"ack_max_ns"`
	AckEvents   int64         `json:"ack_events"`
	// Closed counts the joined clients whose connection ended before the
	// run closed it, by reason ("close 4001 (slow consumer)").
	Closed map[string]int `json:"closed"`

	// ServerRSSBefore and ServerRSSAfter are the server's resident memory
	// before the first dial and once every client joined; ServerRSSPerConn
	// the growth per joined client. Zero without Config.ServerPID.
	ServerRSSBefore  int64 `json:"server_rss_before"`
	ServerRSSAfter   int64 `json:"server_rss_after"`
	ServerRSSPerConn int64 `json:"server_rss_per_conn"`
	// ServerRSSLeft is the server's resident memory once every client
	// left (the run closed them) and it settled, LeaveSettle how long
	// that took from the close, and LeaveSettled whether it settled
	// within Config.LeaveWait (otherwise ServerRSSLeft is the last
	// reading). A server that frees what its connections held comes back
	// near ServerRSSBefore. Zero without Config.ServerPID.
	ServerRSSLeft int64         `json:"server_rss_left"`
	LeaveSettle   time.Duration `json:"leave_settle_ns"`
	LeaveSettled  bool          `json:"leave_settled"`
	// NoJoin is Config.NoJoin: the clients connected and never joined,
	// and Joined counts those that connected.
	NoJoin bool `json:"no_join"`

	// WallTime is the send and the drain, from the first send to the end of
	// the drain. CPUTime is the generator's CPU (user and system) in it, and
	// CPUShare CPUTime over WallTime: 0.25 is a quarter of one core, 2 two
	// cores. ServerCPUTime and ServerCPUShare are the server's, given
	// Config.ServerPID. CPUTime is zero where the system has no
	// getrusage(2).
	WallTime       time.Duration `json:"wall_time_ns"`
	CPUTime        time.Duration `json:"cpu_time_ns"`
	CPUShare       float64       `json:"cpu_share"`
	ServerCPUTime  time.Duration `json:"server_cpu_time_ns"`
	ServerCPUShare float64       `json:"server_cpu_share"`
}

// newReport returns the empty Report of a run of cfg.
func newReport(cfg Config) Report {
	window := 0
	if cfg.Rate == 0 {
		window = cfg.Window
	}
	return Report{
		URL: cfg.URL, Clients: cfg.Clients, Senders: cfg.Senders, Rooms: cfg.Rooms,
		Rate: cfg.Rate, Window: window, Duration: cfg.Duration, Planned: cfg.planned(), NoJoin: cfg.NoJoin,
		ConnectRefused: map[string]int{}, JoinRefused: map[string]int{},
		Refused: map[string]int64{}, Errors: map[string]int64{}, Closed: map[string]int{},
	}
}

// Problems lists what makes the run's figures not those of a healthy server
// under this load: clients that did not join, sends refused, connections
// closed, deliveries lost or duplicated. It is empty for a clean run.
func (r Report) Problems() []string {
	var out []string
	if r.Joined < r.Clients {
		did := "join"
		if r.NoJoin {
			did = "connect"
		}
		out = append(out, fmt.Sprintf("%d of %d clients did not %s", r.Clients-r.Joined, r.Clients, did))
	}
	if r.PresenceChecked && r.PresenceRight < r.Joined {
		out = append(out, fmt.Sprintf("%d clients with a wrong presence list", r.Joined-r.PresenceRight))
	}
	if n := sum(r.Refused); n > 0 {
		out = append(out, fmt.Sprintf("%d sends refused", n))
	}
	if n := sum(r.Errors); n > 0 {
		out = append(out, fmt.Sprintf("%d error events", n))
	}
	if n := sum(r.Closed); n > 0 {
		out = append(out, fmt.Sprintf("%d connections closed by the server or lost", n))
	}
	if r.Lost != 0 {
		out = append(out, fmt.Sprintf("%d deliveries lost", r.Lost))
	}
	if r.Duplicates > 0 {
		out = append(out, fmt.Sprintf("%d duplicate deliveries", r.Duplicates))
	}
	if r.Unexpected > 0 {
		out = append(out, fmt.Sprintf("%d unexpected stamps", r.Unexpected))
	}
	if r.AckEvents > 0 {
		out = append(out, fmt.Sprintf("%d first sends answered as already stored", r.AckEvents))
	}
	return out
}

// String returns the report as a table for people, one figure a line.
func (r Report) String() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	line := func(name, format string, args ...any) {
		fmt.Fprintf(w, "%s\t"+format+"\n", append([]any{name}, args...)...)
	}
	rate := fmt.Sprintf("%g msg/s", r.Rate)
	if r.Rate == 0 {
		rate = fmt.Sprintf("as fast as acknowledged (window %d)", r.Window)
	}
	line("target", "%s: %d clients in %d room(s), %d senders at %s for %v", r.URL, r.Clients, r.Rooms, r.Senders, rate, r.Duration)
	if r.NoJoin {
		line("connect", "%d of %d connected (no join) in %v; per client p50 %v, p99 %v, max %v",
			r.Joined, r.Clients, ms(r.JoinTime), ms(r.JoinP50), ms(r.JoinP99), ms(r.JoinMax))
	} else {
		line("connect+join", "%d of %d joined in %v; per client p50 %v, p99 %v, max %v",
			r.Joined, r.Clients, ms(r.JoinTime), ms(r.JoinP50), ms(r.JoinP99), ms(r.JoinMax))
	}
	if r.Joined > 0 && r.PresenceChecked {
		settled := "not all within the drain"
		if r.PresenceRight == r.Joined {
			settled = fmt.Sprintf("%v after the last join", ms(r.PresenceSettle))
		}
		line("presence", "%d of %d clients with the right list, %s (%d truncated, checked by count)",
			r.PresenceRight, r.Joined, settled, r.PresenceTruncated)
	}
	line("settle", "%v until no frame for %v (the joins' notices delivered)", ms(r.SettleTime), settleQuiet)
	if len(r.ConnectRefused) > 0 {
		line("refused at connect", "%s", counts(r.ConnectRefused))
	}
	if len(r.JoinRefused) > 0 {
		line("refused at join", "%s", counts(r.JoinRefused))
	}
	if r.ServerRSSBefore > 0 {
		line("server memory", "RSS %s before, %s after the joins: %s per connection",
			size(r.ServerRSSBefore), size(r.ServerRSSAfter), size(r.ServerRSSPerConn))
	}
	if r.ServerRSSLeft > 0 {
		settled := "settled"
		if !r.LeaveSettled {
			settled = "still moving"
		}
		line("after the leave", "RSS %s, %+.1f%% of before (%s %v after the close)",
			size(r.ServerRSSLeft), 100*float64(r.ServerRSSLeft-r.ServerRSSBefore)/float64(r.ServerRSSBefore), settled, ms(r.LeaveSettle))
	}
	if r.Senders > 0 {
		if r.Rate == 0 {
			line("sent", "%d in %v (%.1f msg/s)", r.Sent, ms(r.SendTime), r.SendRate)
		} else {
			line("sent", "%d of %d planned in %v (%.1f msg/s)", r.Sent, r.Planned, ms(r.SendTime), r.SendRate)
		}
		if len(r.Refused) > 0 {
			line("sends refused", "%s", counts(r.Refused))
		}
		line("deliveries", "%d of %d expected: %d lost, %d duplicates; %.0f/s",
			r.Delivered, r.Expected, r.Lost, r.Duplicates, r.DeliveriesPerSec)
		if r.Unexpected > 0 {
			line("unexpected", "%d stamps outside their room or unreadable", r.Unexpected)
		}
		line("latency", "p50 %v, p99 %v, max %v (send to arrival)", ms(r.LatencyP50), ms(r.LatencyP99), ms(r.LatencyMax))
		line("acknowledged", "%d of %d sent, %.0f/s; p50 %v, p99 %v, max %v (send to the sender's own copy, stored)",
			r.Acked, r.Sent, r.AckedPerSec, ms(r.AckP50), ms(r.AckP99), ms(r.AckMax))
		if r.AckEvents > 0 {
			line("taken for resends", "%d first sends answered with ack", r.AckEvents)
		}
	}
	if len(r.Errors) > 0 {
		line("error events", "%s", counts(r.Errors))
	}
	if len(r.Closed) > 0 {
		line("closed", "%s", counts(r.Closed))
	}
	if r.Sent > 0 { // without a send, the wall time is too short to tell
		cpu := "unknown on this system"
		if r.CPUTime > 0 {
			cpu = fmt.Sprintf("%.1f%% of a core (%v)", 100*r.CPUShare, ms(r.CPUTime))
		}
		line("generator CPU", "%s over the send and drain, %v", cpu, ms(r.WallTime))
		if r.ServerCPUTime > 0 {
			line("server CPU", "%.1f%% of a core (%v)", 100*r.ServerCPUShare, ms(r.ServerCPUTime))
		}
	}
	if p := r.Problems(); len(p) > 0 {
		line("problems", "%s", strings.Join(p, "; "))
	}
	_ = w.Flush()
	return b.String()
}

// ms rounds d for reading: to 10 µs below 10 ms, to 1 ms below 10 s, to
// 10 ms above.
func ms(d time.Duration) time.Duration {
	switch {
	case d < 10*time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d < 10*time.Second:
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Millisecond)
}

// size writes bytes in KB or MB (of 1024).
func size(b int64) string {
	switch {
	case b < 0:
		return "-" + size(-b)
	case b < 10<<20:
		return fmt.Sprintf("%.1f KB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%.1f MB", float64(b)/(1<<20))
}

// counts writes a map of counts as "HTTP 429: 36, rate_limited: 2", the
// largest first.
func counts[N int | int64](m map[string]N) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b))
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// sum is the total of a map of counts.
func sum[N int | int64](m map[string]N) N {
	var n N
	for _, v := range m {
		n += v
	}
	return n
}
