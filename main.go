//go:build !(js && wasm)

// The server side of the program; wasm.go is the browser side. This file
// exists beside wasm.go only so that build tags keep the server out of
// app.wasm.
package main

import (
	"context"
	"embed"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/chatwasm/chat/app"
	"github.com/chatwasm/chat/server"
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
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", envOr("ADDR", ":3000"), "listen address (env ADDR)")
	origins := flag.String("origins", os.Getenv("ORIGINS"),
		"comma-separated extra origins allowed to open the WebSocket, e.g. chat.example.com,*.example.org (env ORIGINS)")
	webDir := flag.String("web", os.Getenv("WEB_DIR"),
		"serve the web directory found in this directory instead of the embedded one, for development (env WEB_DIR)")
	dataDir := flag.String("data", envOr("DATA", "./data"), "data directory: message store and identity secret, created when missing (env DATA)")
	history := flag.Int("history", 0, "messages a person joining fresh sees (0: 100; at most 1000)")
	retainCount := flag.Int("retain", 0, "messages kept per room (0: 10000, -1: no limit)")
	retainAge := flag.Duration("retain-age", 0, "how long messages are kept, e.g. 720h (0: no limit)")
	rate := flag.Float64("rate", 0, "messages per second a connection, and a user, may send (0: 10)")
	burst := flag.Int("burst", 0, "messages a connection, and a user, may send at once (0: 20)")
	flag.Parse()

	var assets fs.FS = web
	if *webDir != "" {
		assets = os.DirFS(*webDir)
	}
	app.Routes()
	srv, err := server.New(server.Config{
		Assets:         assets,
		Version:        version,
		AllowedOrigins: splitList(*origins),
		DataDir:        *dataDir,
		History:        *history,
		Retention:      store.Options{MaxMessages: *retainCount, MaxAge: *retainAge},
		RateLimit:      *rate,
		RateBurst:      *burst,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return srv.Run(ctx, ln)
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
