package event

import (
	"reflect"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// FuzzDecodeClient feeds arbitrary frames to the server's decoder. Whatever
// the frame, DecodeClient must not panic; an accepted frame must be valid
// UTF-8, its event must satisfy the protocol's rules (a name in NFC among
// them) and survive a round trip through Encode unchanged; a
// refusal must map to a code the server can answer with. The seed corpus is
// in testdata/fuzz/FuzzDecodeClient; make test runs this for a bounded
// time, make fuzz for longer.
func FuzzDecodeClient(f *testing.F) {
	for _, seed := range []string{
		`{"type":"join","name":"Ann"}`,
		`{"type":"join","name":"Ann","token":"v1.abc.def","room":"lobby","since":42}`,
		`{"type":"send","id":"c-1","text":"hello <b>you</b>\n"}`,
		`{"type":"pong"}`,
		`{"type":"send","text":"\u0000"}`,
		`{"type":"join","name":"` + string(make([]byte, 40)) + `"}`,
		`[1,2,3]`, `null`, `{"type":null}`, `{"type":"send","text":7}`,
		"{\"type\":\"send\",\"text\":\"\xff\xfe\"}",
		`{"type":"send","text":"a","text":"b"}`, `{"TYPE":"send","Text":"x"}`,
		`{"type":"join","name":"Jose\u0301"}`, `{"type":"send","text":"\ud83d"}`,
		`{"type":"typing"}`, `{"type":"typing","room":"team-7","user":"x","name":"y"}`,
		`{"type":"history","before":42}`, `{"type":"history","room":"lobby","before":1,"limit":50}`,
		`{"type":"history","before":0}`, `{"type":"history","before":5,"limit":-1}`,
		`{"type":"leave","room":"team-7"}`, `{"type":"send","room":"team-7","id":"c-2","text":"hi"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		e, err := DecodeClient(frame)
		if err != nil {
			if code := CodeOf(err); code == CodeInternal {
				t.Fatalf("refusal %v maps to no protocol code", err)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("refusal of %d bytes echoes too much", len(err.Error()))
			}
			return
		}
		if !utf8.Valid(frame) {
			t.Fatalf("accepted a frame of invalid UTF-8: %q", frame)
		}
		switch e := e.(type) {
		case Join:
			if n, err := NormalizeName(e.Name); err != nil || n != e.Name || !norm.NFC.IsNormalString(e.Name) {
				t.Fatalf("accepted name %q breaks the rules: %v", e.Name, err)
			}
			if len(e.Token) > MaxTokenLen || (e.Room != "" && !ValidRoom(e.Room)) {
				t.Fatalf("accepted join %#v breaks the limits", e)
			}
		case Send:
			if n, err := NormalizeText(e.Text); err != nil || n != e.Text || !utf8.ValidString(e.Text) {
				t.Fatalf("accepted text %q breaks the rules: %v", e.Text, err)
			}
			if !validID(e.ID) || (e.Room != "" && !ValidRoom(e.Room)) {
				t.Fatalf("accepted send %#v breaks the rules", e)
			}
		case Leave:
			if e.Room != "" && !ValidRoom(e.Room) {
				t.Fatalf("accepted leave %#v breaks the rules", e)
			}
		case Pong:
		case Typing:
			if e.User != "" || e.Name != "" || (e.Room != "" && !ValidRoom(e.Room)) {
				t.Fatalf("accepted typing %#v breaks the rules", e)
			}
		case HistoryRequest:
			if e.Before == 0 || e.Limit < 0 || e.Limit > MaxHistoryLimit || (e.Room != "" && !ValidRoom(e.Room)) {
				t.Fatalf("accepted history request %#v breaks the limits", e)
			}
		default:
			t.Fatalf("DecodeClient returned a %T", e)
		}
		b, err := Encode(e)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", e, err)
		}
		again, err := DecodeClient(b)
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Fatalf("round trip of %#v through %s: %#v, %v", e, b, again, err)
		}
	})
}
