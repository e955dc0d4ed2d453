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

// applyPresence applies p to people idempotently, as event.Presence asks:
// each of p.Joined not listed goes at the end, in order; each of p.Left
// listed goes out; the others change nothing. The person's own user (self)
// is never taken out: it is present as long as this page is. It returns
// the new list (people itself when nothing changed) and who it actually
// added and removed, the news to show. It costs one pass over people and
// p, however many people both hold.
func applyPresence(people []event.Member, p event.Presence, self string) (out, arrived, gone []event.Member) {
	if len(p.Joined) == 0 && len(p.Left) == 0 {
		return people, nil, nil
	}
	at := make(map[string]bool, len(people)+len(p.Joined))
	for _, m := range people {
		at[m.User] = true
	}
	for _, m := range p.Joined {
		if !at[m.User] {
			at[m.User] = true
			arrived = append(arrived, m)
		}
	}
	leaving := make(map[string]bool, len(p.Left))
	for _, m := range p.Left {
		if at[m.User] && m.User != self && !leaving[m.User] {
			leaving[m.User] = true
			gone = append(gone, m)
		}
	}
	if len(arrived) == 0 && len(gone) == 0 {
		return people, nil, nil
	}
	out = make([]event.Member, 0, len(people)+len(arrived))
	for _, m := range people {
		if !leaving[m.User] {
			out = append(out, m)
		}
	}
	for _, m := range arrived {
		if !leaving[m.User] {
			out = append(out, m)
		}
	}
	return out, arrived, gone
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
