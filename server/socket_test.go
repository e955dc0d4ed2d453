package server_test

// These tests speak the protocol of package event to a real Server over real
// sockets on 127.0.0.1, frame by frame: github.com/coder/websocket is the raw
// client that can send anything, client.Conn the well-behaved one.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwasm/chat/app/client"
	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server"
	"github.com/chatwasm/chat/server/servertest"
)

// testTimeout bounds each test's conversation. It is generous: the tests run
// under the race detector on small, shared machines, and a healthy run takes
// a fraction of it.
const testTimeout = 20 * time.Second

// testContext returns a context that ends after testTimeout or with the test.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// withGrace fills in cfg's PresenceGrace, when zero, with a millisecond:
// leaves are announced at once.
func withGrace(cfg server.Config) server.Config {
	if cfg.PresenceGrace == 0 {
		cfg.PresenceGrace = time.Millisecond
	}
	return cfg
}

// newServer returns a Server for cfg (see servertest.New), with a
// millisecond of PresenceGrace where cfg leaves it out.
func newServer(t *testing.T, cfg server.Config) *server.Server {
	t.Helper()
	return servertest.New(t, withGrace(cfg))
}

// startServer serves a newServer for cfg on a random 127.0.0.1 port and
// returns the URL of its WebSocket endpoint.
func startServer(t *testing.T, cfg server.Config) (wsURL string, ts *httptest.Server) {
	t.Helper()
	_, ts = servertest.Start(t, withGrace(cfg))
	return servertest.SocketURL(ts.URL), ts
}

// peer is a raw protocol client: it sends any frame and reads the events of
// the server's frames one at a time, however the server batched them.
type peer struct {
	name    string
	ws      *websocket.Conn
	pending []event.Event
}

// dial connects a raw peer to wsURL; opts may be nil. The connection is
// dropped when the test ends.
func dial(t *testing.T, ctx context.Context, wsURL, name string, opts *websocket.DialOptions) *peer {
	t.Helper()
	ws, resp, err := websocket.Dial(ctx, wsURL, opts)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("%s: dial %s: %v (HTTP %d)", name, wsURL, err, status)
	}
	ws.SetReadLimit(event.MaxServerFrameBytes)
	t.Cleanup(func() { ws.CloseNow() })
	return &peer{name: name, ws: ws}
}

// sendRaw writes one frame of the given type, as it is.
func (p *peer) sendRaw(t *testing.T, ctx context.Context, typ websocket.MessageType, frame []byte) {
	t.Helper()
	if err := p.ws.Write(ctx, typ, frame); err != nil {
		t.Fatalf("%s: write %.60q: %v", p.name, frame, err)
	}
}

// send writes one text frame.
func (p *peer) send(t *testing.T, ctx context.Context, frame string) {
	t.Helper()
	p.sendRaw(t, ctx, websocket.MessageText, []byte(frame))
}

// sendEvent encodes and writes one client event.
func (p *peer) sendEvent(t *testing.T, ctx context.Context, e event.Event) {
	t.Helper()
	b, err := event.Encode(e)
	if err != nil {
		t.Fatalf("%s: encode %#v: %v", p.name, e, err)
	}
	p.sendRaw(t, ctx, websocket.MessageText, b)
}

// read returns the next event from the server. Every server frame must be
// text and decode entirely: the server sends no event a client cannot read.
// It is safe to call from any goroutine.
func (p *peer) read(ctx context.Context) (event.Event, error) {
	for len(p.pending) == 0 {
		typ, frame, err := p.ws.Read(ctx)
		if err != nil {
			return nil, err
		}
		if typ != websocket.MessageText {
			return nil, fmt.Errorf("server sent a %v frame: %q", typ, frame)
		}
		events, err := event.DecodeServer(frame)
		if err != nil {
			return nil, fmt.Errorf("server frame %.200q: %w", frame, err)
		}
		p.pending = events
	}
	e := p.pending[0]
	p.pending = p.pending[1:]
	return e, nil
}

// next returns the next event from the server, failing the test on error.
func (p *peer) next(t *testing.T, ctx context.Context) event.Event {
	t.Helper()
	e, err := p.read(ctx)
	if err != nil {
		t.Fatalf("%s: read: %v", p.name, err)
	}
	return e
}

