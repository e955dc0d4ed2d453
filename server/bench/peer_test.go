package bench

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"testing"
)

// TestPeerByName: every protocol of Protocols has a driver (the chat's is
// nil), and another name is an error.
func TestPeerByName(t *testing.T) {
	t.Parallel()
	for _, name := range append([]string{""}, Protocols...) {
		p, err := peerByName(name)
		if err != nil {
			t.Errorf("peerByName(%q): %v", name, err)
		}
		if chat := name == "" || name == ProtocolChat; chat != (p == nil) {
			t.Errorf("peerByName(%q) = %T, want nil for the chat's protocol only", name, p)
		}
	}
	if _, err := peerByName("mqtt"); err == nil {
		t.Error(`peerByName("mqtt") is no error`)
	}
}

// TestCheckProtocol: the socket.io demo runs one room only.
func TestCheckProtocol(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg Config
		ok  bool
	}{
		{Config{Protocol: ProtocolSocketIO, Rooms: 1}, true},
		{Config{Protocol: ProtocolSocketIO, Rooms: 2}, false},
		{Config{Protocol: ProtocolCentrifugo, Rooms: 5}, true},
		{Config{Protocol: "", Rooms: 5}, true},
		{Config{Protocol: "nats", Rooms: 1}, false},
	}
	for _, tt := range tests {
		if err := tt.cfg.checkProtocol(); (err == nil) != tt.ok {
			t.Errorf("%+v: checkProtocol() = %v, want ok %v", tt.cfg, err, tt.ok)
		}
	}
}

// TestDialURL: a URL without a path gets the peer's usual one; a URL with a
// path is dialled as given.
func TestDialURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p         peer
		base, url string
	}{
		{centrifugo{}, "ws://127.0.0.1:8000", "ws://127.0.0.1:8000/connection/websocket"},
		{centrifugo{}, "ws://127.0.0.1:8000/", "ws://127.0.0.1:8000/connection/websocket"},
		{centrifugo{}, "wss://example.org/rt/ws", "wss://example.org/rt/ws"},
		{socketIO{}, "ws://127.0.0.1:3000", "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"},
		{socketIO{}, "ws://h/sio/?EIO=4&transport=websocket", "ws://h/sio/?EIO=4&transport=websocket"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.base)
		if err != nil {
			t.Fatal(err)
		}
		if got := tt.p.dialURL(u); got != tt.url {
			t.Errorf("%T.dialURL(%s) = %s, want %s", tt.p, tt.base, got, tt.url)
		}
	}
}

// handshakeStep is one frame of a server's handshake and what the driver
// must answer.
type handshakeStep struct {
	frame   string
	replies []string
	joined  bool
	refused string
}

// checkHandshake runs steps through p's handshake for "b7" in room "bench".
func checkHandshake(t *testing.T, p peer, steps []handshakeStep) {
	t.Helper()
	for _, s := range steps {
		replies, joined, refused := p.handshake([]byte(s.frame), "b7", "bench")
		got := make([]string, len(replies))
		for i, r := range replies {
			got[i] = string(r)
		}
		if !slices.Equal(got, s.replies) || joined != s.joined || refused != s.refused {
			t.Errorf("%T.handshake(%q) = %q, %v, %q; want %q, %v, %q", p, s.frame, got, joined, refused, s.replies, s.joined, s.refused)
		}
	}
}

