package e2e

import (
	"context"
	"testing"

	chatclient "github.com/chatwasm/chat/app/client"
)

// runUntilEnd runs s in the background until the test ends, then stops it
// and waits for Run to return.
func runUntilEnd(t *testing.T, s *chatclient.Session) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}
