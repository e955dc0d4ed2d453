package e2e

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	chatclient "github.com/chatwasm/chat/app/client"
	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server"
	"github.com/chatwasm/chat/server/servertest"
)

// probe is a person on the native protocol client, client.Session: what it
// receives is what the server sent, with no page in between.
type probe struct {
	*chatclient.Session
	mu    sync.Mutex
	texts []string // "<name>: <text>" of each message, in order
	user  string
}

// joinProbe connects a probe to the server at base (http://host) under
// name and waits for its Joined. It leaves when the test ends.
func joinProbe(t *testing.T, base, name string) *probe {
	t.Helper()
	p := new(probe)
	s, err := chatclient.NewSession(chatclient.SessionConfig{
		URL:      "ws" + strings.TrimPrefix(base, "http") + server.SocketPath,
		OnUpdate: p.on,
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Session = s
	runUntilEnd(t, s)
	if err := s.Join(name); err != nil {
		t.Fatal(err)
	}
	servertest.CheckFor(t, actionTimeout, 10*time.Millisecond, func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.user == "" {
			return errors.New("the probe has not joined")
		}
		return nil
	})
	return p
}

// on is the probe's Session.OnUpdate.
func (p *probe) on(u chatclient.Update) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range u.Events {
		switch e := e.(type) {
		case event.Joined:
			p.user = e.User
		case event.Message:
			p.texts = append(p.texts, e.Name+": "+e.Text)
		}
	}
}

// lines returns what the probe received.
func (p *probe) lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.texts)
}

// waitLine waits until the probe received want.
func (p *probe) waitLine(t *testing.T, want string) {
	t.Helper()
	servertest.CheckFor(t, actionTimeout, 10*time.Millisecond, func() error {
		if got := p.lines(); !slices.Contains(got, want) {
			return fmt.Errorf("the probe lacks %q: %q", want, got)
		}
		return nil
	})
}

// count returns how many of lines equal s.
func count(lines []string, s string) int {
	n := 0
	for _, l := range lines {
		if l == s {
			n++
		}
	}
	return n
}

// TestReloadWithPending: a person offline writes three messages, reloads the
// page while they wait, and comes back online. The outbox survives the
// reload in localStorage, and each message reaches the room exactly once, in
// order: in the other browser, in a protocol client, and on the reloaded
// page, where they turn from pending to sent.
func TestReloadWithPending(t *testing.T) {
	_, ts := startServerConfig(t, server.Config{Version: "e2e"})
	var ann, bea person
	var wg sync.WaitGroup
	wg.Go(func() { ann = person{newBrowser(t), "Ann"} })
	wg.Go(func() { bea = person{newBrowser(t), "Bea"} })
	wg.Wait()
	open(t, ann.browser, ts.URL)
	ann.join(t)
	open(t, bea.browser, ts.URL)
	bea.join(t)
	probe := joinProbe(t, ts.URL, "Probe")
	// The offline reload needs the page in the service worker's hands.
	servertest.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		var controlled bool
		ann.eval(t, `navigator.serviceWorker.controller !== null`, &controlled)
		if !controlled {
			return errors.New("the service worker does not control the page yet")
		}
		return nil
	})

	start := time.Now()
	ann.setOffline(t, true)
	ann.waitAttr(t, connected, "data-state", "offline")
	t.Logf("offline shown %v after the network went", time.Since(start).Round(time.Millisecond))
	if text := ann.texts(t, connected); !slices.Equal(text, []string{"Offline — reconnecting…"}) {
		t.Fatalf("#connection reads %q", text)
	}
	texts := []string{"pending one", "pending <two>", "pending three"}
	var pending []string
	for _, text := range texts {
		ann.send(t, text)
		pending = append(pending, "You: "+text)
	}
	const pendingRows = `#message-container > .message.own.pending[data-status="pending"]`
	ann.waitTexts(t, pendingRows, func(s []string) bool { return slices.Equal(s, pending) }, "three pending rows in order")

	start = time.Now()
	ann.reload(t)
	ann.waitAttr(t, connected, "data-state", "offline")
	t.Logf("offline reload to a running page: %v", time.Since(start).Round(time.Millisecond))
	ann.waitTexts(t, pendingRows, func(s []string) bool { return slices.Equal(s, pending) }, "the three pending rows after the reload")
	var stored int
	ann.eval(t, storedOutboxLen, &stored)
	if stored != 3 {
		t.Fatalf("localStorage holds %d messages of the outbox, want 3", stored)
	}
	if n := len(ann.texts(t, "#name-form")); n != 0 {
		t.Fatal("the name prompt shows after the offline reload")
	}

	start = time.Now()
	ann.setOffline(t, false)
	ann.waitAttr(t, connected, "data-state", "connected")
	t.Logf("back online to connected: %v", time.Since(start).Round(time.Millisecond))
	var sent []string
	for _, text := range texts {
		sent = append(sent, "You: "+text)
	}
	ann.waitTexts(t, `#message-container > .message.own[data-status="sent"]`,
		func(s []string) bool { return slices.Equal(s, sent) }, "the three messages sent")
	t.Logf("back online to all three acknowledged: %v", time.Since(start).Round(time.Millisecond))

	// A last message from Bea comes after anything the outbox could still
	// have caused: once everyone has it, the counts are final.
	bea.send(t, "done")
	ann.waitLine(t, "Bea: done")
	probe.waitLine(t, "Bea: done")
	var want []string
	for _, text := range texts {
		want = append(want, "Ann: "+text)
	}
	want = append(want, "Bea: done")
	if got := probe.lines(); !slices.Equal(got, want) {
		t.Fatalf("the probe received %q, want %q", got, want)
	}
	beaLines := bea.chatLines(t)
	for i, text := range texts {
		if n := count(beaLines, "Ann: "+text); n != 1 {
			t.Fatalf("Bea sees %q %d times: %q", text, n, beaLines)
		}
		if i > 0 && slices.Index(beaLines, "Ann: "+text) < slices.Index(beaLines, "Ann: "+texts[i-1]) {
			t.Fatalf("Bea sees the messages out of order: %q", beaLines)
		}
	}
	if rows := ann.texts(t, `#message-container > [data-status="pending"], #message-container > [data-status="failed"]`); len(rows) != 0 {
		t.Fatalf("outbox rows left on the page: %q", rows)
	}
	ann.eval(t, storedOutboxLen, &stored)
	if stored != 0 {
		t.Fatalf("localStorage still holds %d messages of the outbox", stored)
	}

	// The only errors are the browser's own reports of the WebSocket
	// attempts it refused while offline.
	for _, e := range ann.consoleErrors() {
		if !strings.Contains(e, "ERR_INTERNET_DISCONNECTED") {
			t.Fatalf("Ann: console error: %s", e)
		}
	}
}

// storedOutboxLen counts the messages in this tab's stored outbox: the key
// is the room's followed by the tab's id, which the tab keeps in
// sessionStorage (both JSON, as go-app stores them).
const storedOutboxLen = `JSON.parse(localStorage.getItem("chat/outbox/lobby/" + JSON.parse(sessionStorage.getItem("chat/tab"))) || "[]").length`