// expect returns p's next event, which must be an E.
func expect[E event.Event](t *testing.T, ctx context.Context, p *peer) E {
	t.Helper()
	e := p.next(t, ctx)
	got, ok := e.(E)
	if !ok {
		t.Fatalf("%s: got %#v, want a %T event", p.name, e, got)
	}
	return got
}

// expectEvent checks that p's next event is want, field for field. When
// want is a Presence, pings before it are skipped: the room gathers
// presence changes for up to a tick, and a test's short heartbeat may
// come first.
func expectEvent(t *testing.T, ctx context.Context, p *peer, want event.Event) {
	t.Helper()
	got := p.next(t, ctx)
	if _, ok := want.(event.Presence); ok {
		for got == (event.Ping{}) {
			got = p.next(t, ctx)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: got %#v, want %#v", p.name, got, want)
	}
}

// expectMessage checks that p's next event is a message from user with the
// given seq, id and text, in the lobby and stamped about now.
func expectMessage(t *testing.T, ctx context.Context, p *peer, from event.Joined, seq uint64, id, text string) event.Message {
	t.Helper()
	m := expect[event.Message](t, ctx, p)
	if m.Room != event.DefaultRoom || m.Seq != seq || m.ID != id || m.User != from.User || m.Name != from.Name || m.Text != text {
		t.Fatalf("%s: got %#v, want seq %d id %q from %s (%s) text %.40q in %s",
			p.name, m, seq, id, from.User, from.Name, text, event.DefaultRoom)
	}
	if d := time.Since(time.UnixMilli(m.Time)); d < -time.Minute || d > time.Minute {
		t.Fatalf("%s: message time %d is %v away from now", p.name, m.Time, d)
	}
	return m
}

// expectError checks that p's next event is an error with the given code
// and id, with a sentence for people.
func expectError(t *testing.T, ctx context.Context, p *peer, code event.Code, id string) {
	t.Helper()
	e := expect[event.Error](t, ctx, p)
	if e.Code != code || e.ID != id || e.Message == "" {
		t.Fatalf("%s: got %#v, want code %s, id %q and a message", p.name, e, code, id)
	}
}

// join sends a join under name and returns the joined event that answers it.
func (p *peer) join(t *testing.T, ctx context.Context, name string) event.Joined {
	t.Helper()
	p.sendEvent(t, ctx, event.Join{Name: name})
	j := expect[event.Joined](t, ctx, p)
	if j.Room != event.DefaultRoom || j.User == "" || j.Name != strings.TrimSpace(name) || j.Token == "" {
		t.Fatalf("%s: join %q answered with %#v", p.name, name, j)
	}
	// The room's recent history follows Joined: skip it, up to j.Seq.
	for seq := j.Seq; seq > 0; {
		m := expect[event.Message](t, ctx, p)
		if m.Seq == j.Seq {
			break
		}
	}
	return j
}

// closed reads until the connection ends and returns the events read before
// and the close status (-1 when the connection ended without a close frame).
func (p *peer) closed(ctx context.Context) ([]event.Event, websocket.StatusCode, error) {
	var events []event.Event
	for {
		e, err := p.read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return events, -1, fmt.Errorf("%s: still open: %w", p.name, ctx.Err())
			}
			return events, websocket.CloseStatus(err), err
		}
		events = append(events, e)
	}
}

// joinedPair returns two peers in the lobby of a new server: ann, who joined
// first and saw bob join, and bob.
func joinedPair(t *testing.T, ctx context.Context, wsURL string) (ann, bob *peer, annJ, bobJ event.Joined) {
	t.Helper()
	ann = dial(t, ctx, wsURL, "ann", nil)
	annJ = ann.join(t, ctx, "ann")
	bob = dial(t, ctx, wsURL, "bob", nil)
	bobJ = bob.join(t, ctx, "bob")
	expectEvent(t, ctx, ann, event.Presence{Room: event.DefaultRoom, Joined: []event.Member{{User: bobJ.User, Name: "bob"}}})
	return ann, bob, annJ, bobJ
}

