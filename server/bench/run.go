package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwasm/chat/app/event"
)

// drainPoll is how often the settle and the drain check the clients'
// counters: 10 ms adds at most that to a run, and reading them that often
// costs nothing beside the deliveries.
const drainPoll = 10 * time.Millisecond

// settleQuiet is how long no client may receive a frame before the senders
// start: 100 ms, since a server that keeps up writes a queued event within
// milliseconds, so a pause that long means it wrote what the joins queued
// (each join's notice to every member before it, N²/2 in a room of N),
// which would otherwise delay the first messages and count in their
// latency.
const settleQuiet = 100 * time.Millisecond

// run is the state of one Run that its clients and senders share.
type run struct {
	cfg     Config
	peer    peer   // the peer's protocol, nil for the chat's
	dialURL string // the endpoint the clients dial: Config.URL, or a peer's for it
	id      string // newRunID: tells this run's messages from any other's
	marker  []byte // stampMarker(id)
	pong    []byte // the encoded pong, written as is
	clients []*client
	senders []*sender
	members []int // per room: the clients that joined it
	// lastJoin is when the last client joined, set by connect.
	lastJoin time.Time

	// stopping is set before the run closes the connections, so that the
	// readers do not take the end for a failure.
	stopping atomic.Bool

	mu      sync.Mutex
	refused map[string]int64 // refused sends, by error code
	errors  map[string]int64 // other error events, by code
}

// sender is one client that sends, and what it sent.
type sender struct {
	index   int // among the senders: the <sender> of its stamps
	client  *client
	sent    atomic.Int64 // messages written to the socket
	refused atomic.Int64 // of them, refused by the server with an error

	// answered counts the sends echoed, acknowledged or refused, and wake
	// (buffered, 1) is signalled with each, for a sender that waits for its
	// window (Rate 0); acks is the echoes, counted by the client's reader.
	answered atomic.Int64
	wake     chan struct{}
	acks     acks
}

// room is the index of the sender's room.
func (s *sender) room() int { return s.client.room }

// Run loads the server at cfg.URL as cfg says and returns what it measured.
// It connects and joins every client, at most cfg.ConnectConcurrency at
// once; reads the server's memory before and after, given its pid; sends
// for cfg.Duration; waits up to cfg.Drain for what was sent to arrive; then
// closes every connection (1000) and, given the server's pid, waits up to
// cfg.LeaveWait for its memory to settle (afterLeave).
//
// Refusals (of an upgrade, a join, a send) and connections the server
// closed are in the Report, not errors: Report.Problems lists them. The
// error is for a run that could not be made: an invalid cfg, a ServerPID
// whose memory cannot be read, or ctx ending, in which case the Report
// holds what was measured until then.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Report{}, fmt.Errorf("bench: %w", err)
	}
	r := newRun(cfg)
	rep := newReport(cfg)
	if cfg.ServerPID > 0 {
		if rep.ServerRSSBefore, err = serverRSS(cfg.ServerPID); err != nil {
			return rep, fmt.Errorf("bench: %w", err)
		}
	}
	defer r.close()

	r.connect(ctx, &rep)
	r.hold(ctx)
	if cfg.ServerPID > 0 {
		if rep.ServerRSSAfter, err = serverRSS(cfg.ServerPID); err != nil {
			return rep, fmt.Errorf("bench: after the joins: %w", err)
		}
		if rep.Joined > 0 {
			rep.ServerRSSPerConn = (rep.ServerRSSAfter - rep.ServerRSSBefore) / int64(rep.Joined)
		}
	}
	if err := ctx.Err(); err != nil {
		r.close()
		r.collect(&rep, time.Time{})
		return rep, fmt.Errorf("bench: while connecting: %w", err)
	}

	if r.peer == nil && !r.cfg.NoJoin && !r.cfg.NoPresence {
		r.presence(ctx, r.lastJoin, &rep)
	}
	rep.SettleTime = r.settle(ctx)
	start := time.Now()
	cpu0, cpuOK := selfCPU()
	srv0, srvErr := time.Duration(0), errors.New("no server pid")
	if cfg.ServerPID > 0 {
		srv0, srvErr = serverCPU(cfg.ServerPID)
	}
	r.send(ctx, start, &rep)
	r.drain(ctx)
	rep.WallTime = time.Since(start)
	if cpu1, ok := selfCPU(); ok && cpuOK {
		rep.CPUTime = cpu1 - cpu0
		rep.CPUShare = rep.CPUTime.Seconds() / rep.WallTime.Seconds()
	}
	if srvErr == nil {
		if srv1, err := serverCPU(cfg.ServerPID); err == nil {
			rep.ServerCPUTime = srv1 - srv0
			rep.ServerCPUShare = rep.ServerCPUTime.Seconds() / rep.WallTime.Seconds()
		}
	}
	r.close()
	r.collect(&rep, start)
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("bench: %w", err)
	}
	if cfg.ServerPID > 0 {
		if err := r.afterLeave(ctx, &rep); err != nil {
			return rep, fmt.Errorf("bench: after the leave: %w", err)
		}
	}
	return rep, nil
}

