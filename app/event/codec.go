package event

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// MaxIDLen is the longest Send.ID in bytes: 64 holds a UUID or a ULID with
// room to spare, and bounds what the server echoes back.
const MaxIDLen = 64

// Encode returns the JSON form of e: an object whose first field is "type".
// The result holds no newline, so it can be joined into a server frame.
// Characters such as '<' are not escaped: clients render text as text.
func Encode(e Event) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, fmt.Errorf("encode %s event: %w", e.Type(), err)
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
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
}

// DecodeClient decodes and validates one client frame. It returns a Join
// with a normalized name, a Send with a normalized text or a Pong, or an error that
// wraps one of ErrBadFrame, ErrUnknownType, ErrMissingField, ErrIDInvalid,
// ErrTokenTooLong, ErrRoomInvalid or the name and text errors; CodeOf gives the code to answer it with. When
// only a Send's text is refused, the Send is returned too, with its ID.
func DecodeClient(frame []byte) (Event, error) {
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
		s := Send{ID: deref(w.ID)}
		if !validID(s.ID) {
			return nil, ErrIDInvalid
		}
		text, err := NormalizeText(*w.Text)
		if err != nil {
			return s, err
		}
		s.Text = text
		return s, nil
	case TypePong:
		return Pong{}, nil
	default:
		// At most 32 bytes of the type are echoed: the refusal stays small.
		return nil, fmt.Errorf("%w %.32q", ErrUnknownType, t)
	}
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
		return Joined{Room: room, User: user, Name: name, Token: deref(w.Token), Seq: seq, Gap: w.Gap != nil && *w.Gap}, nil
	case TypeUserJoined:
		return UserJoined{Room: room, User: user, Name: name}, nil
	case TypeUserLeft:
		return UserLeft{Room: room, User: user, Name: name}, nil
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
	case TypeError:
		e := Error{Code: Code(deref(w.Code)), Message: deref(w.Message), ID: deref(w.ID)}
		if w.Retry != nil {
			e.RetryAfter = *w.Retry
		}
		return e, nil
	default:
		return nil, fmt.Errorf("%w %q", ErrUnknownType, t)
	}
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

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
