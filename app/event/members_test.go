package event

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// joinedOf encodes the Joined of user from l, checks that it is what Encode
// writes for the members it lists, and returns it decoded.
func joinedOf(t *testing.T, l *MemberList, user string) Joined {
	t.Helper()
	j := Joined{Room: DefaultRoom, User: user, Name: "name-" + user, Token: "v1.abc.def", Seq: 7}
	b, err := EncodeJoined(j, l)
	if err != nil {
		t.Fatalf("EncodeJoined: %v", err)
	}
	if len(b) > MaxServerFrameBytes {
		t.Fatalf("joined of %d bytes, over MaxServerFrameBytes", len(b))
	}
	events, err := DecodeServer(b)
	if err != nil || len(events) != 1 {
		t.Fatalf("DecodeServer(%.100s): %d events, %v", b, len(events), err)
	}
	got, ok := events[0].(Joined)
	if !ok {
		t.Fatalf("decoded %#v, want a Joined", events[0])
	}
	if want, err := Encode(got); err != nil || !bytes.Equal(b, want) {
		t.Fatalf("EncodeJoined wrote\n%.300s\nEncode writes\n%.300s (%v)", b, want, err)
	}
	return got
}

// usersOf returns the user ids of members, in order.
func usersOf(members []Member) []string {
	users := make([]string, len(members))
	for i, m := range members {
		users[i] = m.User
	}
	return users
}

// fill returns a list of n users u0…u(n-1), each named name-<id>.
func fill(t *testing.T, n int, id func(i int) string) *MemberList {
	t.Helper()
	var l MemberList
	for i := range n {
		if err := l.Add(Member{User: id(i), Name: "name-" + id(i)}); err != nil {
			t.Fatal(err)
		}
	}
	return &l
}

func seqID(i int) string { return fmt.Sprint("u", i) }

// TestMemberList: members in the order they were added, names with them, a
// removal anywhere, and the bytes Encode would write for the same Joined.
func TestMemberList(t *testing.T) {
	t.Parallel()
	l := fill(t, 4, seqID)
	got := joinedOf(t, l, "u3")
	want := []Member{{"u0", "name-u0"}, {"u1", "name-u1"}, {"u2", "name-u2"}, {"u3", "name-u3"}}
	if !reflect.DeepEqual(got.Members, want) || got.MembersTruncated {
		t.Fatalf("members %v (truncated %v), want %v", got.Members, got.MembersTruncated, want)
	}
	l.Remove("u1")
	l.Remove("nobody")
	if err := l.Add(Member{User: "u1", Name: "name-u1"}); err != nil { // back, as a new arrival
		t.Fatal(err)
	}
	l.Remove("u3")
	got = joinedOf(t, l, "u1")
	if users, want := usersOf(got.Members), []string{"u0", "u2", "u1"}; !reflect.DeepEqual(users, want) || l.Len() != 3 {
		t.Fatalf("after removals: %v (Len %d), want %v", users, l.Len(), want)
	}
	// A removal from a full list lets the next arrival in.
	full := fill(t, MaxMembers+1, seqID)
	if got := joinedOf(t, full, "u5"); !got.MembersTruncated || len(got.Members) != MaxMembers {
		t.Fatalf("%d members (truncated %v), want %d, truncated", len(got.Members), got.MembersTruncated, MaxMembers)
	}
	full.Remove("u0")
	if got := joinedOf(t, full, "u5"); got.MembersTruncated || len(got.Members) != MaxMembers || got.Members[MaxMembers-1].User != "u1000" {
		t.Fatalf("after a removal: %d members (truncated %v), want all %d", len(got.Members), got.MembersTruncated, MaxMembers)
	}
	var empty MemberList
	if got := joinedOf(t, &empty, "u9"); got.Members != nil {
		t.Fatalf("an empty list gives %v, want no members", got.Members)
	}
}

