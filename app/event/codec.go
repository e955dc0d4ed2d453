package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxIDLen is the longest Send.ID in bytes: 64 holds a UUID or a ULID with
// room to spare, and bounds what the server echoes back.
const MaxIDLen = 64

// Encode returns the JSON form of e: an object whose first field is "type".
// The result holds no newline, so it can be joined into a server frame.
// Characters such as '<' are not escaped: clients render text as text.
func Encode(e Event) ([]byte, error) {
	body, err := encodeJSON(e)
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", e.Type(), err)
	}
	// Splice the type in front of the fields: {"type":"t", + rest of body.
	out := make([]byte, 0, len(body)+len(e.Type())+12)
	out = append(out, `{"type":"`...)
	out = append(out, e.Type()...)
	out = append(out, '"')
	if len(body) > 2 {
		out = append(out, ',')
	}
	return append(out, body[1:]...), nil
}

// EncodeHistory returns the JSON form of h, as Encode would, cut to fit in
// a server frame: it keeps the newest of h.Messages whose encodings fit with
// the rest of the event in MaxServerFrameBytes, and when that leaves some
// out it sets Complete and Pruned to false, so that the client asks for the
// rest with Before at the oldest it got. It returns the History it encoded.
// At least one message always fits: a Message stays below
// MaxClientFrameBytes.
func EncodeHistory(h History) ([]byte, History, error) {
	// The envelope in its longest form: "complete":false and "pruned":true.
	envelope, err := Encode(History{Room: h.Room, Before: h.Before, Messages: []Message{}, Pruned: true})
	if err != nil {
		return nil, h, err
	}
	budget := MaxServerFrameBytes - len(envelope)
	first := len(h.Messages)
	for i := len(h.Messages) - 1; i >= 0; i-- {
		b, err := encodeJSON(h.Messages[i])
		if err != nil {
			return nil, h, fmt.Errorf("encode %s event: %w", TypeHistory, err)
		}
		size := len(b)
		if i < len(h.Messages)-1 {
			size++ // the comma before the next one
		}
		if budget -= size; budget < 0 {
			break
		}
		first = i
	}
	if first > 0 {
		h.Messages = h.Messages[first:]
		h.Complete, h.Pruned = false, false
	}
	out := h
	if out.Messages == nil {
		out.Messages = []Message{} // "messages":[], not null
	}
	b, err := Encode(out)
	if err != nil {
		return nil, h, err
	}
	if len(b) > MaxServerFrameBytes {
		return nil, h, fmt.Errorf("encode %s event: %d bytes, over MaxServerFrameBytes", TypeHistory, len(b))
	}
	return b, h, nil
}

// encodeJSON returns the JSON form of v as Encode writes it: no HTML
// escaping, no trailing newline.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// wire is the union of every event's fields, so that a frame is decoded in
// one pass. Pointers tell an absent field from an empty one.
type wire struct {
	Type    *string `json:"type"`
	Room    *string `json:"room"`
	User    *string `json:"user"`
	Name    *string `json:"name"`
	ID      *string `json:"id"`
	Text    *string `json:"text"`
	Seq     *uint64 `json:"seq"`
	Time    *int64  `json:"time"`
	Code    *string `json:"code"`
	Message *string `json:"message"`
	Token   *string `json:"token"`
	Since   *uint64 `json:"since"`
	Gap     *bool   `json:"gap"`
	Retry   *int64  `json:"retry_after"`

	Members   []Member  `json:"members"`
	Joined    []Member  `json:"joined"`
	Left      []Member  `json:"left"`
	Truncated *bool     `json:"members_truncated"`
	Before    *uint64   `json:"before"`
	Limit     *int64    `json:"limit"`
	Messages  []Message `json:"messages"`
	Complete  *bool     `json:"complete"`
	Pruned    *bool     `json:"pruned"`
}

// wireFields are the JSON names of wire's fields. encoding/json matches a
// key to a field without regard to case, so DecodeClient refuses a key that
// equals one of them only in another case.
var wireFields = [...]string{"type", "room", "user", "name", "id", "text", "seq", "time", "code", "message", "token", "since", "gap", "retry_after",
	"members", "joined", "left", "members_truncated", "before", "limit", "messages", "complete", "pruned"}