// newRun returns the state of a run of cfg: its clients, spread over the
// rooms, and its senders, the first cfg.Senders clients.
func newRun(cfg Config) *run {
	id := newRunID()
	pong, err := event.Encode(event.Pong{})
	if err != nil {
		panic(err) // a Pong always encodes
	}
	r := &run{
		cfg: cfg, id: id, marker: stampMarker(id), pong: pong,
		members: make([]int, cfg.Rooms),
		refused: make(map[string]int64), errors: make(map[string]int64),
	}
	r.peer, r.dialURL = newPeer(cfg)
	for i := range cfg.Clients {
		r.clients = append(r.clients, &client{r: r, index: i, room: i % cfg.Rooms, joinc: make(chan error, 1)})
	}
	for j := range cfg.Senders {
		s := &sender{index: j, client: r.clients[j], wake: make(chan struct{}, 1)}
		r.senders = append(r.senders, s)
		r.clients[j].sender = s
	}
	return r
}

// connect dials and joins every client, cfg.ConnectConcurrency at a time,
// and counts the members of each room.
func (r *run) connect(ctx context.Context, rep *Report) {
	start := time.Now()
	var (
		mu    sync.Mutex
		times []time.Duration
		last  time.Time
		wg    sync.WaitGroup
	)
	next := make(chan *client)
	for range min(r.cfg.ConnectConcurrency, len(r.clients)) {
		wg.Go(func() {
			for c := range next {
				t0 := time.Now()
				err := c.connect(ctx)
				now := time.Now()
				mu.Lock()
				var ref refusal
				switch {
				case err == nil:
					c.ok = true
					times = append(times, now.Sub(t0))
					last = now
				case errors.As(err, &ref) && ref.step == "connect":
					rep.ConnectRefused[ref.reason]++
				case errors.As(err, &ref):
					rep.JoinRefused[ref.reason]++
				default:
					rep.JoinRefused[err.Error()]++
				}
				mu.Unlock()
			}
		})
	}
feed:
	for _, c := range r.clients {
		select {
		case next <- c:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()

	for _, c := range r.clients {
		if c.ok {
			r.members[c.room]++
		}
	}
	rep.Joined = len(times)
	r.lastJoin = last
	if rep.Joined > 0 {
		rep.JoinTime = last.Sub(start)
		slices.Sort(times)
		rep.JoinP50 = times[(len(times)-1)/2]
		rep.JoinP99 = times[(len(times)*99+99)/100-1]
		rep.JoinMax = times[len(times)-1]
	}
}

// send runs the senders that joined until each sent its share of
// cfg.planned(), or with Rate 0 for cfg.Duration, or until ctx ends.
func (r *run) send(ctx context.Context, start time.Time, rep *Report) {
	total := r.cfg.planned()
	var wg sync.WaitGroup
	for _, s := range r.senders {
		switch {
		case !s.client.ok:
		case r.cfg.Rate == 0:
			wg.Go(func() { s.flood(ctx, start) })
		default:
			wg.Go(func() { s.run(ctx, start, total, len(r.senders)) })
		}
	}
	sent := make(chan struct{})
	go func() { wg.Wait(); close(sent) }()
	select {
	case <-sent:
	case <-ctx.Done():
		r.close() // a sender may be blocked in a write to a server that stopped reading
		<-sent
	}
	rep.SendTime = time.Since(start)
	for _, s := range r.senders {
		rep.Sent += s.sent.Load()
	}
	if span := max(rep.SendTime, r.cfg.Duration); rep.Sent > 0 {
		rep.SendRate = float64(rep.Sent) / span.Seconds()
	}
}

// run sends message k of the sender at start + (k·senders + index)/Rate,
// for every k whose message is one of the total: the senders share the
// rate evenly and take turns, so that the total is even too. One timer
// paces it; a sender that fell behind (a write blocked) sends what is due
// at once, and every message carries the time it was really sent.
func (s *sender) run(ctx context.Context, start time.Time, total int64, senders int) {
	c := s.client
	room := c.r.cfg.roomName(c.room)
	perNano := c.r.cfg.Rate / float64(time.Second)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var text []byte
	for k := int64(0); ; k++ {
		g := k*int64(senders) + int64(s.index)
		if g >= total || ctx.Err() != nil {
			return
		}
		due := start.Add(time.Duration(float64(g) / perNano))
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		var ok bool
		if text, ok = s.write(room, k, text); !ok {
			return
		}
	}
}

// write sends message k of the sender to room, stamped now, building its
// text in buf, and returns buf for the next; ok is false when the
// connection is gone (its reader says why).
func (s *sender) write(room string, k int64, buf []byte) (_ []byte, ok bool) {
	c := s.client
	buf = appendStamp(buf[:0], c.r.id, s.index, k, time.Now().UnixNano())
	frame, err := c.r.encodeSend(room, s.index, k, buf)
	if err != nil {
		panic(err) // a Send of a stamp always encodes
	}
	if err := c.ws.Write(background, websocket.MessageText, frame); err != nil {
		return buf, false
	}
	s.sent.Add(1)
	return buf, true
}

// settle waits until no client received a frame other than a ping for
// settleQuiet, and settleQuiet at least, or cfg.Drain has passed (a server
// busy with other traffic is never quiet), or ctx ends. It returns how long
// it waited.
func (r *run) settle(ctx context.Context) time.Duration {
	start := time.Now()
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for {
		last := start.UnixNano() // a notice may still be on its way: wait settleQuiet at least
		for _, c := range r.clients {
			if c.ok {
				last = max(last, c.lastFrame.Load())
			}
		}
		now := time.Now()
		if now.Sub(time.Unix(0, last)) >= settleQuiet || now.Sub(start) >= r.cfg.Drain {
			return now.Sub(start)
		}
		select {
		case <-ctx.Done():
			return time.Since(start)
		case <-tick.C:
		}
	}
}

// drain waits until every message sent reached every member of its room,
// or cfg.Drain has passed, or ctx ends.
func (r *run) drain(ctx context.Context) {
	deadline := time.Now().Add(r.cfg.Drain)
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for r.delivered() < r.expected() && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// expected is how many deliveries the messages sent and not refused make:
// one to each member of the sender's room, the sender included.
func (r *run) expected() int64 {
	var n int64
	for _, s := range r.senders {
		n += (s.sent.Load() - s.refused.Load()) * int64(r.members[s.room()])
	}
	return n
}

// delivered is how many distinct deliveries arrived so far.
func (r *run) delivered() int64 {
	var n int64
	for _, c := range r.clients {
		if c.ok {
			n += c.delivered.Load()
		}
	}
	return n
}

// onError counts an error event: a refused send of this run (by its id) or
// another refusal.
func (r *run) onError(e event.Error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, _, ok := parseSendID(r.id, e.ID); ok && s < len(r.senders) {
		r.senders[s].refused.Add(1)
		r.senders[s].answer()
		r.refused[string(e.Code)]++
		return
	}
	r.errors[string(e.Code)]++
}

// close closes every connection (1000, with the close handshake), at once,
// and waits for their readers. It may be called more than once.
func (r *run) close() {
	if r.stopping.Swap(true) {
		return
	}
	var wg sync.WaitGroup
	for _, c := range r.clients {
		if c.ws != nil {
			wg.Go(func() { _ = c.ws.Close(websocket.StatusNormalClosure, "bench done") })
		}
	}
	wg.Wait()
	for _, c := range r.clients {
		if c.done != nil {
			<-c.done
		}
	}
}

// collect adds what the readers counted to rep, once they returned. start is
// when the senders started (zero: they did not).
func (r *run) collect(rep *Report, start time.Time) {
	var lat totals
	var last time.Time
	for _, c := range r.clients {
		if !c.ok {
			continue
		}
		lat.add(&c.hist)
		rep.Delivered += c.delivered.Load()
		rep.Duplicates += c.dups
		rep.Unexpected += c.unexpected
		if c.last.After(last) {
			last = c.last
		}
		if c.end != nil {
			rep.Closed[connReason(c.end)]++
		}
	}
	rep.Expected = r.expected()
	rep.Lost = rep.Expected - rep.Delivered
	rep.LatencyP50 = lat.quantile(0.50)
	rep.LatencyP99 = lat.quantile(0.99)
	rep.LatencyMax = lat.max
	r.collectAcks(rep, start)
	if !start.IsZero() && last.After(start) {
		rep.DeliveriesPerSec = float64(rep.Delivered) / last.Sub(start).Seconds()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for code, n := range r.refused {
		rep.Refused[code] += n
	}
	for code, n := range r.errors {
		rep.Errors[code] += n
	}
}
