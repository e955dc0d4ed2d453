package e2e

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatwasm/chat/server/servertest"
)

// TestUpdateNotice deploys a new version under an open page: a restart of the
// same build finds no update, a new build shows the reload notice, and the
// reload brings the page to the new version.
func TestUpdateNotice(t *testing.T) {
	v1, _ := startServer(t, "v1")
	v1again, _ := startServer(t, "v1")
	v2, _ := startServer(t, "v2")
	var current atomic.Pointer[http.Handler]
	deploy := func(h http.Handler) { current.Store(&h) }
	deploy(v1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*current.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)

	b := newBrowser(t)
	open(t, b, ts.URL)
	servertest.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		var controlled bool
		b.eval(t, `navigator.serviceWorker.controller !== null`, &controlled)
		if !controlled {
			return errors.New("the service worker does not control the page yet")
		}
		return nil
	})
	const checkUpdate = `(async () => {
		const r = await navigator.serviceWorker.getRegistration();
		await r.update();
		return !!(r.installing || r.waiting);
	})()`

	deploy(v1again)
	var found bool
	b.eval(t, checkUpdate, &found)
	if found {
		t.Fatal("a restart of the same version was taken for an update")
	}
	if n := len(b.texts(t, "#update-banner")); n != 0 {
		t.Fatal("the update notice shows after a restart of the same version")
	}

	deploy(v2)
	b.eval(t, checkUpdate, &found)
	if !found {
		t.Fatal("the service worker found no update after a new version was deployed")
	}
	b.waitVisible(t, "#update-banner")
	b.click(t, "#reload-button")
	b.waitAttr(t, connected, "data-state", "connected")
	servertest.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		var keys []string
		b.eval(t, `caches.keys()`, &keys)
		if len(keys) != 1 || keys[0] != "app-v2" {
			return errors.New("caches after the reload: want only app-v2")
		}
		if n := len(b.texts(t, "#update-banner")); n != 0 {
			return errors.New("the update notice still shows after the reload")
		}
		return nil
	})
}
