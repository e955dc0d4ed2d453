package server_test

// These tests play hostile clients: sockets that never join, too many
// sockets from one address, identities minted to escape the per-user limits,
// floods of refused frames. Each limit is set explicitly: servertest switches
// the per-IP limits off for the other tests, whose clients all come from
// 127.0.0.1.

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server"
	"github.com/chatwasm/chat/server/servertest"
)

// TestJoinTimeout proves that pings do not keep a socket that never joins
// open: it is closed with event.StatusJoinTimeout after Config.JoinTimeout,
// pongs or not, while a socket that joined stays.
func TestJoinTimeout(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	const timeout = 400 * time.Millisecond
	wsURL, _ := startServer(t, server.Config{JoinTimeout: timeout, HeartbeatInterval: 50 * time.Millisecond})
	idle := dial(t, ctx, wsURL, "idle", nil)
	member := dial(t, ctx, wsURL, "member", nil)
	memberJ := member.join(t, ctx, "member")

	start := time.Now()
	var status websocket.StatusCode
	notice := false
	for {
		// Answer every ping, as a live page does.
		e, err := idle.read(ctx)
		if err != nil {
			status = websocket.CloseStatus(err)
			break
		}
		switch e := e.(type) {
		case event.Ping:
			idle.sendEvent(t, ctx, event.Pong{})
		case event.Error:
			// The browser cannot see close codes: it is told first.
			notice = notice || e.Code == event.CodeJoinTimeout
		}
	}
	lived := time.Since(start)
	if !notice {
		t.Fatal("no join_timeout error event before the close")
	}
	if status != event.StatusJoinTimeout {
		t.Fatalf("the socket that never joined ended with status %d after %v, want %d", status, lived, event.StatusJoinTimeout)
	}
	if lived < timeout-50*time.Millisecond {
		t.Fatalf("closed after %v, before the join timeout of %v", lived, timeout)
	}
	t.Logf("a socket answering pings without joining was closed with %d after %v", status, lived.Round(time.Millisecond))

	// The member outlives the timeout.
	time.Sleep(timeout)
	member.sendEvent(t, ctx, event.Send{ID: "m", Text: "still here"})
	for {
		if m, ok := member.next(t, ctx).(event.Message); ok {
			if m.ID != "m" || m.User != memberJ.User {
				t.Fatalf("got %#v, want the member's message", m)
			}
			break
		}
	}
}

// dialStatus opens a WebSocket with the given headers and returns it, or
// the HTTP status and body of the refusal.
func dialStatus(t *testing.T, ctx context.Context, wsURL string, header http.Header) (*websocket.Conn, int, string) {
	t.Helper()
	ws, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: header})
	if err == nil {
		t.Cleanup(func() { ws.CloseNow() })
		return ws, 0, ""
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", wsURL, err)
	}
	var body bytes.Buffer
	if resp.Body != nil {
		body.ReadFrom(resp.Body)
	}
	return nil, resp.StatusCode, body.String()
}

