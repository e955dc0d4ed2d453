package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fakeHub is the room of a fake peer server: its members, to broadcast to,
// and the pongs they answered.
type fakeHub struct {
	mu      sync.Mutex
	members []*websocket.Conn
	pongs   atomic.Int64
}

func (h *fakeHub) add(ws *websocket.Conn) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.members = append(h.members, ws)
	return len(h.members)
}

func (h *fakeHub) broadcast(frame []byte) {
	h.mu.Lock()
	members := append([]*websocket.Conn(nil), h.members...)
	h.mu.Unlock()
	for _, ws := range members {
		_ = ws.Write(context.Background(), websocket.MessageText, frame)
	}
}

// serveFake serves handle, one fake peer connection per WebSocket, on a
// random port, and returns its ws:// URL without a path.
func serveFake(t *testing.T, handle func(ctx context.Context, ws *websocket.Conn)) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		handle(r.Context(), ws)
	}))
	t.Cleanup(ts.Close)
	return "ws" + strings.TrimPrefix(ts.URL, "http")
}

// fakeCentrifugo serves the part of Centrifugo's JSON protocol the
// generator speaks: connect, subscribe (with a ping in the reply's frame,
// and refused with code 103 when refuse is set), publish relayed to every
// subscriber, sender included, and a ping after the join.
func fakeCentrifugo(t *testing.T, hub *fakeHub, refuse bool) string {
	return serveFake(t, func(ctx context.Context, ws *websocket.Conn) {
		var offset atomic.Int64
		for {
			_, frame, err := ws.Read(ctx)
			if err != nil {
				return
			}
			if bytes.Equal(frame, []byte("{}")) {
				hub.pongs.Add(1)
				continue
			}
			var cmd struct {
				ID        uint32           `json:"id"`
				Connect   *json.RawMessage `json:"connect"`
				Subscribe *struct{ Channel string }
				Publish   *struct {
					Channel string
					Data    json.RawMessage
				}
			}
			if err := json.Unmarshal(frame, &cmd); err != nil || cmd.ID == 0 {
				_ = ws.Close(websocket.StatusCode(3501), "bad request")
				return
			}
			var reply string
			switch {
			case cmd.Connect != nil:
				reply = fmt.Sprintf(`{"id":%d,"connect":{"client":"c","version":"6.9.1","ping":25,"pong":true}}`, cmd.ID)
			case cmd.Subscribe != nil && refuse:
				reply = fmt.Sprintf(`{"id":%d,"error":{"code":103,"message":"permission denied"}}`, cmd.ID)
			case cmd.Subscribe != nil:
				hub.add(ws)
				reply = fmt.Sprintf("{}\n"+`{"id":%d,"subscribe":{"recoverable":true}}`, cmd.ID)
			case cmd.Publish != nil:
				reply = fmt.Sprintf(`{"id":%d,"publish":{}}`, cmd.ID)
				hub.broadcast([]byte(fmt.Sprintf(`{"push":{"channel":%q,"pub":{"data":%s,"offset":%d}}}`,
					cmd.Publish.Channel, cmd.Publish.Data, offset.Add(1))))
			}
			if err := ws.Write(ctx, websocket.MessageText, []byte(reply)); err != nil {
				return
			}
			if cmd.Subscribe != nil && !refuse {
				_ = ws.Write(ctx, websocket.MessageText, []byte("{}")) // a ping of its own after the join
			}
		}
	})
}

// fakeSocketIO serves the socket.io chat demo's part of Engine.IO 4 the
// generator speaks: the open packet and a ping first, the namespace's
// connect, add user with login and a user joined to the others, a new
// message relayed to everyone, and a ping after the login.
func fakeSocketIO(t *testing.T, hub *fakeHub) string {
	return serveFake(t, func(ctx context.Context, ws *websocket.Conn) {
		write := func(s string) error { return ws.Write(ctx, websocket.MessageText, []byte(s)) }
		if write(`0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`) != nil || write("2") != nil {
			return
		}
		var name string
		for {
			_, frame, err := ws.Read(ctx)
			if err != nil {
				return
			}
			s := string(frame)
			switch {
			case s == "3":
				hub.pongs.Add(1)
			case s == "40":
				err = write(`40{"sid":"n"}`)
			case strings.HasPrefix(s, `42["add user",`):
				name = strings.Trim(strings.TrimPrefix(s, `42["add user",`), `"]`)
				n := hub.add(ws)
				hub.broadcast([]byte(fmt.Sprintf(`42["user joined",{"username":%q,"numUsers":%d}]`, name, n)))
				if err = write(fmt.Sprintf(`42["login",{"numUsers":%d}]`, n)); err == nil {
					err = write("2")
				}
			case strings.HasPrefix(s, `42["new message",`):
				data := strings.TrimSuffix(strings.TrimPrefix(s, `42["new message",`), "]")
				hub.broadcast([]byte(fmt.Sprintf(`42["new message",{"username":%q,"message":%s}]`, name, data)))
			default:
				_ = ws.Close(websocket.StatusPolicyViolation, "unexpected "+s)
				return
			}
			if err != nil {
				return
			}
		}
	})
}

// TestPeerRuns: a run against each fake peer is clean, every message
// reaching every client once, and every client answered the pings, before
// and after its join.
func TestPeerRuns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		protocol string
		serve    func(*testing.T, *fakeHub) string
		pings    int64 // per client
	}{
		{ProtocolCentrifugo, func(t *testing.T, h *fakeHub) string { return fakeCentrifugo(t, h, false) }, 2},
		{ProtocolSocketIO, fakeSocketIO, 2},
	}
	for _, tt := range tests {
		t.Run(tt.protocol, func(t *testing.T) {
			t.Parallel()
			hub := &fakeHub{}
			rep := runFor(t, Config{
				Protocol: tt.protocol, URL: tt.serve(t, hub), Clients: 6, Senders: 3, Rate: 30,
				Duration: time.Second, Drain: 10 * time.Second,
			})
			if p := rep.Problems(); len(p) > 0 {
				t.Errorf("problems: %v", p)
			}
			if rep.Joined != 6 || rep.Sent != 30 || rep.Expected != 30*6 || rep.Delivered != rep.Expected {
				t.Errorf("joined %d, sent %d, delivered %d of %d; want 6, 30, 180 of 180", rep.Joined, rep.Sent, rep.Delivered, rep.Expected)
			}
			if !(rep.LatencyP50 > 0 && rep.LatencyP50 <= rep.LatencyMax) {
				t.Errorf("latency p50 %v, max %v: want 0 < p50 <= max", rep.LatencyP50, rep.LatencyMax)
			}
			if got := hub.pongs.Load(); got != 6*tt.pings {
				t.Errorf("%d pongs, want %d: %d a client", got, 6*tt.pings, tt.pings)
			}
		})
	}
}

// TestCentrifugoRefusal: a subscribe refused with an error reply is a
// refused join, by its code.
func TestCentrifugoRefusal(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, Config{Protocol: ProtocolCentrifugo, URL: fakeCentrifugo(t, &fakeHub{}, true), Clients: 3})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Joined != 0 || rep.JoinRefused["centrifugo 103 (permission denied)"] != 3 {
		t.Errorf("joined %d, refused at join %v; want 0 and 3 permission denied", rep.Joined, rep.JoinRefused)
	}
}
