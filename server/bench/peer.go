package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwasm/chat/app/event"
)

// The protocols a run speaks, Config.Protocol: the chat's own, and those of
// the peers it is measured against, so that one generator, with one way of
// counting, loads all of them.
const (
	ProtocolChat       = "chat"
	ProtocolCentrifugo = "centrifugo"
	ProtocolSocketIO   = "socketio"
)

// Protocols lists the values of Config.Protocol, the chat's first.
var Protocols = []string{ProtocolChat, ProtocolCentrifugo, ProtocolSocketIO}

// peer is the wire protocol of a peer server: how a client dials, joins the
// room, recognises the join's answer, answers a ping and sends a stamped
// text. Each message's text is the stamp, carried in a JSON field "text"
// that the peer relays verbatim, so that scan finds it unchanged.
//
// Its methods are called by each connection's reader (handshake, ping,
// errors) and sender (send) goroutines, so they keep no state.
type peer interface {
	// dialURL is the endpoint to dial for the URL a run was given: the
	// peer's usual path when the URL has none.
	dialURL(base *url.URL) string
	// open is the frame to write once the WebSocket is open, or nil when
	// the server speaks first.
	open() []byte
	// handshake reads a frame of the server's before the join's answer. It
	// returns the frames to write in answer, in order, whether the join is
	// now answered and, when the server refused it, why ("" when it did
	// not).
	handshake(frame []byte, name, room string) (replies [][]byte, joined bool, refused string)
	// ping returns the answer to write when frame, after the join, holds a
	// ping, and whether it is a ping alone (not traffic for the settle).
	ping(frame []byte) (reply []byte, only bool)
	// errors calls f with the code of each error reply in frame, after the
	// join (a refused send).
	errors(frame []byte, f func(code string))
	// send appends to b the frame that sends text to room as the sender's
	// message n.
	send(b []byte, room string, n int64, text []byte) []byte
}

// peerByName returns the driver of protocol name, nil for the chat's own.
func peerByName(name string) (peer, error) {
	switch name {
	case "", ProtocolChat:
		return nil, nil
	case ProtocolCentrifugo:
		return centrifugo{}, nil
	case ProtocolSocketIO:
		return socketIO{}, nil
	}
	return nil, fmt.Errorf("protocol: %q is none of %s", name, strings.Join(Protocols, ", "))
}

// checkProtocol reports whether cfg.Protocol is known and can run cfg: the
// socket.io chat demo has one room, everyone.
func (cfg Config) checkProtocol() error {
	if _, err := peerByName(cfg.Protocol); err != nil {
		return err
	}
	if cfg.Protocol == ProtocolSocketIO && cfg.Rooms != 1 {
		return fmt.Errorf("rooms: the socket.io chat demo has one room, not %d", cfg.Rooms)
	}
	return nil
}

// encodeSend is the frame that sends text, the stamp of message n of sender
// index, to room, in the run's protocol.
func (r *run) encodeSend(room string, index int, n int64, text []byte) ([]byte, error) {
	if r.peer != nil {
		return r.peer.send(nil, room, n, text), nil
	}
	return event.Encode(event.Send{Room: room, ID: sendID(r.id, index, n), Text: string(text)})
}

// handlePeer is handle and handleUnjoined for a peer's protocol.
func (c *client) handlePeer(frame []byte, now time.Time) {
	p := c.r.peer
	if !c.joined {
		replies, joined, refused := p.handshake(frame, fmt.Sprint("b", c.index), c.r.cfg.roomName(c.room))
		for _, reply := range replies {
			_ = c.ws.Write(background, websocket.MessageText, reply) // a failure shows in the next read
		}
		switch {
		case refused != "":
			c.answer(refusal{"join", refused})
		case joined:
			c.joined = true
			c.answer(nil)
			c.scan(frame, now) // what followed the answer in its frame
		}
		return
	}
	if reply, only := p.ping(frame); reply != nil {
		_ = c.ws.Write(background, websocket.MessageText, reply)
		if only {
			return // not traffic: the settle waits for the others to stop
		}
	}
	c.lastFrame.Store(now.UnixNano())
	p.errors(frame, func(code string) { c.r.onError(event.Error{Code: event.Code(code)}) })
	c.scan(frame, now)
}

// lineStarts reports whether a line of frame, its lines separated by "\n",
// begins with prefix.
func lineStarts(frame, prefix []byte) bool {
	return bytes.HasPrefix(frame, prefix) || bytes.Contains(frame, append([]byte{'\n'}, prefix...))
}

// hasLine reports whether a line of frame is line, and whether frame is that
// line alone.
func hasLine(frame, line []byte) (found, only bool) {
	if bytes.Equal(frame, line) {
		return true, true
	}
	nl := []byte{'\n'}
	return bytes.HasPrefix(frame, slices.Concat(line, nl)) ||
		bytes.HasSuffix(frame, slices.Concat(nl, line)) ||
		bytes.Contains(frame, slices.Concat(nl, line, nl)), false
}

// appendJSONString appends s to b as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	q, err := json.Marshal(s)
	if err != nil {
		panic(err) // a string always marshals
	}
	return append(b, q...)
}

// withPath returns base with path and query when base has no path of its
// own, else base as it is.
func withPath(base *url.URL, path, query string) string {
	if base.Path != "" && base.Path != "/" {
		return base.String()
	}
	u := *base
	u.Path, u.RawQuery = path, query
	return u.String()
}

// newPeer returns the driver of cfg.Protocol, nil for the chat's, and the
// endpoint its clients dial. cfg was checked (checkProtocol).
func newPeer(cfg Config) (peer, string) {
	p, err := peerByName(cfg.Protocol)
	if err != nil || p == nil {
		return nil, cfg.URL
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return p, cfg.URL // the dial says what is wrong with it
	}
	return p, p.dialURL(u)
}
