package bench

import (
	"bytes"
	"encoding/json"
	"net/url"
)

// socketIO speaks socket.io 4 (Engine.IO 4) over a WebSocket alone, no
// polling first, to the socket.io chat demo (peers/socketio/server.js):
//
//	← 0{"sid":"…","upgrades":[],"pingInterval":25000,…}   Engine.IO open
//	→ 40                                                  connect to "/"
//	← 40{"sid":"…"}
//	→ 42["add user","<name>"]
//	← 42["login",{"numUsers":<n>}]                        the join's answer
//	→ 42["new message",{"text":"<stamp>"}]
//	← 42["new message",{"username":"<name>","message":{"text":"<stamp>"}}]
//
// The add user waits for the connect's answer: socket.io drops an event
// that arrives before its namespace's connect completed. Each packet is a
// frame of its own. The server's ping is the frame 2, answered with 3; a
// refused connect is 44{"message":"…"}. The demo has one room, everyone:
// the room of the run only names it.
type socketIO struct{}

var (
	socketIOOpen      = []byte(`0{`)
	socketIOConnect   = []byte(`40`)
	socketIOLogin     = []byte(`42["login",`)
	socketIOConnError = []byte(`44`)
	socketIOPing      = []byte(`2`)
	socketIOPong      = []byte(`3`)
)

func (socketIO) dialURL(base *url.URL) string {
	return withPath(base, "/socket.io/", "EIO=4&transport=websocket")
}

func (socketIO) open() []byte { return nil }

func (socketIO) handshake(frame []byte, name, _ string) (replies [][]byte, joined bool, refused string) {
	switch {
	case bytes.Equal(frame, socketIOPing):
		return [][]byte{socketIOPong}, false, ""
	case bytes.HasPrefix(frame, socketIOOpen):
		return [][]byte{socketIOConnect}, false, ""
	case bytes.HasPrefix(frame, socketIOConnError):
		var e struct{ Message string }
		_ = json.Unmarshal(frame[len(socketIOConnError):], &e)
		return nil, false, "socket.io connect_error: " + e.Message
	case bytes.HasPrefix(frame, socketIOConnect):
		b := []byte(`42["add user",`)
		b = appendJSONString(b, name)
		return [][]byte{append(b, ']')}, false, ""
	case bytes.HasPrefix(frame, socketIOLogin):
		return nil, true, ""
	}
	return nil, false, ""
}

func (socketIO) ping(frame []byte) (reply []byte, only bool) {
	if bytes.Equal(frame, socketIOPing) {
		return socketIOPong, true
	}
	return nil, false
}

func (socketIO) errors([]byte, func(code string)) {} // the demo answers no event with an error

func (socketIO) send(b []byte, _ string, _ int64, text []byte) []byte {
	b = append(b, `42["new message",{"text":`...)
	b = appendJSONString(b, string(text))
	return append(b, "}]"...)
}