// TestHappyPath proves the protocol's main conversation, event by event:
// join, the others' notice of it, messages numbered from 1 and delivered
// identically to everyone (sender included, id echoed), and the notice of a
// leave.
func TestHappyPath(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{})

	ann := dial(t, ctx, wsURL, "ann", nil)
	annJ := ann.join(t, ctx, "ann")
	bob := dial(t, ctx, wsURL, "bob", nil)
	bobJ := bob.join(t, ctx, "bob")
	if annJ.User == bobJ.User {
		t.Fatalf("ann and bob got the same user id %q", annJ.User)
	}
	expectEvent(t, ctx, ann, event.Presence{Room: event.DefaultRoom, Joined: []event.Member{{User: bobJ.User, Name: "bob"}}})

	ann.sendEvent(t, ctx, event.Send{ID: "ann-1", Text: "hello bob <b>&</b>"})
	a1 := expectMessage(t, ctx, ann, annJ, 1, "ann-1", "hello bob <b>&</b>")
	b1 := expectMessage(t, ctx, bob, annJ, 1, "ann-1", "hello bob <b>&</b>")
	if a1 != b1 {
		t.Fatalf("ann and bob saw message 1 differently: %#v and %#v", a1, b1)
	}

	bob.sendEvent(t, ctx, event.Send{Text: "hi ann\nhow are you?"}) // no id: none echoed
	bob.sendEvent(t, ctx, event.Send{ID: "bob-2", Text: "🙂"})
	var annView, bobView []event.Message
	for _, seq := range []uint64{2, 3} {
		id, text := "", "hi ann\nhow are you?"
		if seq == 3 {
			id, text = "bob-2", "🙂"
		}
		annView = append(annView, expectMessage(t, ctx, ann, bobJ, seq, id, text))
		bobView = append(bobView, expectMessage(t, ctx, bob, bobJ, seq, id, text))
	}
	if !reflect.DeepEqual(annView, bobView) {
		t.Fatalf("views differ:\nann: %#v\nbob: %#v", annView, bobView)
	}

	if err := bob.ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("bob: close: %v", err)
	}
	expectEvent(t, ctx, ann, event.Presence{Room: event.DefaultRoom, Left: []event.Member{{User: bobJ.User, Name: "bob"}}})

	// ann is alone now, and still served.
	ann.sendEvent(t, ctx, event.Send{ID: "ann-2", Text: "bye"})
	expectMessage(t, ctx, ann, annJ, 4, "ann-2", "bye")
}

// TestNormalization proves that the server trims names and messages and
// accepts them right up to their limits, delivering what it trimmed.
func TestNormalization(t *testing.T) {
	t.Parallel()
	longName := strings.Repeat("é", event.MaxNameLen)
	longText := strings.Repeat("ü", event.MaxTextLen)
	tests := []struct {
		name, wantName string
		text, wantText string
	}{
		{"  ann  ", "ann", "  hello  ", "hello"},
		{"\tann lee\n", "ann lee", "\n line one\n\tline two \n", "line one\n\tline two"},
		{" " + longName + " ", longName, " " + longText + "\n", longText},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.12q", tt.name), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			wsURL, _ := startServer(t, server.Config{})
			p := dial(t, ctx, wsURL, "ann", nil)
			p.sendEvent(t, ctx, event.Join{Name: tt.name})
			j := expect[event.Joined](t, ctx, p)
			if j.Name != tt.wantName {
				t.Fatalf("joined as %q, want %q", j.Name, tt.wantName)
			}
			p.sendEvent(t, ctx, event.Send{ID: "m1", Text: tt.text})
			expectMessage(t, ctx, p, j, 1, "m1", tt.wantText)
		})
	}
}

