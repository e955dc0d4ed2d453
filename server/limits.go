package server

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// userLimits holds one rate limiter per user, shared by the user's
// connections so that opening more tabs buys no more rate, and kept at least
// limiterKeep after the last one ends so that reconnecting refills nothing.
type userLimits struct {
	limit rate.Limit
	burst int

	mu    sync.Mutex
	users map[string]*userLimit
}

// userLimit is a user's limiter, how many connections hold it, and since
// when none does.
type userLimit struct {
	lim      *rate.Limiter
	refs     int
	released time.Time
}

// limiterKeep is how long a user's limiter outlives its last connection:
// 1 minute, far longer than the bucket takes to refill, so that reconnecting
// does not refill it.
const limiterKeep = time.Minute

func newUserLimits(perSecond float64, burst int) *userLimits {
	return &userLimits{limit: rate.Limit(perSecond), burst: burst, users: make(map[string]*userLimit)}
}

// acquire returns the user's limiter for one more connection; release it
// when the connection ends.
func (l *userLimits) acquire(user string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	for name, u := range l.users {
		if u.refs == 0 && now.Sub(u.released) > limiterKeep {
			delete(l.users, name)
		}
	}
	u := l.users[user]
	if u == nil {
		u = &userLimit{lim: rate.NewLimiter(l.limit, l.burst)}
		l.users[user] = u
	}
	u.refs++
	return u.lim
}

// release forgets a connection's hold on the user's limiter; acquire
// forgets the limiter limiterKeep after no connection holds it.
func (l *userLimits) release(user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if u := l.users[user]; u != nil {
		if u.refs--; u.refs == 0 {
			u.released = time.Now()
		}
	}
}

// allow takes one token from every limiter, or none: it returns zero when
// the message may go, or how long to wait before it may.
func allow(now time.Time, limiters ...*rate.Limiter) time.Duration {
	var wait time.Duration
	reservations := make([]*rate.Reservation, 0, len(limiters))
	for _, l := range limiters {
		r := l.ReserveN(now, 1)
		reservations = append(reservations, r)
		wait = max(wait, r.DelayFrom(now))
	}
	if wait > 0 {
		for _, r := range reservations {
			r.CancelAt(now)
		}
	}
	return wait
}
