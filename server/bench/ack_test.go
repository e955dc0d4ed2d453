package bench

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server"
)

// TestEchoIsAck counts a sender's own message arriving at its own
// connection as its acknowledgement, once, with its latency; the same
// message at another member, another sender's message and a repeat
// acknowledge nothing.
func TestEchoIsAck(t *testing.T) {
	r := testRun(t)
	s0 := r.senders[0]
	own, other := r.clients[0], r.clients[2] // both in room 0; client 0 is sender 0
	sent := time.Now()
	arrived := sent.Add(5 * time.Millisecond)
	own.scan(bytes.Join([][]byte{message(t, r, 0, 0, sent), message(t, r, 0, 1, sent), message(t, r, 0, 0, sent)}, []byte("\n")), arrived)
	other.scan(message(t, r, 0, 2, sent), arrived)
	if s0.acks.echoes != 2 || s0.answered.Load() != 2 {
		t.Errorf("echoes %d, answered %d; want 2 and 2 (the repeat and the other member's copy acknowledge nothing)", s0.acks.echoes, s0.answered.Load())
	}
	if s0.acks.hist.n != 2 || s0.acks.hist.max != 5*time.Millisecond || !s0.acks.last.Equal(arrived) {
		t.Errorf("%d ack latencies, max %v, last %v; want 2 of 5ms at %v", s0.acks.hist.n, s0.acks.hist.max, s0.acks.last, arrived)
	}
	select {
	case <-s0.wake:
	default:
		t.Error("an echo did not wake the sender")
	}
	if s1 := r.senders[1]; s1.acks.echoes != 0 {
		t.Errorf("sender 1 acknowledged %d, want 0", s1.acks.echoes)
	}
}

// TestScanAcks counts the ack events that answer the sender's sends of this
// run, found at the start of a line of a coalesced frame, and no other.
func TestScanAcks(t *testing.T) {
	r := testRun(t)
	other := testRun(t)
	enc := func(e event.Event) []byte {
		b, err := event.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	quoting := enc(event.Message{Room: "r", Text: string(enc(event.Ack{ID: sendID(r.id, 0, 9), Seq: 1}))})
	frame := bytes.Join([][]byte{
		enc(event.Ack{ID: sendID(r.id, 0, 3), Seq: 4}),     // this sender's
		enc(event.Ack{ID: sendID(r.id, 1, 3), Seq: 4}),     // the other sender's
		enc(event.Ack{ID: sendID(other.id, 0, 3), Seq: 4}), // another run's
		enc(event.Ack{ID: "7d1e4c2a", Seq: 4}),             // a person's
		quoting,
	}, []byte("\n"))
	s0 := r.senders[0]
	r.clients[0].handle(frame, time.Now())
	if s0.acks.events != 1 || s0.answered.Load() != 1 {
		t.Errorf("ack events %d, answered %d; want 1 and 1", s0.acks.events, s0.answered.Load())
	}
	r.clients[2].handle(frame, time.Now()) // not a sender: acks are not its to count
	if s0.acks.events != 1 {
		t.Errorf("a reading client counted the sender's acks: %d", s0.acks.events)
	}
	rep := newReport(r.cfg)
	rep.Joined = rep.Clients
	rep.AckEvents = s0.acks.events
	if !strings.Contains(strings.Join(rep.Problems(), "; "), "1 first sends answered as already stored") {
		t.Errorf("problems %v do not name the ack event", rep.Problems())
	}
}

// TestConfigRate refuses a rate or a window no run can have, and takes rate
// 0 for as fast as acknowledged, with the default window.
func TestConfigRate(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{Senders: 1, Rate: -1},
		{Senders: 1, Rate: math.NaN()},
		{Senders: 1, Rate: math.Inf(1)},
		{Senders: 1, Window: -1},
	} {
		if _, err := cfg.withDefaults(); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	cfg, err := Config{Senders: 1}.withDefaults()
	if err != nil || cfg.Window != DefaultWindow || cfg.planned() != 0 {
		t.Errorf("rate 0: %+v, %v; want window %d, none planned", cfg, err, DefaultWindow)
	}
	if rep := newReport(cfg); rep.Window != DefaultWindow || newReport(Config{Rate: 5, Window: 3}).Window != 0 {
		t.Errorf("the report's window is %d with rate 0, want %d, and 0 with a rate", rep.Window, DefaultWindow)
	}
}

// TestAckLatency runs senders at a fixed rate against a real server: every
// send is acknowledged by its echo, and the ack figures are filled in.
func TestAckLatency(t *testing.T) {
	url := start(t, server.Config{})
	rep := runFor(t, Config{URL: url, Clients: 8, Senders: 4, Rooms: 2, Rate: 40, Duration: time.Second, Room: "acks"})
	if p := rep.Problems(); len(p) > 0 {
		t.Errorf("problems: %v", p)
	}
	if rep.Sent != 40 || rep.Acked != rep.Sent || rep.AckEvents != 0 {
		t.Errorf("sent %d, acknowledged %d, ack events %d; want 40, 40, 0", rep.Sent, rep.Acked, rep.AckEvents)
	}
	if !(rep.AckP50 > 0 && rep.AckP50 <= rep.AckP99 && rep.AckP99 <= rep.AckMax) {
		t.Errorf("ack p50 %v, p99 %v, max %v: want 0 < p50 <= p99 <= max", rep.AckP50, rep.AckP99, rep.AckMax)
	}
	if rep.AckedPerSec <= 0 {
		t.Errorf("acknowledged/s %v, want above 0", rep.AckedPerSec)
	}
	if !strings.Contains(rep.String(), "40 of 40 sent") {
		t.Errorf("the report lacks the acknowledgements:\n%s", rep)
	}
}

// TestFlood runs senders at rate 0, each with 2 sends unacknowledged at
// most: they go on sending past their first window, as each echo frees a
// place, and everything sent is acknowledged and delivered.
func TestFlood(t *testing.T) {
	url := start(t, server.Config{RateLimit: -1, RateBurst: -1})
	rep := runFor(t, Config{URL: url, Clients: 4, Senders: 2, Window: 2, Duration: 500 * time.Millisecond, Room: "flood"})
	if p := rep.Problems(); len(p) > 0 {
		t.Errorf("problems: %v", p)
	}
	if rep.Sent <= 2*2*2 || rep.Acked != rep.Sent {
		t.Errorf("sent %d, acknowledged %d; want more than two windows each, all acknowledged", rep.Sent, rep.Acked)
	}
	if rep.Window != 2 || rep.Planned != 0 || !strings.Contains(rep.String(), "as fast as acknowledged (window 2)") {
		t.Errorf("window %d, planned %d; want 2 and 0:\n%s", rep.Window, rep.Planned, rep)
	}
	var out, errOut strings.Builder
	err := Command(context.Background(), []string{"-url", url, "-clients", "2", "-senders", "1", "-rate", "0", "-window", "1", "-duration", "200ms", "-room", "flood2", "-json"}, &out, &errOut)
	if err != nil {
		t.Fatalf("Command -rate 0: %v\n%s%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{`"window": 1`, `"acked": `, `"ack_p99_ns": `, `"acked_per_sec": `} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the JSON report lacks %q:\n%s", want, out.String())
		}
	}
}