// TestBadInput proves that every kind of invalid frame is answered with an
// error event of the right code (echoing the send's id where there is a
// valid one), that the connection stays usable afterwards, and that another
// member of the room receives nothing because of it and keeps chatting.
func TestBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		joined   bool // the bad client joined before the bad frame
		typ      websocket.MessageType
		frame    string
		wantCode event.Code
		wantID   string
	}{
		{name: "not JSON", frame: `hello`, wantCode: event.CodeBadFrame},
		{name: "truncated JSON", joined: true, frame: `{"type":"send","text":"hi`, wantCode: event.CodeBadFrame},
		{name: "JSON array", frame: `[{"type":"join","name":"ann"}]`, wantCode: event.CodeBadFrame},
		{name: "JSON string", frame: `"join"`, wantCode: event.CodeBadFrame},
		{name: "missing type", frame: `{"name":"ann"}`, wantCode: event.CodeBadFrame},
		{name: "type not a string", frame: `{"type":1,"name":"ann"}`, wantCode: event.CodeBadFrame},
		{name: "two events in a frame", joined: true, frame: "{\"type\":\"send\",\"text\":\"a\"}\n{\"type\":\"send\",\"text\":\"b\"}", wantCode: event.CodeBadFrame},
		{name: "unknown type", frame: `{"type":"shout","text":"hi"}`, wantCode: event.CodeUnknownType},
		{name: "server-only type", joined: true, frame: `{"type":"message","room":"lobby","seq":1,"user":"x","name":"x","text":"forged"}`, wantCode: event.CodeUnknownType},
		{name: "join without name", frame: `{"type":"join"}`, wantCode: event.CodeMissingField},
		{name: "send without text", joined: true, frame: `{"type":"send"}`, wantCode: event.CodeMissingField},
		{name: "send before join", frame: `{"type":"send","id":"early-1","text":"hi"}`, wantCode: event.CodeNotJoined, wantID: "early-1"},
		{name: "second join", joined: true, frame: `{"type":"join","name":"ann again"}`, wantCode: event.CodeAlreadyJoined},
		{name: "empty name", frame: `{"type":"join","name":""}`, wantCode: event.CodeInvalidName},
		{name: "whitespace name", frame: `{"type":"join","name":" \t\n "}`, wantCode: event.CodeInvalidName},
		{name: "33-character name", frame: `{"type":"join","name":"` + strings.Repeat("n", event.MaxNameLen+1) + `"}`, wantCode: event.CodeInvalidName},
		{name: "control character in name", frame: `{"type":"join","name":"a\u0007b"}`, wantCode: event.CodeInvalidName},
		{name: "empty text", joined: true, frame: `{"type":"send","id":"t-1","text":""}`, wantCode: event.CodeInvalidText, wantID: "t-1"},
		{name: "whitespace text", joined: true, frame: `{"type":"send","id":"t-2","text":" \n\t "}`, wantCode: event.CodeInvalidText, wantID: "t-2"},
		{name: "2001-character text", joined: true, frame: `{"type":"send","id":"t-3","text":"` + strings.Repeat("x", event.MaxTextLen+1) + `"}`, wantCode: event.CodeInvalidText, wantID: "t-3"},
		{name: "control character in text", joined: true, frame: `{"type":"send","id":"t-4","text":"a\u0000b"}`, wantCode: event.CodeInvalidText, wantID: "t-4"},
		{name: "id with a space", joined: true, frame: `{"type":"send","id":"a b","text":"hi"}`, wantCode: event.CodeInvalidID},
		{name: "id too long", joined: true, frame: `{"type":"send","id":"` + strings.Repeat("i", event.MaxIDLen+1) + `","text":"hi"}`, wantCode: event.CodeInvalidID},
		{name: "binary frame", typ: websocket.MessageBinary, frame: `{"type":"join","name":"ann"}`, wantCode: event.CodeBadFrame},
		{name: "binary frame after join", joined: true, typ: websocket.MessageBinary, frame: `{"type":"send","text":"hi"}`, wantCode: event.CodeBadFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			wsURL, _ := startServer(t, server.Config{})
			bob := dial(t, ctx, wsURL, "bob", nil)
			bobJ := bob.join(t, ctx, "bob")
			ann := dial(t, ctx, wsURL, "ann", nil)

			var annJ event.Joined
			if tt.joined {
				annJ = ann.join(t, ctx, "ann")
				expectEvent(t, ctx, bob, event.Presence{Room: event.DefaultRoom, Joined: []event.Member{{User: annJ.User, Name: "ann"}}})
			}
			typ := tt.typ
			if typ == 0 {
				typ = websocket.MessageText
			}
			ann.sendRaw(t, ctx, typ, []byte(tt.frame))
			expectError(t, ctx, ann, tt.wantCode, tt.wantID)

			// ann's connection still works: she joins (unless she had) and
			// chats. bob's next events are exactly those of this
			// conversation: had the bad frame reached him, it would come
			// first.
			if !tt.joined {
				annJ = ann.join(t, ctx, "ann")
				expectEvent(t, ctx, bob, event.Presence{Room: event.DefaultRoom, Joined: []event.Member{{User: annJ.User, Name: "ann"}}})
			}
			ann.sendEvent(t, ctx, event.Send{ID: "ok-1", Text: "still here"})
			expectMessage(t, ctx, ann, annJ, 1, "ok-1", "still here")
			expectMessage(t, ctx, bob, annJ, 1, "ok-1", "still here")
			bob.sendEvent(t, ctx, event.Send{ID: "ok-2", Text: "welcome back"})
			expectMessage(t, ctx, bob, bobJ, 2, "ok-2", "welcome back")
			expectMessage(t, ctx, ann, bobJ, 2, "ok-2", "welcome back")
		})
	}
}

