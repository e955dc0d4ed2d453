package e2e

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatwasm/chat/app"
	"github.com/chatwasm/chat/server/servertest"
)

// maxFrame is the longest a frame of the page may take, in ms: a longer one
// is a stutter a person sees while scrolling, or a keystroke that shows late.
const maxFrame = 50

// frameStats is what watchFrames recorded since it was installed: the long
// animation frames and the long tasks (each over 50 ms, Chromium's own
// threshold), and the intervals between animation frames.
type frameStats struct {
	LoAF durations `json:"loaf"`
	// Long are the long animation frames' durations, in the order seen.
	Long      []loafParts `json:"long"`
	LongTasks durations   `json:"longtasks"`
	Frames    durations   `json:"frames"`
}

// loafParts is one long animation frame: its duration, the part spent
// on style and layout, and its scripts, in ms.
type loafParts struct {
	At      float64 `json:"at"` // since watchFrames, in ms
	D       float64 `json:"d"`
	Layout  float64 `json:"layout"`
	Scripts string  `json:"scripts"`
}

// durations are the count, p50, p95 and max of some durations, in ms.
type durations struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	Max float64 `json:"max"`
}

func (d durations) String() string {
	return fmt.Sprintf("%d (p50 %.0f ms, p95 %.0f ms, max %.0f ms)", d.N, d.P50, d.P95, d.Max)
}

// watchFrames starts recording, from now on, every long animation frame and
// every long task of Chromium's performance timeline, and the interval
// between every two animation frames. A frame or task already under way
// (the one that runs this script) is not counted.
func (b *browser) watchFrames(t *testing.T) {
	t.Helper()
	b.eval(t, `(() => { const w = window.chatFrames = {loaf: [], longtasks: [], frames: []};
		w.parts = []; w.t0 = performance.now();
		new PerformanceObserver(l => { for (const e of l.getEntries()) { if (e.startTime < w.t0) continue; w.loaf.push(e.duration);
			const end = e.startTime + e.duration;
			w.parts.push({at: Math.round(e.startTime - w.t0), d: Math.round(e.duration), layout: Math.round(e.styleAndLayoutStart ? end - e.styleAndLayoutStart : 0),
				scripts: e.scripts.map(s => Math.round(s.duration) + ":" + s.invokerType + ":" + s.invoker.slice(0, 40)).join(",")}); } }).observe({type: "long-animation-frame"});
		new PerformanceObserver(l => { for (const e of l.getEntries()) if (e.startTime >= w.t0) w.longtasks.push(e.duration); }).observe({type: "longtask"});
		let last = 0;
		const tick = (now) => { if (last) w.frames.push(now - last); last = now; if (!w.stopped) requestAnimationFrame(tick); };
		requestAnimationFrame(tick);
		return true; })()`, nil)
}

// readFrames stops the frame watch and returns what it recorded.
func (b *browser) readFrames(t *testing.T) frameStats {
	t.Helper()
	var s frameStats
	b.eval(t, `(() => { const w = window.chatFrames; w.stopped = true;
		const stats = (a) => { const s = a.slice().sort((x, y) => x - y), at = (p) => s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : 0;
			return {n: s.length, p50: at(0.5), p95: at(0.95), max: s.length ? s[s.length - 1] : 0}; };
		return {long: w.parts, loaf: stats(w.loaf), longtasks: stats(w.longtasks), frames: stats(w.frames)}; })()`, &s)
	return s
}

// TestScrollPerformance pages a room of 10,000 messages back from the
// newest to the oldest, a page of history at a time through the bounded
// window: every page goes in above the last, in order, down to the first
// message, and the list never holds more than app.MaxEntries rows. It logs
// the long animation frames and long tasks of Chromium's performance
// timeline (over 50 ms each) and the intervals between frames, against the
// target of no frame over maxFrame.
func TestScrollPerformance(t *testing.T) { scrollPerformance(t, 10000) }