// DecodeClient decodes and validates one client frame. It returns a Join
// with a normalized name, a Leave, a Send with a normalized text, a Pong, a
// Typing (with Room only) or a HistoryRequest, or an error that wraps one of
// ErrBadFrame, ErrUnknownType, ErrMissingField, ErrIDInvalid,
// ErrTokenTooLong, ErrRoomInvalid, ErrBeforeInvalid, ErrLimitInvalid or the
// name and text errors; CodeOf gives the code to answer it with. When only a
// Send's text is refused, the Send is returned too, with its ID.
//
// Client frames are decoded strictly, so that the server and any other
// reader of the same bytes cannot see two different events: invalid UTF-8,
// a lone surrogate escape, a duplicate key or a key of the protocol in
// another case ("TYPE", "Text") is ErrBadFrame. Unknown keys are ignored, for
// newer clients.
func DecodeClient(frame []byte) (Event, error) {
	if err := checkClientFrame(frame); err != nil {
		return nil, err
	}
	var w wire
	if err := json.Unmarshal(frame, &w); err != nil || w.Type == nil {
		return nil, ErrBadFrame
	}
	switch t := Type(*w.Type); t {
	case TypeJoin:
		if w.Name == nil {
			return nil, fmt.Errorf("%w: join needs \"name\"", ErrMissingField)
		}
		name, err := NormalizeName(*w.Name)
		if err != nil {
			return nil, err
		}
		j := Join{Name: name, Token: deref(w.Token), Room: deref(w.Room)}
		if len(j.Token) > MaxTokenLen {
			return nil, ErrTokenTooLong
		}
		if j.Room != "" && !ValidRoom(j.Room) {
			return nil, ErrRoomInvalid
		}
		if w.Since != nil {
			j.Since = *w.Since
		}
		return j, nil
	case TypeSend:
		if w.Text == nil {
			return nil, fmt.Errorf("%w: send needs \"text\"", ErrMissingField)
		}
		s := Send{Room: deref(w.Room), ID: deref(w.ID)}
		if !validID(s.ID) {
			return nil, ErrIDInvalid
		}
		if s.Room != "" && !ValidRoom(s.Room) {
			return nil, ErrRoomInvalid
		}
		text, err := NormalizeText(*w.Text)
		if err != nil {
			return s, err
		}
		s.Text = text
		return s, nil
	case TypeLeave:
		l := Leave{Room: deref(w.Room)}
		if l.Room != "" && !ValidRoom(l.Room) {
			return nil, ErrRoomInvalid
		}
		return l, nil
	case TypePong:
		return Pong{}, nil
	case TypeTyping:
		// User and Name are the server's to set: a client's are ignored.
		t := Typing{Room: deref(w.Room)}
		if t.Room != "" && !ValidRoom(t.Room) {
			return nil, ErrRoomInvalid
		}
		return t, nil
	case TypeHistory:
		return decodeHistoryRequest(&w)
	default:
		// At most 32 bytes of the type are echoed: the refusal stays small.
		return nil, fmt.Errorf("%w %.32q", ErrUnknownType, t)
	}
}

// decodeHistoryRequest checks a HistoryRequest's fields in order: before
// present, before above 0, limit within 0 to MaxHistoryLimit, room.
func decodeHistoryRequest(w *wire) (Event, error) {
	if w.Before == nil {
		return nil, fmt.Errorf("%w: history needs \"before\"", ErrMissingField)
	}
	q := HistoryRequest{Room: deref(w.Room), Before: *w.Before}
	if q.Before == 0 {
		return nil, ErrBeforeInvalid
	}
	if w.Limit != nil {
		if *w.Limit < 0 || *w.Limit > MaxHistoryLimit {
			return nil, ErrLimitInvalid
		}
		q.Limit = int(*w.Limit)
	}
	if q.Room != "" && !ValidRoom(q.Room) {
		return nil, ErrRoomInvalid
	}
	return q, nil
}

// DecodeServer decodes one server frame: one or more events separated by
// newlines. A line it cannot decode, such as an event type from a newer
// server, is skipped; the first such error is returned with every event that
// did decode, so that a client can go on with them.
func DecodeServer(frame []byte) ([]Event, error) {
	events := make([]Event, 0, bytes.Count(frame, []byte("\n"))+1)
	var first error
	for line := range bytes.SplitSeq(frame, []byte("\n")) {
		e, err := decodeServerEvent(line)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		events = append(events, e)
	}
	return events, first
}

