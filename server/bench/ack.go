package bench

import (
	"context"
	"time"

	"github.com/chatwasm/chat/app/event"
)

// A send is acknowledged by the server queueing its Message, which it does
// only once the message is stored durably; the sender's own copy of it
// carries the sender's Send.ID (docs/PROTOCOL.md, "Acknowledgement and
// exactly-once"). The generator's sender is one identity on one
// connection, so the arrival of one of its own stamps at its own connection
// is its acknowledgement: the ack latency is that delivery's latency, found
// by the same scan as every other delivery, and costs nothing more. An Ack
// event answers a resend of a message stored before; the generator never
// resends, so one answering a send of this run means the server took a
// first send for a repeat, and is counted as a problem.

// DefaultWindow is how many sends a sender keeps unacknowledged when Rate is
// 0 (as fast as the server acknowledges): 8, so that 100 senders keep 800
// messages in flight, enough for the server's group commit to gather
// batches, while each sender waits for its echoes rather than filling the
// server's queues.
const DefaultWindow = 8

// ackPrefix is how an ack event begins.
var ackPrefix = eventPrefix("ack")

// acks is what the reader of a sender's connection counted of the sender's
// acknowledgements. The reader owns it; the run reads it once the reader
// returned.
type acks struct {
	hist   histogram // send to the sender's own echo
	echoes int64     // sends acknowledged by their echo
	events int64     // sends answered by an ack event: taken for a resend
	last   time.Time // when the last echo arrived
}

// echoed records, on the reader of the sender's own connection, that the
// sender's message sent at unixNano came back at now.
func (s *sender) echoed(unixNano int64, now time.Time) {
	s.acks.hist.record(time.Duration(now.UnixNano() - unixNano))
	s.acks.echoes++
	s.acks.last = now
	s.answer()
}

// answer counts a send answered (echoed, acknowledged or refused) and wakes
// the sender should it wait for its window.
func (s *sender) answer() {
	s.answered.Add(1)
	select {
	case s.wake <- struct{}{}:
	default: // already woken
	}
}

// scanAcks counts the ack events in frame that answer this sender's sends:
// only the sending connection receives them, so only a sender's reader
// looks for them.
func (s *sender) scanAcks(r *run, frame []byte) {
	eachLine(frame, ackPrefix, func(line []byte) {
		events, _ := event.DecodeServer(line)
		for _, e := range events {
			if e, ok := e.(event.Ack); ok {
				if sender, _, ok := parseSendID(r.id, e.ID); ok && sender == s.index {
					s.acks.events++
					s.answer()
				}
			}
		}
	})
}

// flood sends as fast as the server acknowledges, from start for
// cfg.Duration or until ctx ends: it keeps cfg.Window sends unanswered, and
// sends the next when one is answered.
func (s *sender) flood(ctx context.Context, start time.Time) {
	c := s.client
	room := c.r.cfg.roomName(c.room)
	window := int64(c.r.cfg.Window)
	end := time.NewTimer(time.Until(start.Add(c.r.cfg.Duration)))
	defer end.Stop()
	var text []byte
	for k := int64(0); ; k++ {
		for s.sent.Load()-s.answered.Load() >= window {
			select {
			case <-ctx.Done():
				return
			case <-end.C:
				return
			case <-s.wake:
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-end.C:
			return
		default:
		}
		var ok bool
		if text, ok = s.write(room, k, text); !ok {
			return
		}
	}
}

// collectAcks adds the senders' acknowledgements to rep, once the readers
// returned. start is when the senders started.
func (r *run) collectAcks(rep *Report, start time.Time) {
	var lat totals
	var last time.Time
	for _, s := range r.senders {
		if !s.client.ok {
			continue
		}
		lat.add(&s.acks.hist)
		rep.Acked += s.acks.echoes
		rep.AckEvents += s.acks.events
		if s.acks.last.After(last) {
			last = s.acks.last
		}
	}
	rep.AckP50 = lat.quantile(0.50)
	rep.AckP99 = lat.quantile(0.99)
	rep.AckMax = lat.max
	if !start.IsZero() && last.After(start) {
		rep.AckedPerSec = float64(rep.Acked) / last.Sub(start).Seconds()
	}
}