// TestOversizedFrame proves that a frame of exactly event.MaxClientFrameBytes
// is read, that one byte more closes the connection with 1009 (message too
// big), and that the server and the rest of the room carry on.
func TestOversizedFrame(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{})
	ann, bob, annJ, bobJ := joinedPair(t, ctx, wsURL)

	// A valid send padded with spaces, which the server trims, to the limit.
	frame := func(size int) []byte {
		head, tail := `{"type":"send","id":"pad","text":"x`, `"}`
		return []byte(head + strings.Repeat(" ", size-len(head)-len(tail)) + tail)
	}
	bob.sendRaw(t, ctx, websocket.MessageText, frame(event.MaxClientFrameBytes))
	expectMessage(t, ctx, bob, bobJ, 1, "pad", "x")
	expectMessage(t, ctx, ann, bobJ, 1, "pad", "x")

	bob.sendRaw(t, ctx, websocket.MessageText, frame(event.MaxClientFrameBytes+1))
	events, status, err := bob.closed(ctx)
	if status != websocket.StatusMessageTooBig || len(events) != 0 {
		t.Fatalf("after an oversized frame: events %#v, close status %v (%v), want none and %v",
			events, status, err, websocket.StatusMessageTooBig)
	}

	expectEvent(t, ctx, ann, event.Presence{Room: event.DefaultRoom, Left: []event.Member{{User: bobJ.User, Name: "bob"}}})
	cat := dial(t, ctx, wsURL, "cat", nil)
	catJ := cat.join(t, ctx, "cat")
	expectEvent(t, ctx, ann, event.Presence{Room: event.DefaultRoom, Joined: []event.Member{{User: catJ.User, Name: "cat"}}})
	ann.sendEvent(t, ctx, event.Send{ID: "a", Text: "still up"})
	expectMessage(t, ctx, ann, annJ, 2, "a", "still up")
	expectMessage(t, ctx, cat, annJ, 2, "a", "still up")
}

// TestTooManyProtocolErrors proves that a connection may send
// event.MaxProtocolErrors invalid frames and go on, and that the next one
// closes it with 1008 (policy violation) while the room carries on.
func TestTooManyProtocolErrors(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{})
	bob := dial(t, ctx, wsURL, "bob", nil)
	bobJ := bob.join(t, ctx, "bob")
	bad := dial(t, ctx, wsURL, "bad", nil)

	for range event.MaxProtocolErrors {
		bad.send(t, ctx, "garbage")
		expectError(t, ctx, bad, event.CodeBadFrame, "")
	}
	// At the limit, the connection still works.
	badJ := bad.join(t, ctx, "bad")
	expectEvent(t, ctx, bob, event.Presence{Room: event.DefaultRoom, Joined: []event.Member{{User: badJ.User, Name: "bad"}}})

	bad.send(t, ctx, "one too many")
	events, status, err := bad.closed(ctx)
	if status != websocket.StatusPolicyViolation {
		t.Fatalf("after %d invalid frames: close status %v (%v), want %v",
			event.MaxProtocolErrors+1, status, err, websocket.StatusPolicyViolation)
	}
	// The last refusal may or may not make it out before the close frame.
	for _, e := range events {
		if e, ok := e.(event.Error); !ok || e.Code != event.CodeBadFrame {
			t.Fatalf("before the close: got %#v, want at most a bad_frame error", e)
		}
	}
	if len(events) > 1 {
		t.Fatalf("before the close: got %d events, want at most 1", len(events))
	}

	expectEvent(t, ctx, bob, event.Presence{Room: event.DefaultRoom, Left: []event.Member{{User: badJ.User, Name: "bad"}}})
	bob.sendEvent(t, ctx, event.Send{ID: "b", Text: "alone"})
	expectMessage(t, ctx, bob, bobJ, 1, "b", "alone")
}

