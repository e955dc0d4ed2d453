package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/chatwasm/chat/server/fdlimit"
)

// Settling of the server's memory after the leave (afterLeave).
const (
	// leavePoll is how often the server's RSS is read while it settles:
	// 250 ms, a few dozen reads of /proc over a settle.
	leavePoll = 250 * time.Millisecond
	// leaveQuiet is how long the RSS must stay within leaveBand for it to
	// count as settled: 15 s. A server that returns what its connections
	// freed does so seconds after they left (the chat server within
	// 10 s: it checks every 5 s, and releases once the count held still
	// for a check), and the Go runtime's own return paces itself over
	// seconds too; a shorter quiet took the pause before either for the end.
	leaveQuiet = 15 * time.Second
	// leaveBand is how much the RSS may move during leaveQuiet and still
	// count as settled: 1% of the RSS before the run, well below the 10%
	// an operator compares against.
	leaveBand = 100
)

// afterLeave waits, once every connection is closed, until the server's
// resident memory settles (moves less than 1/leaveBand of the RSS before
// the run over leaveQuiet), cfg.LeaveWait passes or ctx ends, and records
// what it settled to in rep.
func (r *run) afterLeave(ctx context.Context, rep *Report) error {
	start := time.Now()
	band := max(rep.ServerRSSBefore/leaveBand, 64<<10)
	type reading struct {
		at  time.Time
		rss int64
	}
	var window []reading
	tick := time.NewTicker(leavePoll)
	defer tick.Stop()
	for {
		rss, err := serverRSS(r.cfg.ServerPID)
		if err != nil {
			return err
		}
		now := time.Now()
		window = append(window, reading{now, rss})
		for len(window) > 1 && now.Sub(window[1].at) >= leaveQuiet {
			window = window[1:] // window[0] is the newest reading leaveQuiet old or more
		}
		rep.ServerRSSLeft, rep.LeaveSettle = rss, now.Sub(start)
		if now.Sub(window[0].at) >= leaveQuiet {
			lo, hi := rss, rss
			for _, w := range window {
				lo, hi = min(lo, w.rss), max(hi, w.rss)
			}
			if hi-lo <= band {
				rep.LeaveSettled = true
				return nil
			}
		}
		if now.Sub(start) >= r.cfg.LeaveWait {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// hold waits cfg.Hold, or until ctx ends, with the clients connected.
func (r *run) hold(ctx context.Context) {
	if r.cfg.Hold <= 0 {
		return
	}
	t := time.NewTimer(r.cfg.Hold)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// fileHeadroom is how many files the generator keeps for itself beside its
// connections: 64, for the binary, its standard streams, and the runtime.
const fileHeadroom = 64

// raiseFileLimit raises the generator's limit of open files to the hard
// limit, and warns on errOut when that still leaves too few for clients
// connections: every connection holds a file.
func raiseFileLimit(clients int, errOut io.Writer) {
	l, err := fdlimit.Raise()
	if err != nil {
		fmt.Fprintf(errOut, "chat bench: %v\n", err)
		return
	}
	if uint64(clients)+fileHeadroom > l.Soft {
		fmt.Fprintf(errOut, "chat bench: %d clients need %d open files, and the limit is %d: expect \"too many open files\"\n",
			clients, clients+fileHeadroom, l.Soft)
	}
}