// TestConnectionCaps proves the caps on WebSockets: beyond MaxConnsPerIP an
// upgrade gets 429, beyond MaxConns 503, each with a reason, and a closed
// socket frees its place. Behind a trusted proxy the client IP comes from
// X-Forwarded-For; from anyone else that header changes nothing.
func TestConnectionCaps(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	opened := func(ws *websocket.Conn, status int, body string) *websocket.Conn {
		t.Helper()
		if ws == nil {
			t.Fatalf("refused with %d %q, want an upgrade", status, body)
		}
		return ws
	}
	refused := func(want int) func(*websocket.Conn, int, string) {
		return func(ws *websocket.Conn, status int, body string) {
			t.Helper()
			if ws != nil || status != want || strings.TrimSpace(body) == "" {
				t.Fatalf("got socket %v, status %d, body %q; want %d with a reason", ws != nil, status, body, want)
			}
		}
	}

	t.Run("per IP", func(t *testing.T) {
		wsURL, _ := startServer(t, server.Config{MaxConnsPerIP: 3})
		var socks []*websocket.Conn
		for range 3 {
			socks = append(socks, opened(dialStatus(t, ctx, wsURL, nil)))
		}
		refused(http.StatusTooManyRequests)(dialStatus(t, ctx, wsURL, nil))
		socks[0].Close(websocket.StatusNormalClosure, "")
		servertest.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
			ws, status, body := dialStatus(t, ctx, wsURL, nil)
			if ws == nil {
				return &refusal{status, body}
			}
			return nil
		})
	})
	t.Run("global", func(t *testing.T) {
		wsURL, _ := startServer(t, server.Config{MaxConns: 2})
		opened(dialStatus(t, ctx, wsURL, nil))
		opened(dialStatus(t, ctx, wsURL, nil))
		refused(http.StatusServiceUnavailable)(dialStatus(t, ctx, wsURL, nil))
	})
	t.Run("trusted proxy", func(t *testing.T) {
		proxies, err := server.ParsePrefixes([]string{"127.0.0.0/8"})
		if err != nil {
			t.Fatal(err)
		}
		wsURL, _ := startServer(t, server.Config{MaxConnsPerIP: 2, TrustedProxies: proxies})
		alice := http.Header{"X-Forwarded-For": {"198.51.100.9, 203.0.113.7"}}
		opened(dialStatus(t, ctx, wsURL, alice))
		opened(dialStatus(t, ctx, wsURL, http.Header{"X-Forwarded-For": {"203.0.113.7"}}))
		refused(http.StatusTooManyRequests)(dialStatus(t, ctx, wsURL, alice))
		// Another client behind the same proxy has its own count, and a
		// trusted hop on the right is skipped.
		opened(dialStatus(t, ctx, wsURL, http.Header{"X-Forwarded-For": {"203.0.113.8, 127.0.0.1"}}))
	})
	t.Run("untrusted X-Forwarded-For", func(t *testing.T) {
		wsURL, _ := startServer(t, server.Config{MaxConnsPerIP: 2})
		for _, xff := range []string{"203.0.113.1", "203.0.113.2"} {
			opened(dialStatus(t, ctx, wsURL, http.Header{"X-Forwarded-For": {xff}}))
		}
		refused(http.StatusTooManyRequests)(dialStatus(t, ctx, wsURL, http.Header{"X-Forwarded-For": {"203.0.113.3"}}))
	})
}

// refusal is an upgrade refused with status.
type refusal struct {
	status int
	body   string
}

func (r *refusal) Error() string { return http.StatusText(r.status) + ": " + r.body }

// joinFresh joins as a new person and returns the Joined, or the Error that
// refused the join.
func joinFresh(t *testing.T, ctx context.Context, p *peer, name, token string) (event.Joined, *event.Error) {
	t.Helper()
	p.sendEvent(t, ctx, event.Join{Name: name, Token: token})
	for {
		switch e := p.next(t, ctx).(type) {
		case event.Joined:
			return e, nil
		case event.Error:
			return event.Joined{}, &e
		}
	}
}

// TestIdentityLimitPerIP proves that one client IP cannot mint identities
// without end: the first DefaultIPIdentityBurst joins without a token get
// one, the next is refused with rate_limited and a retry_after, and a join
// with a valid token is not counted against the IP.
func TestIdentityLimitPerIP(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{IPIdentities: server.DefaultIPIdentities, IPIdentityBurst: server.DefaultIPIdentityBurst})
	var first event.Joined
	for i := range server.DefaultIPIdentityBurst {
		j, refused := joinFresh(t, ctx, dial(t, ctx, wsURL, "fresh", nil), "fresh", "")
		if refused != nil {
			t.Fatalf("join %d of %d: refused with %#v", i+1, server.DefaultIPIdentityBurst, refused)
		}
		if i == 0 {
			first = j
		}
	}
	_, refused := joinFresh(t, ctx, dial(t, ctx, wsURL, "one more", nil), "one more", "")
	if refused == nil || refused.Code != event.CodeRateLimited || refused.RetryAfter <= 0 || refused.Message == "" {
		t.Fatalf("join %d: got %#v, want rate_limited with retry_after", server.DefaultIPIdentityBurst+1, refused)
	}
	t.Logf("join %d refused: %q, retry after %d ms", server.DefaultIPIdentityBurst+1, refused.Message, refused.RetryAfter)
	// A known person still gets in.
	back, refused := joinFresh(t, ctx, dial(t, ctx, wsURL, "back", nil), first.Name, first.Token)
	if refused != nil || back.User != first.User {
		t.Fatalf("a known user's join: %#v, refused %#v; want user %s back", back, refused, first.User)
	}
}

