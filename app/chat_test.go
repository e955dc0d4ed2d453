package app

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/chatwasm/chat/app/event"
)

// render loads c into a fresh test engine and returns the page's HTML.
func render(t *testing.T, c *Chat) string {
	t.Helper()
	e := goapp.NewTestEngine()
	if err := e.Load(c); err != nil {
		t.Fatalf("load: %v", err)
	}
	e.ConsumeAll()
	// HTMLString indents; drop the layout between tags.
	return betweenTags.ReplaceAllString(goapp.HTMLString(c), "><")
}

var betweenTags = regexp.MustCompile(`>\s+<`)

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
	for _, state := range []string{StateConnecting, StateConnected, StateOffline} {
		html := render(t, &Chat{state: state, mounted: true})
		mustContain(t, html, fmt.Sprintf(`data-state="%s"`, state))
	}
}

func TestChatConversation(t *testing.T) {
	t.Parallel()
	c := &Chat{state: StateConnected, mounted: true}
	c.apply([]event.Event{
		event.Joined{Room: event.DefaultRoom, User: "me", Name: "Ann"},
		event.UserJoined{Room: event.DefaultRoom, User: "u2", Name: "Bob"},
		event.Message{Room: event.DefaultRoom, Seq: 1, User: "me", Name: "Ann", Text: "hi Bob"},
		event.Message{Room: event.DefaultRoom, Seq: 2, User: "u2", Name: "Bob", Text: `<img src=x onerror=alert(1)>`},
		event.UserLeft{Room: event.DefaultRoom, User: "u2", Name: "Bob"},
	})
	html := render(t, c)
	mustContain(t, html,
		`<li class="notice">You joined</li>`,
		`<li class="notice">Bob connected</li>`,
		`<li class="message own"><span class="name">You</span><span class="sep">: </span><span class="text">hi Bob</span></li>`,
		`<span class="name">Bob</span><span class="sep">: </span><span class="text">&lt;img src=x onerror=alert(1)&gt;</span>`,
		`<li class="notice">Bob disconnected</li>`,
		`id="send-container"`, `id="message-input"`, `id="send-button"`,
	)
	mustNotContain(t, html, `id="name-form"`, `<img src=x`)
	// Entries keep the server's order.
	if a, b := strings.Index(html, "hi Bob"), strings.Index(html, "Bob disconnected"); a < 0 || b < a {
		t.Errorf("rows out of order")
	}
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
	c.apply([]event.Event{event.Error{Code: event.CodeInvalidName, Message: "name is longer than 32 characters"}})
	if c.name != "" || c.user != "" {
		t.Fatalf("after a refused join: name %q, user %q", c.name, c.user)
	}
	html := render(t, c)
	mustContain(t, html, `id="name-error"`, "Name is longer than 32 characters.", `id="name-form"`)
}

func TestChatMessageRules(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", event.MaxTextLen+1)
	tests := []struct {
		draft, err string
		send       bool
	}{
		{"", "", false},
		{" \n ", "", false},
		{long, "Message is longer than 2000 characters.", false},
		{"a\u0000b", "Message contains control characters or invalid UTF-8.", false},
		{"  hello  ", "", true},
	}
	for _, tt := range tests {
		c := &Chat{mounted: true, user: "me", draft: tt.draft}
		s, ok := c.takeDraft()
		if ok != tt.send || c.sendErr != tt.err {
			t.Errorf("takeDraft(%.20q) = %v, error %q; want %v, %q", tt.draft, ok, c.sendErr, tt.send, tt.err)
		}
		if c.draft != tt.draft {
			t.Errorf("takeDraft(%.20q) changed the draft", tt.draft)
		}
		if ok && (s.Text != "hello" || s.ID == "") {
			t.Errorf("takeDraft: %#v, want the trimmed text with an id", s)
		}
		if tt.err != "" {
			mustContain(t, render(t, c), `id="send-error"`, tt.err)
		}
	}

	// Each Send gets its own id.
	c := &Chat{user: "me", draft: "one"}
	a, _ := c.takeDraft()
	b, _ := c.takeDraft()
	if a.ID == b.ID {
		t.Fatalf("two Sends share the id %q", a.ID)
	}
}

func TestChatKeepsABoundedList(t *testing.T) {
	t.Parallel()
	c := &Chat{user: "me"}
	var events []event.Event
	for i := range maxEntries + 10 {
		events = append(events, event.Message{Seq: uint64(i + 1), User: "u", Name: "Bob", Text: fmt.Sprint("m", i)})
	}
	c.apply(events)
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
