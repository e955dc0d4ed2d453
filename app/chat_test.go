package app

import (
	"fmt"
	"hash/fnv"
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/chatwasm/chat/app/client"
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
	return renderCompo(t, c)
}

// renderCompo loads c into a fresh test engine and returns its HTML.
func renderCompo(t *testing.T, c goapp.Composer) string {
	t.Helper()
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

// rowTexts returns what each row of #message-container reads, as the
// browser's textContent would: its text nodes, tags dropped and entities
// decoded. Rows hold no nested list items, and the notices keep their words
// in a span, so no text node of a row is reindented by HTMLString.
func rowTexts(page string) []string {
	list := page[strings.Index(page, `id="message-container"`):]
	list = list[:strings.Index(list, "</ul>")]
	var out []string
	for _, m := range listItem.FindAllStringSubmatch(list, -1) {
		out = append(out, html.UnescapeString(anyTag.ReplaceAllString(m[1], "")))
	}
	return out
}

var (
	listItem = regexp.MustCompile(`<li[^>]*>(.*?)</li>`)
	anyTag   = regexp.MustCompile(`<[^>]*>`)
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
	for state, label := range map[client.ConnState]string{
		client.StateConnecting: "Connecting…",
		client.StateConnected:  "Online",
		client.StateOffline:    "Offline — reconnecting…",
	} {
		html := render(t, &Chat{state: state, mounted: true})
		mustContain(t, html, fmt.Sprintf(`data-state="%s"`, state), ">"+label+"<")
	}
}

func TestChatConversation(t *testing.T) {
	t.Parallel()
	c := &Chat{state: client.StateConnected, mounted: true}
	c.apply(client.Update{State: client.StateConnected, Events: []event.Event{
		event.Joined{Room: event.DefaultRoom, User: "me", Name: "Ann", Token: "t"},
		event.Presence{Room: event.DefaultRoom, Joined: []event.Member{{User: "u2", Name: "Bob"}}},
		event.Message{Room: event.DefaultRoom, Seq: 1, User: "me", Name: "Ann", Text: "hi Bob"},
		event.Message{Room: event.DefaultRoom, Seq: 2, User: "u2", Name: "Bob", Text: `<img src=x onerror=alert(1)>`},
		event.Presence{Room: event.DefaultRoom, Left: []event.Member{{User: "u2", Name: "Bob"}}},
	}})
	html := render(t, c)
	mustContain(t, html,
		`<li class="notice">You joined</li>`,
		`<li class="notice hue-2" data-initial="B"><bdi class="name" title="\u2068Bob\u2069 (u2)">Bob</bdi><span class="verb"> connected</span></li>`,
		`<li class="message own hue-11" data-initial="A" data-status="sent"><bdi class="name" title="\u2068Ann\u2069 (me)">You</bdi><span class="sep">: </span><bdi class="text">hi Bob</bdi></li>`,
		`<li class="message hue-2" data-initial="B" data-status="sent"><bdi class="name" title="\u2068Bob\u2069 (u2)">Bob</bdi><span class="sep">: </span><bdi class="text">&lt;img src=x onerror=alert(1)&gt;</bdi>`,
		`<li class="notice hue-2" data-initial="B"><bdi class="name" title="\u2068Bob\u2069 (u2)">Bob</bdi><span class="verb"> disconnected</span></li>`,
		`id="send-container"`, `id="message-input"`, `id="send-button"`,
	)
	// The DOM contract: each row reads "name: text", "You: text" or a notice.
	if got, want := rowTexts(html), []string{"You joined", "Bob connected", "You: hi Bob", "Bob: <img src=x onerror=alert(1)>", "Bob disconnected"}; !slices.Equal(got, want) {
		t.Errorf("rows read %q, want %q", got, want)
	}
	mustNotContain(t, html, `id="name-form"`, `<img src=x`)
	// Entries keep the server's order.
	if a, b := strings.Index(html, "hi Bob"), strings.Index(html, "> disconnected<"); a < 0 || b < a {
		t.Errorf("rows out of order")
	}

	// A message's time shows through data-time, outside its text.
	at := time.Date(2026, 11, 26, 9, 5, 0, 0, time.Local)
	c.apply(client.Update{Events: []event.Event{event.Message{Seq: 3, User: "u2", Name: "Bob", Text: "timed", Time: at.UnixMilli()}}})
	mustContain(t, render(t, c), `data-time="09:05"`, `title="2026-11-26 09:05:00"`, `<bdi class="text">timed</bdi>`)
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
		{"You", `Name "You" is reserved: the page shows your own messages under it.`, ""},
		{"yOu", `Name "You" is reserved: the page shows your own messages under it.`, ""},
		{"\u202eecila", "Name contains invisible formatting characters, such as a zero-width space or a direction override.", ""},
		{"\u3164", "Name contains a blank filler character that shows as nothing.", ""},
		{"alice disconnected", `Name cannot end with "connected", "disconnected" or "joined", which would read like a notice.`, ""},
		{"Jose\u0301", "", "Jos\u00e9"},
		{"  Ann  ", "", "Ann"},
	}
	for _, tt := range tests {
		c := &Chat{mounted: true}
		ok := c.takeName(tt.draft)
		if ok != (tt.err == "") || c.nameErr != tt.err || c.name != tt.name {
			t.Errorf("takeName(%q) = %v, error %q, name %q; want error %q, name %q", tt.draft, ok, c.nameErr, c.name, tt.err, tt.name)
		}
		if tt.err != "" {
			mustContain(t, render(t, c), `id="name-error"`, html.EscapeString(tt.err))
		}
	}

	// A name the server refuses shows next to the form, which stays usable.
	c := &Chat{mounted: true, name: "Ann"}
	c.apply(client.Update{State: client.StateConnected, JoinRefused: &event.Error{Code: event.CodeInvalidName, Message: "name is longer than 32 characters"}})
	if c.name != "" || c.user != "" {
		t.Fatalf("after a refused join: name %q, user %q", c.name, c.user)
	}
	html := render(t, c)
	mustContain(t, html, `id="name-error"`, "Name is longer than 32 characters.", `id="name-form"`)
}