// TestIPMessageBucket proves that the users of one client IP share one
// message bucket: five identities with a burst of their own each cannot send
// more together than the IP's burst and rate allow; the rest is refused with
// rate_limited, as for one user.
func TestIPMessageBucket(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	const ipRate, ipBurst = 5, 10
	wsURL, _ := startServer(t, server.Config{IPRate: ipRate, IPBurst: ipBurst})
	const people, each = 5, 10
	peers := make([]*peer, people)
	for i := range peers {
		peers[i] = dial(t, ctx, wsURL, "p", nil)
		peers[i].join(t, ctx, "p")
	}
	start := time.Now()
	var accepted, limited atomic.Int64
	var wg sync.WaitGroup
	for i, p := range peers {
		for k := range each {
			p.sendEvent(t, ctx, event.Send{ID: strings.Repeat("x", i+1) + string(rune('a'+k)), Text: "hi"})
		}
		wg.Go(func() {
			// Each send is answered by its message or a refusal; the
			// others' messages arrive too and are not counted.
			for answered := 0; answered < each; {
				e, err := p.read(ctx)
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
				switch e := e.(type) {
				case event.Message:
					if strings.HasPrefix(e.ID, strings.Repeat("x", i+1)) && len(e.ID) == i+2 {
						accepted.Add(1)
						answered++
					}
				case event.Error:
					if e.Code != event.CodeRateLimited {
						t.Errorf("got %#v, want rate_limited", e)
					}
					limited.Add(1)
					answered++
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	allowed := ipBurst + int64(elapsed.Seconds()*ipRate) + 1
	t.Logf("%d people sent %d messages: %d accepted, %d rate-limited in %v (the IP allows %d)",
		people, people*each, accepted.Load(), limited.Load(), elapsed.Round(time.Millisecond), allowed)
	if accepted.Load() > allowed || limited.Load() == 0 {
		t.Fatalf("accepted %d, rate-limited %d; want at most %d accepted and some refused", accepted.Load(), limited.Load(), allowed)
	}
}

// TestReconnectStormBehindOneIP proves that after a restart everyone behind
// one NAT gets back in at once: 200 known users join from one IP together
// with the default identity limits, none refused, because a join with a
// valid token is limited per user, not per IP.
func TestReconnectStormBehindOneIP(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dir := t.TempDir()
	const people = 200
	// Before the restart: 200 people got their identities (over time; the
	// test mints them on a server without identity limits).
	srv1, ts1 := servertest.Start(t, withGrace(server.Config{DataDir: dir}))
	tokens := make([]event.Joined, people)
	for i := range tokens {
		p := dial(t, ctx, servertest.SocketURL(ts1.URL), "p", nil)
		tokens[i] = p.join(t, ctx, "person")
		p.ws.Close(websocket.StatusNormalClosure, "")
	}
	ts1.Close()
	if err := srv1.Close(); err != nil {
		t.Fatal(err)
	}

	// The restart, with the default per-IP identity limits; a NAT of 200
	// people needs more than the default 64 sockets per IP.
	wsURL, _ := startServer(t, server.Config{DataDir: dir, MaxConnsPerIP: 256,
		IPIdentities: server.DefaultIPIdentities, IPIdentityBurst: server.DefaultIPIdentityBurst})
	start := time.Now()
	var wg sync.WaitGroup
	var refusedCount atomic.Int64
	for i := range people {
		p := dial(t, ctx, wsURL, "p", nil)
		wg.Go(func() {
			p.sendEvent(t, ctx, event.Join{Name: "person", Token: tokens[i].Token})
			for {
				e, err := p.read(ctx)
				if err != nil {
					t.Errorf("person %d: %v", i, err)
					return
				}
				switch e := e.(type) {
				case event.Joined:
					if e.User != tokens[i].User {
						t.Errorf("person %d came back as %s, want %s", i, e.User, tokens[i].User)
					}
					return
				case event.Error:
					refusedCount.Add(1)
					t.Errorf("person %d: refused with %#v", i, e)
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d known users behind one IP rejoined in %v, %d refused", people, time.Since(start).Round(time.Millisecond), refusedCount.Load())
}

// TestTokenRefreshedOnJoin proves that each join returns a freshly issued
// token for the same user, so that someone who keeps using the chat never
// reaches the token's expiry.
func TestTokenRefreshedOnJoin(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	wsURL, _ := startServer(t, server.Config{})
	first := dial(t, ctx, wsURL, "ann", nil).join(t, ctx, "ann")
	// Tokens carry their issue time in seconds: wait for the next one.
	issued := time.Now().Unix()
	servertest.CheckFor(t, 3*time.Second, 20*time.Millisecond, func() error {
		if time.Now().Unix() == issued {
			return context.DeadlineExceeded
		}
		return nil
	})
	again, refused := joinFresh(t, ctx, dial(t, ctx, wsURL, "ann again", nil), "ann", first.Token)
	if refused != nil || again.User != first.User || again.Name != first.Name {
		t.Fatalf("join with the token: %#v, refused %#v; want the same user", again, refused)
	}
	if again.Token == first.Token || again.Token == "" {
		t.Fatalf("the join returned the same token: it is not refreshed")
	}
}

// recordHandler keeps every log record at Info and above, as text.
type recordHandler struct {
	mu    sync.Mutex
	lines []string
}

func (h *recordHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	h.mu.Lock()
	h.lines = append(h.lines, b.String())
	h.mu.Unlock()
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

// TestRefusalsAreNotLogged proves that a client's refused frames cost the
// log nothing at the default level: a connection that sends a pile of
// invalid frames and floods past its rate limit leaves one line when it
// opens, one when it joins and one when it closes.
func TestRefusalsAreNotLogged(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	h := &recordHandler{}
	wsURL, _ := startServer(t, server.Config{Logger: slog.New(h), RateLimit: 1, RateBurst: 1})
	p := dial(t, ctx, wsURL, "noisy", nil)
	for range event.MaxProtocolErrors {
		p.send(t, ctx, `{"type":"nonsense"}`)
		expectError(t, ctx, p, event.CodeUnknownType, "")
	}
	p.join(t, ctx, "noisy")
	for i := range 5 {
		p.sendEvent(t, ctx, event.Send{ID: string(rune('a' + i)), Text: "spam"})
	}
	for limited := 0; limited == 0; {
		if e, ok := p.next(t, ctx).(event.Error); ok && e.Code == event.CodeRateLimited {
			limited++
		}
	}
	p.ws.Close(websocket.StatusNormalClosure, "")
	var lines []string
	servertest.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		h.mu.Lock()
		lines = append([]string(nil), h.lines...)
		h.mu.Unlock()
		for _, l := range lines {
			if strings.HasPrefix(l, "connection closed") {
				return nil
			}
		}
		return context.DeadlineExceeded
	})
	if len(lines) > 3 {
		t.Fatalf("%d log lines for one noisy connection, want at most 3 (opened, joined, closed):\n%s", len(lines), strings.Join(lines, "\n"))
	}
	t.Logf("log of a connection with %d refused frames and a flood:\n%s", event.MaxProtocolErrors, strings.Join(lines, "\n"))
}

// TestExpiredTokenMakesNewUser proves that a token past Config.TokenMaxAge
// proves nothing: its holder joins as a new user, as with a forged one.
func TestExpiredTokenMakesNewUser(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	const maxAge = time.Second
	wsURL, _ := startServer(t, server.Config{TokenMaxAge: maxAge})
	first := dial(t, ctx, wsURL, "ann", nil).join(t, ctx, "ann")
	// Tokens carry whole seconds: past maxAge for certain after two more.
	time.Sleep(maxAge + 2*time.Second)
	again, refused := joinFresh(t, ctx, dial(t, ctx, wsURL, "ann later", nil), "ann", first.Token)
	if refused != nil {
		t.Fatalf("join with an expired token refused: %#v", refused)
	}
	if again.User == first.User {
		t.Fatalf("an expired token still proved user %s", first.User)
	}
}
