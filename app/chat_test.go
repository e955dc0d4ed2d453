package app

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/chatwasm/chat/app/event"
)

// render loads a copy of c into a fresh test engine and returns the page's
// HTML. The copy lets a test render the same state again after a change (a
// component mounts once).
func render(t *testing.T, orig *Chat) string {
	t.Helper()
	c := &Chat{}
	*c = *orig
	c.Compo = goapp.Compo{}
	e := goapp.NewTestEngine()
	if err := e.Load(c); err != nil {
		t.Fatalf("load: %v", err)
	}
	e.ConsumeAll()
	// HTMLString indents and writes attributes in map order: drop the
	// layout between tags and sort the attributes, so that a test can look
	// for a whole tag.
	html := betweenTags.ReplaceAllString(goapp.HTMLString(c), "><")
	return openTag.ReplaceAllStringFunc(html, func(tag string) string {
		m := openTag.FindStringSubmatch(tag)
		attrs := attribute.FindAllString(m[2], -1)
		slices.Sort(attrs)
		return "<" + m[1] + strings.Join(append([]string{""}, attrs...), " ") + ">"
	})
}

var (
	betweenTags = regexp.MustCompile(`>\s+<`)
	openTag     = regexp.MustCompile(`<([a-z0-9]+)((?:\s+[a-z-]+(?:="[^"]*")?)*)\s*>`)
	attribute   = regexp.MustCompile(`[a-z-]+(?:="[^"]*")?`)
)

// mustContain fails unless html holds every part.
func mustContain(t *testing.T, html string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(html, p) {
			t.Errorf("the page lacks %s\npage: %s", p, html)
		}
	}
}

// mustNotContain fails if html holds any part.
func mustNotContain(t *testing.T, html string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if strings.Contains(html, p) {
			t.Errorf("the page holds %s\npage: %s", p, html)
		}
	}
}

func TestChatBeforeTheWASMRuns(t *testing.T) {
	t.Parallel()
	html := render(t, &Chat{})
	mustContain(t, html, `id="connection"`, `id="name-form"`, `id="name-input"`, `id="message-container"`)
	// data-state is the WASM's to set; the prerendered page has none, and
	// its Join button waits for the WASM.
	mustNotContain(t, html, `data-state`, `id="send-container"`, `id="name-error"`)
	mustContain(t, html, `disabled`)
}

func TestChatStates(t *testing.T) {
	t.Parallel()
	for state, label := range map[ConnState]string{
		StateConnecting: "Connecting…",
		StateConnected:  "Online",
		StateOffline:    "Offline — reconnecting…",
	} {
		html := render(t, &Chat{state: state, mounted: true})
		mustContain(t, html, fmt.Sprintf(`data-state="%s"`, state), ">"+label+"<")
	}
}

func TestChatConversation(t *testing.T) {
	t.Parallel()
	c := &Chat{state: StateConnected, mounted: true}
	c.apply(Update{State: StateConnected, Events: []event.Event{
		event.Joined{Room: event.DefaultRoom, User: "me", Name: "Ann", Token: "t"},
		event.UserJoined{Room: event.DefaultRoom, User: "u2", Name: "Bob"},
		event.Message{Room: event.DefaultRoom, Seq: 1, User: "me", Name: "Ann", Text: "hi Bob"},
		event.Message{Room: event.DefaultRoom, Seq: 2, User: "u2", Name: "Bob", Text: `<img src=x onerror=alert(1)>`},
		event.UserLeft{Room: event.DefaultRoom, User: "u2", Name: "Bob"},
	}})
	html := render(t, c)
	mustContain(t, html,
		`<li class="notice">You joined</li>`,
		`<li class="notice">Bob connected</li>`,
		`<li class="message own" data-status="sent"><span class="name">You</span><span class="sep">: </span><span class="text">hi Bob</span></li>`,
		`<li class="message" data-status="sent"><span class="name">Bob</span><span class="sep">: </span><span class="text">&lt;img src=x onerror=alert(1)&gt;</span>`,
		`<li class="notice">Bob disconnected</li>`,
		`id="send-container"`, `id="message-input"`, `id="send-button"`,
	)
	mustNotContain(t, html, `id="name-form"`, `<img src=x`)
	// Entries keep the server's order.
	if a, b := strings.Index(html, "hi Bob"), strings.Index(html, "Bob disconnected"); a < 0 || b < a {
		t.Errorf("rows out of order")
	}

	// A message's time shows through data-time, outside its text.
	at := time.Date(2026, 11, 26, 9, 5, 0, 0, time.Local)
	c.apply(Update{Events: []event.Event{event.Message{Seq: 3, User: "u2", Name: "Bob", Text: "timed", Time: at.UnixMilli()}}})
	mustContain(t, render(t, c), `data-time="09:05"`, `title="2026-11-26 09:05:00"`, `<span class="text">timed</span>`)
}

func TestChatNameRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		draft, err, name string
	}{
		{"", "Name is empty.", ""},
		{"   ", "Name is empty.", ""},
		{strings.Repeat("n", event.MaxNameLen+1), "Name is longer than 32 characters.", ""},
		{"a\u0007b", "Name contains control characters or invalid UTF-8.", ""},
		{"  Ann  ", "", "Ann"},
	}
	for _, tt := range tests {
		c := &Chat{mounted: true, nameDraft: tt.draft}
		ok := c.takeName()
		if ok != (tt.err == "") || c.nameErr != tt.err || c.name != tt.name {
			t.Errorf("takeName(%q) = %v, error %q, name %q; want error %q, name %q", tt.draft, ok, c.nameErr, c.name, tt.err, tt.name)
		}
		if tt.err != "" {
			mustContain(t, render(t, c), `id="name-error"`, tt.err)
		}
	}

	// A name the server refuses shows next to the form, which stays usable.
	c := &Chat{mounted: true, name: "Ann"}
	c.apply(Update{State: StateConnected, JoinRefused: &event.Error{Code: event.CodeInvalidName, Message: "name is longer than 32 characters"}})
	if c.name != "" || c.user != "" {
		t.Fatalf("after a refused join: name %q, user %q", c.name, c.user)
	}
	html := render(t, c)
	mustContain(t, html, `id="name-error"`, "Name is longer than 32 characters.", `id="name-form"`)
}

