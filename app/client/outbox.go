package client

import (
	"errors"
	"fmt"
	"slices"
)

// MaxOutbox is how many messages may wait in an outbox: 100 is far more than
// a person types while offline, and 100 of the largest messages (2,000
// characters that JSON may escape to 12,000, stored as UTF-16 by the browser:
// about 24 KB each) stay under half of localStorage's 5 MB quota.
const MaxOutbox = 100

// Errors of the outbox operations.
var (
	// ErrOutboxFull: MaxOutbox messages are already waiting.
	ErrOutboxFull = fmt.Errorf("%d messages are already waiting to be sent", MaxOutbox)
	// ErrNotInOutbox: no message in the outbox has that id (it was sent
	// and acknowledged, or deleted).
	ErrNotInOutbox = errors.New("no such message in the outbox")
	// ErrNotFailed: Retry of a message that has not failed.
	ErrNotFailed = errors.New("the message has not failed")
)

// Status is where a message of the outbox stands.
type Status string

// Statuses of outbox items. A message leaves the outbox once the server
// acknowledged it; "sent" is what the page shows for the server's copy.
const (
	// StatusPending: waiting to be sent, or sent and not acknowledged yet.
	StatusPending Status = "pending"
	// StatusFailed: the server refused it for good (invalid_text,
	// invalid_id). It is not sent again until Retry.
	StatusFailed Status = "failed"
)

// OutboxItem is one message a person wrote that the server has not
// acknowledged yet. It is stored as JSON: the field names are a storage
// format, kept stable across versions.
type OutboxItem struct {
	// ID is the Send.ID, chosen once when the message was written, so that
	// a resend is recognised by the server and stored only once.
	ID string `json:"id"`
	// Text is the normalized text.
	Text string `json:"text"`
	// Status is pending or failed.
	Status Status `json:"status"`
	// Reason says why the server refused it, when failed, in words.
	Reason string `json:"reason,omitempty"`
	// Room is the room it goes to. Each room's outbox is stored under its
	// own key, so the stored field is informative only: the key decides.
	Room string `json:"room,omitempty"`
}

// outbox is the state machine of the messages waiting to be sent, in the
// order they were written. It sends one at a time: next gives the first
// pending item once nothing is in flight, so a person's messages reach the
// server in their order even when one has to wait (rate limit) or be resent
// (reconnect). It is not safe for concurrent use; Session guards it.
type outbox struct {
	items []OutboxItem
	// inflight is the id of the item sent on the current connection and
	// not yet acknowledged or refused; empty when none.
	inflight string
}

// add appends a new pending item.
func (o *outbox) add(it OutboxItem) error {
	if len(o.items) >= MaxOutbox {
		return ErrOutboxFull
	}
	o.items = append(o.items, it)
	return nil
}

// index returns the position of the item with id, or -1.
func (o *outbox) index(id string) int {
	if id == "" {
		return -1
	}
	return slices.IndexFunc(o.items, func(it OutboxItem) bool { return it.ID == id })
}

// next returns the item to send now: the first pending one, unless an item
// is in flight.
func (o *outbox) next() (OutboxItem, bool) {
	if o.inflight != "" {
		return OutboxItem{}, false
	}
	for _, it := range o.items {
		if it.Status == StatusPending {
			return it, true
		}
	}
	return OutboxItem{}, false
}

// sent records that the item with id went out and waits for its
// acknowledgement.
func (o *outbox) sent(id string) { o.inflight = id }

// acked removes the item with id: the server stored it. It reports whether
// the outbox changed.
func (o *outbox) acked(id string) bool {
	i := o.index(id)
	if i < 0 {
		return false
	}
	if o.inflight == id {
		o.inflight = ""
	}
	o.items = slices.Delete(o.items, i, i+1)
	return true
}

// failed marks the item with id refused for good, with the reason in words.
// It reports whether the outbox changed.
func (o *outbox) failed(id, reason string) bool {
	i := o.index(id)
	if i < 0 {
		return false
	}
	if o.inflight == id {
		o.inflight = ""
	}
	o.items[i].Status, o.items[i].Reason = StatusFailed, reason
	return true
}

// release puts the in-flight item with id back in line, still first: the
// server asked to send it again later (rate_limited). It reports whether id
// was in flight.
func (o *outbox) release(id string) bool {
	if id == "" || o.inflight != id {
		return false
	}
	o.inflight = ""
	return true
}

// reset forgets what was in flight: the connection it went out on is gone,
// and the item is sent again after the next Joined.
func (o *outbox) reset() { o.inflight = "" }

// retry makes a failed item pending again and moves it to the end, so that
// the order of sending stays the order of the outbox.
func (o *outbox) retry(id string) error {
	i := o.index(id)
	if i < 0 {
		return ErrNotInOutbox
	}
	it := o.items[i]
	if it.Status != StatusFailed {
		return ErrNotFailed
	}
	it.Status, it.Reason = StatusPending, ""
	o.items = append(slices.Delete(o.items, i, i+1), it)
	return nil
}

// remove deletes the item with id, whatever its status. When it was in
// flight the server may still store it: its Message then shows up as any
// other.
func (o *outbox) remove(id string) error {
	i := o.index(id)
	if i < 0 {
		return ErrNotInOutbox
	}
	if o.inflight == id {
		o.inflight = ""
	}
	o.items = slices.Delete(o.items, i, i+1)
	return nil
}

// snapshot returns a copy of the items, in order; never nil.
func (o *outbox) snapshot() []OutboxItem {
	return append(make([]OutboxItem, 0, len(o.items)), o.items...)
}

// load replaces the items with what storage held, keeping only well-formed
// ones (a storage edited by hand or by an older version must not stall the
// outbox), with nothing in flight.
func (o *outbox) load(items []OutboxItem) {
	o.items, o.inflight = o.items[:0], ""
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		if it.ID == "" || seen[it.ID] || it.Text == "" || len(o.items) == MaxOutbox {
			continue
		}
		seen[it.ID] = true
		if it.Status != StatusFailed {
			it.Status, it.Reason = StatusPending, ""
		}
		o.items = append(o.items, it)
	}
}
