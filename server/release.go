package server

import (
	"runtime/debug"
	"time"
)

// Returning memory to the system once the number of connections moved a
// lot and then held still (releaser).
const (
	// releaseCheck is how often the server looks: 5 s. A connection storm
	// or a mass leave is over within seconds, and a release is then due
	// seconds later, not at the Go runtime's own pace (a collection every
	// 2 minutes when nothing allocates, then a gradual return).
	releaseCheck = 5 * time.Second
	// releaseShare and releaseMin are how far the count must have moved
	// since the last release: by a tenth of it (of the larger count), and
	// by 100 connections at least, so that ordinary comings and goings
	// never cost a collection; a release is one full collection, tens of
	// milliseconds of one core at 10,000 connections.
	releaseShare = 10
	releaseMin   = 100
)

// releaser decides when to return the server's free memory to the system:
// a connection's setup leaves several KiB of garbage (net/http's request
// buffers among them) and its end frees what it held, and without a
// release the process keeps the peak of either as resident memory for
// minutes. Only Run's loop calls it.
type releaser struct {
	released int // the connection count at the last release
	last     int // the count at the last check
}

// check is the releaser's tick, given the connection count now: once the
// count moved by releaseShare and releaseMin since the last release and
// held still since the last check, it frees the memory (debug.FreeOSMemory)
// and reports true.
func (r *releaser) check(now int) bool {
	still := now == r.last
	r.last = now
	moved := now - r.released
	if moved < 0 {
		moved = -moved
	}
	if !still || moved < releaseMin || moved*releaseShare < max(now, r.released) {
		return false
	}
	r.released = now
	debug.FreeOSMemory()
	return true
}
