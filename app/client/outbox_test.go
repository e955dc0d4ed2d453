package client

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestOutboxStateMachine drives an outbox through the operations a Session
// applies and checks, after each, what is sent next and what is kept.
func TestOutboxStateMachine(t *testing.T) {
	t.Parallel()
	// ops: "+a" add a, "s" send next (expects the id after "="), "k a" ack,
	// "f a" fail, "r a" release, "x" reset (reconnect), "R a" retry, "d a"
	// remove. want is the outbox afterwards: id, with "!" for failed and
	// "*" for in flight.
	type step struct {
		op   string
		want string
		err  error
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"one in flight, in order", []step{
			{"+a", "a", nil}, {"+b", "a b", nil},
			{"s=a", "a* b", nil},
			{"s=", "a* b", nil}, // nothing more while a is in flight
			{"k a", "b", nil},
			{"s=b", "b*", nil}, {"k b", "", nil},
			{"s=", "", nil},
		}},
		{"reconnect resends the head", []step{
			{"+a", "a", nil}, {"+b", "a b", nil}, {"s=a", "a* b", nil},
			{"x", "a b", nil}, {"s=a", "a* b", nil},
		}},
		{"rate limited: the head waits and stays first", []step{
			{"+a", "a", nil}, {"s=a", "a*", nil}, {"+b", "a* b", nil},
			{"r b", "a* b", nil}, // only the one in flight is released
			{"r a", "a b", nil}, {"s=a", "a* b", nil},
		}},
		{"a failure lets the next go", []step{
			{"+a", "a", nil}, {"+b", "a b", nil}, {"s=a", "a* b", nil},
			{"f a", "a! b", nil}, {"s=b", "a! b*", nil},
		}},
		{"retry goes to the end", []step{
			{"+a", "a", nil}, {"+b", "a b", nil}, {"s=a", "a* b", nil}, {"f a", "a! b", nil},
			{"R b", "a! b", ErrNotFailed},
			{"R a", "b a", nil}, {"s=b", "b* a", nil}, {"k b", "a", nil}, {"s=a", "a*", nil},
			{"R z", "a*", ErrNotInOutbox},
		}},
		{"delete", []step{
			{"+a", "a", nil}, {"+b", "a b", nil}, {"s=a", "a* b", nil},
			{"d a", "b", nil}, // in flight: deleting frees the line
			{"s=b", "b*", nil}, {"d z", "b*", ErrNotInOutbox},
		}},
		{"an ack of another id, or of none, changes nothing", []step{
			{"+a", "a", nil}, {"s=a", "a*", nil}, {"k zz", "a*", nil}, {"k ", "a*", nil},
			{"f zz", "a*", nil},
		}},
		{"an ack out of order (a replay) removes it", []step{
			{"+a", "a", nil}, {"+b", "a b", nil}, {"s=a", "a* b", nil}, {"k b", "a*", nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var o outbox
			for i, st := range tt.steps {
				var err error
				op, arg, _ := strings.Cut(st.op, " ")
				switch {
				case op[0] == '+':
					err = o.add(OutboxItem{ID: op[1:], Text: "text " + op[1:], Status: StatusPending})
				case strings.HasPrefix(op, "s="):
					it, ok := o.next()
					if want := op[2:]; it.ID != want || ok != (want != "") {
						t.Fatalf("step %d: next = %q, %v; want %q", i, it.ID, ok, want)
					}
					if ok {
						o.sent(it.ID)
					}
				case op == "k":
					o.acked(arg)
				case op == "f":
					o.failed(arg, "Refused.")
				case op == "r":
					o.release(arg)
				case op == "x":
					o.reset()
				case op == "R":
					err = o.retry(arg)
				case op == "d":
					err = o.remove(arg)
				default:
					t.Fatalf("bad op %q", st.op)
				}
				if !errors.Is(err, st.err) {
					t.Fatalf("step %d (%s): error %v, want %v", i, st.op, err, st.err)
				}
				if got := describe(&o); got != st.want {
					t.Fatalf("step %d (%s): outbox %q, want %q", i, st.op, got, st.want)
				}
			}
		})
	}
}

// describe writes the outbox as the steps of TestOutboxStateMachine do.
func describe(o *outbox) string {
	var parts []string
	for _, it := range o.items {
		s := it.ID
		if it.Status == StatusFailed {
			s += "!"
		}
		if it.ID == o.inflight {
			s += "*"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func TestOutboxLimits(t *testing.T) {
	t.Parallel()
	var o outbox
	for i := range MaxOutbox {
		if err := o.add(OutboxItem{ID: fmt.Sprint(i), Text: "x", Status: StatusPending}); err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
	}
	if err := o.add(OutboxItem{ID: "one too many", Text: "x"}); !errors.Is(err, ErrOutboxFull) {
		t.Fatalf("add past MaxOutbox: %v", err)
	}
	// A snapshot is a copy.
	snap := o.snapshot()
	snap[0].Text = "changed"
	if o.items[0].Text != "x" {
		t.Fatal("a snapshot shares the outbox's items")
	}
}

func TestOutboxLoad(t *testing.T) {
	t.Parallel()
	var o outbox
	o.inflight = "stale"
	o.load([]OutboxItem{
		{ID: "a", Text: "kept"},       // no status: pending
		{ID: "", Text: "no id"},       // dropped
		{ID: "b", Text: ""},           // dropped
		{ID: "a", Text: "a second a"}, // dropped
		{ID: "c", Text: "failed", Status: StatusFailed, Reason: "No."}, // kept as is
		{ID: "d", Text: "odd status", Status: "sending", Reason: "?"},  // pending
	})
	if got := describe(&o); got != "a c! d" {
		t.Fatalf("loaded %q, want %q", got, "a c! d")
	}
	if o.items[2].Status != StatusPending || o.items[2].Reason != "" || o.items[1].Reason != "No." {
		t.Fatalf("loaded %#v", o.items)
	}
}