// TestOrigin proves the handshake's Origin rule: no Origin (not a browser)
// and the server's own origin are accepted, and so are the origins that
// Config.AllowedOrigins lists; any other origin is refused with 403.
func TestOrigin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		allowed []string
		origin  string // "self" is the server's own origin
		want    int
	}{
		{name: "no Origin", want: http.StatusSwitchingProtocols},
		{name: "same origin", origin: "self", want: http.StatusSwitchingProtocols},
		{name: "foreign origin", origin: "http://evil.example", want: http.StatusForbidden},
		{name: "same host on another port", origin: "http://127.0.0.1:1", want: http.StatusForbidden},
		{name: "foreign origin with a list", allowed: []string{"chat.example.com"}, origin: "http://evil.example", want: http.StatusForbidden},
		{name: "listed host", allowed: []string{"chat.example.com"}, origin: "https://chat.example.com", want: http.StatusSwitchingProtocols},
		{name: "listed pattern", allowed: []string{"*.example.com"}, origin: "https://a.example.com", want: http.StatusSwitchingProtocols},
		{name: "pattern does not match the bare domain", allowed: []string{"*.example.com"}, origin: "https://example.com", want: http.StatusForbidden},
		{name: "suffix is not a subdomain", allowed: []string{"*.example.com"}, origin: "https://a.example.com.evil.example", want: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			wsURL, ts := startServer(t, server.Config{AllowedOrigins: tt.allowed})
			opts := &websocket.DialOptions{HTTPHeader: http.Header{}}
			switch tt.origin {
			case "":
			case "self":
				opts.HTTPHeader.Set("Origin", ts.URL)
			default:
				opts.HTTPHeader.Set("Origin", tt.origin)
			}
			ws, resp, err := websocket.Dial(ctx, wsURL, opts)
			if resp == nil {
				t.Fatalf("dial with Origin %q: no response: %v", tt.origin, err)
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("dial with Origin %q: HTTP %d (%v), want %d", tt.origin, resp.StatusCode, err, tt.want)
			}
			if tt.want != http.StatusSwitchingProtocols {
				if err == nil {
					t.Fatal("dial succeeded on a refused handshake")
				}
				return
			}
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			p := &peer{name: "ann", ws: ws}
			t.Cleanup(func() { ws.CloseNow() })
			j := p.join(t, ctx, "ann")
			p.sendEvent(t, ctx, event.Send{ID: "o", Text: "hi"})
			expectMessage(t, ctx, p, j, 1, "o", "hi")
		})
	}
}

// smallBufferListener gives every accepted socket a small kernel send
// buffer, so that a client that stops reading stalls the server's writes
// after a few dozen kilobytes rather than after the megabytes that the
// kernel would otherwise buffer on loopback.
type smallBufferListener struct{ net.Listener }

func (l smallBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		if err := tc.SetWriteBuffer(8 << 10); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, err
}