// scrollPerformance is TestScrollPerformance in a room of total messages.
func scrollPerformance(t *testing.T, total int) {
	url, _ := startFilledServer(t, total)
	ann := person{newBrowser(t), "Ann"}
	open(t, ann.browser, url)
	ann.join(t)
	ann.waitLine(t, fillRow(total))
	ann.watchRows(t)

	oldest := fillSeqs(t, ann.readList(t).Rows)[0]
	ann.watchFrames(t)
	start := time.Now()
	pages := 0
	for {
		before, anchor := ann.scrollToTop(t)
		if anchor == beginning {
			break
		}
		var after listView
		err := poll(ann.ctx, actionTimeout, pollInterval, func() error {
			after = ann.readList(t)
			if after.Rows[0] == before.Rows[0] {
				return errors.New("no page went in above the first row")
			}
			return nil
		})
		if err != nil {
			ann.fatalf(t, "page %d: %v (first row %q)", pages+1, err, before.Rows[0])
		}
		pages++
		seqs := fillSeqs(t, after.Rows)
		if len(seqs) > 0 && seqs[0] >= oldest {
			t.Fatalf("page %d: the list starts at message %d, not before %d", pages, seqs[0], oldest)
		}
		if len(seqs) > 0 {
			oldest = seqs[0]
		}
		if after.MaxRows > app.MaxEntries {
			t.Fatalf("page %d: the list held %d rows, over %d", pages, after.MaxRows, app.MaxEntries)
		}
	}
	elapsed := time.Since(start)
	s := ann.readFrames(t)
	if oldest != 1 {
		t.Fatalf("the list starts at message %d", oldest)
	}
	t.Logf("paged back through %d messages in %d pages in %v", total, pages, elapsed.Round(time.Millisecond))
	t.Logf("long animation frames %v; long tasks %v; frame intervals %v", s.LoAF, s.LongTasks, s.Frames)
	t.Logf("long animation frames (ms after the watch began, duration, style and layout, scripts): %v", s.Long)
	// The target is no frame over maxFrame. A page draws every row of the
	// window again (go-app diffs by position). How long that takes is the
	// machine's and the Chromium build's as much as the page's (the same
	// page took 10 to 25 ms a page on one build and 55 to 60 on a later
	// one, on the same kind of machine), so it is logged here, not
	// asserted: a speed target belongs in a measurement, not in a test
	// that must pass on any machine.
	t.Logf("target no frame over %d ms met: %v", maxFrame, s.LoAF.N == 0)
	if errs := ann.consoleErrors(); len(errs) != 0 {
		t.Fatalf("console errors: %q", errs)
	}
}

// TestBusyRoomPerformance: while a room receives 100 messages a second for
// 6 s, from four people, the person types in the message input: the last
// message shows, and the list follows the newest row. It logs the long
// tasks and frames, against the target of long tasks within maxFrame ms
// at p95.
func TestBusyRoomPerformance(t *testing.T) {
	const (
		senders  = 4
		rate     = 100 // messages per second, all senders together
		duration = 6 * time.Second
	)
	url, _ := startFilledServer(t, 1)
	ann := person{newBrowser(t), "Ann"}
	open(t, ann.browser, url)
	ann.join(t)
	var probes []*probe
	for i := range senders {
		probes = append(probes, joinProbe(t, url, fmt.Sprintf("Sender%d", i)))
	}
	// Everyone is listed: joins this close together are announced in one
	// presence update, a single row ("Sender0, Sender1 and 2 others
	// connected"), so the list is what tells that all four are in (Filler,
	// who filled the room, may be listed too until its grace period ends).
	ann.waitTexts(t, presenceEntries, func(s []string) bool {
		return slices.Contains(s, "Ann") && slices.Contains(s, "Sender0") && slices.Contains(s, "Sender1") &&
			slices.Contains(s, "Sender2") && slices.Contains(s, "Sender3")
	}, "#presence to list Ann and the four senders")

	var added int
	ann.eval(t, `(() => { const el = document.getElementById("message-container"); window.chatAdded = 0;
		new MutationObserver(rs => { for (const r of rs) for (const n of r.addedNodes) if (n.classList && n.classList.contains("message")) window.chatAdded++; })
			.observe(el, {childList: true});
		return true; })()`, nil)
	ann.watchFrames(t)
	n := int(duration.Seconds()) * rate / senders
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	start := time.Now()
	for i, p := range probes {
		wg.Go(func() {
			tick := time.NewTicker(time.Second * senders / rate)
			defer tick.Stop()
			for j := range n {
				<-tick.C
				if _, err := p.Send(fmt.Sprintf("busy %d-%d", i, j)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	typed := 0
	for time.Since(start) < duration {
		ann.typeText(t, messageInput, "typing along ")
		typed += len("typing along ")
		if typed > 200 {
			ann.clear(t, messageInput)
			typed = 0
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	last := fmt.Sprintf("Sender%d: busy %d-%d", senders-1, senders-1, n-1)
	ann.waitLine(t, last)
	elapsed := time.Since(start)
	s := ann.readFrames(t)
	ann.eval(t, `window.chatAdded`, &added)
	t.Logf("%d messages in %v at %d/s; %d message rows added to the list; it holds %d rows now",
		senders*n, elapsed.Round(time.Millisecond), rate, added, len(ann.readList(t).Rows))
	t.Logf("long tasks %v; long animation frames %v; frame intervals %v", s.LongTasks, s.LoAF, s.Frames)
	t.Logf("long animation frames (ms after the watch began, duration, style and layout, scripts): %v", s.Long)
	// The target is long tasks within maxFrame at p95, logged and not
	// asserted, as for TestScrollPerformance: it measures the machine and
	// the Chromium build as much as the page.
	t.Logf("target long tasks p95 <= %d ms met: %v", maxFrame, s.LongTasks.P95 <= maxFrame)
	servertest.CheckFor(t, actionTimeout, pollInterval, func() error {
		if v := ann.readList(t); v.Gap > 2 {
			return fmt.Errorf("the list is %.0f px above its newest row", v.Gap)
		}
		return nil
	})
	if errs := ann.consoleErrors(); len(errs) != 0 {
		t.Fatalf("console errors: %q", errs)
	}
}
