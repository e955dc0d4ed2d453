package app

import (
	"strconv"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// relativeTimeRefresh is how often the message list recomputes its relative
// times: 30 s keeps "2 min ago" at most half a minute behind, with one
// render of the list each time.
const relativeTimeRefresh = 30 * time.Second

// relativeWithin is how old a message may be for its time to show as
// relative ("3 d ago"); older ones show their date.
const relativeWithin = 7 * 24 * time.Hour

// relativeTime returns how long before now (both Unix ms) a message was
// accepted, in words: "now" under a minute (or when the clocks disagree and
// it seems to come from the future), "N min ago", "N h ago", "N d ago". It
// reports false from relativeWithin on: the date says it better.
func relativeTime(ms, now int64) (string, bool) {
	d := time.Duration(now-ms) * time.Millisecond
	switch {
	case d < time.Minute:
		return "now", true
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min ago", true
	case d < 24*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h ago", true
	case d < relativeWithin:
		return strconv.Itoa(int(d/(24*time.Hour))) + " d ago", true
	}
	return "", false
}

// formatTime returns a message time as a short clock, a short date and in
// full, in the browser's locale and time zone (natively, in the process's).
// It is called once per message, when the message arrives, never in a
// Render.
func formatTime(ms int64) (clock, date, full string) {
	if goapp.IsClient {
		f := browserFormats()
		at := float64(ms)
		return f.clock.Call("format", at).String(), f.date.Call("format", at).String(), f.full.Call("format", at).String()
	}
	t := time.UnixMilli(ms)
	return t.Format("15:04"), t.Format("2 Jan 2006"), t.Format("2006-01-02 15:04:05")
}

// timeFormats are the browser's formatters of message times: making one
// costs far more than using it (Date.toLocaleString makes one on each
// call), and a page of history formats 150 times.
type timeFormats struct{ clock, date, full goapp.Value }

// formats holds the formatters once made; the UI goroutine only.
var formats *timeFormats

// browserFormats returns the formatters, making them on the first call:
// the clock as toLocaleTimeString, the date as toLocaleDateString would
// with the same options, and in full as toLocaleString with none.
func browserFormats() *timeFormats {
	if formats == nil {
		dtf := goapp.Window().Get("Intl").Get("DateTimeFormat")
		formats = &timeFormats{
			clock: dtf.New([]any{}, map[string]any{"hour": "2-digit", "minute": "2-digit"}),
			date:  dtf.New([]any{}, map[string]any{"day": "numeric", "month": "short", "year": "numeric"}),
			full: dtf.New([]any{}, map[string]any{"year": "numeric", "month": "numeric", "day": "numeric",
				"hour": "numeric", "minute": "numeric", "second": "numeric"}),
		}
	}
	return formats
}

// nowMillis is the clock of the relative times and the typing indicator.
func nowMillis() int64 { return time.Now().UnixMilli() }
