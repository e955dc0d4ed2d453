package event

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestServerEventsRoundTrip(t *testing.T) {
	t.Parallel()
	events := []Event{
		Joined{Room: DefaultRoom, User: "u1", Name: "Ann", Token: "v1.abc.def", Seq: 41},
		Joined{Room: "team-7", User: "u1", Name: "Ann", Token: "v1.abc.def", Seq: 900, Gap: true},
		Ack{ID: "c-9", Seq: 77},
		Ping{},
		Error{Code: CodeRateLimited, Message: "too many messages", ID: "c-3", RetryAfter: 250},
		Presence{Room: DefaultRoom, Joined: []Member{{User: "u2", Name: "Bob"}, {User: "u3", Name: "<b>Cy</b>"}}},
		Presence{Room: DefaultRoom, Left: []Member{{User: "u2", Name: "Bob"}}},
		Presence{Room: "team-7", Joined: []Member{{User: "u4", Name: "Dee"}}, Left: []Member{{User: "u2", Name: "Bob"}}},
		Message{Room: DefaultRoom, Seq: 42, ID: "c-1", User: "u1", Name: "Ann", Text: "<img src=x onerror=alert(1)>\n\"quoted\" & é 🙂", Time: 1764150000123},
		Message{Room: DefaultRoom, Seq: 1, User: "u1", Name: "Ann", Text: "no id"},
		Error{Code: CodeInvalidText, Message: ErrTextTooLong.Error(), ID: "c-2"},
		Error{Code: CodeAlreadyJoined, Message: ErrAlreadyJoined.Error(), Room: "design"},
		Error{Code: CodeBadFrame, Message: ErrBadFrame.Error()},
		Joined{Room: DefaultRoom, User: "u1", Name: "Ann", Token: "v1.abc.def", Seq: 3,
			Members: []Member{{User: "u2", Name: "Bob <b>"}, {User: "u1", Name: "Ann"}}},
		Joined{Room: DefaultRoom, User: "u1", Name: "Ann", Token: "v1.abc.def", Seq: 3, Gap: true,
			Members: []Member{{User: "u1", Name: "Ann"}}, MembersTruncated: true},
		Typing{Room: "team-7", User: "u2", Name: "Bob"},
		History{Room: DefaultRoom, Before: 43, Messages: []Message{
			{Room: DefaultRoom, Seq: 41, ID: "c-1", User: "u1", Name: "Ann", Text: "one\ntwo", Time: 1764150000123},
			{Room: DefaultRoom, Seq: 42, User: "u2", Name: "Bob", Text: "<i>three</i>", Time: 1764150000456},
		}},
		History{Room: DefaultRoom, Before: 3, Messages: []Message{{Room: DefaultRoom, Seq: 2, User: "u1", Name: "Ann", Text: "x", Time: 1}}, Complete: true, Pruned: true},
		History{Room: DefaultRoom, Before: 1, Complete: true},
	}
	for _, e := range events {
		t.Run(string(e.Type()), func(t *testing.T) {
			t.Parallel()
			b, err := Encode(e)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if bytes.ContainsRune(b, '\n') {
				t.Fatalf("encoded event holds a newline: %s", b)
			}
			if want := `{"type":"` + string(e.Type()) + `"`; !bytes.HasPrefix(b, []byte(want)) {
				t.Fatalf("encoded event %s does not start with %s", b, want)
			}
			got, err := DecodeServer(b)
			if err != nil {
				t.Fatalf("DecodeServer(%s): %v", b, err)
			}
			if len(got) != 1 || !reflect.DeepEqual(got[0], e) {
				t.Fatalf("round trip of %s: got %#v, want %#v", b, got, e)
			}
		})
	}
}

