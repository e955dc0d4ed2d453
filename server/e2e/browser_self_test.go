package e2e

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatwasm/chat/server/servertest"
)

// harnessPage is the static page of the self-test of the harness. Its form
// appends the value of the input as the text of a new <li> and clears the
// input; #status gets data-state="ready" and #late becomes visible a moment
// after the load; #boom throws an uncaught exception.
const harnessPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>harness self-test</title>
<link rel="icon" href="data:,">
</head>
<body>
<form id="form">
  <input id="text" autocomplete="off">
  <button id="send" type="submit">Send</button>
</form>
<ul id="list"></ul>
<div id="status" data-state="loading">status</div>
<div id="late" style="display: none">late</div>
<button id="boom" type="button">boom</button>
<script>
  const input = document.getElementById("text");
  const list = document.getElementById("list");
  document.getElementById("form").addEventListener("submit", (e) => {
    e.preventDefault();
    const li = document.createElement("li");
    li.textContent = input.value;
    list.appendChild(li);
    input.value = "";
  });
  document.getElementById("boom").addEventListener("click", () => {
    throw new Error("boom from the page");
  });
  setTimeout(() => {
    document.getElementById("status").setAttribute("data-state", "ready");
    document.getElementById("late").style.display = "block";
  }, 300);
</script>
</body>
</html>
`

// newHarnessServer serves harnessPage at / on 127.0.0.1, on a random port,
// until the end of the test.
func newHarnessServer(t *testing.T) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.1: %v", err)
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, harnessPage)
	}))
	ts.Listener.Close()
	ts.Listener = l
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

// TestHarnessBrowser drives one browser through every helper of the harness
// against the static page.
func TestHarnessBrowser(t *testing.T) {
	ts := newHarnessServer(t)
	b := newBrowser(t)
	b.navigate(t, ts.URL)

	b.waitVisible(t, "#late")
	b.waitAttr(t, "#status", "data-state", "ready")

	// Markup must arrive as text, not as markup.
	const xss = `<img src=x onerror=alert(1)>`
	b.typeText(t, "#text", xss)
	if got := b.value(t, "#text"); got != xss {
		t.Fatalf("value after typeText = %q, want %q", got, xss)
	}
	if got := b.activeID(t); got != "text" {
		t.Fatalf("activeID after typeText = %q, want %q", got, "text")
	}
	b.pressEnter(t, "#text")
	got := b.waitTexts(t, "#list > li", func(s []string) bool { return len(s) == 1 }, "one list item")
	if got[0] != xss {
		t.Fatalf("texts = %q, want [%q]", got, xss)
	}
	if got := b.value(t, "#text"); got != "" {
		t.Fatalf("value after Enter = %q, want empty", got)
	}
	var images int
	b.eval(t, `document.querySelectorAll("#list img").length`, &images)
	if images != 0 {
		t.Fatalf("the list holds %d <img> elements; the text became markup", images)
	}

	// Quotes, ampersands and non-ASCII text, then clear, then the button.
	b.typeText(t, "#text", `he said "hi" & 'bye' — ok`)
	b.clear(t, "#text")
	const second = `"quoted" & 'single' <b>not bold</b> é`
	b.typeText(t, "#text", second)
	b.click(t, "#send")
	b.waitTexts(t, "#list > li", func(s []string) bool {
		return slices.Equal(s, []string{xss, second})
	}, "both list items in order")
	if got := b.activeID(t); got != "send" {
		t.Fatalf("activeID after click = %q, want %q", got, "send")
	}
	if got := b.texts(t, "#nothing > li"); got == nil || len(got) != 0 {
		t.Fatalf("texts of nothing = %#v, want an empty slice", got)
	}

	// eval: a value, a promise, and no result.
	var sum int
	b.eval(t, `1 + 2`, &sum)
	if sum != 3 {
		t.Fatalf("eval 1 + 2 = %d", sum)
	}
	var s string
	b.eval(t, `new Promise(r => setTimeout(() => r("later"), 10))`, &s)
	if s != "later" {
		t.Fatalf("eval of a promise = %q, want %q", s, "later")
	}
	b.eval(t, `console.error("an error for the harness")`, nil)

	// The console: a console.error call and an uncaught exception.
	b.click(t, "#boom")
	servertest.CheckFor(t, 5*time.Second, 25*time.Millisecond, func() error {
		errs := b.consoleErrors()
		for _, want := range []string{"an error for the harness", "boom from the page"} {
			if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, want) }) {
				return fmt.Errorf("console errors %q lack %q", errs, want)
			}
		}
		return nil
	})
	t.Logf("console errors: %q", b.consoleErrors())

	// The call works; a plain page is not installable, so it has errors.
	ierrs := b.installabilityErrors(t)
	t.Logf("installability errors of a plain page: %q", ierrs)
	if len(ierrs) == 0 {
		t.Fatal("a page without a manifest has no installability errors")
	}

	// Reload gives a fresh page.
	b.reload(t)
	if got := b.texts(t, "#list > li"); len(got) != 0 {
		t.Fatalf("texts after reload = %q, want none", got)
	}
	b.waitAttr(t, "#status", "data-state", "ready")
}

// TestHarnessTwoBrowsers runs two browsers side by side, as two people, and
// checks that they are separate processes with separate profiles, and that
// closing one early leaves the other working.
func TestHarnessTwoBrowsers(t *testing.T) {
	ts := newHarnessServer(t)
	alice, bob := newBrowser(t), newBrowser(t)
	if alice.pid == bob.pid || alice.pid == 0 {
		t.Fatalf("pids %d and %d: want two processes", alice.pid, bob.pid)
	}
	if alice.userDataDir == bob.userDataDir {
		t.Fatalf("both browsers use the profile %s", alice.userDataDir)
	}

	alice.navigate(t, ts.URL)
	bob.navigate(t, ts.URL)

	// Separate profiles: the storage of one is not the storage of the other.
	alice.eval(t, `localStorage.setItem("who", "alice")`, nil)
	var who *string
	bob.eval(t, `localStorage.getItem("who")`, &who)
	if who != nil {
		t.Fatalf("bob sees alice's localStorage: who = %q", *who)
	}

	alice.typeText(t, "#text", "from alice")
	bob.typeText(t, "#text", "from bob")
	alice.pressEnter(t, "#text")
	bob.pressEnter(t, "#text")
	alice.waitTexts(t, "#list > li", func(s []string) bool { return slices.Equal(s, []string{"from alice"}) }, "alice's message only")
	bob.waitTexts(t, "#list > li", func(s []string) bool { return slices.Equal(s, []string{"from bob"}) }, "bob's message only")

	// Alice closes her browser; bob goes on. The cleanup closes alice again.
	alice.close()
	alice.close()
	if alice.closeErr != nil {
		t.Fatalf("close alice: %v", alice.closeErr)
	}
	if alice.ctx.Err() == nil {
		t.Fatal("alice's context is alive after close")
	}
	bob.typeText(t, "#text", "still here")
	bob.pressEnter(t, "#text")
	bob.waitTexts(t, "#list > li", func(s []string) bool { return len(s) == 2 && s[1] == "still here" }, "bob's second message")
}

// TestHarnessParallel starts browsers from parallel subtests, each driving
// its own browser at the same time as the others.
func TestHarnessParallel(t *testing.T) {
	ts := newHarnessServer(t)
	for _, name := range []string{"carol", "dave"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBrowser(t)
			b.navigate(t, ts.URL)
			b.waitAttr(t, "#status", "data-state", "ready")
			for i := range 3 {
				b.typeText(t, "#text", fmt.Sprintf("%s %d", name, i))
				b.pressEnter(t, "#text")
			}
			b.waitTexts(t, "#list > li", func(s []string) bool {
				return slices.Equal(s, []string{name + " 0", name + " 1", name + " 2"})
			}, "the three messages of "+name)
		})
	}
}

// TestHarnessCSPWatch proves that the harness sees a Content-Security-Policy
// violation: a page whose policy forbids inline scripts runs one, and the
// browser reports it, so the cleanup of every browser test would fail on
// one in the chat's pages.
func TestHarnessCSPWatch(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "script-src 'self'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>csp</title><p id="p">page</p><script>document.title = "ran"</script>`)
	}))
	t.Cleanup(ts.Close)
	b := newBrowser(t)
	b.navigate(t, ts.URL)
	b.waitVisible(t, "#p")
	var v []string
	servertest.CheckFor(t, 5*time.Second, 25*time.Millisecond, func() error {
		if v = b.cspViolations(); len(v) == 0 {
			return errors.New("no CSP violation reported for an inline script")
		}
		return nil
	})
	var title string
	b.eval(t, `document.title`, &title)
	if title == "ran" {
		t.Fatal("the inline script ran despite the policy")
	}
	t.Logf("violations seen: %q", v)
}
