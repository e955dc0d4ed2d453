package e2e

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/chatwasm/chat/app/event"
)

// rowView is what a test reads of one row of #message-container.
type rowView struct {
	Text  string `json:"text"`
	Class string `json:"class"`
	// Initial is data-initial; Badge is what CSS paints of it (the computed
	// content of ::before, quoted), BadgeColor the badge's background.
	Initial    string `json:"initial"`
	Badge      string `json:"badge"`
	BadgeColor string `json:"badgeColor"`
	// Title is the hover title of the row's name.
	Title string `json:"title"`
	// Isolated lists, for each text node of the row that a person typed
	// (inside .name or .text), whether its element isolates its direction.
	Isolated []bool `json:"isolated"`
}

// hue returns the row's colour class, or "".
func (r rowView) hue() string { return hueOf.FindString(r.Class) }

var hueOf = regexp.MustCompile(`\bhue-\d+\b`)

// rowsJS reads every row of the list as rowViews.
const rowsJS = `Array.from(document.querySelectorAll("#message-container > *"), row => {
	const badge = getComputedStyle(row, "::before");
	const name = row.querySelector(".name");
	const typed = Array.from(row.querySelectorAll(".name, .text"), el => {
		const s = getComputedStyle(el).unicodeBidi;
		return el.closest("bdi") !== null && (s === "isolate" || s === "isolate-override" || s === "plaintext");
	});
	return {
		text: row.textContent, class: row.className,
		initial: row.dataset.initial || "", badge: badge.content, badgeColor: badge.backgroundColor,
		title: name ? name.title : "", isolated: typed,
	};
})`

// rows returns the rows of p's list.
func (p person) rows(t *testing.T) []rowView {
	t.Helper()
	var rows []rowView
	p.eval(t, rowsJS, &rows)
	return rows
}

// row returns the last row of p's list that reads text.
func (p person) row(t *testing.T, text string) rowView {
	t.Helper()
	rows := p.rows(t)
	for i := len(rows) - 1; i >= 0; i-- {
		if rows[i].Text == text {
			return rows[i]
		}
	}
	p.fatalf(t, "no row reads %q", text)
	return rowView{}
}

