package hub

import (
	"context"
	"errors"
	"sync"

	"github.com/chatwasm/chat/app/event"
)

// DefaultQueueBytes is a client's outbound queue limit when none is set:
// 1 MiB holds about ten thousand short messages, minutes of a busy room for
// a tab that is merely throttled, while a stuck client costs little.
const DefaultQueueBytes = 1 << 20

// idleShare is the share of its queue limit below which a client counts as
// idle for EnqueueIfIdle: 1/16, 64 KiB of the default 1 MiB, one full
// frame. A client holding less is keeping up; one holding more is behind,
// and a transient event would only add to what it has yet to read.
const idleShare = 16

var (
	// ErrSlowConsumer is returned by Client.Next once the client's queue
	// overflowed: the connection should close with event.StatusSlowConsumer.
	ErrSlowConsumer = errors.New("slow consumer: outbound queue overflowed")
	// ErrClosed is returned by Client.Next after Client.Close.
	ErrClosed = errors.New("client closed")
)

// Client is one connection's side of the hub: who it is, which room it is
// in, and its outbound queue. The hub appends encoded events to the queue
// and never waits for the connection; the connection's writer takes them out
// with Next. All methods are safe for concurrent use.
type Client struct {
	limit int
	wake  chan struct{} // holds a token while the queue has news for Next

	// Set by Hub.Join under the room's lock, read-only afterwards.
	user, name, room string

	// Guarded by the room's lock.
	left   bool   // Hub.Leave was called
	cursor uint64 // while catching up: the last seq queued
	// While catching up: the presences its Joined listed, and the room's
	// arrivals then, for the notices of what changed meanwhile.
	listed     []*presence
	listedUpTo uint64

	mu     sync.Mutex
	queue  [][]byte                    // encoded events, shared with other clients: never modified
	queued int                         // bytes in queue
	err    error                       // why the client stopped: ErrSlowConsumer or ErrClosed
	drain  bool                        // Drain was called: Next empties the queue, then ErrClosed
	fill   func(context.Context) error // while catching up: queues the next page of history
}

// NewClient returns a client whose queue holds at most queueBytes bytes of
// events; zero means DefaultQueueBytes.
func NewClient(queueBytes int) *Client {
	if queueBytes <= 0 {
		queueBytes = DefaultQueueBytes
	}
	return &Client{limit: queueBytes, wake: make(chan struct{}, 1)}
}

// User returns the identity the hub gave the client at Join.
func (c *Client) User() string { return c.user }

// Name returns the client's name as given at Join.
func (c *Client) Name() string { return c.name }

// Room returns the room the client joined, or "" before its Join.
func (c *Client) Room() string { return c.room }

// Enqueue queues an encoded event for this client alone, such as an Error
// event answering its frame, with the same limit as the room's events.
func (c *Client) Enqueue(b []byte) { c.enqueue(b) }

// EnqueueIfIdle queues an encoded event that is worth sending only now,
// such as a Typing, if the client is idle: what is queued, with b, is under
// 1/idleShare of its limit, and it is not catching up. Otherwise it drops
// b. It never stops the client as a slow consumer: a client that is behind
// gets what it is owed first, and an indicator that arrived late would be
// wrong anyway. It reports whether it queued b.
func (c *Client) EnqueueIfIdle(b []byte) bool {
	c.mu.Lock()
	ok := c.err == nil && !c.drain && c.fill == nil && c.queued+len(b) < c.limit/idleShare
	if ok {
		c.queue = append(c.queue, b)
		c.queued += len(b)
	}
	c.mu.Unlock()
	if ok {
		c.signal()
	}
	return ok
}

// enqueue appends an encoded event without blocking. A client whose queue
// would exceed its limit is stopped with ErrSlowConsumer instead: it has
// fallen too far behind to catch up, and waiting for it would stall the room.
func (c *Client) enqueue(b []byte) {
	c.mu.Lock()
	if c.err == nil && !c.drain {
		if c.queued+len(b) > c.limit {
			c.err = ErrSlowConsumer
			c.queue, c.queued = nil, 0
		} else {
			c.queue = append(c.queue, b)
			c.queued += len(b)
		}
	}
	c.mu.Unlock()
	c.signal()
}