func TestClientEventsRoundTrip(t *testing.T) {
	t.Parallel()
	events := []Event{
		Join{Name: "Ann"},
		Join{Name: strings.Repeat("é", MaxNameLen)},
		Join{Name: "Ann", Token: "v1.abc.def", Room: "team_7-b", Since: 1234},
		Pong{},
		Send{Text: "hello"},
		Send{ID: "0192f4a0-7d1c-7c3e-9f00-5b1d2f3e4a5b", Text: "multi\nline\twith tab"},
		Send{Text: strings.Repeat("🙂", MaxTextLen)},
		Send{Text: strings.Repeat("<", MaxTextLen)},
		Send{Room: "team_7-b", ID: "s-1", Text: "in a room"},
		Leave{},
		Leave{Room: "team_7-b"},
		Typing{},
		Typing{Room: "team_7-b"},
		HistoryRequest{Before: 42},
		HistoryRequest{Room: DefaultRoom, Before: 1, Limit: MaxHistoryLimit},
		HistoryRequest{Before: 1<<64 - 1, Limit: 1},
	}
	for _, e := range events {
		b, err := Encode(e)
		if err != nil {
			t.Fatalf("Encode(%#v): %v", e, err)
		}
		if len(b) > MaxClientFrameBytes {
			t.Errorf("valid event encodes to %d bytes, over MaxClientFrameBytes", len(b))
		}
		got, err := DecodeClient(b)
		if err != nil {
			t.Fatalf("DecodeClient(%.80s): %v", b, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("round trip: got %#v, want %#v", got, e)
		}
	}
}

func TestDecodeClientRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		frame string
		err   error
		code  Code
	}{
		{"not JSON", `hello`, ErrBadFrame, CodeBadFrame},
		{"truncated", `{"type":"join","name":"A`, ErrBadFrame, CodeBadFrame},
		{"array", `[{"type":"join"}]`, ErrBadFrame, CodeBadFrame},
		{"string", `"join"`, ErrBadFrame, CodeBadFrame},
		{"null", `null`, ErrBadFrame, CodeBadFrame},
		{"no type", `{"name":"Ann"}`, ErrBadFrame, CodeBadFrame},
		{"type not a string", `{"type":7}`, ErrBadFrame, CodeBadFrame},
		{"field of wrong type", `{"type":"join","name":7}`, ErrBadFrame, CodeBadFrame},
		{"trailing garbage", `{"type":"join","name":"Ann"} x`, ErrBadFrame, CodeBadFrame},
		{"two events", "{\"type\":\"send\",\"text\":\"a\"}\n{\"type\":\"send\",\"text\":\"b\"}", ErrBadFrame, CodeBadFrame},
		{"unknown type", `{"type":"shout","text":"hi"}`, ErrUnknownType, CodeUnknownType},
		{"huge unknown type", `{"type":"` + strings.Repeat("<", MaxClientFrameBytes/2) + `"}`, ErrUnknownType, CodeUnknownType},
		{"server type", `{"type":"message","text":"hi"}`, ErrUnknownType, CodeUnknownType},
		{"join without name", `{"type":"join"}`, ErrMissingField, CodeMissingField},
		{"long token", `{"type":"join","name":"a","token":"` + strings.Repeat("t", MaxTokenLen+1) + `"}`, ErrTokenTooLong, CodeBadFrame},
		{"bad room", `{"type":"join","name":"a","room":"../etc"}`, ErrRoomInvalid, CodeBadFrame},
		{"long room", `{"type":"join","name":"a","room":"` + strings.Repeat("r", MaxRoomLen+1) + `"}`, ErrRoomInvalid, CodeBadFrame},
		{"negative since", `{"type":"join","name":"a","since":-1}`, ErrBadFrame, CodeBadFrame},
		{"server ping from a client", `{"type":"ping"}`, ErrUnknownType, CodeUnknownType},
		{"send without text", `{"type":"send","id":"1"}`, ErrMissingField, CodeMissingField},
		{"empty name", `{"type":"join","name":""}`, ErrNameEmpty, CodeInvalidName},
		{"blank name", `{"type":"join","name":" \t "}`, ErrNameEmpty, CodeInvalidName},
		{"long name", `{"type":"join","name":"` + strings.Repeat("a", MaxNameLen+1) + `"}`, ErrNameTooLong, CodeInvalidName},
		{"control in name", `{"type":"join","name":"a\u0007b"}`, ErrNameInvalid, CodeInvalidName},
		{"newline in name", `{"type":"join","name":"a\nb"}`, ErrNameInvalid, CodeInvalidName},
		{"reserved name", `{"type":"join","name":"you"}`, ErrNameReserved, CodeInvalidName},
		{"name with a direction override", `{"type":"join","name":"\u202eecila"}`, ErrNameFormat, CodeInvalidName},
		{"name like a notice", `{"type":"join","name":"alice disconnected"}`, ErrNameNotice, CodeInvalidName},
		{"name of a filler", `{"type":"join","name":"\u3164"}`, ErrNameFiller, CodeInvalidName},
		{"name with stacked marks", `{"type":"join","name":"a` + strings.Repeat(`\u0301`, 20) + `"}`, ErrNameMarks, CodeInvalidName},
		{"stacked marks in text", `{"type":"send","id":"t1","text":"a` + strings.Repeat(`\u0301`, MaxTextMarks+1) + `"}`, ErrTextMarks, CodeInvalidText},
		{"duplicate key", `{"type":"send","text":"a","text":"b"}`, ErrBadFrame, CodeBadFrame},
		{"key in another case", `{"type":"send","Text":"a"}`, ErrBadFrame, CodeBadFrame},
		{"invalid UTF-8", "{\"type\":\"send\",\"text\":\"\xff\"}", ErrBadFrame, CodeBadFrame},
		{"empty text", `{"type":"send","id":"t1","text":""}`, ErrTextEmpty, CodeInvalidText},
		{"blank text", `{"type":"send","id":"t1","text":"  \n "}`, ErrTextEmpty, CodeInvalidText},
		{"long text", `{"type":"send","id":"t1","text":"` + strings.Repeat("x", MaxTextLen+1) + `"}`, ErrTextTooLong, CodeInvalidText},
		{"control in text", `{"type":"send","id":"t1","text":"a\u0000b"}`, ErrTextInvalid, CodeInvalidText},
		{"long id", `{"type":"send","id":"` + strings.Repeat("i", MaxIDLen+1) + `","text":"a"}`, ErrIDInvalid, CodeInvalidID},
		{"id with space", `{"type":"send","id":"a b","text":"a"}`, ErrIDInvalid, CodeInvalidID},
		{"typing in a bad room", `{"type":"typing","room":"a b"}`, ErrRoomInvalid, CodeBadFrame},
		{"send to a bad room", `{"type":"send","room":"a/b","id":"s1","text":"a"}`, ErrRoomInvalid, CodeBadFrame},
		{"send to a room of the wrong type", `{"type":"send","room":1,"text":"a"}`, ErrBadFrame, CodeBadFrame},
		{"leave a bad room", `{"type":"leave","room":"` + strings.Repeat("r", MaxRoomLen+1) + `"}`, ErrRoomInvalid, CodeBadFrame},
		{"leave with a room in another case", `{"type":"leave","Room":"lobby"}`, ErrBadFrame, CodeBadFrame},
		{"typing with a room of the wrong type", `{"type":"typing","room":7}`, ErrBadFrame, CodeBadFrame},
		{"history without before", `{"type":"history","limit":5}`, ErrMissingField, CodeMissingField},
		{"history with a null before", `{"type":"history","before":null}`, ErrMissingField, CodeMissingField},
		{"history before 0", `{"type":"history","before":0}`, ErrBeforeInvalid, CodeBadFrame},
		{"history before a negative seq", `{"type":"history","before":-1}`, ErrBadFrame, CodeBadFrame},
		{"history before a string", `{"type":"history","before":"5"}`, ErrBadFrame, CodeBadFrame},
		{"history before a fraction", `{"type":"history","before":1.5}`, ErrBadFrame, CodeBadFrame},
		{"history limit negative", `{"type":"history","before":5,"limit":-1}`, ErrLimitInvalid, CodeBadFrame},
		{"history limit over the most", `{"type":"history","before":5,"limit":51}`, ErrLimitInvalid, CodeBadFrame},
		{"history limit huge", `{"type":"history","before":5,"limit":99999999999999999999}`, ErrBadFrame, CodeBadFrame},
		{"history limit a fraction", `{"type":"history","before":5,"limit":2.5}`, ErrBadFrame, CodeBadFrame},
		{"history in a bad room", `{"type":"history","before":5,"room":"../x"}`, ErrRoomInvalid, CodeBadFrame},
		{"history before in another case", `{"type":"history","Before":5}`, ErrBadFrame, CodeBadFrame},
		{"history with two befores", `{"type":"history","before":5,"before":9}`, ErrBadFrame, CodeBadFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := DecodeClient([]byte(tt.frame))
			if !errors.Is(err, tt.err) {
				t.Fatalf("DecodeClient(%.60s) = %#v, %v; want error %v", tt.frame, e, err, tt.err)
			}
			if got := CodeOf(err); got != tt.code {
				t.Fatalf("CodeOf(%v) = %s, want %s", err, got, tt.code)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("the refusal echoes too much: %d bytes", len(err.Error()))
			}
			if tt.code == CodeInvalidText {
				if s, ok := e.(Send); !ok || s.ID != "t1" {
					t.Fatalf("refused text: got %#v, want the Send with its ID", e)
				}
			} else if e != nil {
				t.Fatalf("refused frame returned an event: %#v", e)
			}
		})
	}
}

