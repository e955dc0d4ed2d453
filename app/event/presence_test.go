package event

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// decodePresences encodes p with EncodePresence, checks every event against
// the bounds and against what Encode writes for it, and returns them
// decoded.
func decodePresences(t testing.TB, p Presence) []Presence {
	t.Helper()
	encoded, err := EncodePresence(p)
	if err != nil {
		t.Fatalf("EncodePresence: %v", err)
	}
	out := make([]Presence, 0, len(encoded))
	for _, b := range encoded {
		if len(b) > MaxServerFrameBytes {
			t.Fatalf("presence of %d bytes, over MaxServerFrameBytes", len(b))
		}
		events, err := DecodeServer(b)
		if err != nil || len(events) != 1 {
			t.Fatalf("DecodeServer(%.100s): %d events, %v", b, len(events), err)
		}
		got, ok := events[0].(Presence)
		if !ok {
			t.Fatalf("decoded %#v, want a Presence", events[0])
		}
		if n := len(got.Joined) + len(got.Left); n == 0 || n > MaxPresenceEntries {
			t.Fatalf("presence of %d entries, want 1 to %d", n, MaxPresenceEntries)
		}
		if got.Room != p.Room {
			t.Fatalf("presence of room %q, want %q", got.Room, p.Room)
		}
		if want, err := Encode(got); err != nil || !bytes.Equal(b, want) {
			t.Fatalf("EncodePresence wrote\n%.300s\nEncode writes\n%.300s (%v)", b, want, err)
		}
		out = append(out, got)
	}
	return out
}

// members returns n members whose ids and names are made by id and name.
func members(n int, id func(i int) string, name func(i int) string) []Member {
	ms := make([]Member, n)
	for i := range ms {
		ms[i] = Member{User: id(i), Name: name(i)}
	}
	return ms
}

// TestEncodePresenceSplits: a change of any size comes as events within
// MaxPresenceEntries and MaxServerFrameBytes that together hold every
// joined and left user once, in order, in as few events as the bounds
// allow.
func TestEncodePresenceSplits(t *testing.T) {
	t.Parallel()
	short := func(i int) string { return fmt.Sprint("name-", i) }
	// The largest member: a 64-byte id, 32 characters of 4 bytes.
	longID := func(i int) string { return fmt.Sprintf("%064d", i) }
	longName := func(int) string { return strings.Repeat("🙂", MaxNameLen) }
	for _, tt := range []struct {
		name         string
		joined, left []Member
		events       int
	}{
		{"none", nil, nil, 0},
		{"one join", members(1, seqID, short), nil, 1},
		{"one leave", nil, members(1, seqID, short), 1},
		{"both", members(3, seqID, short), members(2, func(i int) string { return fmt.Sprint("v", i) }, short), 1},
		{"at the entry bound", members(MaxPresenceEntries, seqID, short), nil, 1},
		{"past the entry bound", members(MaxPresenceEntries, seqID, short), members(1, func(int) string { return "v" }, short), 2},
		{"2000 joins", members(2000, seqID, short), nil, 4},
		{"large entries", members(MaxPresenceEntries, longID, longName), nil, 2},
		{"large, both lists", members(400, longID, longName), members(400, func(i int) string { return fmt.Sprintf("%063dv", i) }, longName), 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := Presence{Room: "team-7", Joined: tt.joined, Left: tt.left}
			got := decodePresences(t, p)
			if len(got) != tt.events {
				t.Fatalf("%d events, want %d", len(got), tt.events)
			}
			var joined, left []Member
			for _, e := range got {
				joined = append(joined, e.Joined...)
				left = append(left, e.Left...)
			}
			if !reflect.DeepEqual(joined, tt.joined) || !reflect.DeepEqual(left, tt.left) {
				t.Fatalf("split lost or reordered members: %d joined, %d left, want %d and %d", len(joined), len(left), len(tt.joined), len(tt.left))
			}
		})
	}
}

// FuzzEncodePresence: whatever the members (names of any bytes, any
// lengths), EncodePresence's events stay within the bounds and carry every
// member once, in order.
func FuzzEncodePresence(f *testing.F) {
	f.Add(uint16(3), uint16(2), []byte("Ann"), uint8(1))
	f.Add(uint16(600), uint16(0), []byte("🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂"), uint8(64))
	f.Add(uint16(0), uint16(900), []byte("<\"\\\u2028>"), uint8(200))
	f.Fuzz(func(t *testing.T, nj, nl uint16, name []byte, idLen uint8) {
		// Up to 1200 of each: a split in three events of MaxPresenceEntries.
		// Names are cut to MaxNameLen 4-byte characters, the longest a
		// valid name is; longer ones only make each execution slower (5000
		// members of the fuzzer's megabyte names exhaust a worker's memory).
		nj, nl = nj%1200, nl%1200
		name = name[:min(len(name), 4*MaxNameLen)]
		id := func(prefix string) func(int) string {
			return func(i int) string {
				s := fmt.Sprint(prefix, i)
				if pad := int(idLen%65) - len(s); pad > 0 {
					s += strings.Repeat("x", pad)
				}
				return s
			}
		}
		// The server sends only valid names: invalid bytes would be written
		// as \ufffd, which reads back as another string.
		named := func(int) string { return strings.ToValidUTF8(string(name), "?") }
		p := Presence{Room: DefaultRoom, Joined: members(int(nj), id("j"), named), Left: members(int(nl), id("l"), named)}
		var joined, left []Member
		for _, e := range decodePresences(t, p) {
			joined = append(joined, e.Joined...)
			left = append(left, e.Left...)
		}
		if len(joined) != int(nj) || len(left) != int(nl) {
			t.Fatalf("%d joined and %d left, want %d and %d", len(joined), len(left), nj, nl)
		}
		for i := range joined {
			if joined[i].User != p.Joined[i].User {
				t.Fatalf("joined[%d] is %q, want %q", i, joined[i].User, p.Joined[i].User)
			}
		}
		for i := range left {
			if left[i].User != p.Left[i].User {
				t.Fatalf("left[%d] is %q, want %q", i, left[i].User, p.Left[i].User)
			}
		}
	})
}