// dialSmallBuffer dials with a kernel receive buffer of a known, modest
// size, for a client meant to stop reading: what the sockets can hold then
// does not depend on the machine's defaults.
func dialSmallBuffer(t *testing.T, ctx context.Context, wsURL, name string) *peer {
	t.Helper()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if err := c.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return dial(t, ctx, wsURL, name, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
}

// TestSlowConsumer proves that a client that stops reading is closed with
// event.StatusSlowConsumer once its queue of Config.QueueBytes overflows,
// after a contiguous run of the room's messages, while the sender and
// another reader get every message in order, never held up by it.
func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ts := httptest.NewUnstartedServer(newServer(t, server.Config{QueueBytes: 4096, RateLimit: 1e6, RateBurst: 1000}))
	ts.Listener = smallBufferListener{ts.Listener}
	ts.Start()
	t.Cleanup(ts.Close)
	wsURL := servertest.SocketURL(ts.URL)

	ann, bob, annJ, bobJ := joinedPair(t, ctx, wsURL)
	slow := dialSmallBuffer(t, ctx, wsURL, "slow")
	slow.sendEvent(t, ctx, event.Join{Name: "slow"})
	// slow reads nothing until the flood is over. The others' notices
	// prove that it is in the room before the first message.
	var slowUser string
	for _, p := range []*peer{ann, bob} {
		uj := expect[event.Presence](t, ctx, p)
		if len(uj.Joined) != 1 || len(uj.Left) != 0 || uj.Joined[0].Name != "slow" || (slowUser != "" && uj.Joined[0].User != slowUser) {
			t.Fatalf("%s: got %#v, want slow's arrival", p.name, uj)
		}
		slowUser = uj.Joined[0].User
	}

	// 200 messages of 2000 characters: 400 KB, several times what the
	// sockets can buffer (at most 16 KB sent + 128 KB received, as set up
	// above) and the 4 KB queue hold. ann sends each once the previous one
	// reached both readers, so that their own small queues never overflow:
	// the room moves at the readers' pace, whatever slow does.
	const n = 200
	text := func(i int) string { return fmt.Sprintf("%03d ", i) + strings.Repeat("m", event.MaxTextLen-4) }
	for i := 1; i <= n; i++ {
		id := fmt.Sprint("f", i)
		ann.sendEvent(t, ctx, event.Send{ID: id, Text: text(i)})
		expectMessage(t, ctx, ann, annJ, uint64(i), id, text(i))
		expectMessage(t, ctx, bob, annJ, uint64(i), id, text(i))
	}

	// Now slow reads: its own joined event, messages 1..k, then the close.
	events, status, err := slow.closed(ctx)
	if status != event.StatusSlowConsumer {
		t.Fatalf("slow: close status %v (%v) after %d events, want %d", status, err, len(events), event.StatusSlowConsumer)
	}
	if len(events) == 0 {
		t.Fatal("slow: no event before the close")
	}
	if j, ok := events[0].(event.Joined); !ok || j.User != slowUser || j.Name != "slow" {
		t.Fatalf("slow: first event %#v, want its joined event", events[:min(1, len(events))])
	}
	for i, e := range events[1:] {
		m, ok := e.(event.Message)
		if !ok || m.Seq != uint64(i+1) || m.Text != text(i+1) {
			t.Fatalf("slow: event %d is %.100v, want message %d", i+1, e, i+1)
		}
	}
	if got := len(events) - 1; got >= n {
		t.Fatalf("slow: got all %d messages through a %d-byte queue", got, 4096)
	}
	t.Logf("slow got %d of %d messages before its close", len(events)-1, n)

	// The room sees slow leave and carries on.
	for _, p := range []*peer{ann, bob} {
		expectEvent(t, ctx, p, event.Presence{Room: event.DefaultRoom, Left: []event.Member{{User: slowUser, Name: "slow"}}})
	}
	bob.sendEvent(t, ctx, event.Send{ID: "c", Text: "is it quiet?"})
	expectMessage(t, ctx, ann, bobJ, n+1, "c", "is it quiet?")
	expectMessage(t, ctx, bob, bobJ, n+1, "c", "is it quiet?")
}

// TestGracefulShutdown proves that when Run's context ends, every connected
// client is closed with 1012 (service restart), new connections are refused,
// and Run returns nil.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	srv := newServer(t, server.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- srv.Run(runCtx, ln) }()

	wsURL := servertest.SocketURL("http://" + ln.Addr().String())
	ann, bob, _, _ := joinedPair(t, ctx, wsURL)
	idle := dial(t, ctx, wsURL, "idle", nil) // connected, never joined
	peers := []*peer{ann, bob, idle}

	// Each client reads until its connection ends, as a browser does.
	type result struct {
		name   string
		events []event.Event
		status websocket.StatusCode
		err    error
	}
	results := make(chan result, len(peers))
	for _, p := range peers {
		go func() {
			events, status, err := p.closed(ctx)
			results <- result{p.name, events, status, err}
		}()
	}
	stop()
	for range peers {
		select {
		case r := <-results:
			if r.status != websocket.StatusServiceRestart {
				t.Errorf("%s: close status %v (%v), want %v", r.name, r.status, r.err, websocket.StatusServiceRestart)
			}
			for _, e := range r.events {
				// bob's departure may be announced to ann first.
				if ul, ok := e.(event.Presence); !ok || len(ul.Joined) != 0 || len(ul.Left) != 1 || ul.Left[0].Name != "bob" {
					t.Errorf("%s: unexpected event before the close: %#v", r.name, e)
				}
			}
		case <-ctx.Done():
			t.Fatal("clients still open after shutdown")
		}
	}
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run returned %v, want nil", err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not return after its context ended")
	}
	if ws, _, err := websocket.Dial(ctx, wsURL, nil); err == nil {
		ws.CloseNow()
		t.Fatal("dial succeeded after shutdown")
	}
}

// TestRestartRefusesUpgrades proves that once the server is closing for a
// restart, a new WebSocket is refused with 503 before the upgrade, instead
// of being accepted and closed with 1012 again: a client that redials at
// once is told of the restart only once.
func TestRestartRefusesUpgrades(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	srv, ts := servertest.Start(t, withGrace(server.Config{}))
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	ws, resp, err := websocket.Dial(ctx, servertest.SocketURL(ts.URL), nil)
	if err == nil {
		ws.CloseNow()
		t.Fatal("upgrade accepted while the server restarts")
	}
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial during the restart: %v (response %v), want 503", err, resp)
	}
}

