package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
)

// centrifugo speaks Centrifugo's client protocol (v2, JSON) over its
// bidirectional WebSocket, /connection/websocket, as centrifuge-js does
// without a token (the server allows anonymous connections):
//
//	→ {"id":1,"connect":{}}
//	← {"id":1,"connect":{"client":"…","version":"…","ping":25,"pong":true}}
//	→ {"id":2,"subscribe":{"channel":"<room>"}}
//	← {"id":2,"subscribe":{…}}                      the join's answer
//	→ {"id":<n+3>,"publish":{"channel":"<room>","data":{"text":"<stamp>"}}}
//	← {"push":{"channel":"<room>","pub":{"data":{"text":"<stamp>"},…}}}
//
// The server may put several replies in one frame, a line each. Its ping is
// an empty line-object {} (alone or among the others), answered with {}; an
// error reply is {"id":<n>,"error":{"code":<c>,"message":"…"}}. A command
// id is a uint32 above 0: 1 and 2 are the handshake's, n+3 a publish's,
// within the 1<<32 messages a sender sends at most (maxSeq).
type centrifugo struct{}

var (
	centrifugoConnect     = []byte(`{"id":1,"connect":{}}`)
	centrifugoConnected   = []byte(`{"id":1,"connect":`)
	centrifugoSubscribed  = []byte(`{"id":2,"subscribe":`)
	centrifugoPing        = []byte(`{}`)
	centrifugoReplyPrefix = []byte(`{"id":`)
	centrifugoError       = []byte(`,"error":`)
)

func (centrifugo) dialURL(base *url.URL) string {
	return withPath(base, "/connection/websocket", "")
}

func (centrifugo) open() []byte { return centrifugoConnect }

func (centrifugo) handshake(frame []byte, _, room string) (replies [][]byte, joined bool, refused string) {
	if found, _ := hasLine(frame, centrifugoPing); found {
		replies = append(replies, centrifugoPing)
	}
	refused = firstCentrifugoError(frame)
	switch {
	case refused != "":
	case lineStarts(frame, centrifugoSubscribed):
		joined = true
	case lineStarts(frame, centrifugoConnected):
		b := []byte(`{"id":2,"subscribe":{"channel":`)
		b = appendJSONString(b, room)
		replies = append(replies, append(b, "}}"...))
	}
	return replies, joined, refused
}

func (centrifugo) ping(frame []byte) (reply []byte, only bool) {
	if found, only := hasLine(frame, centrifugoPing); found {
		return centrifugoPing, only
	}
	return nil, false
}

func (centrifugo) errors(frame []byte, f func(code string)) {
	if !bytes.Contains(frame, centrifugoError) {
		return
	}
	eachLine(frame, centrifugoReplyPrefix, func(line []byte) {
		if code, ok := centrifugoErrorCode(line); ok {
			f(code)
		}
	})
}

func (centrifugo) send(b []byte, room string, n int64, text []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, n+3, 10)
	b = append(b, `,"publish":{"channel":`...)
	b = appendJSONString(b, room)
	b = append(b, `,"data":{"text":`...)
	b = appendJSONString(b, string(text))
	return append(b, "}}}"...)
}

// firstCentrifugoError is the code of the first error reply in frame, as
// "centrifugo <code> (<message>)", or "" when it holds none.
func firstCentrifugoError(frame []byte) string {
	var first string
	eachLine(frame, centrifugoReplyPrefix, func(line []byte) {
		if code, ok := centrifugoErrorCode(line); ok && first == "" {
			first = code
		}
	})
	return first
}

// centrifugoErrorCode reads an error reply, a line of a frame, as
// "centrifugo <code> (<message>)"; ok is false for any other line.
func centrifugoErrorCode(line []byte) (code string, ok bool) {
	if !bytes.Contains(line, centrifugoError) {
		return "", false
	}
	var reply struct {
		Error *struct {
			Code    uint32 `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(line, &reply) != nil || reply.Error == nil {
		return "", false
	}
	return fmt.Sprintf("centrifugo %d (%s)", reply.Error.Code, reply.Error.Message), true
}
