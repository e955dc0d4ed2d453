package bench

import (
	"bytes"
	"context"
	"hash/maphash"
	"strings"
	"sync/atomic"
	"time"

	"github.com/chatwasm/chat/app/event"
)

// presenceSeed hashes user ids for the presence check: one per process, so
// that a client's list and its room's bench users hash alike.
var presenceSeed = maphash.MakeSeed()

// userHash is the hash of one user id in a list's sum.
func userHash(user string) uint64 { return maphash.String(presenceSeed, user) }

// presenceList is a client's presence list as the app keeps it, of the
// run's users only (their names end with the run's id): the members of
// its Joined, then each Presence applied idempotently. The
// reader owns users; it publishes the list's size and the XOR of its
// users' hashes for the run to compare with the room's bench users, so
// that checking a client costs two loads, not a walk of its list.
type presenceList struct {
	// The reader's: the listed users by userHash (a 64-bit hash stands
	// for the id: no string kept per entry, and a collision among a few
	// thousand ids is a chance in 10^12), the XOR of those hashes, and
	// " " and the run's id, the end of its users' names.
	users map[uint64]struct{}
	sum   uint64
	tag   string

	// Published by the reader after each change.
	count     atomic.Int64
	hash      atomic.Uint64
	truncated atomic.Bool  // the Joined left users out (members_truncated)
	listed    atomic.Int64 // how many users the Joined listed
}

// joined starts the list from a Joined's members, those of run.
func (l *presenceList) joined(j event.Joined, run string) {
	l.users = make(map[uint64]struct{}, len(j.Members))
	l.sum, l.tag = 0, " "+run
	for _, m := range j.Members {
		l.add(m)
	}
	l.truncated.Store(j.MembersTruncated)
	l.listed.Store(int64(len(l.users)))
	l.publish()
}

// apply applies a Presence: each of Joined added unless listed, each of
// Left removed if listed.
func (l *presenceList) apply(p event.Presence) {
	if l.users == nil {
		return // before the Joined: the server sends none
	}
	for _, m := range p.Joined {
		l.add(m)
	}
	for _, m := range p.Left {
		l.remove(m)
	}
	l.publish()
}

// remove takes m out, when it is one of the run's users and listed.
func (l *presenceList) remove(m event.Member) {
	if !strings.HasSuffix(m.Name, l.tag) {
		return
	}
	h := userHash(m.User)
	if _, ok := l.users[h]; ok {
		delete(l.users, h)
		l.sum ^= h
	}
}

// applyLine applies one encoded presence event of room without decoding
// it with encoding/json: a storm of joins sends every client thousands of
// entries, and decoding them would make the generator, not the server,
// the bottleneck of the connect phase. It reads the entries as Encode
// writes them ({"user":"…","name":"…"}, "joined" before "left"); a line
// with an escape in it, or of another room, goes to DecodeServer instead.
func (l *presenceList) applyLine(line []byte, room string) {
	if l.users == nil {
		return
	}
	head := []byte(`{"type":"presence","room":"` + room + `"`)
	if !bytes.HasPrefix(line, head) {
		if bytes.HasPrefix(line, []byte(`{"type":"presence","room":"`)) && !bytes.Contains(line, []byte{'\\'}) {
			return // another room's
		}
		l.decodeLine(line, room)
		return
	}
	if bytes.IndexByte(line, '\\') >= 0 {
		l.decodeLine(line, room)
		return
	}
	rest := line[len(head):]
	left := len(rest)
	if i := bytes.Index(rest, []byte(`"left":[`)); i >= 0 {
		left = i
	}
	userKey, nameKey := []byte(`{"user":"`), []byte(`","name":"`)
	for at := 0; ; {
		i := bytes.Index(rest[at:], userKey)
		if i < 0 {
			break
		}
		start := at + i + len(userKey)
		j := bytes.Index(rest[start:], nameKey)
		if j < 0 {
			break
		}
		user := rest[start : start+j]
		nameStart := start + j + len(nameKey)
		k := bytes.IndexByte(rest[nameStart:], '"')
		if k < 0 {
			break
		}
		name := rest[nameStart : nameStart+k]
		at = nameStart + k
		if !bytes.HasSuffix(name, []byte(l.tag)) {
			continue
		}
		h := maphash.Bytes(presenceSeed, user)
		_, listed := l.users[h]
		switch {
		case start < left && !listed:
			l.users[h] = struct{}{}
			l.sum ^= h
		case start > left && listed:
			delete(l.users, h)
			l.sum ^= h
		}
	}
	l.publish()
}

// decodeLine applies a presence line that applyLine cannot read, decoded.
func (l *presenceList) decodeLine(line []byte, room string) {
	events, _ := event.DecodeServer(line)
	for _, e := range events {
		if p, ok := e.(event.Presence); ok && p.Room == room {
			l.apply(p)
		}
	}
}

// add adds m, when it is one of the run's users and not listed.
func (l *presenceList) add(m event.Member) {
	if !strings.HasSuffix(m.Name, l.tag) {
		return
	}
	h := userHash(m.User)
	if _, ok := l.users[h]; !ok {
		l.users[h] = struct{}{}
		l.sum ^= h
	}
}

func (l *presenceList) publish() {
	l.count.Store(int64(len(l.users)))
	l.hash.Store(l.sum)
}

// roomUsers is the set of a room's bench users, as a list's size and sum.
type roomUsers struct {
	count int64
	sum   uint64
}

// right reports whether l is the room's list: every bench user of the
// room and no one else. A list cut by its Joined cannot name them all;
// its count is checked instead: at least what its Joined listed (no one
// lost) and at most the room's bench users (no one invented).
func (l *presenceList) right(want roomUsers) bool {
	n := l.count.Load()
	if l.truncated.Load() {
		return n >= l.listed.Load() && n <= want.count
	}
	return n == want.count && l.hash.Load() == want.sum
}

// presence waits, from the last join (at lastJoin), until every joined
// client's presence list is right (presenceList.right), or cfg.Drain has
// passed, or ctx ends. It reports how many were right at the end, how
// many were checked by count, and how long after the last join the last
// one became right (zero when not all did).
func (r *run) presence(ctx context.Context, lastJoin time.Time, rep *Report) {
	rep.PresenceChecked = true
	want := make([]roomUsers, r.cfg.Rooms)
	var clients []*client
	for _, c := range r.clients {
		if c.ok {
			want[c.room].count++
			want[c.room].sum ^= userHash(c.user)
			clients = append(clients, c)
		}
	}
	deadline := lastJoin.Add(r.cfg.Drain)
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for {
		right := 0
		for _, c := range clients {
			if c.people.right(want[c.room]) {
				right++
			}
		}
		now := time.Now()
		rep.PresenceRight = right
		if right == len(clients) {
			rep.PresenceSettle = now.Sub(lastJoin)
			break
		}
		if now.After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
	for _, c := range clients {
		if c.people.truncated.Load() {
			rep.PresenceTruncated++
		}
	}
}
