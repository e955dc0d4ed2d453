package app

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chatwasm/chat/app/client"
	"github.com/chatwasm/chat/app/event"
)

// presenceTexts returns what each item of #presence reads.
func presenceTexts(page string) []string {
	i := strings.Index(page, `id="presence"`)
	if i < 0 {
		return nil
	}
	list := page[i:]
	list = list[:strings.Index(list, "</ul>")]
	var out []string
	for _, m := range listItem.FindAllStringSubmatch(list, -1) {
		out = append(out, anyTag.ReplaceAllString(m[1], ""))
	}
	return out
}

// TestChatPresence: the list starts from Joined.Members and follows the
// Presence events; each person is there once, in the colour and
// with the initial of their messages, the person's own entry marked, and
// every entry reads the name alone.
func TestChatPresence(t *testing.T) {
	t.Parallel()
	const (
		bob  = "3f2b8c1e-9d4a-4e7b-a6c5-0f1e2d3c4b5a" // hue-2
		carl = "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d" // hue-7
	)
	c := &Chat{mounted: true, state: client.StateConnected}
	mustNotContain(t, render(t, c), `id="presence"`) // nobody joined yet
	c.apply(client.Update{State: client.StateConnected, Events: []event.Event{
		event.Joined{User: "me", Name: "Ann", Token: "t", Members: []event.Member{{User: bob, Name: "Bob"}, {User: "me", Name: "Ann"}}},
		event.Presence{Joined: []event.Member{{User: carl, Name: "Carl"}}},
		event.Presence{Joined: []event.Member{{User: carl, Name: "Carl"}}}, // a second tab is not a second person
		event.Message{Seq: 1, User: carl, Name: "Carl", Text: "hi"},
	}})
	html := render(t, c)
	mustContain(t, html,
		`<aside aria-labelledby="people-title" class="people"><h2 class="people-title" id="people-title"><span>In the room </span><span class="people-count">3</span></h2>`,
		`<ul aria-label="People in the room" class="presence" id="presence">`,
		`<li class="person hue-2" data-initial="B"><bdi class="name" title="\u2068Bob\u2069 (3f2b8c1e)">Bob</bdi></li>`,
		`<li class="person self hue-11" data-initial="A"><bdi class="name" title="\u2068Ann\u2069 (me)">Ann</bdi></li>`,
		`<li class="person hue-7" data-initial="C"><bdi class="name" title="\u2068Carl\u2069 (8a7b6c5d)">Carl</bdi></li>`,
		// Carl's message row has the colour and initial of his entry.
		`<li class="message hue-7" data-initial="C" data-status="sent">`,
	)
	if n := strings.Count(html, "> connected<"); n != 1 {
		t.Fatalf("Carl's arrival told %d times", n)
	}
	if got, want := presenceTexts(html), []string{"Bob", "Ann", "Carl"}; !slices.Equal(got, want) {
		t.Fatalf("#presence reads %q, want %q", got, want)
	}
	if n := len(regexp.MustCompile(`class="person self`).FindAllString(html, -1)); n != 1 {
		t.Fatalf("%d entries marked as the person's own", n)
	}

	c.apply(client.Update{State: client.StateConnected, Events: []event.Event{event.Presence{Left: []event.Member{{User: bob, Name: "Bob"}}}}})
	if got, want := presenceTexts(render(t, c)), []string{"Ann", "Carl"}; !slices.Equal(got, want) {
		t.Fatalf("after Bob left, #presence reads %q, want %q", got, want)
	}
	// A reconnect's Joined is the list as it is now.
	c.apply(client.Update{State: client.StateConnected, Events: []event.Event{
		event.Joined{User: "me", Name: "Ann", Token: "t", Members: []event.Member{{User: "me", Name: "Ann"}}, MembersTruncated: true},
	}})
	html = render(t, c)
	if got, want := presenceTexts(html), []string{"Ann"}; !slices.Equal(got, want) {
		t.Fatalf("after a reconnect, #presence reads %q, want %q", got, want)
	}
	mustContain(t, html, `<span class="people-count">1+</span>`)
	// A Joined that lists nobody still lists the person.
	c.apply(client.Update{State: client.StateConnected, Events: []event.Event{event.Joined{User: "me", Name: "Ann", Token: "t"}}})
	if got, want := presenceTexts(render(t, c)), []string{"Ann"}; !slices.Equal(got, want) {
		t.Fatalf("after a Joined without members, #presence reads %q, want %q", got, want)
	}
}