// TestCentrifugoHandshake: connect, then subscribe once connected; the
// subscribe's reply is the join's answer, an error reply a refusal; a ping
// line among the replies is answered.
func TestCentrifugoHandshake(t *testing.T) {
	t.Parallel()
	if open := string((centrifugo{}).open()); open != `{"id":1,"connect":{}}` {
		t.Errorf("open = %s", open)
	}
	checkHandshake(t, centrifugo{}, []handshakeStep{
		{frame: `{"id":1,"connect":{"client":"c1","version":"6.9.1","ping":25,"pong":true}}`,
			replies: []string{`{"id":2,"subscribe":{"channel":"bench"}}`}},
		{frame: `{}`, replies: []string{`{}`}},
		{frame: "{}\n" + `{"id":1,"connect":{"client":"c1"}}`,
			replies: []string{`{}`, `{"id":2,"subscribe":{"channel":"bench"}}`}},
		{frame: `{"id":2,"subscribe":{"recoverable":true,"epoch":"x","positioned":true}}`, joined: true},
		{frame: `{"id":2,"subscribe":{}}` + "\n" + `{"push":{"channel":"bench","join":{"info":{"client":"c2"}}}}`, joined: true},
		{frame: `{"push":{"channel":"bench","join":{"info":{"client":"c2"}}}}` + "\n" + `{"id":2,"subscribe":{}}`, joined: true},
		{frame: `{"id":2,"error":{"code":103,"message":"permission denied"}}`, refused: "centrifugo 103 (permission denied)"},
		{frame: `{"id":1,"error":{"code":101,"message":"unauthorized"}}`, refused: "centrifugo 101 (unauthorized)"},
		{frame: `{"push":{"channel":"bench","join":{"info":{"client":"c2"}}}}`},
	})
}

// TestCentrifugoPing: a ping is a line {} alone; a {} inside a reply is not
// one.
func TestCentrifugoPing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		frame      string
		ping, only bool
	}{
		{`{}`, true, true},
		{"{}\n" + `{"push":{}}`, true, false},
		{`{"push":{}}` + "\n{}", true, false},
		{`{"id":3,"publish":{}}` + "\n{}\n" + `{"id":4,"publish":{}}`, true, false},
		{`{"id":3,"publish":{}}`, false, false},
		{`{"push":{"channel":"bench","pub":{"data":{"text":"b1 x 0 0 1"}}}}`, false, false},
	}
	for _, tt := range tests {
		reply, only := centrifugo{}.ping([]byte(tt.frame))
		if (reply != nil) != tt.ping || only != tt.only || (reply != nil && string(reply) != "{}") {
			t.Errorf("ping(%q) = %q, %v; want ping %v, alone %v", tt.frame, reply, only, tt.ping, tt.only)
		}
	}
}

// TestCentrifugoErrors: each error reply among the lines of a frame is
// reported, and nothing else.
func TestCentrifugoErrors(t *testing.T) {
	t.Parallel()
	frame := `{"id":5,"publish":{}}` + "\n" +
		`{"id":6,"error":{"code":108,"message":"not available"}}` + "\n" +
		`{"push":{"channel":"bench","pub":{"data":{"text":"b1 x 0 0 1"}}}}` + "\n" +
		`{"id":7,"error":{"code":111,"message":"too many requests"}}`
	var got []string
	centrifugo{}.errors([]byte(frame), func(code string) { got = append(got, code) })
	want := []string{"centrifugo 108 (not available)", "centrifugo 111 (too many requests)"}
	if !slices.Equal(got, want) {
		t.Errorf("errors = %q, want %q", got, want)
	}
	centrifugo{}.errors([]byte(`{"id":5,"publish":{}}`), func(code string) { t.Errorf("error %q in a frame without one", code) })
}

// TestSocketIOHandshake: the open packet is answered with a connect, the
// connect's answer with add user, and login is the join's answer.
func TestSocketIOHandshake(t *testing.T) {
	t.Parallel()
	if open := (socketIO{}).open(); open != nil {
		t.Errorf("open = %q, want none: the server speaks first", open)
	}
	checkHandshake(t, socketIO{}, []handshakeStep{
		{frame: `0{"sid":"s1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`, replies: []string{"40"}},
		{frame: `40{"sid":"s2"}`, replies: []string{`42["add user","b7"]`}},
		{frame: `2`, replies: []string{"3"}},
		{frame: `42["user joined",{"username":"b3","numUsers":4}]`},
		{frame: `42["login",{"numUsers":5}]`, joined: true},
		{frame: `44{"message":"Invalid namespace"}`, refused: "socket.io connect_error: Invalid namespace"},
	})
}

