package app

import (
	"context"
	"slices"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// typist is someone typing: shown until Until, Unix ms.
type typist struct {
	User  string
	Name  string
	Until int64
}

// typingIndicator is #typing, a polite live region under the message list:
// "alice is typing…", "alice and bob are typing…", or "several people are
// typing…" for three or more. An entry shows until its Until, and the
// indicator wakes up by itself to drop it: one goroutine waits for the next
// expiry, with a timer, and nothing runs while nobody types.
type typingIndicator struct {
	goapp.Compo

	// Typists are who is typing, in the order they started; the page
	// keeps them (a Typing refreshes an entry, a message ends it).
	Typists []typist

	now    int64      // Unix ms the entries are compared with; 0: show all
	next   chan int64 // the next expiry, for the goroutine to wait for
	cancel context.CancelFunc
}

// OnMount starts the goroutine that wakes the indicator at each expiry.
func (ti *typingIndicator) OnMount(ctx goapp.Context) {
	ti.now = nowMillis()
	ti.next = make(chan int64, 1)
	wctx, cancel := context.WithCancel(context.Background())
	ti.cancel = cancel
	next := ti.next
	ctx.Async(func() {
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		defer timer.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case at := <-next:
				timer.Reset(time.Until(time.UnixMilli(at)))
			case now := <-timer.C:
				ctx.Dispatch(func(goapp.Context) {
					ti.now = now.UnixMilli()
					ti.arm()
				})
			}
		}
	})
	ti.arm()
}

// OnDismount stops the goroutine: go-app never cancels a Context itself.
func (ti *typingIndicator) OnDismount() {
	if ti.cancel != nil {
		ti.cancel()
	}
}

// OnUpdate takes the page's new entries: the clock moves on, and the next
// expiry may be sooner.
func (ti *typingIndicator) OnUpdate(ctx goapp.Context) {
	if ti.next != nil {
		ti.now = nowMillis()
	}
	ti.arm()
}

// arm tells the goroutine the next expiry, replacing the one it waits for.
func (ti *typingIndicator) arm() {
	if ti.next == nil {
		return // not mounted in a browser
	}
	var next int64
	for _, t := range ti.Typists {
		if t.Until > ti.now && (next == 0 || t.Until < next) {
			next = t.Until
		}
	}
	if next == 0 {
		return
	}
	select {
	case <-ti.next:
	default:
	}
	ti.next <- next // the only sender, and the buffer is empty
}

// names returns the names of who is typing now.
func (ti *typingIndicator) names() []string {
	var names []string
	for _, t := range ti.Typists {
		if ti.now == 0 || t.Until > ti.now {
			names = append(names, t.Name)
		}
	}
	return names
}

// Render draws the sentence; the region stays in the page, empty, while
// nobody types, so that what appears in it is announced.
func (ti *typingIndicator) Render() goapp.UI {
	return goapp.Div().ID("typing").Class("typing").Aria("live", "polite").Aria("atomic", "true").
		Body(typingParts(ti.names())...)
}

// typingParts is the sentence about names, with each name in a <bdi>.
func typingParts(names []string) []goapp.UI {
	name := func(n string) goapp.UI { return goapp.Bdi().Class("name").Text(n) }
	words := func(s string) goapp.UI { return goapp.Span().Text(s) }
	switch len(names) {
	case 0:
		return nil
	case 1:
		return []goapp.UI{name(names[0]), words(" is typing…")}
	case 2:
		return []goapp.UI{name(names[0]), words(" and "), name(names[1]), words(" are typing…")}
	}
	return []goapp.UI{words("several people are typing…")}
}

// withTypist returns typists with user typing until until, as a new slice:
// an entry already there keeps its place. Entries over by now go.
func withTypist(typists []typist, user, name string, until, now int64) []typist {
	out := make([]typist, 0, len(typists)+1)
	found := false
	for _, t := range typists {
		if t.User == user {
			t.Name, t.Until, found = name, until, true
		}
		if t.Until > now {
			out = append(out, t)
		}
	}
	if !found {
		out = append(out, typist{User: user, Name: name, Until: until})
	}
	return out
}

// withoutTypist returns typists without user, as a new slice when it was
// there.
func withoutTypist(typists []typist, user string) []typist {
	i := slices.IndexFunc(typists, func(t typist) bool { return t.User == user })
	if i < 0 {
		return typists
	}
	return slices.Delete(slices.Clone(typists), i, i+1)
}
