// Package server is the chat's HTTP side: the page and its PWA files, the
// precompressed client binary, and the WebSocket endpoint that joins each
// connection to the hub.
package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server/datadir"
	"github.com/chatwasm/chat/server/hub"
	"github.com/chatwasm/chat/server/identity"
	"github.com/chatwasm/chat/server/store"
)

// SocketPath is where the WebSocket endpoint is served.
const SocketPath = "/ws"

// Limits of Config, each the value a zero field means. For every one of
// them a negative value in Config switches the limit off: a load test from
// one machine needs that; a server on the internet never does.
const (
	// DefaultRateLimit is the sustained messages per second of a connection
	// and of a user: 10/s is faster than anyone types and slower than a bot.
	DefaultRateLimit = 10
	// DefaultRateBurst is how many messages may go at once: 20 lets a client
	// flush an outbox of a short offline period without waiting.
	DefaultRateBurst = 20

	// DefaultIPRate is the sustained messages per second of all the users
	// behind one client IP together: 50/s lets a whole office behind one NAT
	// chat at once, and caps what one machine minting identities can send.
	DefaultIPRate = 50
	// DefaultIPBurst is how many messages one client IP may send at once:
	// 100, five users flushing a full outbox burst each.
	DefaultIPBurst = 100

	// DefaultIPIdentities is how many new identities (joins without a valid
	// token) one client IP may get per minute: 10, a classroom arriving
	// behind one NAT, while a script minting users to escape the per-user
	// limits gets 10 a minute.
	DefaultIPIdentities = 10
	// DefaultIPIdentityBurst is how many new identities one client IP may
	// get at once: 20.
	DefaultIPIdentityBurst = 20

	// DefaultMaxConnsPerIP is how many WebSockets one client IP may hold:
	// 64 covers a household or an office behind one NAT with several tabs
	// each, and stops one machine from holding thousands.
	DefaultMaxConnsPerIP = 64
	// DefaultMaxConns is how many WebSockets the server holds in all:
	// 10,000 at about 75 KB each is under 1 GB, which a small machine has;
	// beyond it a new socket is refused rather than the process run out of
	// memory.
	DefaultMaxConns = 10000

	// DefaultWriteTimeout bounds the whole response of a request other
	// than the WebSocket: 2 minutes sends the compressed client (1.5 MB) to
	// a 100 kbit/s phone, while a client that reads nothing stops holding
	// the server's send buffers after that.
	DefaultWriteTimeout = 2 * time.Minute
	// DefaultIdleTimeout closes a keep-alive connection that carries no
	// request: 10 s, since a page loads its few files in one burst and the
	// service worker serves later loads, while each idle connection costs a
	// goroutine and buffers.
	DefaultIdleTimeout = 10 * time.Second
)

// maxHeaderBytes bounds a request's header: 16 KiB holds any browser's
// headers and cookies for this site (it sets none), against the 1 MB that
// net/http allows by default.
const maxHeaderBytes = 16 << 10

// userJoinRate and userJoinBurst bound the joins of one user (a known
// token) across every IP: 10 at once (a reconnect storm after a restart,
// several tabs), then one a second. They are not per IP, so that after a
// restart everyone behind one NAT gets back in at once.
const (
	userJoinRate  = 1
	userJoinBurst = 10
)

// pruneInterval is how often the retention limits are applied: once a
// minute keeps the store near its limits at a negligible cost.
const pruneInterval = time.Minute

// readHeaderTimeout bounds the reading of a request's header: 10 s, ample
// for a slow phone, while a client trickling a header byte by byte (slowloris)
// holds a connection no longer.
const readHeaderTimeout = 10 * time.Second

// shutdownTimeout bounds how long Run waits for HTTP requests in flight
// after its context ends: 5 s lets a page or app.wasm download finish.
const shutdownTimeout = 5 * time.Second