// newTestSession returns a Session that is never run: its outbox fills and
// stays, as while offline.
func newTestSession(t *testing.T) *client.Session {
	t.Helper()
	s, err := client.NewSession(client.SessionConfig{URL: "ws://127.0.0.1:1/ws"})
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
		c := &Chat{mounted: true, user: "me", sess: newTestSession(t)}
		form := &composer{Page: c, draft: tt.draft}
		ok := form.submit()
		if ok != tt.queued || c.sendErr != tt.err {
			t.Errorf("submit(%.20q) = %v, error %q; want %v, %q", tt.draft, ok, c.sendErr, tt.queued, tt.err)
		}
		if !ok && form.draft != tt.draft {
			t.Errorf("submit(%.20q) changed the refused draft", tt.draft)
		}
		if ok && form.draft != "" {
			t.Errorf("submit(%.20q) kept the queued draft", tt.draft)
		}
		want := 0
		if tt.queued {
			want = 1
		}
		if len(c.outbox) != want || len(c.sess.Outbox()) != want {
			t.Fatalf("submit(%.20q): %d rows in the outbox, %d in the session; want %d", tt.draft, len(c.outbox), len(c.sess.Outbox()), want)
		}
		if ok && (c.outbox[0].Text != "hello" || c.outbox[0].ID == "" || c.outbox[0].Status != client.StatusPending) {
			t.Errorf("submit: %#v, want the trimmed text, pending, with an id", c.outbox[0])
		}
		if tt.err != "" {
			mustContain(t, render(t, c), `id="send-error"`, tt.err)
		}
	}
}

func TestChatOutboxRows(t *testing.T) {
	t.Parallel()
	c := &Chat{mounted: true, state: client.StateOffline, user: "me", name: "Ann"}
	c.apply(client.Update{State: client.StateOffline, OutboxChanged: true, Outbox: []client.OutboxItem{
		{ID: "a", Text: "first <b>", Status: client.StatusPending},
		{ID: "b", Text: "too long", Status: client.StatusFailed, Reason: "Message is longer than 2000 characters."},
	}})
	c.view().timeline.add(entry{own: true, user: "me", name: "Ann", text: "stored"})
	html := render(t, c)
	mustContain(t, html,
		`<li class="message own pending hue-11" data-initial="A" data-status="pending"><bdi class="name" title="\u2068Ann\u2069 (me)">You</bdi><span class="sep">: </span><bdi class="text">first &lt;b&gt;</bdi></li>`,
		`data-status="failed"`, `class="message own failed hue-11"`, `aria-label="Retry"`, `aria-label="Delete"`,
	)
	// The outbox follows the room's messages; the buttons carry no text,
	// so a failed row still reads "You: too long".
	if a, b := strings.Index(html, "stored"), strings.Index(html, "first &lt;b&gt;"); a < 0 || b < a {
		t.Errorf("the outbox is not at the end of the list")
	}
	if got, want := rowTexts(html), []string{"You: stored", "You: first <b>", "You: too long"}; !slices.Equal(got, want) {
		t.Errorf("rows read %q, want %q", got, want)
	}

	// Acknowledged: the outbox row goes, the server's row takes its place.
	c.apply(client.Update{State: client.StateConnected, OutboxChanged: true, Outbox: []client.OutboxItem{c.outbox[1]}, Events: []event.Event{
		event.Message{Seq: 7, ID: "a", User: "me", Name: "Ann", Text: "first <b>"},
	}})
	html = render(t, c)
	mustNotContain(t, html, `data-status="pending"`)
	mustContain(t, html, `<li class="message own hue-11" data-initial="A" data-status="sent"><bdi class="name" title="\u2068Ann\u2069 (me)">You</bdi><span class="sep">: </span><bdi class="text">first &lt;b&gt;</bdi></li>`)
}

