package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// roomState is what a test reads of the room list and the address.
type roomState struct {
	Path    string   `json:"path"`
	Rooms   []string `json:"rooms"`   // data-room of each entry, in order
	Unread  []string `json:"unread"`  // data-unread of each entry
	Current []string `json:"current"` // the entries marked aria-current
	Title   string   `json:"title"`   // #room-title
}

// roomsScript reads the room list and the address.
const roomsScript = `(() => {
	const items = Array.from(document.querySelectorAll("#rooms > *"));
	const title = document.querySelector("#room-title");
	return {
		path: location.pathname,
		rooms: items.map(li => li.dataset.room),
		unread: items.map(li => li.dataset.unread),
		current: items.filter(li => li.querySelector("[aria-current=page]")).map(li => li.dataset.room),
		title: title ? title.textContent : "",
	};
})()`

// roomsOnce reads b's room list, or returns the error of the evaluation
// (a page being loaded).
func (b *browser) roomsOnce() (roomState, error) {
	ctx, cancel := b.actx()
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[roomState](roomsScript))
}

// rooms reads b's room list.
func (b *browser) rooms(t *testing.T) roomState {
	t.Helper()
	s, err := b.roomsOnce()
	if err != nil {
		b.fatalf(t, "read the rooms: %v", err)
	}
	return s
}

// waitRooms waits until b's room list satisfies ok.
func (b *browser) waitRooms(t *testing.T, what string, ok func(roomState) bool) roomState {
	t.Helper()
	var last roomState
	err := poll(b.ctx, actionTimeout, pollInterval, func() error {
		s, err := b.roomsOnce()
		if err != nil {
			return err
		}
		if last = s; !ok(s) {
			return fmt.Errorf("rooms %+v", s)
		}
		return nil
	})
	if err != nil {
		b.fatalf(t, "wait for %s: %v", what, err)
	}
	return last
}

// waitShown waits until b shows room at path, marked in the list.
func (b *browser) waitShown(t *testing.T, room, path string) roomState {
	t.Helper()
	return b.waitRooms(t, fmt.Sprintf("%s shown at %s", room, path), func(s roomState) bool {
		return s.Path == path && s.Title == "#"+room && slices.Equal(s.Current, []string{room})
	})
}

// unreadOf returns the data-unread of room in s, or "" when it is not
// listed.
func (s roomState) unreadOf(room string) string {
	if i := slices.Index(s.Rooms, room); i >= 0 {
		return s.Unread[i]
	}
	return ""
}

