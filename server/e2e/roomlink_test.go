package e2e

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatwasm/chat/server/servertest"
)

// TestRoomLinkOffline: a person who opened the chat once follows a room's
// link, /r/design, with no network at all. The service worker answers the
// navigation with the app shell it precached, and the client starts there:
// #connection gets its data-state from the WASM. A page the worker has no
// fallback for fails in the same state, which proves the network is gone.
func TestRoomLinkOffline(t *testing.T) {
	_, ts := startServer(t, "room-link")
	// The page goes through a proxy that can refuse every connection: the
	// tab's network emulation may not cover the worker's own fetches.
	px := servertest.StartProxy(t, strings.TrimPrefix(ts.URL, "http://"))
	b := newBrowser(t)
	open(t, b, px.URL())
	// Installed: the worker has precached the app and controls the page.
	servertest.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		var controlled bool
		b.eval(t, `navigator.serviceWorker.controller !== null`, &controlled)
		if !controlled {
			return errors.New("the service worker does not control the page yet")
		}
		return nil
	})

	b.setOffline(t, true)
	px.SetDown(true)
	px.Cut()

	// Outside /r/ the worker keeps go-app's behaviour: a page it never
	// precached does not open offline.
	ctx, cancel := b.actx()
	err := chromedp.Do(ctx, chromedp.Navigate(px.URL()+"/no-such-page"))
	cancel()
	if err == nil {
		b.fatalf(t, "an uncached page opened with the network gone: the test is not offline")
	}
	t.Logf("offline, an uncached page fails as expected: %v", err)

	start := time.Now()
	b.navigate(t, px.URL()+"/r/design")
	var where struct {
		Path   string  `json:"path"`
		Worker float64 `json:"worker"`
	}
	b.eval(t, `({path: location.pathname, worker: performance.getEntriesByType("navigation")[0].workerStart})`, &where)
	if where.Path != "/r/design" {
		b.fatalf(t, "the deep link shows %q, want /r/design", where.Path)
	}
	if where.Worker <= 0 {
		b.fatalf(t, "the deep link was not served by the service worker (workerStart %v)", where.Worker)
	}
	const state = `(() => {
		const e = document.querySelector("#connection");
		return e ? e.getAttribute("data-state") : null;
	})()`
	var last *string
	servertest.CheckFor(t, actionTimeout, pollInterval, func() error {
		b.eval(t, state, &last)
		if last == nil || (*last != "offline" && *last != "connecting") {
			return fmt.Errorf("#connection data-state is %s, want offline or connecting (set by the WASM)", describe(last))
		}
		return nil
	})
	t.Logf("offline deep link: the app started in %v, #connection %s", time.Since(start).Round(time.Millisecond), *last)
}

// describe shows an attribute's value, or that there is none.
func describe(s *string) string {
	if s == nil {
		return "absent"
	}
	return fmt.Sprintf("%q", *s)
}