func TestChatRetryAndDelete(t *testing.T) {
	t.Parallel()
	c := &Chat{mounted: true, user: "me", sess: newTestSession(t)}
	for _, text := range []string{"one", "two"} {
		if !c.send(text) {
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
	c := &Chat{mounted: true, state: client.StateConnecting, known: true}
	html := render(t, c)
	mustNotContain(t, html, `id="name-form"`)
	mustContain(t, html, `id="send-container"`)

	// The first Joined says "You joined"; a reconnect's does not, and a
	// gap shows as a divider.
	c.apply(client.Update{State: client.StateConnected, Events: []event.Event{event.Joined{User: "me", Name: "Ann", Token: "t", Seq: 3}}})
	c.apply(client.Update{State: client.StateOffline})
	c.apply(client.Update{State: client.StateConnected, Events: []event.Event{
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
	c.apply(client.Update{State: client.StateConnected, JoinRefused: &event.Error{Code: event.CodeInvalidName, Message: "name contains control characters or invalid UTF-8"}})
	mustContain(t, render(t, c), `id="name-form"`, `id="name-error"`)
}

func TestChatKeepsABoundedList(t *testing.T) {
	t.Parallel()
	c := &Chat{user: "me"}
	var events []event.Event
	for i := range MaxEntries + 10 {
		events = append(events, event.Message{Seq: uint64(i + 1), User: "u", Name: "Bob", Text: fmt.Sprint("m", i)})
	}
	c.apply(client.Update{Events: events})
	rows := c.view().timeline.rows()
	// Full, the window kept its newest keepEntries rows; then came 9 more.
	if len(rows) != keepEntries+9 || rows[0].text != fmt.Sprint("m", MaxEntries+1-keepEntries) || rows[len(rows)-1].text != fmt.Sprint("m", MaxEntries+9) {
		t.Fatalf("%d entries from %q to %q", len(rows), rows[0].text, rows[len(rows)-1].text)
	}
}

func TestChatUpdateNotice(t *testing.T) {
	t.Parallel()
	html := render(t, &Chat{updateReady: true})
	mustContain(t, html, `id="update-banner"`, `id="reload-button"`, "A new version is available.")
	mustNotContain(t, render(t, &Chat{}), `id="update-banner"`)
}

// TestChatTellsPeopleApart proves that two people of the same name look
// different: each row and notice carries its person's colour class and
// initial, and the name's hover title holds the short id, while every row
// still reads exactly "name: text".
func TestChatTellsPeopleApart(t *testing.T) {
	t.Parallel()
	const (
		first  = "3f2b8c1e-9d4a-4e7b-a6c5-0f1e2d3c4b5a" // hue-2
		second = "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d" // hue-7
	)
	c := &Chat{state: client.StateConnected, mounted: true}
	c.apply(client.Update{State: client.StateConnected, Events: []event.Event{
		event.Joined{User: second, Name: "Ann", Token: "t"},
		event.Presence{Joined: []event.Member{{User: first, Name: "Ann"}}},
		event.Message{Seq: 1, User: first, Name: "Ann", Text: "I am Ann"},
		event.Message{Seq: 2, User: second, Name: "Ann", Text: "so am I"},
		event.Presence{Left: []event.Member{{User: first, Name: "Ann"}}},
	}})
	html := render(t, c)
	tests := []struct {
		name, part string
	}{
		{"the other Ann's notice", `<li class="notice hue-2" data-initial="A"><bdi class="name" title="\u2068Ann\u2069 (3f2b8c1e)">Ann</bdi><span class="verb"> connected</span></li>`},
		{"the other Ann's message", `<li class="message hue-2" data-initial="A" data-status="sent"><bdi class="name" title="\u2068Ann\u2069 (3f2b8c1e)">Ann</bdi>`},
		{"my own message", `<li class="message own hue-7" data-initial="A" data-status="sent"><bdi class="name" title="\u2068Ann\u2069 (8a7b6c5d)">You</bdi>`},
		{"the other Ann's departure", `<li class="notice hue-2" data-initial="A"><bdi class="name" title="\u2068Ann\u2069 (3f2b8c1e)">Ann</bdi><span class="verb"> disconnected</span></li>`},
	}
	for _, tt := range tests {
		if !strings.Contains(html, tt.part) {
			t.Errorf("%s: the page lacks %s\npage: %s", tt.name, tt.part, html)
		}
	}
	if got, want := rowTexts(html), []string{"You joined", "Ann connected", "Ann: I am Ann", "You: so am I", "Ann disconnected"}; !slices.Equal(got, want) {
		t.Errorf("rows read %q, want %q", got, want)
	}
	// Colours come from classes only: the page runs without inline styles.
	mustNotContain(t, html, `style=`)
}

// TestChatIsolatesWhatPeopleTyped proves that names and texts sit in <bdi>
// elements, so that a direction override in them (from a name stored before
// the name rules refused one) cannot reorder the rest of the row.
func TestChatIsolatesWhatPeopleTyped(t *testing.T) {
	t.Parallel()
	c := &Chat{state: client.StateConnected, mounted: true, user: "me", name: "Ann"}
	c.apply(client.Update{State: client.StateConnected, Events: []event.Event{
		event.Presence{Joined: []event.Member{{User: "u2", Name: "\u202eecila"}}},
		event.Message{Seq: 1, User: "u2", Name: "\u202eecila", Text: "\u202eolleh"},
		event.Message{Seq: 2, User: "u3", Name: "عمر", Text: "سلام hello"},
	}})
	html := render(t, c)
	mustContain(t, html,
		`<bdi class="name" title="\u2068\u202eecila\u2069 (u2)">`+"\u202eecila</bdi><span class=\"verb\"> connected</span>",
		`<bdi class="name" title="\u2068\u202eecila\u2069 (u2)">`+"\u202eecila</bdi><span class=\"sep\">: </span><bdi class=\"text\">\u202eolleh</bdi>",
		`<bdi class="name" title="\u2068عمر\u2069 (u3)">عمر</bdi><span class="sep">: </span><bdi class="text">سلام hello</bdi>`,
	)
	if got, want := rowTexts(html), []string{"\u202eecila connected", "\u202eecila: \u202eolleh", "عمر: سلام hello"}; !slices.Equal(got, want) {
		t.Errorf("rows read %q, want %q", got, want)
	}
}

func TestHueClass(t *testing.T) {
	t.Parallel()
	// The colours are part of how people recognise each other: changing
	// the hash would recolour everyone.
	tests := []struct{ user, want string }{
		{"3f2b8c1e-9d4a-4e7b-a6c5-0f1e2d3c4b5a", "hue-2"},
		{"8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d", "hue-7"},
		{"me", "hue-11"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := hueClass(tt.user); got != tt.want {
			t.Errorf("hueClass(%q) = %q, want %q", tt.user, got, tt.want)
		}
	}
	// It is FNV-1a modulo the palette, and random ids use every colour.
	used := map[string]int{}
	for i := range 1200 {
		user := fmt.Sprintf("%08x-0000-4000-8000-%012x", i*7919, i)
		h := fnv.New32a()
		h.Write([]byte(user))
		want := fmt.Sprintf("hue-%d", h.Sum32()%paletteSize)
		got := hueClass(user)
		if got != want {
			t.Fatalf("hueClass(%q) = %q, want %q", user, got, want)
		}
		used[got]++
	}
	if len(used) != paletteSize {
		t.Fatalf("1200 ids use %d colours of %d: %v", len(used), paletteSize, used)
	}
}

func TestInitial(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, want string }{
		{"ann", "A"},
		{"Ana 🌸", "A"},
		{"🌸 bo", "B"},
		{"  ...zoé", "Z"},
		{"ễlan", "Ễ"},
		{"e\u0301 x", "E\u0301"},
		{"देवनागरी", "दे"},
		{"क्षत्रिय", "क्"},
		{"王小明", "王"},
		{"42", "4"},
		{"ǆemal", "Ǆ"},
		{"🌸", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := initial(tt.name); got != tt.want {
			t.Errorf("initial(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestPersonTitle(t *testing.T) {
	t.Parallel()
	tests := []struct{ user, name, want string }{
		{"3f2b8c1e-9d4a-4e7b-a6c5-0f1e2d3c4b5a", "Ann", "\u2068Ann\u2069 (3f2b8c1e)"},
		{"u2", "Bob", "\u2068Bob\u2069 (u2)"},
		{"", "Ann", "\u2068Ann\u2069"},
		{"3f2b8c1e-9d4a", "\u202eecila", "\u2068\u202eecila\u2069 (3f2b8c1e)"},
	}
	for _, tt := range tests {
		if got := personTitle(tt.user, tt.name); got != tt.want {
			t.Errorf("personTitle(%q, %q) = %+q, want %+q", tt.user, tt.name, got, tt.want)
		}
	}
}
