package client

import (
	"math/rand/v2"
	"time"
)

// Reconnect delays of the zero Backoff.
const (
	// DefaultBackoffBase is the ceiling of the first delay: a client whose
	// connection just dropped tries again within half a second, and a server
	// restart's 1,000 clients come back spread over that half second.
	DefaultBackoffBase = 500 * time.Millisecond
	// DefaultBackoffMax caps the ceiling: after a long outage a client tries
	// at least every 10 s, so it is back soon after the server is, and the
	// browser's online event and a visible tab (Session.Wake) cut the wait.
	DefaultBackoffMax = 10 * time.Second
)

// Backoff computes how long to wait before a reconnect: exponential with full
// jitter, a random delay in [0, min(Max, Base·2^attempt)). The jitter spreads
// the clients of a restarted server instead of bringing them back at once.
// The zero value uses DefaultBackoffBase and DefaultBackoffMax.
type Backoff struct {
	// Base is the ceiling of attempt 0. Zero value means DefaultBackoffBase.
	Base time.Duration
	// Max caps every ceiling. Zero value means DefaultBackoffMax.
	Max time.Duration
}

// limit returns the largest ceiling, Max or its default.
func (b Backoff) limit() time.Duration {
	if b.Max <= 0 {
		return DefaultBackoffMax
	}
	return b.Max
}

// Ceiling returns the exclusive upper bound of the delay before attempt
// (0 for the first try after a drop): min(Max, Base·2^attempt).
func (b Backoff) Ceiling(attempt int) time.Duration {
	base, limit := b.Base, b.limit()
	if base <= 0 {
		base = DefaultBackoffBase
	}
	if attempt < 0 {
		attempt = 0
	}
	c := base
	for range attempt {
		if c >= limit/2 {
			return limit
		}
		c *= 2
	}
	return min(c, limit)
}

// Delay returns a random delay in [0, Ceiling(attempt)), uniformly
// distributed (full jitter).
func (b Backoff) Delay(attempt int) time.Duration {
	return time.Duration(rand.Int64N(int64(b.Ceiling(attempt))))
}
