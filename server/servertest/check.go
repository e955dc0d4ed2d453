package servertest

import (
	"testing"
	"time"
)

// CheckFor calls f every `every` until it returns nil, and fails the test
// with f's last error once total has passed, as checkFor of nats-server
// does. Use it to wait for a condition instead of a bare sleep. Call it
// from the test's goroutine: it may call t.Fatalf.
func CheckFor(t testing.TB, total, every time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return
		}
		if !time.Now().Before(deadline) {
			t.Fatalf("timed out after %v: %v", total, err)
		}
		time.Sleep(every)
	}
}