// Config configures a Server. The zero value of each field is usable unless
// its comment says otherwise.
type Config struct {
	// Assets holds the directory "web" with app.wasm (and its .br and .gz
	// variants), the icons and the stylesheet. Required.
	Assets fs.FS

	// Version identifies the client build to browsers: when it changes, open
	// pages fetch the new client and offer to reload. Zero value means a
	// hash of the files in Assets, so that a restart of the same build is not
	// mistaken for a release.
	Version string

	// Hosts lists the host names the server answers to (path.Match
	// patterns such as "chat.example.com" or "*.example.org"), besides IP
	// literals and localhost, which it always answers to. A request (page
	// or WebSocket) for any other name gets 403: a DNS-rebinding page
	// controls Origin and Host alike, so the server must know its names.
	// Zero value means IP literals and localhost only.
	Hosts []string

	// TrustedProxies are the networks of the reverse proxies in front of
	// the server: from a peer in one of them, the client IP is read from
	// X-Forwarded-For. Zero value means none: the client IP is the peer.
	TrustedProxies []netip.Prefix

	// MaxConnsPerIP bounds the WebSockets of one client IP (an IPv6 /64);
	// beyond it an upgrade gets 429. Zero value means DefaultMaxConnsPerIP
	// (64); negative, no limit.
	MaxConnsPerIP int
	// MaxConns bounds the WebSockets of the server; beyond it an upgrade
	// gets 503. Zero value means DefaultMaxConns (10,000); negative, no
	// limit.
	MaxConns int

	// JoinTimeout is how long a WebSocket may stay open without joining;
	// it is then closed with event.StatusJoinTimeout. Zero value means
	// event.JoinTimeout (60 s); negative, no limit.
	JoinTimeout time.Duration

	// WriteTimeout bounds each response but the WebSocket's, and
	// IdleTimeout a keep-alive connection without a request, in Run. Zero
	// values mean DefaultWriteTimeout (2 min) and DefaultIdleTimeout
	// (10 s); negative, no limit.
	WriteTimeout time.Duration
	IdleTimeout  time.Duration

	// TokenMaxAge is how long an identity token stays valid; every join
	// returns a fresh one, so only a person away that long becomes a new
	// user. Zero value means identity.DefaultMaxAge (30 days); tokens
	// always expire, so a negative value is an error.
	TokenMaxAge time.Duration

	// AllowedOrigins lists the origins, besides the server's own host, whose
	// pages may open a WebSocket: host patterns such as "chat.example.com" or
	// "*.example.com" (path.Match syntax). Zero value means same-origin only;
	// any other Origin is refused with 403.
	AllowedOrigins []string

	// QueueBytes bounds each connection's outbound queue. Zero value means
	// hub.DefaultQueueBytes (1 MiB).
	QueueBytes int

	// DataDir holds the message store (chat.db) and the identity secret,
	// created when missing. Required.
	DataDir string

	// Retention bounds the stored history (count per room, age); the zero
	// value keeps store.DefaultMaxMessages per room, of any age.
	Retention store.Options

	// History is how many recent messages a person joining fresh gets. Zero
	// value means hub.DefaultHistory (100).
	History int

	// PresenceGrace is how long a user may be disconnected before the room
	// is told it left. Zero value means hub.DefaultPresenceGrace (10 s).
	PresenceGrace time.Duration

	// RateLimit and RateBurst bound the messages a connection, and a user
	// across its connections, may send: a token bucket of RateBurst tokens
	// refilled at RateLimit per second. Zero values mean DefaultRateLimit
	// (10/s) and DefaultRateBurst (20).
	// Negative values mean no limit.
	RateLimit float64
	RateBurst int

	// IPRate and IPBurst bound the messages of all users of one client IP
	// together. Zero values mean DefaultIPRate (50/s) and DefaultIPBurst
	// (100); negative, no limit.
	IPRate  float64
	IPBurst int

	// IPIdentities (per minute) and IPIdentityBurst bound the new
	// identities one client IP gets: joins without a valid token. Joins
	// with one are limited per user instead. Zero values mean
	// DefaultIPIdentities (10 a minute) and DefaultIPIdentityBurst (20);
	// negative, no limit.
	IPIdentities    float64
	IPIdentityBurst int

	// HeartbeatInterval and HeartbeatTimeout override the protocol's
	// heartbeat (event.HeartbeatInterval, event.HeartbeatTimeout), for
	// tests. Zero values mean the protocol's.
	HeartbeatInterval time.Duration
	HeartbeatTimeout  time.Duration

	// Logger receives the server's logs. Zero value means slog.Default().
	Logger *slog.Logger
}