// TestManyClients proves that many clients joining and sending at once each
// receive every message exactly once, all in the same order, numbered 1, 2,
// 3… without gaps. It uses client.Conn, the well-behaved client.
func TestManyClients(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{})
	const clients, perClient = 50, 5
	const total = clients * perClient

	// Phase 1: everyone joins. Phase 2, once all are in: everyone sends and
	// reads. A goroutine reports failures through errs, never t.Fatal.
	var joined, done sync.WaitGroup
	joined.Add(clients)
	start := make(chan struct{})
	views := make([][]event.Message, clients)
	errs := make(chan error, clients)
	for i := range clients {
		done.Go(func() {
			joinedOnce := sync.OnceFunc(joined.Done)
			defer joinedOnce()
			if err := chatter(ctx, wsURL, i, perClient, total, joinedOnce, start, &views[i]); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
		})
	}
	joined.Wait()
	close(start)
	done.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	// Every view holds seq 1..total and every (client, id) once...
	seen := make(map[string]bool, total)
	for j, m := range views[0] {
		if m.Seq != uint64(j+1) {
			t.Fatalf("client 0: message %d has seq %d", j, m.Seq)
		}
		key := m.Name + "/" + m.ID
		if seen[key] {
			t.Fatalf("client 0: %s delivered twice", key)
		}
		seen[key] = true
	}
	if len(seen) != total {
		t.Fatalf("client 0: %d distinct messages, want %d", len(seen), total)
	}
	// ...and every client saw exactly what client 0 saw.
	for i := 1; i < clients; i++ {
		if !reflect.DeepEqual(views[i], views[0]) {
			t.Fatalf("client %d's view differs from client 0's", i)
		}
	}
}

// chatter is one client of TestManyClients: it joins as "c<i>", reports
// joined, waits for start, sends perClient messages and reads until it has
// total messages, which it stores in view.
func chatter(ctx context.Context, wsURL string, i, perClient, total int, joined func(), start <-chan struct{}, view *[]event.Message) error {
	c, err := client.Dial(ctx, wsURL)
	if err != nil {
		return err
	}
	defer c.Close()
	name := fmt.Sprint("c", i)
	if err := c.Send(ctx, event.Join{Name: name}); err != nil {
		return err
	}
	var me event.Joined
	var msgs []event.Message
	for me.User == "" {
		events, err := c.Read(ctx)
		if err != nil {
			return err
		}
		for _, e := range events {
			switch e := e.(type) {
			case event.Joined:
				me = e
			case event.Presence:
				// Those who join later, possibly in the same frame.
				if me.User == "" {
					return fmt.Errorf("before joined: %#v", e)
				}
			default:
				return fmt.Errorf("while joining: %#v", e)
			}
		}
	}
	joined()
	select {
	case <-start:
	case <-ctx.Done():
		return ctx.Err()
	}

	sendErr := make(chan error, 1)
	go func() {
		for k := range perClient {
			if err := c.Send(ctx, event.Send{ID: fmt.Sprint("m", k), Text: fmt.Sprintf("%s says %d", name, k)}); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- nil
	}()
	for len(msgs) < total {
		events, err := c.Read(ctx)
		if err != nil {
			return fmt.Errorf("after %d messages: %w", len(msgs), err)
		}
		for _, e := range events {
			switch e := e.(type) {
			case event.Message:
				msgs = append(msgs, e)
			case event.Presence:
				if len(e.Joined) > 0 && len(msgs) > 0 {
					return fmt.Errorf("%s joined after the messages began", e.Joined[0].Name)
				}
				// A client that has all the messages leaves: after them.
				if len(e.Left) > 0 && len(msgs) < total {
					return fmt.Errorf("%s left before message %d", e.Left[0].Name, total)
				}
			default:
				return fmt.Errorf("unexpected %#v", e)
			}
		}
	}
	if err := <-sendErr; err != nil {
		return err
	}
	mine := 0
	for _, m := range msgs {
		if m.User == me.User {
			mine++
			if m.Name != name {
				return fmt.Errorf("own message under name %q", m.Name)
			}
		}
	}
	if mine != perClient || len(msgs) != total {
		return fmt.Errorf("got %d messages, %d own, want %d and %d", len(msgs), mine, total, perClient)
	}
	*view = msgs
	return nil
}
