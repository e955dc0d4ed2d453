package event

import (
	"fmt"
	"slices"
)

// MemberList is a room's presence list as the Members of its Joined events
// carry it, kept encoded: the server adds each user as it arrives, encoding
// it once, and each joiner's Joined copies the encoded list instead of
// encoding every member again, so that a burst of joins into a large room
// costs a copy per join. Users are kept in the order they were added. The
// zero value is an empty list. It is not safe for concurrent use: the server
// guards it with the room's lock.
type MemberList struct {
	users   []string // user ids, in the order they were added
	entries [][]byte // entries[i] is the JSON object of users[i]

	// prefix is the JSON of the first len(ends) entries, joined by commas:
	// the most that fit within MaxMembers and MaxMembersBytes. ends[i] is
	// the length of prefix that holds the first i+1 entries. Both are
	// rebuilt from entries when stale.
	prefix []byte
	ends   []int
	stale  bool
}

// Add appends m, a user that is not in the list, at the end.
func (l *MemberList) Add(m Member) error {
	entry, err := encodeJSON(m)
	if err != nil {
		return fmt.Errorf("encode member: %w", err)
	}
	l.users = append(l.users, m.User)
	l.entries = append(l.entries, entry)
	if !l.stale && len(l.ends) == len(l.users)-1 {
		l.extend(entry) // the prefix held everyone: it may hold m too
	}
	return nil
}

// Remove takes user out of the list, if it is in it.
func (l *MemberList) Remove(user string) {
	i := slices.Index(l.users, user)
	if i < 0 {
		return
	}
	l.users = slices.Delete(l.users, i, i+1)
	l.entries = slices.Delete(l.entries, i, i+1)
	l.stale = true // those after it move up, and one more may fit
}

// Len returns how many users the list holds.
func (l *MemberList) Len() int { return len(l.users) }

// Users returns the list's user ids, in order, as a new slice.
func (l *MemberList) Users() []string { return slices.Clone(l.users) }

// extend appends entry to the prefix when it fits within MaxMembers and
// MaxMembersBytes, and reports whether it did.
func (l *MemberList) extend(entry []byte) bool {
	size := len(entry)
	if len(l.ends) > 0 {
		size++ // the comma
	}
	if len(l.ends)+1 > MaxMembers || len(l.prefix)+size > MaxMembersBytes {
		return false
	}
	if len(l.ends) > 0 {
		l.prefix = append(l.prefix, ',')
	}
	l.prefix = append(l.prefix, entry...)
	l.ends = append(l.ends, len(l.prefix))
	return true
}

// refresh rebuilds the prefix after a Remove.
func (l *MemberList) refresh() {
	if !l.stale {
		return
	}
	l.prefix, l.ends, l.stale = l.prefix[:0], l.ends[:0], false
	for _, e := range l.entries {
		if !l.extend(e) {
			return
		}
	}
}

// prefixOf returns the length of the prefix that holds its first k entries.
func (l *MemberList) prefixOf(k int) int {
	if k == 0 {
		return 0
	}
	return l.ends[k-1]
}

// EncodeJoined returns the JSON form of j, as Encode would, with Members
// and MembersTruncated taken from members (those of j are ignored): every
// user of the list, in its order, when they fit within MaxMembers and
// MaxMembersBytes; otherwise the earliest that fit together with j.User
// (which comes last when it is not among them) and MembersTruncated. j.User
// is expected in the list: it is the joiner, and the server adds it before
// it encodes the joiner's Joined.
func EncodeJoined(j Joined, members *MemberList) ([]byte, error) {
	j.Members, j.MembersTruncated = nil, false
	head, err := Encode(j)
	if err != nil {
		return nil, err
	}
	members.refresh()
	n := len(members.ends)
	truncated := n < len(members.users)
	list := members.prefix
	var own []byte // the joiner's entry, when it must be added to a cut prefix
	if truncated && !slices.Contains(members.users[:n], j.User) {
		if i := slices.Index(members.users[n:], j.User); i >= 0 {
			own = members.entries[n+i]
		} else if own, err = encodeJSON(Member{User: j.User, Name: j.Name}); err != nil {
			return nil, fmt.Errorf("encode %s event: %w", TypeJoined, err)
		}
		// The earliest others that fit with it.
		k := min(n, MaxMembers-1)
		for k > 0 && members.prefixOf(k)+1+len(own) > MaxMembersBytes {
			k--
		}
		list = members.prefix[:members.prefixOf(k)]
	}
	if len(list) == 0 && own == nil {
		return head, nil // no member: as Encode omits an empty Members
	}
	size := len(head) + len(`,"members":[],"members_truncated":true`) + len(list) + 1 + len(own)
	out := make([]byte, 0, size)
	out = append(out, head[:len(head)-1]...) // up to the closing brace
	out = append(out, `,"members":[`...)
	out = append(out, list...)
	if own != nil {
		if len(list) > 0 {
			out = append(out, ',')
		}
		out = append(out, own...)
	}
	out = append(out, ']')
	if truncated {
		out = append(out, `,"members_truncated":true`...)
	}
	out = append(out, '}')
	if len(out) > MaxServerFrameBytes {
		return nil, fmt.Errorf("encode %s event: %d bytes, over MaxServerFrameBytes", TypeJoined, len(out))
	}
	return out, nil
}
