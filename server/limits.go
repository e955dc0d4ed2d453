package server

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiterPool holds one token bucket per key (a user id, a client IP),
// shared by every connection of that key so that opening more connections
// buys no more rate, and kept at least limiterKeep after the last one ends so
// that reconnecting refills nothing.
type limiterPool struct {
	limit rate.Limit
	burst int

	mu        sync.Mutex
	entries   map[string]*pooledLimiter
	lastSweep time.Time
}

// pooledLimiter is a key's limiter, how many connections hold it, and since
// when none does.
type pooledLimiter struct {
	lim      *rate.Limiter
	refs     int
	released time.Time
}

// limiterKeep is how long a limiter outlives its last connection: 1 minute,
// far longer than the message buckets take to refill, so that reconnecting
// does not refill them. The identity bucket (10 a minute) is kept as long.
const limiterKeep = time.Minute

// newLimiterPool returns a pool of buckets of burst tokens refilled at
// perSecond; a negative perSecond or burst means no limit.
func newLimiterPool(perSecond float64, burst int) *limiterPool {
	return &limiterPool{limit: limitOf(perSecond, burst), burst: burst, entries: make(map[string]*pooledLimiter)}
}

// limitOf is the rate.Limit of perSecond, rate.Inf (no limit) when
// perSecond or burst is negative.
func limitOf(perSecond float64, burst int) rate.Limit {
	if perSecond < 0 || burst < 0 {
		return rate.Inf
	}
	return rate.Limit(perSecond)
}

// acquire returns key's limiter for one more holder; release it when the
// holder ends.
func (l *limiterPool) acquire(key string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	// Forget the limiters nobody held for limiterKeep, at most twice per
	// limiterKeep: a sweep per acquire would make a join storm quadratic.
	if now.Sub(l.lastSweep) > limiterKeep/2 {
		l.lastSweep = now
		for k, e := range l.entries {
			if e.refs == 0 && now.Sub(e.released) > limiterKeep {
				delete(l.entries, k)
			}
		}
	}
	e := l.entries[key]
	if e == nil {
		e = &pooledLimiter{lim: rate.NewLimiter(l.limit, l.burst)}
		l.entries[key] = e
	}
	e.refs++
	return e.lim
}

// release forgets one hold on key's limiter; acquire forgets the limiter
// limiterKeep after no one holds it.
func (l *limiterPool) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.entries[key]; e != nil {
		if e.refs--; e.refs == 0 {
			e.released = time.Now()
		}
	}
}

// allow takes one token from every limiter, or none: it returns zero when
// the event may go, or how long to wait before it may.
func allow(now time.Time, limiters ...*rate.Limiter) time.Duration {
	var wait time.Duration
	var reservations [4]*rate.Reservation
	rs := reservations[:0]
	for _, l := range limiters {
		r := l.ReserveN(now, 1)
		rs = append(rs, r)
		if !r.OK() {
			wait = max(wait, time.Minute) // a bucket of size 0: never
			continue
		}
		wait = max(wait, r.DelayFrom(now))
	}
	if wait > 0 {
		for _, r := range rs {
			r.CancelAt(now)
		}
	}
	return wait
}

// connLimiter returns the limiter of one connection: burst tokens refilled
// at perSecond, no limit when either is negative.
func connLimiter(perSecond float64, burst int) *rate.Limiter {
	return rate.NewLimiter(limitOf(perSecond, burst), burst)
}

// limits are the server's shared token buckets. Connections hold the
// buckets of their client IP from the upgrade and those of their user from
// the join.
type limits struct {
	// userMsgs and ipMsgs bound the messages of a user across its
	// connections and of a client IP across its users.
	userMsgs, ipMsgs *limiterPool
	// ipIdentities bounds the new identities of a client IP; userJoins the
	// joins of a known user.
	ipIdentities, userJoins *limiterPool
}

// newLimits returns the buckets of cfg, whose zero values are already
// replaced by the defaults.
func newLimits(cfg Config) limits {
	perMinute := cfg.IPIdentities / 60
	if cfg.IPIdentities < 0 {
		perMinute = -1
	}
	return limits{
		userMsgs:     newLimiterPool(cfg.RateLimit, cfg.RateBurst),
		ipMsgs:       newLimiterPool(cfg.IPRate, cfg.IPBurst),
		ipIdentities: newLimiterPool(perMinute, cfg.IPIdentityBurst),
		userJoins:    newLimiterPool(userJoinRate, userJoinBurst),
	}
}