func TestDecodeServerBatch(t *testing.T) {
	t.Parallel()
	var frame []byte
	var want []Event
	for i := range 5 {
		e := Message{Room: DefaultRoom, Seq: uint64(i + 1), User: "u", Name: "n", Text: "line\nbreak"}
		b, err := Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			frame = append(frame, '\n')
		}
		frame = append(frame, b...)
		want = append(want, e)
	}
	got, err := DecodeServer(frame)
	if err != nil {
		t.Fatalf("DecodeServer: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("batch: got %#v, want %#v", got, want)
	}

	// An unknown event is skipped; the events around it are kept.
	frame = append([]byte("{\"type\":\"from_the_future\"}\n"), frame...)
	got, err = DecodeServer(frame)
	if !errors.Is(err, ErrUnknownType) || !reflect.DeepEqual(got, want) {
		t.Fatalf("batch with unknown event: %d events, %v", len(got), err)
	}
}

// TestCodeOfRoomErrors: the refusals of a connection in several rooms map
// to their codes, wrapped or not, and name their bound.
func TestCodeOfRoomErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		code Code
		says string
	}{
		{ErrTooManyRooms, CodeTooManyRooms, "32"},
		{ErrRoomRequired, CodeMissingField, `"room"`},
		{ErrAlreadyJoined, CodeAlreadyJoined, "already"},
		{ErrNotInRoom, CodeNotJoined, "room"},
	} {
		for _, err := range []error{tt.err, fmt.Errorf("join r: %w", tt.err)} {
			if got := CodeOf(err); got != tt.code {
				t.Errorf("CodeOf(%v) = %s, want %s", err, got, tt.code)
			}
		}
		if !strings.Contains(tt.err.Error(), tt.says) {
			t.Errorf("%q does not say %s", tt.err, tt.says)
		}
	}
}