// Server is the chat server. Create it with New; it is an http.Handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	hub     *hub.Hub
	store   *store.Store
	dir     *datadir.Dir // cfg.DataDir, locked by this process until Close
	signer  *identity.Signer
	hosts   hostPolicy
	limits  limits
	mux     *http.ServeMux
	version string

	mu       sync.Mutex
	conns    map[*conn]struct{}
	ipConns  map[string]int // open WebSockets by ipKey, upgrades included
	sockets  int            // open WebSockets, upgrades included
	stopping bool
	serving  sync.WaitGroup // connection handlers still running
}

// New returns a Server for cfg. It opens the store and the identity secret
// in cfg.DataDir; Close releases them.
func New(cfg Config) (*Server, error) {
	if cfg.Assets == nil {
		return nil, errors.New("new server: Config.Assets is nil")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("new server: Config.DataDir is empty")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.RateLimit = orDefault(cfg.RateLimit, DefaultRateLimit)
	cfg.RateBurst = orDefault(cfg.RateBurst, DefaultRateBurst)
	cfg.IPRate = orDefault(cfg.IPRate, DefaultIPRate)
	cfg.IPBurst = orDefault(cfg.IPBurst, DefaultIPBurst)
	cfg.IPIdentities = orDefault(cfg.IPIdentities, DefaultIPIdentities)
	cfg.IPIdentityBurst = orDefault(cfg.IPIdentityBurst, DefaultIPIdentityBurst)
	cfg.MaxConnsPerIP = orDefault(cfg.MaxConnsPerIP, DefaultMaxConnsPerIP)
	cfg.MaxConns = orDefault(cfg.MaxConns, DefaultMaxConns)
	cfg.JoinTimeout = orDefault(cfg.JoinTimeout, event.JoinTimeout)
	cfg.WriteTimeout = orDefault(cfg.WriteTimeout, DefaultWriteTimeout)
	cfg.IdleTimeout = orDefault(cfg.IdleTimeout, DefaultIdleTimeout)
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = event.HeartbeatInterval
	}
	if cfg.HeartbeatTimeout <= 0 {
		cfg.HeartbeatTimeout = event.HeartbeatTimeout
	}
	// The lock comes first: nothing else in the directory may be touched
	// while another process may be using it.
	dir, err := datadir.Lock(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	secret, err := identity.LoadOrCreateSecret(cfg.DataDir, cfg.Logger)
	if err != nil {
		dir.Close()
		return nil, fmt.Errorf("new server: %w", err)
	}
	signer, err := identity.NewSigner(secret, cfg.TokenMaxAge)
	if err != nil {
		dir.Close()
		return nil, fmt.Errorf("new server: %w", err)
	}
	st, err := store.Open(cfg.DataDir, cfg.Retention)
	if err != nil {
		dir.Close()
		return nil, fmt.Errorf("new server: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		store:   st,
		dir:     dir,
		signer:  signer,
		hosts:   newHostPolicy(cfg.Hosts),
		limits:  newLimits(cfg),
		ipConns: make(map[string]int),
		hub: hub.New(hub.Config{
			Store:         st,
			History:       cfg.History,
			PresenceGrace: cfg.PresenceGrace,
		}),
		mux:   http.NewServeMux(),
		conns: make(map[*conn]struct{}),
	}
	page, err := s.pageHandler()
	if err != nil {
		st.Close()
		dir.Close()
		return nil, fmt.Errorf("new server: %w", err)
	}
	s.mux.HandleFunc("GET "+SocketPath, s.serveSocket)
	s.mux.Handle("/", page)
	return s, nil
}

// Close closes every connection for a restart (1012), waits for their
// handlers to end and for the messages being stored, and closes the store.
// Run calls it on shutdown.
func (s *Server) Close() error {
	s.closeConns()
	s.serving.Wait()
	s.hub.Close()
	// The store first: the next process may open it once the lock is gone.
	if err := s.store.Close(); err != nil {
		s.dir.Close()
		return fmt.Errorf("close store: %w", err)
	}
	return s.dir.Close()
}

// Version returns the client version the server announces.
func (s *Server) Version() string { return s.version }

// ServeHTTP answers a request for one of the server's host names: the
// WebSocket endpoint, or the page and its files with the security headers and
// a deadline for the whole response.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.hosts.allowed(r.Host) {
		refuseHost(w)
		return
	}
	setSecurityHeaders(w.Header())
	if r.URL.Path != SocketPath && s.cfg.WriteTimeout > 0 {
		// A client that reads nothing (of app.wasm, say) holds the
		// server's buffers until this deadline, no longer.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	}
	s.mux.ServeHTTP(w, r)
}

// Run serves on ln until ctx ends, then shuts down: it stops accepting,
// closes every WebSocket with 1012 (service restart) so that clients
// reconnect to the next process, waits up to 5 s for requests in flight,
// and closes the store. Meanwhile it applies the retention limits.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       max(s.cfg.IdleTimeout, 0),
		MaxHeaderBytes:    maxHeaderBytes,
		// No WriteTimeout: it would cut the WebSockets too, as hijacked
		// connections keep the deadline. ServeHTTP sets one per response.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.cfg.IdleTimeout < 0 {
		srv.IdleTimeout = -1 // net/http: negative is no limit, zero falls back to ReadTimeout
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("serving", "addr", ln.Addr().String(), "version", s.version, "data", s.cfg.DataDir)
	prune := time.NewTicker(pruneInterval)
	defer prune.Stop()
	s.prune()
	release := time.NewTicker(releaseCheck)
	defer release.Stop()
	var rel releaser
	for {
		select {
		case err := <-errc:
			s.Close()
			return fmt.Errorf("serve: %w", err)
		case <-prune.C:
			s.prune()
			continue
		case <-release.C:
			s.mu.Lock()
			n := s.sockets
			s.mu.Unlock()
			if rel.check(n) {
				s.log.Info("returned free memory to the system", "connections", n)
			}
			continue
		case <-ctx.Done():
		}
		break
	}
	s.log.Info("shutting down")
	// Sockets first: http.Server.Shutdown neither closes nor waits for
	// hijacked connections. New ones are refused from here on.
	closeErr := s.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return closeErr
}

// prune applies the retention limits, logging what it removed.
func (s *Server) prune() {
	n, err := s.store.Prune(context.Background(), time.Now())
	switch {
	case err != nil:
		s.log.Error("prune history", "err", err)
	case n > 0:
		s.log.Info("pruned history", "messages", n)
	}
}

// track registers a live connection; it returns false once shutdown began.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	s.conns[c] = struct{}{}
	s.serving.Add(1)
	return true
}

// untrack forgets a connection that ended.
func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.serving.Done()
}

// closeConns closes every live connection for a restart and refuses new ones.
func (s *Server) closeConns() {
	s.mu.Lock()
	s.stopping = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(c.closeForRestart)
	}
	wg.Wait()
}

// orDefault returns def for a zero v, and v otherwise: negative values,
// which switch a limit off, are kept.
func orDefault[T int | float64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}
