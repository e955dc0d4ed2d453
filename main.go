//go:build !(js && wasm)

// The server side of the program; wasm.go is the browser side. This file
// exists beside wasm.go only so that build tags keep the server out of
// app.wasm.
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/chatwasm/chat/app"
	"github.com/chatwasm/chat/server"
	"github.com/chatwasm/chat/server/bench"
	"github.com/chatwasm/chat/server/bench/floor"
	"github.com/chatwasm/chat/server/fdlimit"
	"github.com/chatwasm/chat/server/store"
)

// web holds the static files and the built client (make wasm), so that the
// server is one self-contained binary.
//
//go:embed web
var web embed.FS

// version is set by the Makefile (-ldflags "-X main.version=…") from the
// content of the built client; empty means the server hashes it itself.
var version string

func main() {
	run := serve
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "bench":
			run = benchmark
		case "floor":
			run = serveFloor
		}
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

// benchmark is `chat bench [flags]`, the load generator of package bench,
// until its run ends or an interrupt stops it.
func benchmark() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := bench.Command(ctx, os.Args[2:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// serveFloor is `chat floor -addr …`: the least hub on the WebSocket
// library (package floor), for chat bench to measure the server against.
func serveFloor() error {
	fs := flag.NewFlagSet("chat floor", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:3001", "listen address")
	if err := fs.Parse(os.Args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if _, err := fdlimit.Raise(); err != nil {
		fmt.Fprintln(os.Stderr, "chat floor:", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Handler: floor.New(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// serve is the server: its flags, then serving until an interrupt.
func serve() error {
	addr := flag.String("addr", envOr("ADDR", ":3000"), "listen address (env ADDR)")
	origins := flag.String("origins", os.Getenv("ORIGINS"),
		"comma-separated extra origins allowed to open the WebSocket, e.g. chat.example.com,*.example.org (env ORIGINS)")
	webDir := flag.String("web", os.Getenv("WEB_DIR"),
		"serve the web directory found in this directory instead of the embedded one, for development (env WEB_DIR)")
	dataDir := flag.String("data", envOr("DATA", "./data"), "data directory: message store and identity secret, created when missing (env DATA)")
	history := flag.Int("history", 0, "messages a person joining fresh sees (0: 100; at most 1000)")
	retainCount := flag.Int("retain", 0, "messages kept per room (0: 10000, -1: no limit)")
	retainAge := flag.Duration("retain-age", 0, "how long messages are kept, e.g. 720h (0: no limit)")
	rate := flag.Float64("rate", 0, "messages per second a connection, and a user, may send (0: 10, -1: no limit)")
	burst := flag.Int("burst", 0, "messages a connection, and a user, may send at once (0: 20, -1: no limit)")
	hosts := flag.String("hosts", os.Getenv("HOSTS"),
		"comma-separated host names the server answers to besides IP addresses and localhost, e.g. chat.example.com,*.example.org (env HOSTS)")
	proxies := flag.String("trusted-proxies", os.Getenv("TRUSTED_PROXIES"),
		"comma-separated CIDRs of reverse proxies whose X-Forwarded-For gives the client IP, e.g. 10.0.0.0/8 (env TRUSTED_PROXIES)")
	ipConns := flag.Int("ip-conns", 0, "WebSockets one client IP may hold (0: 64, -1: no limit)")
	maxConns := flag.Int("max-conns", 0, "WebSockets the server holds in all (0: 10000, -1: no limit)")
	ipRate := flag.Float64("ip-rate", 0, "messages per second all users of one client IP may send together (0: 50, -1: no limit)")
	ipBurst := flag.Int("ip-burst", 0, "messages all users of one client IP may send at once (0: 100, -1: no limit)")
	ipIdentities := flag.Float64("ip-identities", 0, "new identities one client IP may get per minute (0: 10, -1: no limit)")
	ipIdentityBurst := flag.Int("ip-identity-burst", 0, "new identities one client IP may get at once (0: 20, -1: no limit)")
	var joinTimeout, writeTimeout, idleTimeout, dedupAge limitDuration
	flag.Var(&dedupAge, "dedup-age", "how long the ids of accepted messages are kept to recognise a resend (0: 720h, -1: forever)")
	tokenAge := flag.Duration("token-age", 0, "how long an identity token stays valid; each join renews it (0: 720h)")
	flag.Var(&joinTimeout, "join-timeout", "how long a WebSocket may stay open without joining (0: 60s, -1: no limit)")
	flag.Var(&writeTimeout, "write-timeout", "how long one response other than the WebSocket may take to send (0: 2m, -1: no limit)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file, for go tool pprof (load tests; off when empty)")
	flag.Var(&idleTimeout, "idle-timeout", "how long a keep-alive connection may wait for its next request (0: 10s, -1: no limit)")
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), "usage: chat [flags]\n       chat bench [flags]  (the load generator: chat bench -h)\n       chat floor [-addr host:port]  (the least hub, to bench against)\n\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()

	trusted, err := server.ParsePrefixes(splitList(*proxies))
	if err != nil {
		return fmt.Errorf("-trusted-proxies: %w", err)
	}

	var assets fs.FS = web
	if *webDir != "" {
		assets = os.DirFS(*webDir)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	// Every WebSocket holds a file: the default -max-conns needs 10,000.
	if l, err := fdlimit.Raise(); err != nil {
		logger.Warn("open files limit", "err", err)
	} else {
		logger.Info("open files limit", "soft", l.Soft, "hard", l.Hard)
	}
	app.Routes()
	srv, err := server.New(server.Config{
		Assets:          assets,
		Version:         version,
		AllowedOrigins:  splitList(*origins),
		Hosts:           splitList(*hosts),
		TrustedProxies:  trusted,
		MaxConnsPerIP:   *ipConns,
		MaxConns:        *maxConns,
		JoinTimeout:     time.Duration(joinTimeout),
		WriteTimeout:    time.Duration(writeTimeout),
		IdleTimeout:     time.Duration(idleTimeout),
		IPRate:          *ipRate,
		IPBurst:         *ipBurst,
		IPIdentities:    *ipIdentities,
		IPIdentityBurst: *ipIdentityBurst,
		DataDir:         *dataDir,
		History:         *history,
		Retention:       store.Options{MaxMessages: *retainCount, MaxAge: *retainAge, DedupAge: time.Duration(dedupAge)},
		TokenMaxAge:     *tokenAge,
		RateLimit:       *rate,
		RateBurst:       *burst,
		Logger:          logger,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if *cpuProfile != "" {
		stopProfile, err := profileCPU(*cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return srv.Run(ctx, ln)
}

// profileCPU starts a CPU profile written to path; the returned function
// stops it and closes the file, which makes it complete. A profile of a load
// test shows where the server's time goes (go tool pprof -top bin/chat path).
func profileCPU(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "chat: -cpuprofile:", err)
		}
	}, nil
}

// envOr returns the environment variable's value, or def when it is unset.
func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// limitDuration is a duration flag for a limit: "0" means the default and
// "-1" (or any negative duration) no limit, as for the numeric limits.
type limitDuration time.Duration

func (d *limitDuration) String() string { return time.Duration(*d).String() }

func (d *limitDuration) Set(s string) error {
	if s == "-1" {
		*d = -1
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 30s or 2m, nor -1", s)
	}
	*d = limitDuration(v)
	return nil
}