func TestCodeOfForeignError(t *testing.T) {
	t.Parallel()
	if got := CodeOf(errors.New("disk full")); got != CodeInternal {
		t.Fatalf("CodeOf(foreign) = %s, want %s", got, CodeInternal)
	}
}

func BenchmarkEncodeMessage(b *testing.B) {
	m := Message{Room: DefaultRoom, Seq: 123456, ID: "0192f4a0-7d1c-7c3e-9f00-5b1d2f3e4a5b", User: "3f1c9a", Name: "Ann", Text: "hello, how is everyone doing today?", Time: 1764150000123}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeClientSend(b *testing.B) {
	frame := []byte(`{"type":"send","id":"0192f4a0-7d1c-7c3e-9f00-5b1d2f3e4a5b","text":"hello, how is everyone doing today?"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeClient(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecodeClientIsStrict proves that a client frame that readers could
// take for two different events is refused: encoding/json alone would pick
// one of the duplicates, match a key in any case and replace invalid UTF-8.
func TestDecodeClientIsStrict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		frame string
	}{
		{"duplicate text", `{"type":"send","text":"hello","text":"bye"}`},
		{"duplicate type", `{"type":"pong","type":"send","text":"a"}`},
		{"duplicate unknown key", `{"type":"pong","x":1,"x":2}`},
		{"duplicate through an escape", `{"type":"send","text":"a","t\u0065xt":"b"}`},
		{"type in upper case", `{"TYPE":"send","text":"x"}`},
		{"text capitalised", `{"type":"send","Text":"x"}`},
		{"all keys in upper case", `{"TYPE":"send","TEXT":"x"}`},
		{"since in mixed case", `{"type":"join","name":"Ann","sInCe":3}`},
		{"since with a long s", `{"type":"join","name":"Ann","\u017fince":3}`},
		{"server field in another case", `{"type":"pong","Seq":1}`},
		{"case twin of a present key", `{"type":"send","text":"a","TEXT":"b"}`},
		{"invalid UTF-8 in a value", "{\"type\":\"send\",\"text\":\"\xff\xfe\xfd\"}"},
		{"invalid UTF-8 in an unknown key", "{\"type\":\"pong\",\"\xc3\":1}"},
		{"invalid UTF-8 outside strings", "{\"type\":\"pong\"}\xff"},
		{"overlong encoding", "{\"type\":\"send\",\"text\":\"\xc0\xaf\"}"},
		{"encoded surrogate", "{\"type\":\"send\",\"text\":\"\xed\xa0\x80\"}"},
		{"lone high surrogate escape", `{"type":"send","text":"a\ud83d"}`},
		{"lone low surrogate escape", `{"type":"send","text":"\ude00a"}`},
		{"high surrogate before a plain escape", `{"type":"send","text":"\ud83d\u0041"}`},
		{"reversed surrogate pair", `{"type":"send","text":"\ude00\ud83d"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := DecodeClient([]byte(tt.frame))
			if !errors.Is(err, ErrBadFrame) || e != nil {
				t.Fatalf("DecodeClient(%+q) = %#v, %v; want %v", tt.frame, e, err, ErrBadFrame)
			}
			if CodeOf(err) != CodeBadFrame || len(err.Error()) > 200 {
				t.Fatalf("refusal %q: code %s, want %s in a short sentence", err, CodeOf(err), CodeBadFrame)
			}
		})
	}
}