// TestRooms is rooms end to end in two browsers: a room opened by name gets
// its address and its own history, notices and presence; a deep link joins
// it cold; a room not shown counts its unread messages exactly and shows
// none of them; typing stays in its room; links, back and forward switch
// rooms without a reload and keep each room's history; the list survives a
// reload, and shows at once the rooms another tab opened; leaving takes a
// room off it; an invalid name in the address is explained, with a way back
// to the lobby.
func TestRooms(t *testing.T) {
	_, ts := startServer(t, "e2e")
	ann, bea := person{newBrowser(t), "Ann"}, person{newBrowser(t), "Bea"}
	open(t, ann.browser, ts.URL)
	ann.join(t)
	open(t, bea.browser, ts.URL)
	bea.join(t)
	ann.waitLine(t, "Bea connected")
	s := ann.waitShown(t, "lobby", "/")
	if !slices.Equal(s.Rooms, []string{"lobby"}) || s.unreadOf("lobby") != "0" {
		t.Fatalf("a new person's rooms: %+v", s)
	}

	// Ann opens "design" by name: its address, and a history of its own.
	ann.typeText(t, "#room-input", "design")
	ann.pressEnter(t, "#room-input")
	s = ann.waitShown(t, "design", "/r/design")
	if !slices.Equal(s.Rooms, []string{"lobby", "design"}) {
		t.Fatalf("rooms after opening design: %+v", s)
	}
	ann.waitTexts(t, messages, func(l []string) bool { return slices.Contains(l, "You joined") && len(l) <= 2 }, "design to hold only You joined")
	ann.waitPeople(t, "Ann")
	if got := ann.value(t, "#room-input"); got != "" {
		t.Fatalf("the room input holds %q after opening", got)
	}

	// Bea follows a deep link to it: she is in, Ann hears of it there.
	open(t, bea.browser, ts.URL+"/r/design")
	bea.waitShown(t, "design", "/r/design")
	bea.waitLine(t, "You joined")
	ann.waitLine(t, "Bea connected")
	ann.waitPeople(t, "Ann", "Bea")
	bea.send(t, "in design")
	ann.waitLine(t, "Bea: in design")

	// Bea goes back to the lobby and writes there: Ann, in design, counts
	// each message in the lobby's entry, and shows none of them.
	bea.eval(t, `history.back()`, nil)
	bea.waitShown(t, "lobby", "/")
	for i := 1; i <= 3; i++ {
		bea.send(t, fmt.Sprint("in lobby ", i))
	}
	bea.waitLine(t, "You: in lobby 3")
	s = ann.waitRooms(t, "3 unread in the lobby", func(s roomState) bool { return s.unreadOf("lobby") == "3" })
	if s.unreadOf("design") != "0" {
		t.Fatalf("design, shown, counts %s unread", s.unreadOf("design"))
	}
	for _, line := range ann.texts(t, messages) {
		if strings.Contains(line, "in lobby") {
			t.Fatalf("design shows a message of the lobby: %q", line)
		}
	}

	// Typing stays in its room: Bea types in the lobby; Ann sees it there,
	// and not in design.
	ann.click(t, `#rooms [data-room="lobby"] a`)
	ann.waitShown(t, "lobby", "/")
	typeUntil(t, bea, ann.browser, "Bea is typing…")
	ann.waitRooms(t, "the lobby's count cleared", func(s roomState) bool { return s.unreadOf("lobby") == "0" })
	for i := 1; i <= 3; i++ {
		ann.waitLine(t, fmt.Sprint("Bea: in lobby ", i))
	}
	ann.eval(t, `history.back()`, nil)
	ann.waitShown(t, "design", "/r/design")
	ann.waitTexts(t, typingRegion, func(l []string) bool { return len(l) == 1 && l[0] == "" }, "design's #typing to be empty")
	ann.waitTexts(t, messages, func(l []string) bool {
		return slices.Equal(slices.DeleteFunc(l, func(s string) bool { return s == "Beginning of the conversation" }),
			[]string{"You joined", "Bea connected", "Bea: in design"})
	}, "design's history kept across the switch")
	ann.eval(t, `history.forward()`, nil)
	ann.waitShown(t, "lobby", "/")
	ann.waitLine(t, "Bea: in lobby 3")
	if n := count(ann.texts(t, messages), "You joined"); n != 1 {
		t.Fatalf("the lobby says You joined %d times after the switches", n)
	}

	// Another tab of Ann's opens a room: her first tab lists it at once.
	tab := ann.newTab(t)
	open(t, tab, ts.URL+"/r/ops")
	tab.waitShown(t, "ops", "/r/ops")
	ann.waitRooms(t, "ops listed from the other tab", func(s roomState) bool {
		return slices.Equal(s.Rooms, []string{"lobby", "design", "ops"})
	})
	tab.closeTab()
	ann.click(t, `#rooms [data-room="ops"] .leave-button`)
	ann.waitRooms(t, "ops left", func(s roomState) bool { return slices.Equal(s.Rooms, []string{"lobby", "design"}) })

	// A reload keeps the list (stored in the browser), and the room shown.
	ann.navigate(t, ts.URL+"/r/design")
	ann.waitAttr(t, connected, "data-state", "connected")
	s = ann.waitShown(t, "design", "/r/design")
	ann.reload(t)
	ann.waitAttr(t, connected, "data-state", "connected")
	s = ann.waitShown(t, "design", "/r/design")
	if !slices.Equal(s.Rooms, []string{"lobby", "design"}) {
		t.Fatalf("rooms after a reload: %+v", s)
	}
	ann.waitLine(t, "Bea: in design")

	// Leaving the room shown takes it off the list and goes to the lobby;
	// Bea, in the room, hears of it.
	bea.click(t, `#rooms [data-room="design"] a`)
	bea.waitShown(t, "design", "/r/design")
	ann.click(t, `#rooms [data-room="design"] .leave-button`)
	s = ann.waitShown(t, "lobby", "/")
	if !slices.Equal(s.Rooms, []string{"lobby"}) {
		t.Fatalf("rooms after leaving design: %+v", s)
	}
	bea.waitLine(t, "Ann disconnected")

	// An address that names no room: said in the page, with a way back.
	ann.navigate(t, ts.URL+"/r/not%20a%20room!")
	ann.waitVisible(t, "#room-invalid")
	if got := strings.Join(ann.texts(t, "#room-invalid p"), ""); !strings.Contains(got, "not a room!") {
		t.Fatalf("#room-invalid reads %q, want the name from the address", got)
	}
	ann.click(t, "#lobby-link")
	ann.waitShown(t, "lobby", "/")
	ann.waitVisible(t, messageInput)
	if s := ann.rooms(t); !slices.Equal(s.Rooms, []string{"lobby"}) {
		t.Fatalf("an invalid address added a room: %+v", s)
	}
}
