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

	"github.com/chatwasm/chat/server/hub"
)

// SocketPath is where the WebSocket endpoint is served.
const SocketPath = "/ws"

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

	// Logger receives the server's logs. Zero value means slog.Default().
	Logger *slog.Logger
}

// Server is the chat server. Create it with New; it is an http.Handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	hub     *hub.Hub
	mux     *http.ServeMux
	version string

	mu       sync.Mutex
	conns    map[*conn]struct{}
	stopping bool
}

// New returns a Server for cfg, or an error if the assets are missing.
func New(cfg Config) (*Server, error) {
	if cfg.Assets == nil {
		return nil, errors.New("new server: Config.Assets is nil")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		cfg:   cfg,
		log:   cfg.Logger,
		hub:   hub.New(),
		mux:   http.NewServeMux(),
		conns: make(map[*conn]struct{}),
	}
	page, err := s.pageHandler()
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	s.mux.HandleFunc("GET "+SocketPath, s.serveSocket)
	s.mux.Handle("/", page)
	return s, nil
}

// Version returns the client version the server announces.
func (s *Server) Version() string { return s.version }

// ServeHTTP routes a request to the WebSocket endpoint or to the app.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Run serves on ln until ctx ends, then shuts down: it stops accepting,
// closes every WebSocket with 1012 (service restart) so that clients
// reconnect to the next process, and waits up to 5 s for requests in flight.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("serving", "addr", ln.Addr().String(), "version", s.version)

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	s.closeConns()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// track registers a live connection; it returns false once shutdown began.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// untrack forgets a connection that ended.
func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
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