// TestDecodeClientStrictAccepts proves what the strict rules leave alone:
// unknown keys (newer clients), any escape of a valid character, surrogate
// pairs, and backslashes and quotes that only look like escapes.
func TestDecodeClientStrictAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		frame string
		want  Event
	}{
		{"unknown keys", `{"type":"send","text":"a","client":"v2","meta":{"Text":1,"text":2}}`, Send{Text: "a"}},
		{"unknown key in upper case", `{"type":"pong","EXTRA":true}`, Pong{}},
		{"escaped key", `{"t\u0079pe":"send","text":"a"}`, Send{Text: "a"}},
		{"surrogate pair", `{"type":"send","text":"\ud83d\ude00"}`, Send{Text: "😀"}},
		{"upper-case hex", `{"type":"send","text":"\uD83D\uDE00\u00E9"}`, Send{Text: "😀é"}},
		{"escaped backslash before u", `{"type":"send","text":"\\ud83d"}`, Send{Text: `\ud83d`}},
		{"escaped quote", `{"type":"send","text":"say \"\\\" \ud83d\ude00"}`, Send{Text: `say "\" 😀`}},
		{"surrogate-like key outside strings", `{"type":"join","name":"Ann","since":0}`, Join{Name: "Ann"}},
		{"replacement character sent as such", `{"type":"send","text":"\ufffd"}`, Send{Text: "\ufffd"}},
		{"typing with a user and a name of its own", `{"type":"typing","user":"someone-else","name":"Eve"}`, Typing{}},
		{"typing with a null room", `{"type":"typing","room":null}`, Typing{}},
		{"leave with a null room", `{"type":"leave","room":null}`, Leave{}},
		{"send with an empty room", `{"type":"send","room":"","text":"a"}`, Send{Text: "a"}},
		{"history with a null limit", `{"type":"history","before":7,"limit":null}`, HistoryRequest{Before: 7}},
		{"history with a zero limit", `{"type":"history","before":7,"limit":0}`, HistoryRequest{Before: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeClient([]byte(tt.frame))
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("DecodeClient(%s) = %#v, %v; want %#v", tt.frame, got, err, tt.want)
			}
		})
	}
}

