package event

import "fmt"

// EncodePresence returns the JSON forms of the Presence events that carry
// p's changes, as Encode would write each, in as few events as the bounds
// allow: each lists at most MaxPresenceEntries users and fits in
// MaxServerFrameBytes. p.Joined come first, in order, then p.Left. The
// events may be applied in any order, since a user is in at most one of
// the two lists. A p with no change gives no event. Each member is
// encoded once, so a change of N users costs O(N) however it is split.
func EncodePresence(p Presence) ([][]byte, error) {
	if len(p.Joined) == 0 && len(p.Left) == 0 {
		return nil, nil
	}
	head, err := Encode(Presence{Room: p.Room})
	if err != nil {
		return nil, err
	}
	head = head[:len(head)-1] // up to the closing brace
	var (
		out  [][]byte
		cur  []byte
		n    int  // entries in cur
		list byte // the list cur has open: 0 none, 'j' joined, 'l' left
	)
	closeEvent := func() {
		if cur == nil {
			return
		}
		cur = append(cur, ']', '}')
		out = append(out, cur)
		cur, n, list = nil, 0, 0
	}
	add := func(which byte, m Member) error {
		entry, err := encodeJSON(m)
		if err != nil {
			return fmt.Errorf("encode %s event: %w", TypePresence, err)
		}
		for {
			if cur == nil {
				cur = append(make([]byte, 0, len(head)+256), head...)
			}
			// What adding entry costs: the list opened (and the one before
			// closed) or a comma, then the entry; and the event's end.
			extra := len(entry) + 1
			switch {
			case list == which:
			case list == 0:
				extra += len(`,"joined":[`) - 1
			default:
				extra += len(`],"left":[`) - 1
			}
			if n > 0 && (n+1 > MaxPresenceEntries || len(cur)+extra+len(`]}`) > MaxServerFrameBytes) {
				closeEvent()
				continue
			}
			switch {
			case list == which:
				cur = append(cur, ',')
			case list == 0 && which == 'j':
				cur = append(cur, `,"joined":[`...)
			case list == 0:
				cur = append(cur, `,"left":[`...)
			default:
				cur = append(cur, `],"left":[`...)
			}
			list = which
			cur = append(cur, entry...)
			n++
			return nil
		}
	}
	for _, m := range p.Joined {
		if err := add('j', m); err != nil {
			return nil, err
		}
	}
	for _, m := range p.Left {
		if err := add('l', m); err != nil {
			return nil, err
		}
	}
	closeEvent()
	for _, b := range out {
		if len(b) > MaxServerFrameBytes {
			return nil, fmt.Errorf("encode %s event: %d bytes, over MaxServerFrameBytes", TypePresence, len(b))
		}
	}
	return out, nil
}