// decodeServerEvent decodes one server event. Absent fields decode as zero
// values: the server is trusted to send whole events.
func decodeServerEvent(b []byte) (Event, error) {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil || w.Type == nil {
		return nil, ErrBadFrame
	}
	room, user, name := deref(w.Room), deref(w.User), deref(w.Name)
	var seq uint64
	if w.Seq != nil {
		seq = *w.Seq
	}
	switch t := Type(*w.Type); t {
	case TypeJoined:
		return Joined{Room: room, User: user, Name: name, Token: deref(w.Token), Seq: seq, Gap: isTrue(w.Gap),
			Members: w.Members, MembersTruncated: isTrue(w.Truncated)}, nil
	case TypePresence:
		return Presence{Room: room, Joined: w.Joined, Left: w.Left}, nil
	case TypeMessage:
		m := Message{Room: room, Seq: seq, ID: deref(w.ID), User: user, Name: name, Text: deref(w.Text)}
		if w.Time != nil {
			m.Time = *w.Time
		}
		return m, nil
	case TypeAck:
		return Ack{ID: deref(w.ID), Seq: seq}, nil
	case TypePing:
		return Ping{}, nil
	case TypeTyping:
		return Typing{Room: room, User: user, Name: name}, nil
	case TypeHistory:
		h := History{Room: room, Complete: isTrue(w.Complete), Pruned: isTrue(w.Pruned)}
		if w.Before != nil {
			h.Before = *w.Before
		}
		if len(w.Messages) > 0 {
			h.Messages = w.Messages
		}
		return h, nil
	case TypeError:
		e := Error{Code: Code(deref(w.Code)), Message: deref(w.Message), ID: deref(w.ID), Room: room}
		if w.Retry != nil {
			e.RetryAfter = *w.Retry
		}
		return e, nil
	default:
		return nil, fmt.Errorf("%w %q", ErrUnknownType, t)
	}
}

// checkClientFrame enforces the strict rules of DecodeClient that
// encoding/json does not: valid UTF-8 (it would put U+FFFD in place of each
// invalid byte), no lone surrogate escape (U+FFFD again), no duplicate key
// (it would keep the last), no key of the protocol in another case (it
// would take it for the field). A client frame is a flat object, so only its
// top-level keys are checked; Unmarshal checks the rest of the syntax.
func checkClientFrame(frame []byte) error {
	if !utf8.Valid(frame) {
		return fmt.Errorf("%w: invalid UTF-8", ErrBadFrame)
	}
	if loneSurrogate(frame) {
		return fmt.Errorf("%w: lone surrogate escape", ErrBadFrame)
	}
	dec := json.NewDecoder(bytes.NewReader(frame))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ErrBadFrame
	}
	seen := make(map[string]bool, len(wireFields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ErrBadFrame
		}
		key, _ := tok.(string)
		if seen[key] {
			// At most 32 bytes of the key are echoed, as for a type.
			return fmt.Errorf("%w: duplicate key %.32q", ErrBadFrame, key)
		}
		seen[key] = true
		for _, f := range wireFields {
			if key != f && strings.EqualFold(key, f) {
				return fmt.Errorf("%w: key %.32q must be %q", ErrBadFrame, key, f)
			}
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return ErrBadFrame
		}
	}
	return nil
}

// loneSurrogate reports whether a JSON string in frame holds a \u escape of
// a UTF-16 surrogate that is not half of a pair: no character is encoded so,
// and encoding/json would decode it as U+FFFD. frame may be any bytes; the
// syntax is checked elsewhere.
func loneSurrogate(frame []byte) bool {
	inString := false
	for i := 0; i < len(frame); i++ {
		switch c := frame[i]; {
		case c == '"':
			inString = !inString
		case c != '\\' || !inString:
		case i+1 < len(frame) && frame[i+1] == 'u':
			r := hex4(frame[i+2:])
			switch {
			case 0xdc00 <= r && r <= 0xdfff:
				return true
			case 0xd800 <= r && r <= 0xdbff:
				if len(frame) < i+12 || frame[i+6] != '\\' || frame[i+7] != 'u' {
					return true
				}
				if lo := hex4(frame[i+8:]); lo < 0xdc00 || lo > 0xdfff {
					return true
				}
				i += 6 // the low half
			}
			i += 5 // u and four digits
		default:
			i++ // the escaped character
		}
	}
	return false
}

// hex4 returns the value of the four hex digits that b starts with, or -1.
func hex4(b []byte) int {
	if len(b) < 4 {
		return -1
	}
	n := 0
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			n = n<<4 | int(c-'0')
		case 'a' <= c && c <= 'f':
			n = n<<4 | int(c-'a'+10)
		case 'A' <= c && c <= 'F':
			n = n<<4 | int(c-'A'+10)
		default:
			return -1
		}
	}
	return n
}

// validID reports whether id is a usable Send.ID: at most MaxIDLen bytes of
// visible ASCII, no space (empty means none).
func validID(id string) bool {
	if len(id) > MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// isTrue reports whether an optional boolean is present and true.
func isTrue(b *bool) bool { return b != nil && *b }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
