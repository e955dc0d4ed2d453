package e2e

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	chatclient "github.com/chatwasm/chat/app/client"
	"github.com/chatwasm/chat/server/servertest"
)

// TestChurn connects, drops and reconnects 100 Go clients at random for 20 s
// while 5 others send, then checks exactly-once, in-order delivery for every
// client, and that the server holds no more goroutines or memory once
// everyone left.
func TestChurn(t *testing.T) {
	_, ts := startServer(t, "churn")
	const churners, senders = 100, 5
	duration := 20 * time.Second
	var clients []*client
	for i := range churners + senders {
		clients = append(clients, newClient(t, ts.URL, fmt.Sprint("c", i), fastBackoff))
	}
	// Warm up: everyone joins and gets one message, then leaves. The
	// baseline is taken then, with the server's caches and pools in use.
	clients[0].send(t, "warm-up")
	waitSettled(t, clients, 60*time.Second)
	for _, c := range clients {
		c.stop()
	}
	waitGoroutines(t, -1)
	goroutines := runtime.NumGoroutine()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, c := range clients {
		c.run()
	}

	stopAt := time.Now().Add(duration)
	var wg sync.WaitGroup
	var mu sync.Mutex
	drops, restarts := 0, 0
	for _, c := range clients[:churners] {
		wg.Go(func() {
			for time.Now().Before(stopAt) {
				time.Sleep(time.Duration(200+rand.IntN(1800)) * time.Millisecond)
				if rand.IntN(2) == 0 {
					c.session.Drop() // the network blips; the session reconnects
					mu.Lock()
					drops++
					mu.Unlock()
					continue
				}
				c.stop() // the tab closes…
				time.Sleep(time.Duration(rand.IntN(500)) * time.Millisecond)
				c.run() // …and the person comes back
				mu.Lock()
				restarts++
				mu.Unlock()
			}
		})
	}
	for _, c := range clients[churners:] {
		wg.Go(func() {
			for i := 0; time.Now().Before(stopAt); i++ {
				// Keep the outbox (client.MaxOutbox) from filling on a
				// loaded machine: a person would stop typing too.
				for len(c.session.Outbox()) >= chatclient.MaxOutbox/2 {
					time.Sleep(10 * time.Millisecond)
				}
				c.send(t, fmt.Sprintf("%s message %d", c.name, i))
				time.Sleep(150 * time.Millisecond) // under the 10/s rate limit
			}
		})
	}
	wg.Wait()
	waitSettled(t, clients, 60*time.Second)
	result := verify(t, clients, 0)

	for _, c := range clients {
		c.stop()
		c.mu.Lock()
		c.received = nil // the test's own records, not the server's memory
		c.roster = roster{}
		c.mu.Unlock()
	}
	var after runtime.MemStats
	waitGoroutines(t, goroutines)
	servertest.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		runtime.GC()
		runtime.ReadMemStats(&after)
		// Live heap after a collection; 2 MiB of slack for the runtime's
		// pools and the store's page cache.
		if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 2<<20 {
			return fmt.Errorf("live heap grew by %d KiB after everyone left", grew>>10)
		}
		return nil
	})
	t.Logf("churn of %d clients for %v (%d drops, %d closes and returns) with %d senders: %v; goroutines %d → %d, live heap %d → %d KiB",
		churners, duration, drops, restarts, senders, result, goroutines, runtime.NumGoroutine(), before.HeapAlloc>>10, after.HeapAlloc>>10)
}

// waitGoroutines waits until the process runs at most want goroutines (or,
// with want < 0, until the count stops falling), and returns the count.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	last := -1
	servertest.CheckFor(t, 20*time.Second, 200*time.Millisecond, func() error {
		n := runtime.NumGoroutine()
		defer func() { last = n }()
		if want >= 0 && n > want {
			return fmt.Errorf("%d goroutines after everyone left, %d before", n, want)
		}
		if want < 0 && n != last {
			return fmt.Errorf("goroutines still changing: %d", n)
		}
		return nil
	})
}