// TestLargestFramesFit proves that MaxClientFrameBytes holds the largest
// valid frames in their largest JSON form: every character escaped, those
// outside the BMP as surrogate pairs of 12 bytes.
func TestLargestFramesFit(t *testing.T) {
	t.Parallel()
	id := strings.Repeat("i", MaxIDLen)
	token := strings.Repeat("t", MaxTokenLen)
	room := strings.Repeat("r", MaxRoomLen)
	escape := func(s string) string {
		var sb strings.Builder
		for _, r := range s {
			if r > 0xffff {
				r -= 0x10000
				fmt.Fprintf(&sb, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
				continue
			}
			fmt.Fprintf(&sb, `\u%04x`, r)
		}
		return sb.String()
	}
	astral := strings.Repeat("😀", MaxTextLen)
	bmp := strings.Repeat("中", MaxTextLen)
	name := "A" + strings.Repeat("😀", MaxNameLen-1) // a name needs a letter
	tests := []struct {
		name  string
		frame string
		want  Event
	}{
		{"send outside the BMP", `{"type":"send","id":"` + id + `","text":"` + escape(astral) + `"}`, Send{ID: id, Text: astral}},
		{"send in the BMP", `{"type":"send","id":"` + id + `","text":"` + escape(bmp) + `"}`, Send{ID: id, Text: bmp}},
		{"join", `{"type":"join","name":"` + escape(name) + `","token":"` + escape(token) + `","room":"` + escape(room) + `","since":18446744073709551615}`,
			Join{Name: name, Token: token, Room: room, Since: 1<<64 - 1}},
	}
	// MaxServerFrameBytes's promise: any single server event fits a frame,
	// as it stays under MaxClientFrameBytes. Go's encoder writes U+2028 as
	// a 6-byte escape, the longest form of a character a text may hold.
	big, err := Encode(Message{Room: room, Seq: 1<<64 - 1, ID: id, User: strings.Repeat("u", MaxIDLen),
		Name: strings.Repeat("😀", MaxNameLen), Text: strings.Repeat("\u2028", MaxTextLen), Time: -1 << 63})
	t.Logf("the largest message: %d bytes", len(big))
	if err != nil || len(big) > MaxClientFrameBytes || MaxClientFrameBytes > MaxServerFrameBytes {
		t.Errorf("the largest message encodes to %d bytes (%v): over MaxClientFrameBytes (%d), or that over MaxServerFrameBytes (%d)",
			len(big), err, MaxClientFrameBytes, MaxServerFrameBytes)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if len(tt.frame) > MaxClientFrameBytes {
				t.Fatalf("the frame is %d bytes, over MaxClientFrameBytes (%d)", len(tt.frame), MaxClientFrameBytes)
			}
			t.Logf("%d bytes of %d", len(tt.frame), MaxClientFrameBytes)
			got, err := DecodeClient([]byte(tt.frame))
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("DecodeClient: %.80v, %v", got, err)
			}
		})
	}
}

