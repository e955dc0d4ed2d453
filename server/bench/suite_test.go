package bench

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestReplaceBlock replaces what lies between the markers and nothing else,
// the same way each time, and refuses a document without exactly one pair
// in order.
func TestReplaceBlock(t *testing.T) {
	t.Parallel()
	doc := "# Performance\n\n## Latest make bench\n\n" + docBegin + "\nold table\nold notes\n" + docEnd + "\n\n## Older\n\nkept\n"
	got, err := replaceBlock(doc, "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# Performance\n\n## Latest make bench\n\n" + docBegin + "\nnew table\n" + docEnd + "\n\n## Older\n\nkept\n"
	if got != want {
		t.Errorf("replaceBlock:\n%q\nwant\n%q", got, want)
	}
	if again, err := replaceBlock(got, "new table"); err != nil || again != want {
		t.Errorf("a second replace changed the document: %q, %v", again, err)
	}
	if empty, err := replaceBlock("a "+docBegin+docEnd+" b", "x"); err != nil || empty != "a "+docBegin+"\nx\n"+docEnd+" b" {
		t.Errorf("an empty block: %q, %v", empty, err)
	}
	for _, bad := range []string{
		"no markers",
		docBegin + " only the beginning",
		"only the end " + docEnd,
		docEnd + " reversed " + docBegin,
		docBegin + docEnd + docBegin + docEnd,
	} {
		if out, err := replaceBlock(bad, "x"); err == nil {
			t.Errorf("replaceBlock(%q) = %q, want an error", bad, out)
		}
	}
}

// TestWriteDoc writes the block into a file between its markers, and leaves
// a file without them as it was.
func TestWriteDoc(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "PERFORMANCE.md")
	if err := os.WriteFile(path, []byte("intro\n"+docBegin+"\n"+docEnd+"\nend\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeDoc(path, "| a | b |"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "intro\n"+docBegin+"\n| a | b |\n"+docEnd+"\nend\n" {
		t.Errorf("the document is %q", b)
	}
	plain := filepath.Join(dir, "plain.md")
	if err := os.WriteFile(plain, []byte("no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeDoc(plain, "x"); err == nil {
		t.Error("a document without markers was written")
	}
	if b, _ := os.ReadFile(plain); string(b) != "no markers\n" {
		t.Errorf("the document without markers changed: %q", b)
	}
	if err := writeDoc(filepath.Join(dir, "missing.md"), "x"); err == nil {
		t.Error("a missing document: no error")
	}
}

// TestParseLighthouse reads the score and the two timings of a report, and
// refuses a report without them or with Lighthouse's runtime error.
func TestParseLighthouse(t *testing.T) {
	t.Parallel()
	const good = `{"categories":{"performance":{"score":0.97}},"audits":{
		"largest-contentful-paint":{"numericValue":1234.5},"total-blocking-time":{"numericValue":209}}}`
	p, err := parseLighthouse([]byte(good))
	if err != nil || p.Score != 97 || p.LCP != 1234500*time.Microsecond || p.TBT != 209*time.Millisecond {
		t.Errorf("parseLighthouse = %+v, %v; want score 97, LCP 1.2345s, TBT 209ms", p, err)
	}
	for _, bad := range []string{
		`not json`,
		`{"categories":{"performance":{"score":null}},"audits":{"largest-contentful-paint":{"numericValue":1},"total-blocking-time":{"numericValue":1}}}`,
		`{"categories":{"performance":{"score":0.9}},"audits":{"total-blocking-time":{"numericValue":1}}}`,
		`{"categories":{"performance":{"score":0.9}},"audits":{"largest-contentful-paint":{"numericValue":1}}}`,
		`{"runtimeError":{"code":"NO_FCP","message":"The page did not paint"},"categories":{"performance":{"score":0}}}`,
	} {
		if p, err := parseLighthouse([]byte(bad)); err == nil {
			t.Errorf("parseLighthouse(%s) = %+v, want an error", bad, p)
		}
	}
}

// TestParseCPUModel takes the first model name of /proc/cpuinfo, or the
// architecture without one.
func TestParseCPUModel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: other\n", "AMD EPYC 7B13"},
		{"processor\t: 0\nBogoMIPS\t: 50.00\n", runtime.GOARCH},
		{"model name\t:\n", runtime.GOARCH},
		{"", runtime.GOARCH},
	} {
		if got := parseCPUModel([]byte(tc.in)); got != tc.want {
			t.Errorf("parseCPUModel(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestParseLoadAverage takes the one-minute load average of /proc/loadavg.
func TestParseLoadAverage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"15.86 15.92 14.72 12/845 23145\n", "15.86"},
		{"", "unknown"},
		{"busy 1 2", "unknown"},
	} {
		if got := parseLoadAverage([]byte(tc.in)); got != tc.want {
			t.Errorf("parseLoadAverage(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestFormat writes medians, durations and rates as the table shows them.
func TestFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{5}, 5}, {[]float64{9, 1, 5}, 5}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{420 * time.Microsecond, "0.42 ms"}, {8510 * time.Microsecond, "8.5 ms"}, {205 * time.Millisecond, "205 ms"}, {1314 * time.Millisecond, "1.31 s"}} {
		if got := fmtDur(tc.d); got != tc.want {
			t.Errorf("fmtDur(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	for _, tc := range []struct {
		x    float64
		want string
	}{{850, "850"}, {9520, "9.5k"}, {591300, "591k"}} {
		if got := fmtRate(tc.x); got != tc.want {
			t.Errorf("fmtRate(%v) = %q, want %q", tc.x, got, tc.want)
		}
	}
}

// TestRowOf makes each kind of row from its runs: medians of the figures,
// the worst run's losses, the problems and the failed runs in the notes.
func TestRowOf(t *testing.T) {
	t.Parallel()
	fan := func(p99 time.Duration, lost int64) Report {
		return Report{Clients: 1000, Joined: 1000, PresenceRight: 1000, Senders: 50, Rate: 100, DeliveriesPerSec: 100000,
			LatencyP50: 8 * time.Millisecond, LatencyP99: p99, LatencyMax: 2 * p99, Lost: lost, ServerCPUShare: 0.9}
	}
	sc := func(kind scenarioKind) scenario { return scenario{title: "t", kind: kind} }
	for _, tc := range []struct {
		name string
		res  result
		want row
	}{
		{"fan-out", result{sc: sc(kindFanout), reports: []Report{fan(30*time.Millisecond, 0), fan(20*time.Millisecond, 3), fan(25*time.Millisecond, 0)}},
			row{"t", "100k deliveries/s", "8.0 ms", "25 ms", "50 ms", "3", "0", "server CPU 90% of a core; run 2: 3 deliveries lost"}},
		{"connect", result{sc: sc(kindConnect), reports: []Report{{Clients: 2000, Joined: 2000, PresenceRight: 2000, JoinTime: 2100 * time.Millisecond, JoinP50: 30 * time.Millisecond, JoinP99: 90 * time.Millisecond, JoinMax: 120 * time.Millisecond, ServerRSSPerConn: 97 << 10}}},
			row{"t", "2000 joined in 2.10 s", "30 ms", "90 ms", "120 ms", "–", "–", "server RSS 97.0 KB per idle connection"}},
		{"ingest", result{sc: sc(kindIngest), reports: []Report{{Clients: 100, Joined: 100, PresenceRight: 100, AckedPerSec: 2200, AckP50: 360 * time.Millisecond, AckP99: 570 * time.Millisecond, AckMax: 600 * time.Millisecond, LatencyP99: 580 * time.Millisecond, ServerCPUShare: 0.65}}, errs: []error{errors.New("no server")}},
			row{"t", "2.2k acknowledged msg/s", "360 ms", "570 ms", "600 ms", "0", "0", "delivery p99 580 ms; server CPU 65% of a core; 1 of 2 runs failed"}},
		{"lighthouse", result{sc: sc(kindLighthouse), pages: []page{{97, 1200 * time.Millisecond, 209 * time.Millisecond}, {93, 1500 * time.Millisecond, 300 * time.Millisecond}, {95, time.Second, 250 * time.Millisecond}}},
			row{"t", "score 95", "–", "–", "–", "–", "–", "LCP 1.20 s, TBT 250 ms"}},
		{"every run failed", result{sc: sc(kindFanout), errs: []error{errors.New("a"), errors.New("b")}},
			row{"t", "–", "–", "–", "–", "–", "–", "2 of 2 runs failed"}},
	} {
		if got := rowOf(tc.res); got != tc.want {
			t.Errorf("%s: rowOf =\n%+v, want\n%+v", tc.name, got, tc.want)
		}
	}
	tab := table([]result{{sc: sc(kindLighthouse), pages: []page{{97, time.Second, time.Millisecond}}}})
	if !strings.HasPrefix(tab, "| scenario | throughput |") || !strings.Contains(tab, "| t | score 97 | – |") {
		t.Errorf("table:\n%s", tab)
	}
}

// TestScenarios names each scenario once, and the quick mode keeps one of
// each kind.
func TestScenarios(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	kinds := map[scenarioKind]bool{}
	for _, sc := range scenarios() {
		if names[sc.name] {
			t.Errorf("scenario %s twice", sc.name)
		}
		names[sc.name] = true
		if sc.quick {
			if kinds[sc.kind] {
				t.Errorf("the quick mode has two scenarios of kind %d", sc.kind)
			}
			kinds[sc.kind] = true
		}
	}
	if len(kinds) != 4 {
		t.Errorf("the quick mode has %d kinds of scenario, want the 4", len(kinds))
	}
	for _, want := range []string{"fanout-10", "fanout-100", "fanout-300", "fanout-600", "connect-1000", "connect-2000", "ingest-window-1", "ingest-window-8", "lighthouse"} {
		if !names[want] {
			t.Errorf("no scenario %s", want)
		}
	}
}

// TestSuiteFlags refuses flags that make no suite, before starting anything.
func TestSuiteFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-runs", "0"},
		{"-only", "nothing-is-called-this"},
		{"-only", "("},
		{"extra"},
		{"-bin", ""},
	} {
		var out, errOut strings.Builder
		if err := Command(context.Background(), append([]string{"suite"}, args...), &out, &errOut); err == nil {
			t.Errorf("suite %v: no error", args)
		}
		if out.Len() > 0 {
			t.Errorf("suite %v wrote a table:\n%s", args, out.String())
		}
	}
}
