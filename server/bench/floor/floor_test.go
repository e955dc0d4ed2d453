package floor

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chatwasm/chat/server/bench"
)

// TestBench runs the load generator against the floor, joined and connect
// only: every message reaches every member of its room once.
func TestBench(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(New())
	t.Cleanup(ts.Close)
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"
	for _, cfg := range []bench.Config{
		{URL: url, Clients: 6, Senders: 3, Rooms: 2, Rate: 30, Duration: 500 * time.Millisecond, NoPresence: true},
		{URL: url, Clients: 3, NoJoin: true, Duration: 100 * time.Millisecond},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		rep, err := bench.Run(ctx, cfg)
		cancel()
		if err != nil {
			t.Fatalf("Run: %v\n%s", err, rep)
		}
		if p := rep.Problems(); len(p) > 0 {
			t.Errorf("problems: %v\n%s", p, rep)
		}
		want := int64(cfg.Rate*cfg.Duration.Seconds()) * int64(cfg.Clients/max(cfg.Rooms, 1))
		if rep.Joined != cfg.Clients || rep.Delivered != want {
			t.Errorf("%d of %d joined, %d delivered; want all, %d\n%s", rep.Joined, cfg.Clients, rep.Delivered, want, rep)
		}
	}
}