// enqueueAll appends first (unless nil) and then the events of each of rest
// as enqueue would, under one hold of the client's lock and with one wake-up:
// a joiner's Joined and its recent history, or the notices of a batch of
// joins.
func (c *Client) enqueueAll(first []byte, rest ...[][]byte) {
	size := len(first)
	for _, events := range rest {
		for _, b := range events {
			size += len(b)
		}
	}
	c.mu.Lock()
	if c.err == nil && !c.drain {
		if c.queued+size > c.limit {
			c.err = ErrSlowConsumer
			c.queue, c.queued = nil, 0
		} else {
			if first != nil {
				c.queue = append(c.queue, first)
			}
			for _, events := range rest {
				c.queue = append(c.queue, events...)
			}
			c.queued += size
		}
	}
	c.mu.Unlock()
	c.signal()
}

// setFill sets (or, with nil, clears) what Next calls to refill an empty
// queue while the client catches up with a room's history. Setting it wakes
// Next, which may be waiting on an empty queue.
func (c *Client) setFill(f func(context.Context) error) {
	c.mu.Lock()
	c.fill = f
	c.mu.Unlock()
	if f != nil {
		c.signal()
	}
}

// stop stops the client with err, as an overflow does.
func (c *Client) stop(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
		c.queue, c.queued = nil, 0
	}
	c.mu.Unlock()
	c.signal()
}

// Close stops the client: Next returns ErrClosed from now on, what was
// still queued is dropped, and the hub queues nothing more for it.
func (c *Client) Close() {
	c.mu.Lock()
	if c.err == nil {
		c.err = ErrClosed
	}
	c.queue, c.queued = nil, 0
	c.mu.Unlock()
	c.signal()
}

// Drain stops the client once what is queued has been taken: Next returns
// the queued events, then ErrClosed, and nothing more is queued. It lets a
// connection deliver its last error events before it closes.
func (c *Client) Drain() {
	c.mu.Lock()
	c.drain = true
	c.mu.Unlock()
	c.signal()
}

// Next blocks until events are queued and appends them to buf as one server
// frame: as many queued events as fit in event.MaxServerFrameBytes, joined by
// newlines. A client that is keeping up gets each event as soon as it is
// queued; one that falls behind gets them coalesced, one write for many. Next
// returns ErrSlowConsumer or ErrClosed once the client stopped (after
// Drain, once the queue is empty), or ctx's error. Only one goroutine (the connection's writer) may call Next.
func (c *Client) Next(ctx context.Context, buf []byte) ([]byte, error) {
	for {
		c.mu.Lock()
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return buf, err
		}
		if len(c.queue) > 0 {
			frame := c.take()
			c.mu.Unlock()
			// Copied without the lock: the hub queues for this client
			// meanwhile, with the room's lock held.
			for i, b := range frame {
				if i > 0 {
					buf = append(buf, '\n')
				}
				buf = append(buf, b...)
			}
			clear(frame) // the queue no longer reaches these elements
			return buf, nil
		}
		if c.drain {
			c.mu.Unlock()
			return buf, ErrClosed
		}
		fill := c.fill
		c.mu.Unlock()
		if fill != nil {
			// Catching up: the queue is empty, take the next page of
			// history (outside c.mu: fill takes the room's lock first). It
			// may wait for its turn to read the store, within ctx.
			if err := fill(ctx); err != nil {
				return buf, err
			}
			continue
		}
		select {
		case <-c.wake:
		case <-ctx.Done():
			return buf, ctx.Err()
		}
	}
}

// take removes the events that fit in one frame from the queue and returns
// them: a piece of the queue's backing array that the queue no longer
// reaches, so Next may read and clear it without the lock. The first event
// always fits: no event is larger than a frame.
func (c *Client) take() [][]byte {
	n, size := 0, 0
	for _, b := range c.queue {
		if n > 0 && size+1+len(b) > event.MaxServerFrameBytes {
			break
		}
		if n > 0 {
			size++
		}
		size += len(b)
		c.queued -= len(b)
		n++
	}
	frame := c.queue[:n:n]
	c.queue = c.queue[n:]
	if len(c.queue) == 0 {
		c.queue = nil // drop the backing array: an idle client holds nothing
	} else {
		// More is waiting: make sure the writer comes back without a wake-up.
		c.signal()
	}
	return frame
}

// signal wakes Next without blocking; one pending token is enough.
func (c *Client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}
