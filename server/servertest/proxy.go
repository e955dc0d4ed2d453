package servertest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy is a TCP proxy between clients and a server that breaks the network
// on demand, to test how both ends live through it: it cuts every
// connection (no close frame), refuses new ones, or swallows what flows on
// the current ones while they stay open.
type Proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	down  bool // refuse new connections
	pipes map[*pipe]struct{}
}

// pipe is one proxied connection.
type pipe struct {
	client, server net.Conn
	// blackhole drops every byte both ways: a network that died without
	// telling either end. mute drops the server's bytes only: what it
	// sends is lost.
	blackhole, mute atomic.Bool
}

// StartProxy listens on a random 127.0.0.1 port and forwards each
// connection to target (host:port). It closes, with every connection
// through it, when the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, pipes: make(map[*pipe]struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.SetDown(true)
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's address (host:port), for clients that dial it.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is the proxy's base URL, http://host:port, like httptest.Server.URL:
// the page's address through the proxy. SocketURL(p.URL()) is its
// WebSocket endpoint.
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// accept forwards each connection until the listener closes.
func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.isDown() {
			_ = c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		pp := &pipe{client: c, server: s}
		p.mu.Lock()
		if p.down { // went down while dialing: a Cut may have passed this one
			p.mu.Unlock()
			_ = c.Close()
			_ = s.Close()
			continue
		}
		p.pipes[pp] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() {
			var inner sync.WaitGroup
			inner.Go(func() { forward(s, c, &pp.blackhole) })
			inner.Go(func() { forward(c, s, &pp.blackhole, &pp.mute) })
			inner.Wait()
			p.mu.Lock()
			delete(p.pipes, pp)
			p.mu.Unlock()
		})
	}
}

// isDown reports whether the proxy refuses new connections.
func (p *Proxy) isDown() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down
}

// forward copies src to dst, dropping the bytes while any of drop is set,
// until either side fails; then it closes both.
func forward(dst, src net.Conn, drop ...*atomic.Bool) {
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !anySet(drop) {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// anySet reports whether any of flags is set.
func anySet(flags []*atomic.Bool) bool {
	for _, f := range flags {
		if f.Load() {
			return true
		}
	}
	return false
}

// each applies f to every live connection.
func (p *Proxy) each(f func(*pipe)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pp := range p.pipes {
		f(pp)
	}
}

// Cut closes every live connection at the TCP level: the peers see the
// connection drop with no close frame (1006). New connections still go
// through unless the proxy is down: SetDown(true) then Cut is a network
// that went away, and no connection slips between the two.
func (p *Proxy) Cut() {
	p.each(func(pp *pipe) { _ = pp.client.Close(); _ = pp.server.Close() })
}

// SetDown makes the proxy refuse new connections (accept and close them at
// once), or take them again. The live ones are left alone: Cut them.
func (p *Proxy) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

// Blackhole makes the live connections swallow everything, both ways, while
// staying open: a network that died without telling either end. New
// connections work.
func (p *Proxy) Blackhole() { p.each(func(pp *pipe) { pp.blackhole.Store(true) }) }

// Mute makes the live connections lose what the server sends, while what
// the clients send still arrives. New connections work.
func (p *Proxy) Mute() { p.each(func(pp *pipe) { pp.mute.Store(true) }) }
