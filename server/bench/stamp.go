package bench

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"math"
	"strconv"
)

// The stamp is the whole text of a message the generator sends:
//
//	b1 <run> <sender> <n> <unixnano>
//
// "b1" names this format (version 1), <run> tells this run's messages from
// those of an earlier run still in the room's history, <sender> is the
// sender's index among the run's senders, <n> the message's number from that
// sender (0, 1, …), and <unixnano> the time it was sent, in Unix
// nanoseconds. The sender's Send.ID is "b<run>-<sender>-<n>", unique per
// user and room, so that the server would deduplicate a resend.
//
// The stamp is found in a frame by the bytes `"text":"b1 <run> `: a quote
// inside a JSON string is escaped, so they occur only where a message's
// text field begins with them, and no text of a person can fake one.
const stampVersion = "b1"

// newRunID returns a random id for one run: 8 hex digits, so that two runs
// on one room (one after the other, or at once from two machines) never
// count each other's messages.
func newRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// stampMarker returns what precedes the sender in a frame holding a message
// of run: the start of its text field.
func stampMarker(run string) []byte {
	return []byte(`"text":"` + stampVersion + " " + run + " ")
}

// appendStamp appends the text of message n of sender, sent at unixNano.
func appendStamp(b []byte, run string, sender int, n int64, unixNano int64) []byte {
	b = append(b, stampVersion...)
	b = append(b, ' ')
	b = append(b, run...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(sender), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, n, 10)
	b = append(b, ' ')
	return strconv.AppendInt(b, unixNano, 10)
}

// sendID returns the Send.ID of message n of sender.
func sendID(run string, sender int, n int64) string {
	b := make([]byte, 0, 32)
	b = append(b, 'b')
	b = append(b, run...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(sender), 10)
	b = append(b, '-')
	return string(strconv.AppendInt(b, n, 10))
}

// parseSendID returns the sender and number of a Send.ID of run, or ok false
// for any other id.
func parseSendID(run, id string) (sender int, n int64, ok bool) {
	prefix := "b" + run + "-"
	if len(id) <= len(prefix) || id[:len(prefix)] != prefix {
		return 0, 0, false
	}
	rest := []byte(id[len(prefix):])
	s, used, ok := parseUint(rest, '-')
	if !ok {
		return 0, 0, false
	}
	v, used2, ok := parseUint(rest[used:], 0)
	if !ok || used+used2 != len(rest) || s > maxSenders {
		return 0, 0, false
	}
	return int(s), int64(v), true
}

// maxSenders bounds a sender index read from a frame: 1<<20, far more
// senders than one machine runs, so that a corrupt stamp cannot make a
// reader allocate without bound.
const maxSenders = 1 << 20

// maxSeq bounds a message number read from a frame: 1<<32, four billion
// messages from one sender, so that a corrupt stamp cannot make a reader
// grow its bitmap without bound.
const maxSeq = 1 << 32

// parseStamp reads "<sender> <n> <unixnano>" and the closing quote at the
// start of b, what follows a stampMarker. It returns how many bytes it
// read, or ok false when b does not hold a well-formed stamp.
func parseStamp(b []byte) (sender int, n int64, unixNano int64, used int, ok bool) {
	s, i, ok := parseUint(b, ' ')
	if !ok || s > maxSenders {
		return 0, 0, 0, 0, false
	}
	v, j, ok := parseUint(b[i:], ' ')
	if !ok || v >= maxSeq {
		return 0, 0, 0, 0, false
	}
	t, k, ok := parseUint(b[i+j:], '"')
	if !ok {
		return 0, 0, 0, 0, false
	}
	return int(s), int64(v), int64(t), i + j + k, true
}

// parseUint reads the decimal digits at the start of b up to the byte end,
// which it consumes too (end 0: up to the end of b). It returns the value
// and the bytes read, or ok false when there is no digit, the number does
// not fit in an int64, or the digits do not end with end.
func parseUint(b []byte, end byte) (v uint64, used int, ok bool) {
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if i == 19 { // 19 digits fit in a uint64; a Unix time in ns has 19
			return 0, 0, false
		}
		v = v*10 + uint64(b[i]-'0')
	}
	if i == 0 || v > math.MaxInt64 {
		return 0, 0, false
	}
	if end == 0 {
		return v, i, i == len(b)
	}
	if i == len(b) || b[i] != end {
		return 0, 0, false
	}
	return v, i + 1, true
}

// eventPrefix returns how every event of type t begins: Encode puts "type"
// first. Only the start of a frame or of a line after a "\n" can hold it,
// as a quote in a string is escaped.
func eventPrefix(t string) []byte { return []byte(`{"type":"` + t + `"`) }

var (
	pingPrefix  = eventPrefix("ping")
	errorPrefix = eventPrefix("error")
	// presencePrefix starts a presence event: the few frames, among the
	// messages, that the reader decodes.
	presencePrefix = eventPrefix("presence")
)

// eachLine calls f with each line of frame that begins with prefix.
func eachLine(frame, prefix []byte, f func(line []byte)) {
	for len(frame) > 0 {
		line := frame
		if i := bytes.IndexByte(frame, '\n'); i >= 0 {
			line, frame = frame[:i], frame[i+1:]
		} else {
			frame = nil
		}
		if bytes.HasPrefix(line, prefix) {
			f(line)
		}
	}
}