// TestNames is the name rules and the people's colours end to end: the name
// form gives the reason a name is refused, two people of the same name get
// different colours, badges and hover titles, the same in everyone's page,
// what people typed is direction-isolated, and nothing in a row paints
// outside it, with stacked combining marks, a long word or a direction
// override.
func TestNames(t *testing.T) {
	_, ts := startServer(t, "e2e")
	ann, twin := person{newBrowser(t), "Ann"}, person{newBrowser(t), "Ann"}
	open(t, ann.browser, ts.URL)

	// The form says why "You", a reversed name and a notice-like name are
	// refused.
	for _, tt := range []struct{ name, reason string }{
		{"You", `Name "You" is reserved`},
		{"\u202eecila", "Name contains invisible formatting characters"},
		{"alice disconnected", `Name cannot end with "connected"`},
	} {
		ann.setInput(t, nameInput, tt.name)
		ann.pressEnter(t, nameInput)
		ann.waitTexts(t, nameError, func(s []string) bool {
			return len(s) == 1 && strings.HasPrefix(s[0], tt.reason)
		}, fmt.Sprintf("the reason for %+q", tt.name))
	}
	ann.clear(t, nameInput)
	ann.join(t)
	ann.send(t, "from the first Ann")
	ann.waitLine(t, "You: from the first Ann")

	// The twin joins under the same name. Colours come from the user id,
	// and 1 in 12 pairs share one: the twin becomes a new person until
	// theirs differs (five tries in a row fail once in 250,000 runs).
	open(t, twin.browser, ts.URL)
	var mine, theirs rowView
	for try := 1; ; try++ {
		twin.join(t)
		msg := fmt.Sprintf("from the second Ann, try %d", try)
		twin.send(t, msg)
		ann.waitLine(t, "Ann: "+msg)
		mine, theirs = ann.row(t, "You: from the first Ann"), ann.row(t, "Ann: "+msg)
		if mine.hue() == "" || theirs.hue() == "" {
			t.Fatalf("rows without a colour class: %q, %q", mine.Class, theirs.Class)
		}
		if mine.hue() != theirs.hue() {
			// Everyone sees a person in the same colour and title.
			if own := twin.row(t, "You: "+msg); own.hue() != theirs.hue() || own.Title != theirs.Title {
				t.Fatalf("the twin's row: %s %q in their page, %s %q in Ann's", own.hue(), own.Title, theirs.hue(), theirs.Title)
			}
			break
		}
		if try == 5 {
			t.Fatalf("five new people in a row got Ann's colour %s", mine.hue())
		}
		t.Logf("try %d: the twin got Ann's colour %s; becoming someone new", try, mine.hue())
		twin.eval(t, `localStorage.clear(), sessionStorage.clear()`, nil)
		twin.reload(t)
		twin.waitAttr(t, connected, "data-state", "connected")
	}
	if mine.BadgeColor == theirs.BadgeColor {
		t.Errorf("both badges are painted %s", mine.BadgeColor)
	}
	titleRE := regexp.MustCompile(`^\x{2068}Ann\x{2069} \([0-9a-f]{8}\)$`)
	if !titleRE.MatchString(mine.Title) || !titleRE.MatchString(theirs.Title) || mine.Title == theirs.Title {
		t.Errorf("hover titles %+q and %+q: want the name and two different short ids", mine.Title, theirs.Title)
	}
	for _, r := range []rowView{mine, theirs} {
		if r.Initial != "A" || r.Badge != `"A"` {
			t.Errorf("row %q: initial %q painted as %s, want A", r.Text, r.Initial, r.Badge)
		}
	}
	// The notice about the twin carries the twin's colour; every name and
	// text a person typed is isolated.
	ann.waitLine(t, "Ann connected")
	notice := ann.row(t, "Ann connected")
	if notice.Initial != "A" || notice.Title == "" || notice.hue() == "" {
		t.Errorf("the notice %q: class %q, initial %q, title %+q", notice.Text, notice.Class, notice.Initial, notice.Title)
	}
	for _, r := range ann.rows(t) {
		typed := strings.Contains(r.Class, "message") || (strings.Contains(r.Class, "notice") && r.Text != "You joined")
		if typed && (len(r.Isolated) == 0 || slices.Contains(r.Isolated, false)) {
			t.Errorf("row %q: name and text isolated %v, want each in an isolating <bdi>", r.Text, r.Isolated)
		}
	}

	// Rows that try to paint outside: 8 marks (the most a message may
	// have) stacked below and above each character, a word of 300 letters,
	// a direction override, then a row after them.
	zalgo := func(first, n rune) string {
		var sb strings.Builder
		for i, r := range "Zalgo comes" {
			sb.WriteRune(r)
			for j := range event.MaxTextMarks {
				sb.WriteRune(first + rune(i+j)%n)
			}
		}
		return sb.String()
	}
	below, above := zalgo(0x0316, 0x1a), zalgo(0x0300, 0x15)
	texts := []string{below, above, strings.Repeat("abcdefghij", 30), "\u202ethis runs right to left: السلام عليكم"}
	for _, text := range texts {
		ann.setInput(t, messageInput, text)
		ann.pressEnter(t, messageInput)
		twin.waitLine(t, "Ann: "+text)
	}
	ann.send(t, "the last row")
	twin.waitLine(t, "Ann: the last row")
	for _, p := range []person{ann, twin} {
		var rows []string
		for _, text := range texts {
			if p == ann {
				rows = append(rows, "You: "+text)
			} else {
				rows = append(rows, "Ann: "+text)
			}
		}
		p.rowsHoldTheirText(t, rows)
	}
	// Ink is not layout: rects cannot show marks painted past the line
	// box. In the twin's page the zalgo row is dark ink on a light bubble,
	// and the gaps above and below it must stay the list's background.
	twin.gapsAreBlank(t, "Ann: "+below)
	twin.gapsAreBlank(t, "Ann: "+above)

	for _, p := range []person{ann, twin} {
		if errs := p.consoleErrors(); len(errs) != 0 {
			t.Fatalf("console errors: %q", errs)
		}
	}
}