// TestEncodeHistory proves that a History always fits in a server frame: a
// page of the largest messages is cut to the newest that fit, and says it is
// not complete, so that the client asks again; a page that fits is whole and
// keeps its flags.
func TestEncodeHistory(t *testing.T) {
	t.Parallel()
	page := func(n int, text string) []Message {
		msgs := make([]Message, n)
		for i := range msgs {
			msgs[i] = Message{Room: DefaultRoom, Seq: uint64(101 + i), ID: strings.Repeat("i", MaxIDLen),
				User: "3f2b8c1e-9d4a-4e7b-a6c5-0f1e2d3c4b5a", Name: "Ann", Text: text, Time: 1767225600123}
		}
		return msgs
	}
	astral := strings.Repeat("😀", MaxTextLen) // 8,000 bytes of UTF-8
	tests := []struct {
		name         string
		in           History
		wantKept     int
		wantComplete bool
		wantPruned   bool
	}{
		{"short messages, whole", History{Room: DefaultRoom, Before: 151, Messages: page(MaxHistoryLimit, "hello"), Complete: true, Pruned: true}, MaxHistoryLimit, true, true},
		{"largest messages, cut", History{Room: DefaultRoom, Before: 151, Messages: page(MaxHistoryLimit, astral), Complete: true, Pruned: true}, 7, false, false},
		{"escaped messages, cut", History{Room: DefaultRoom, Before: 151, Messages: page(MaxHistoryLimit, strings.Repeat("\u2028", MaxTextLen))}, 5, false, false},
		{"one of the largest", History{Room: DefaultRoom, Before: 102, Messages: page(1, strings.Repeat("\u2028", MaxTextLen)), Complete: true}, 1, true, false},
		{"empty", History{Room: DefaultRoom, Before: 1, Complete: true}, 0, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, got, err := EncodeHistory(tt.in)
			if err != nil {
				t.Fatalf("EncodeHistory: %v", err)
			}
			if len(b) > MaxServerFrameBytes {
				t.Fatalf("%d bytes, over MaxServerFrameBytes", len(b))
			}
			if len(got.Messages) != tt.wantKept || got.Complete != tt.wantComplete || got.Pruned != tt.wantPruned {
				t.Fatalf("kept %d messages, complete %v, pruned %v; want %d, %v, %v",
					len(got.Messages), got.Complete, got.Pruned, tt.wantKept, tt.wantComplete, tt.wantPruned)
			}
			if n := len(tt.in.Messages); tt.wantKept > 0 && got.Messages[len(got.Messages)-1] != tt.in.Messages[n-1] {
				t.Fatalf("the page does not end with the newest message")
			}
			if want, err := Encode(got); err != nil || (len(got.Messages) > 0 && !bytes.Equal(b, want)) {
				t.Fatalf("EncodeHistory wrote %.80s…, Encode of what it returned %.80s… (%v)", b, want, err)
			}
			events, err := DecodeServer(b)
			if err != nil || len(events) != 1 {
				t.Fatalf("DecodeServer: %d events, %v", len(events), err)
			}
			if !reflect.DeepEqual(events[0], got) {
				t.Fatalf("round trip: got %.200v, want %.200v", events[0], got)
			}
			if len(got.Messages) == 0 && !bytes.Contains(b, []byte(`"messages":[]`)) {
				t.Fatalf("an empty page is %s, want \"messages\":[]", b)
			}
			// Cut by size: one message more would not have fitted.
			if k := len(got.Messages); k < len(tt.in.Messages) {
				more := got
				more.Messages = tt.in.Messages[len(tt.in.Messages)-k-1:]
				if b, _ := Encode(more); len(b) <= MaxServerFrameBytes {
					t.Fatalf("cut to %d messages, yet %d fit in %d bytes", k, k+1, len(b))
				}
			}
		})
	}
}

// TestRoomOf: the room each kind of event names, and none for those that
// have no room.
func TestRoomOf(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		e    Event
		want string
	}{
		{Join{Name: "a", Room: "r1"}, "r1"},
		{Join{Name: "a"}, ""},
		{Leave{Room: "r2"}, "r2"},
		{Send{Room: "r3", Text: "x"}, "r3"},
		{Typing{Room: "r4"}, "r4"},
		{HistoryRequest{Room: "r5", Before: 2}, "r5"},
		{Joined{Room: "r6"}, "r6"},
		{Presence{Room: "r7"}, "r7"},
		{Message{Room: "r9"}, "r9"},
		{History{Room: "r10"}, "r10"},
		{Error{Code: CodeAlreadyJoined, Room: "r11"}, "r11"},
		{Ack{ID: "x"}, ""},
		{Ping{}, ""},
		{Pong{}, ""},
	} {
		if got := RoomOf(tt.e); got != tt.want {
			t.Errorf("RoomOf(%#v) = %q, want %q", tt.e, got, tt.want)
		}
	}
}
