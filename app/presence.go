package app

import (
	"slices"
	"strconv"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/chatwasm/chat/app/event"
)

// presenceList is the panel of the people in the room: #presence, one item
// per person present, in the order they arrived, each in the colour and
// with the initial of their message rows. The person's own item has the
// class "self"; CSS adds "(you)" after the name, so that every item's text
// is the name alone.
type presenceList struct {
	goapp.Compo

	// People are the users present, once each however many tabs they
	// have open (the server counts users, not connections).
	People []event.Member
	// Self is the person's own user id.
	Self string
	// Truncated: the room holds more people than the server listed.
	Truncated bool
}

// Render draws the panel: a heading with the count, and the list.
func (p *presenceList) Render() goapp.UI {
	count := strconv.Itoa(len(p.People))
	if p.Truncated {
		count += "+"
	}
	return goapp.Aside().Class("people").Aria("labelledby", "people-title").Body(
		goapp.H2().ID("people-title").Class("people-title").Body(
			goapp.Span().Text("In the room "),
			goapp.Span().Class("people-count").Text(count),
		),
		goapp.Ul().ID("presence").Class("presence").Aria("label", "People in the room").Body(
			goapp.Range(p.People).Slice(func(i int) goapp.UI {
				m := p.People[i]
				li := goapp.Li().Class("person")
				if m.User == p.Self {
					li = li.Class("self")
				}
				return personRow(li, m.User, m.Name).Body(personName(m.User, m.Name))
			}),
		),
	)
}

// present reports whether user is among people.
func present(people []event.Member, user string) bool {
	return slices.ContainsFunc(people, func(p event.Member) bool { return p.User == user })
}

// withMember returns people with m at the end, as a new slice, unless its
// user is already there: a second tab of someone present is no news.
func withMember(people []event.Member, m event.Member) []event.Member {
	if present(people, m.User) {
		return people
	}
	return append(slices.Clip(people), m)
}

// withoutMember returns people without user, as a new slice when it was
// there.
func withoutMember(people []event.Member, user string) []event.Member {
	i := slices.IndexFunc(people, func(p event.Member) bool { return p.User == user })
	if i < 0 {
		return people
	}
	return slices.Delete(slices.Clone(people), i, i+1)
}