// rowsHoldTheirText checks, for each row of p's list that reads one of
// texts, that every element in it and every line of its text lies within
// the row's box (1 px of slack for rounding), and that the next row starts
// below it.
func (p person) rowsHoldTheirText(t *testing.T, texts []string) {
	t.Helper()
	var res struct {
		Checked  int      `json:"checked"`
		Problems []string `json:"problems"`
	}
	p.eval(t, `((want) => {
		const rows = Array.from(document.querySelectorAll("#message-container > *"));
		const box = b => "[" + [b.left, b.top, b.right, b.bottom].map(Math.round).join(" ") + "]";
		const res = {checked: 0, problems: []};
		rows.forEach((row, i) => {
			if (!want.includes(row.textContent)) return;
			res.checked++;
			row.scrollIntoView({block: "center"});
			const r = row.getBoundingClientRect();
			const label = JSON.stringify(row.textContent.slice(0, 16));
			const inside = (b, what) => {
				if (b.width === 0 && b.height === 0) return;
				if (b.left < r.left - 1 || b.right > r.right + 1 || b.top < r.top - 1 || b.bottom > r.bottom + 1)
					res.problems.push(label + ": " + what + " " + box(b) + " is outside the row " + box(r));
			};
			for (const el of row.querySelectorAll("*")) inside(el.getBoundingClientRect(), el.tagName.toLowerCase() + "." + el.className);
			const walk = document.createTreeWalker(row, NodeFilter.SHOW_TEXT);
			for (let n; (n = walk.nextNode()); ) {
				const range = document.createRange();
				range.selectNodeContents(n);
				inside(range.getBoundingClientRect(), "its text");
				for (const line of range.getClientRects()) inside(line, "a line of its text");
			}
			const next = rows[i + 1];
			if (next && next.getBoundingClientRect().top < r.bottom - 1)
				res.problems.push(label + ": the next row " + box(next.getBoundingClientRect()) + " overlaps it " + box(r));
		});
		return res;
	})(`+jsString(strings.Join(texts, "\x00"))+`.split("\x00"))`, &res)
	if res.Checked != len(texts) || len(res.Problems) != 0 {
		t.Fatalf("%s: checked %d rows of %d: %s", p.browser.name, res.Checked, len(texts), strings.Join(res.Problems, "\n"))
	}
}

// gapsAreBlank scrolls the row of p's list that reads text into view and
// checks, from a screenshot, that nothing is painted in the gaps between it
// and the rows before and after it: each pixel there is within 24 of the
// list's background in every channel (the bubbles' faint shadow differs by
// less; dark ink by about 200).
func (p person) gapsAreBlank(t *testing.T, text string) {
	t.Helper()
	var g struct {
		Found  bool        `json:"found"`
		Gaps   [][]float64 `json:"gaps"` // left, top, width, height
		Colour []int       `json:"colour"`
	}
	p.eval(t, `((text) => {
		const rows = Array.from(document.querySelectorAll("#message-container > *"));
		const i = rows.findIndex(r => r.textContent === text);
		if (i < 1 || i + 1 >= rows.length) return {found: false};
		rows[i].scrollIntoView({block: "center"});
		const [a, r, b] = [rows[i - 1], rows[i], rows[i + 1]].map(e => e.getBoundingClientRect());
		let bg = "rgba(0, 0, 0, 0)";
		for (let e = rows[i].parentElement; e && bg.startsWith("rgba(0, 0, 0, 0"); e = e.parentElement) bg = getComputedStyle(e).backgroundColor;
		return {
			found: true,
			gaps: [[r.left, a.bottom + 2, r.width, r.top - a.bottom - 2], [r.left, r.bottom + 2, r.width, b.top - r.bottom - 2]],
			colour: bg.match(/\d+/g).slice(0, 3).map(Number),
		};
	})(`+jsString(text)+`)`, &g)
	if !g.Found {
		p.fatalf(t, "no row reads %q between two others", text)
	}
	for _, gap := range g.Gaps {
		if gap[3] < 1 {
			p.fatalf(t, "no gap around the row %q: %v", text, g.Gaps)
		}
		ctx, cancel := p.actx()
		shot, err := chromedp.Call(ctx, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format: page.CaptureScreenshotFormatPng,
			Clip:   &page.Viewport{X: gap[0], Y: gap[1], Width: gap[2], Height: gap[3], Scale: 1},
		})
		cancel()
		if err != nil {
			p.fatalf(t, "screenshot of %v: %v", gap, err)
		}
		img, err := png.Decode(bytes.NewReader(shot.Data))
		if err != nil {
			t.Fatalf("decode the screenshot: %v", err)
		}
		if x, y, ok := inkAt(img, g.Colour, 24); ok {
			t.Errorf("%s: the gap %v around %.16q is painted at (%d, %d) in %v, not the background %v: marks paint outside their row",
				p.browser.name, gap, text, x, y, img.At(x, y), g.Colour)
		}
	}
}

// inkAt returns the first pixel of img that differs from the colour bg by
// more than tol in a channel.
func inkAt(img image.Image, bg []int, tol int) (x, y int, found bool) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			for i, c := range []uint32{r >> 8, g >> 8, bl >> 8} {
				if d := int(c) - bg[i]; d > tol || d < -tol {
					return x, y, true
				}
			}
		}
	}
	return 0, 0, false
}
