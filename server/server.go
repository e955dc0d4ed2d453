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

// Rate limits of Config.
const (
	// DefaultRateLimit is the sustained messages per second of a connection
	// and of a user: 10/s is faster than anyone types and slower than a bot.
	DefaultRateLimit = 10
	// DefaultRateBurst is how many messages may go at once: 20 lets a client
	// flush an outbox of a short offline period without waiting.
	DefaultRateBurst = 20
)

// pruneInterval is how often the retention limits are applied: once a
// minute keeps the store near its limits at a negligible cost.
const pruneInterval = time.Minute

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
	RateLimit float64
	RateBurst int

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
	limits  *userLimits
	mux     *http.ServeMux
	version string

	mu       sync.Mutex
	conns    map[*conn]struct{}
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
	if cfg.RateLimit <= 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = DefaultRateBurst
	}
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
	signer, err := identity.NewSigner(secret, 0)
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
		cfg:    cfg,
		log:    cfg.Logger,
		store:  st,
		dir:    dir,
		signer: signer,
		limits: newUserLimits(cfg.RateLimit, cfg.RateBurst),
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

// ServeHTTP routes a request to the WebSocket endpoint or to the app.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Run serves on ln until ctx ends, then shuts down: it stops accepting,
// closes every WebSocket with 1012 (service restart) so that clients
// reconnect to the next process, waits up to 5 s for requests in flight,
// and closes the store. Meanwhile it applies the retention limits.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("serving", "addr", ln.Addr().String(), "version", s.version, "data", s.cfg.DataDir)
	prune := time.NewTicker(pruneInterval)
	defer prune.Stop()
	s.prune()
	for {
		select {
		case err := <-errc:
			s.Close()
			return fmt.Errorf("serve: %w", err)
		case <-prune.C:
			s.prune()
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