// TestSocketIOPing: the ping is the frame 2 alone.
func TestSocketIOPing(t *testing.T) {
	t.Parallel()
	pings := map[string]bool{"2": true, "3": false, `42["new message",{"text":"2"}]`: false, "20": false}
	for frame, ping := range pings {
		reply, only := socketIO{}.ping([]byte(frame))
		if (reply != nil) != ping || only != ping || (ping && string(reply) != "3") {
			t.Errorf("ping(%q) = %q, %v; want ping %v", frame, reply, only, ping)
		}
	}
}

// TestPeerSendFrames: each driver's send is valid JSON in its protocol, and
// the frame the server relays (the text inside the peer's wrapping, as the
// peer writes it) holds the stamp where scan finds it.
func TestPeerSendFrames(t *testing.T) {
	t.Parallel()
	const run = "0a1b2c3d"
	text := appendStamp(nil, run, 4, 17, 1700000000123456789)
	tests := []struct {
		p       peer
		want    string
		relayed func(sent []byte) []byte // the server's delivery of the sent frame
	}{
		{centrifugo{}, `{"id":20,"publish":{"channel":"bench","data":{"text":"b1 0a1b2c3d 4 17 1700000000123456789"}}}`,
			func(sent []byte) []byte {
				var cmd struct {
					Publish struct {
						Channel string
						Data    json.RawMessage
					}
				}
				if err := json.Unmarshal(sent, &cmd); err != nil {
					t.Fatalf("the publish is not JSON: %v", err)
				}
				return slices.Concat([]byte(`{"push":{"channel":"`+cmd.Publish.Channel+`","pub":{"data":`), cmd.Publish.Data, []byte(`,"offset":3,"epoch":"e"}}}`))
			}},
		{socketIO{}, `42["new message",{"text":"b1 0a1b2c3d 4 17 1700000000123456789"}]`,
			func(sent []byte) []byte {
				var packet []json.RawMessage
				if err := json.Unmarshal(sent[2:], &packet); err != nil || len(packet) != 2 {
					t.Fatalf("the event is not a JSON array of 2: %v", err)
				}
				return slices.Concat([]byte(`42["new message",{"username":"b4","message":`), packet[1], []byte(`}]`))
			}},
	}
	for _, tt := range tests {
		sent := tt.p.send(nil, "bench", 17, text)
		if string(sent) != tt.want {
			t.Errorf("%T.send = %s, want %s", tt.p, sent, tt.want)
			continue
		}
		relayed := tt.relayed(sent)
		i := bytes.Index(relayed, stampMarker(run))
		if i < 0 {
			t.Errorf("%T: no stamp marker in the relayed %s", tt.p, relayed)
			continue
		}
		s, n, at, _, ok := parseStamp(relayed[i+len(stampMarker(run)):])
		if !ok || s != 4 || n != 17 || at != 1700000000123456789 {
			t.Errorf("%T: parseStamp of %s = %d, %d, %d, %v", tt.p, relayed, s, n, at, ok)
		}
	}
}

// TestPeerSendEscapes: a room or text with JSON's special characters stays
// valid JSON.
func TestPeerSendEscapes(t *testing.T) {
	t.Parallel()
	for _, p := range []peer{centrifugo{}, socketIO{}} {
		sent := p.send(nil, `a"b`, 0, []byte(`x"\y`))
		if _, ok := p.(socketIO); ok {
			sent = sent[2:]
		}
		if !json.Valid(sent) {
			t.Errorf("%T.send is not JSON: %s", p, sent)
		}
	}
}

// TestHasLine: a line is found at the start, the end or between others,
// never as a part of a line.
func TestHasLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		frame       string
		found, only bool
	}{
		{"{}", true, true},
		{"{}\na", true, false},
		{"a\n{}", true, false},
		{"a\n{}\nb", true, false},
		{"a{}", false, false},
		{"{}a", false, false},
		{"a\n{}b", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		if found, only := hasLine([]byte(tt.frame), []byte("{}")); found != tt.found || only != tt.only {
			t.Errorf("hasLine(%q) = %v, %v; want %v, %v", tt.frame, found, only, tt.found, tt.only)
		}
	}
}