// TestMemberListTruncated: a room larger than a Joined can list gives the
// earliest arrivals, the joiner always among them, within MaxMembers and
// MaxMembersBytes, and says it cut.
func TestMemberListTruncated(t *testing.T) {
	t.Parallel()
	// The largest members: a 64-byte user id and 32 characters of 4 bytes.
	bigID := func(i int) string { return fmt.Sprintf("%064d", i) }
	bigName := strings.Repeat("😀", MaxNameLen)
	big := func(t *testing.T, n int) *MemberList {
		var l MemberList
		for i := range n {
			if err := l.Add(Member{User: bigID(i), Name: bigName}); err != nil {
				t.Fatal(err)
			}
		}
		return &l
	}
	tests := []struct {
		name          string
		list          func(t *testing.T) *MemberList
		joiner        string
		wantFirst     int  // how many of the earliest arrivals are listed
		wantJoinerToo bool // and the joiner after them
		wantTruncated bool
	}{
		{"by count, joiner among the first", func(t *testing.T) *MemberList { return fill(t, MaxMembers+5, seqID) }, "u3", MaxMembers, false, true},
		{"by count, joiner last", func(t *testing.T) *MemberList { return fill(t, MaxMembers+5, seqID) }, "u1004", MaxMembers - 1, true, true},
		{"by count, joiner beyond", func(t *testing.T) *MemberList { return fill(t, MaxMembers+5, seqID) }, "u1001", MaxMembers - 1, true, true},
		{"exactly the most", func(t *testing.T) *MemberList { return fill(t, MaxMembers, seqID) }, "u999", MaxMembers, false, false},
		// 213 bytes each and a comma: 287 fit in MaxMembersBytes.
		{"by bytes, joiner among the first", func(t *testing.T) *MemberList { return big(t, 400) }, bigID(0), 287, false, true},
		{"by bytes, joiner last", func(t *testing.T) *MemberList { return big(t, 400) }, bigID(399), 286, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := tt.list(t)
			got := joinedOf(t, l, tt.joiner)
			want := slices.Clone(l.users[:tt.wantFirst])
			if tt.wantJoinerToo {
				want = append(want, tt.joiner)
			}
			if users := usersOf(got.Members); !slices.Equal(users, want) || got.MembersTruncated != tt.wantTruncated {
				t.Fatalf("%d members listed (truncated %v), from %s to %s; want %d (truncated %v), from %s to %s",
					len(users), got.MembersTruncated, users[0], users[len(users)-1], len(want), tt.wantTruncated, want[0], want[len(want)-1])
			}
			b, err := encodeJSON(got.Members)
			if err != nil || len(b)-2 > MaxMembersBytes { // without the brackets
				t.Fatalf("members take %d bytes (%v), over MaxMembersBytes", len(b)-2, err)
			}
		})
	}
}

// TestLargestJoinedFits proves MaxMembersBytes's promise: a Joined with the
// largest of everything, its members cut at MaxMembersBytes and the joiner
// added, fits in a server frame.
func TestLargestJoinedFits(t *testing.T) {
	t.Parallel()
	var l MemberList
	name := strings.Repeat("😀", MaxNameLen)
	for i := range 2 * MaxMembersBytes / 214 {
		if err := l.Add(Member{User: fmt.Sprintf("%064d", i), Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	joiner := l.users[l.Len()-1]
	j := Joined{Room: strings.Repeat("r", MaxRoomLen), User: joiner, Name: name,
		Token: strings.Repeat("t", MaxTokenLen), Seq: 1<<64 - 1, Gap: true}
	b, err := EncodeJoined(j, &l)
	if err != nil || len(b) > MaxServerFrameBytes {
		t.Fatalf("the largest joined: %d bytes (%v), over MaxServerFrameBytes (%d)", len(b), err, MaxServerFrameBytes)
	}
	rest, _ := Encode(j)
	t.Logf("the largest joined: %d bytes, %d of them outside its members", len(b), len(rest))
	if len(rest) > 1500 {
		t.Fatalf("a joined without members takes %d bytes, over the 1.5 KB MaxMembersBytes leaves for it", len(rest))
	}
}