// TestApplyPresence: a Presence is applied idempotently: a user listed is
// not added again, one not listed is not removed, the person's own user is
// never removed; only what changed is reported, in order.
func TestApplyPresence(t *testing.T) {
	t.Parallel()
	m := func(u string) event.Member { return event.Member{User: u, Name: "name-" + u} }
	users := func(ms []event.Member) []string {
		var out []string
		for _, x := range ms {
			out = append(out, x.User)
		}
		return out
	}
	for _, tt := range []struct {
		name                string
		people              []string
		p                   event.Presence
		want, arrived, gone []string
	}{
		{"nothing", []string{"me", "a"}, event.Presence{}, []string{"me", "a"}, nil, nil},
		{"new ones at the end", []string{"me", "a"}, event.Presence{Joined: []event.Member{m("b"), m("c")}}, []string{"me", "a", "b", "c"}, []string{"b", "c"}, nil},
		{"listed already", []string{"me", "a"}, event.Presence{Joined: []event.Member{m("a"), m("me")}}, []string{"me", "a"}, nil, nil},
		{"not listed, not removed", []string{"me", "a"}, event.Presence{Left: []event.Member{m("z")}}, []string{"me", "a"}, nil, nil},
		{"both", []string{"me", "a", "b"}, event.Presence{Joined: []event.Member{m("b"), m("c")}, Left: []event.Member{m("a"), m("y")}}, []string{"me", "b", "c"}, []string{"c"}, []string{"a"}},
		{"never the person", []string{"me", "a"}, event.Presence{Left: []event.Member{m("me")}}, []string{"me", "a"}, nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var people []event.Member
			for _, u := range tt.people {
				people = append(people, m(u))
			}
			before := slices.Clone(people)
			out, arrived, gone := applyPresence(people, tt.p, "me")
			if !slices.Equal(users(out), tt.want) || !slices.Equal(users(arrived), tt.arrived) || !slices.Equal(users(gone), tt.gone) {
				t.Fatalf("got %v (+%v -%v), want %v (+%v -%v)", users(out), users(arrived), users(gone), tt.want, tt.arrived, tt.gone)
			}
			if !slices.Equal(people, before) {
				t.Fatalf("the list it was given changed: %v", users(people))
			}
		})
	}
}

// TestPresenceRows: each person a Presence adds or removes is a row of its
// own, up to 3; past that one summary row names the first two and counts
// the others, as text (a name is never markup).
func TestPresenceRows(t *testing.T) {
	t.Parallel()
	c := &Chat{mounted: true, state: client.StateConnected}
	many := []event.Member{{User: "u1", Name: "<b>Ann</b>"}, {User: "u2", Name: "Bob"}}
	for i := range 12 {
		many = append(many, event.Member{User: fmt.Sprint("x", i), Name: fmt.Sprint("X", i)})
	}
	c.apply(client.Update{State: client.StateConnected, Events: []event.Event{
		event.Joined{User: "me", Name: "Me", Token: "t", Members: []event.Member{{User: "me", Name: "Me"}}},
		event.Presence{Joined: []event.Member{{User: "me", Name: "Me"}, {User: "c1", Name: "Cy"}, {User: "d1", Name: "Dee"}}},
		event.Presence{Joined: many},
		event.Presence{Left: []event.Member{{User: "c1", Name: "Cy"}, {User: "nobody", Name: "Nobody"}}},
		event.Presence{Left: many[:4]},
	}})
	html := render(t, c)
	want := []string{"You joined", "Cy connected", "Dee connected", "<b>Ann</b>, Bob and 12 others connected",
		"Cy disconnected", "<b>Ann</b>, Bob and 2 others disconnected"}
	if got := rowTexts(html); !slices.Equal(got, want) {
		t.Fatalf("rows %q, want %q", got, want)
	}
	mustNotContain(t, html, "<b>Ann</b>,")
	if got := len(presenceTexts(html)); got != 1+1+14-4 {
		t.Fatalf("#presence lists %d, want %d", got, 1+1+14-4)
	}
}