// newTestSession returns a Session that is never run: its outbox fills and
// stays, as while offline.
func newTestSession(t *testing.T) *Session {
	t.Helper()
	s, err := NewSession(SessionConfig{URL: "ws://127.0.0.1:1/ws"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestChatMessageRules(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", event.MaxTextLen+1)
	tests := []struct {
		draft, err string
		queued     bool
	}{
		{"", "", false},
		{" \n ", "", false},
		{long, "Message is longer than 2000 characters.", false},
		{"a\u0000b", "Message contains control characters or invalid UTF-8.", false},
		{"  hello  ", "", true},
	}
	for _, tt := range tests {
		c := &Chat{mounted: true, user: "me", draft: tt.draft, sess: newTestSession(t)}
		ok := c.submit()
		if ok != tt.queued || c.sendErr != tt.err {
			t.Errorf("submit(%.20q) = %v, error %q; want %v, %q", tt.draft, ok, c.sendErr, tt.queued, tt.err)
		}
		if !ok && c.draft != tt.draft {
			t.Errorf("submit(%.20q) changed the refused draft", tt.draft)
		}
		want := 0
		if tt.queued {
			want = 1
		}
		if len(c.outbox) != want || len(c.sess.Outbox()) != want {
			t.Fatalf("submit(%.20q): %d rows in the outbox, %d in the session; want %d", tt.draft, len(c.outbox), len(c.sess.Outbox()), want)
		}
		if ok && (c.outbox[0].Text != "hello" || c.outbox[0].ID == "" || c.outbox[0].Status != StatusPending) {
			t.Errorf("submit: %#v, want the trimmed text, pending, with an id", c.outbox[0])
		}
		if tt.err != "" {
			mustContain(t, render(t, c), `id="send-error"`, tt.err)
		}
	}
}

func TestChatOutboxRows(t *testing.T) {
	t.Parallel()
	c := &Chat{mounted: true, state: StateOffline, user: "me", name: "Ann"}
	c.apply(Update{State: StateOffline, OutboxChanged: true, Outbox: []OutboxItem{
		{ID: "a", Text: "first <b>", Status: StatusPending},
		{ID: "b", Text: "too long", Status: StatusFailed, Reason: "Message is longer than 2000 characters."},
	}})
	c.entries = append(c.entries, entry{own: true, name: "Ann", text: "stored"})
	html := render(t, c)
	mustContain(t, html,
		`<li class="message own pending" data-status="pending"><span class="name">You</span><span class="sep">: </span><span class="text">first &lt;b&gt;</span></li>`,
		`data-status="failed"`, `class="message own failed"`, `aria-label="Retry"`, `aria-label="Delete"`,
	)
	// The outbox follows the room's messages; the buttons carry no text,
	// so a failed row still reads "You: too long".
	if a, b := strings.Index(html, "stored"), strings.Index(html, "first &lt;b&gt;"); a < 0 || b < a {
		t.Errorf("the outbox is not at the end of the list")
	}
	failed := html[strings.Index(html, `class="message own failed"`):]
	failed = failed[:strings.Index(failed, "</li>")]
	if text := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(failed[strings.Index(failed, ">")+1:], ""); text != "You: too long" {
		t.Errorf("a failed row reads %q, want %q", text, "You: too long")
	}

	// Acknowledged: the outbox row goes, the server's row takes its place.
	c.apply(Update{State: StateConnected, OutboxChanged: true, Outbox: []OutboxItem{c.outbox[1]}, Events: []event.Event{
		event.Message{Seq: 7, ID: "a", User: "me", Name: "Ann", Text: "first <b>"},
	}})
	html = render(t, c)
	mustNotContain(t, html, `data-status="pending"`)
	mustContain(t, html, `<li class="message own" data-status="sent"><span class="name">You</span><span class="sep">: </span><span class="text">first &lt;b&gt;</span></li>`)
}

func TestChatRetryAndDelete(t *testing.T) {
	t.Parallel()
	c := &Chat{mounted: true, user: "me", sess: newTestSession(t)}
	for _, text := range []string{"one", "two"} {
		c.draft = text
		if !c.submit() {
			t.Fatalf("submit %q refused: %s", text, c.sendErr)
		}
	}
	// A Retry of a message that has not failed is refused in words.
	c.outboxAction(c.sess.Retry, c.outbox[0].ID)
	if !strings.Contains(c.sendErr, "has not failed") || len(c.outbox) != 2 {
		t.Fatalf("retry of a pending message: error %q, %d rows", c.sendErr, len(c.outbox))
	}
	c.outboxAction(c.sess.Delete, c.outbox[0].ID)
	if len(c.outbox) != 1 || c.outbox[0].Text != "two" {
		t.Fatalf("after delete: %#v", c.outbox)
	}
}

func TestChatReturningPerson(t *testing.T) {
	t.Parallel()
	// A stored identity joins by itself: no prompt, the composer at once.
	c := &Chat{mounted: true, state: StateConnecting, known: true}
	html := render(t, c)
	mustNotContain(t, html, `id="name-form"`)
	mustContain(t, html, `id="send-container"`)

	// The first Joined says "You joined"; a reconnect's does not, and a
	// gap shows as a divider.
	c.apply(Update{State: StateConnected, Events: []event.Event{event.Joined{User: "me", Name: "Ann", Token: "t", Seq: 3}}})
	c.apply(Update{State: StateOffline})
	c.apply(Update{State: StateConnected, Events: []event.Event{
		event.Joined{User: "me", Name: "Ann", Token: "t", Seq: 900, Gap: true},
		event.Message{Seq: 850, User: "u2", Name: "Bob", Text: "later"},
	}})
	html = render(t, c)
	if n := strings.Count(html, "You joined"); n != 1 {
		t.Errorf(`"You joined" shows %d times`, n)
	}
	mustContain(t, html, `<li class="divider">Some older messages are no longer available</li>`)
	if a, b := strings.Index(html, "divider"), strings.Index(html, "later"); b < a {
		t.Errorf("the divider is not before the history that follows the gap")
	}

	// A stored name the server no longer accepts brings the prompt back.
	c = &Chat{mounted: true, known: true, name: "Ann"}
	c.apply(Update{State: StateConnected, JoinRefused: &event.Error{Code: event.CodeInvalidName, Message: "name contains control characters or invalid UTF-8"}})
	mustContain(t, render(t, c), `id="name-form"`, `id="name-error"`)
}

func TestChatKeepsABoundedList(t *testing.T) {
	t.Parallel()
	c := &Chat{user: "me"}
	var events []event.Event
	for i := range maxEntries + 10 {
		events = append(events, event.Message{Seq: uint64(i + 1), User: "u", Name: "Bob", Text: fmt.Sprint("m", i)})
	}
	c.apply(Update{Events: events})
	if len(c.entries) != maxEntries || c.entries[0].text != "m10" || c.entries[maxEntries-1].text != fmt.Sprint("m", maxEntries+9) {
		t.Fatalf("%d entries from %q to %q", len(c.entries), c.entries[0].text, c.entries[len(c.entries)-1].text)
	}
}

func TestChatUpdateNotice(t *testing.T) {
	t.Parallel()
	html := render(t, &Chat{updateReady: true})
	mustContain(t, html, `id="update-banner"`, `id="reload-button"`, "A new version is available.")
	mustNotContain(t, render(t, &Chat{}), `id="update-banner"`)
}
