package bench

import (
	"bytes"
	"math"
	"strconv"
	"testing"

	"github.com/chatwasm/chat/app/event"
)

// TestStampInFrame encodes a message whose text is a stamp as the server
// does, and finds it after the marker, whole.
func TestStampInFrame(t *testing.T) {
	run := newRunID()
	if len(run) != 8 || newRunID() == run {
		t.Fatalf("run ids %q and another: want 8 hex digits, different each time", run)
	}
	const at = 1767225600123456789 // 19 digits, a Unix time in ns of 2026
	text := appendStamp(nil, run, 12, 345, at)
	frame, err := event.Encode(event.Message{Room: "bench", Seq: 7, ID: sendID(run, 12, 345), User: "u", Name: "b12", Text: string(text), Time: 1})
	if err != nil {
		t.Fatal(err)
	}
	marker := stampMarker(run)
	i := bytes.Index(frame, marker)
	if i < 0 {
		t.Fatalf("no marker %q in %s", marker, frame)
	}
	s, n, got, used, ok := parseStamp(frame[i+len(marker):])
	if !ok || s != 12 || n != 345 || got != at {
		t.Fatalf("parseStamp = %d, %d, %d, %v; want 12, 345, %d, true", s, n, got, ok, at)
	}
	if rest := frame[i+len(marker)+used:]; !bytes.HasPrefix(rest, []byte(`,"time":1}`)) {
		t.Errorf("parseStamp stopped before %q, want after the closing quote", rest)
	}
	if s, n, ok := parseSendID(run, sendID(run, 12, 345)); !ok || s != 12 || n != 345 {
		t.Errorf("parseSendID(sendID(12, 345)) = %d, %d, %v", s, n, ok)
	}
}

// TestParseStampRefuses refuses what no sender of the run wrote.
func TestParseStampRefuses(t *testing.T) {
	for _, in := range []string{
		``, `"`, `1 2"`, `1 2 3`, `1 2 3 "`, `a 2 3"`, `1 b 3"`, `1 2 c"`, `-1 2 3"`, `1  2 3"`,
		strconv.Itoa(maxSenders+1) + ` 0 3"`,
		`0 ` + strconv.Itoa(maxSeq) + ` 3"`,
		`0 0 99999999999999999999"`, // 20 digits
		`0 0 ` + strconv.FormatUint(math.MaxInt64+1, 10) + `"`,
	} {
		if s, n, at, _, ok := parseStamp([]byte(in)); ok {
			t.Errorf("parseStamp(%q) = %d, %d, %d, true; want false", in, s, n, at)
		}
	}
	run := "0a1b2c3d"
	for _, id := range []string{"", "b" + run, "b" + run + "-", "b" + run + "-1", "b" + run + "-1-", "b" + run + "-1-2-3", "bffffffff-1-2", "b" + run + "-x-2", "7d1e4c2a-5b3f-4e8d-9a6c-1f0b2e3d4c5a"} {
		if s, n, ok := parseSendID(run, id); ok {
			t.Errorf("parseSendID(%q) = %d, %d, true; want false", id, s, n)
		}
	}
}

// TestEachLine finds the events of a type in a coalesced frame, and only
// at the start of a line: a text that quotes one is escaped.
func TestEachLine(t *testing.T) {
	quoting, _ := event.Encode(event.Message{Room: "r", Text: `{"type":"error","code":"x"}`})
	refusal, _ := event.Encode(event.Error{Code: event.CodeRateLimited, ID: "i", RetryAfter: 5})
	frame := bytes.Join([][]byte{quoting, refusal, quoting, refusal}, []byte("\n"))
	var got int
	eachLine(frame, errorPrefix, func(line []byte) {
		if !bytes.Equal(line, refusal) {
			t.Errorf("line %s, want %s", line, refusal)
		}
		got++
	})
	if got != 2 {
		t.Errorf("%d error lines, want 2", got)
	}
	ping, _ := event.Encode(event.Ping{})
	if !bytes.HasPrefix(ping, pingPrefix) || bytes.HasPrefix(quoting, pingPrefix) {
		t.Errorf("pingPrefix %q does not tell %s from %s", pingPrefix, ping, quoting)
	}
}
