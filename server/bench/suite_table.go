package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The markers of the block the suite rewrites in a document: what lies
// between them is replaced, the rest is kept.
const (
	docBegin = "<!-- bench:begin -->"
	docEnd   = "<!-- bench:end -->"
)

// tableLegend follows the table: what its columns mean for each kind of
// row.
const tableLegend = `p50, p99 and max are, for a fan-out, the time from a send to its arrival
at a client, over every delivery; for connect and join, one client's time from
its dial to its joined; for ingest, the time from a send to its
acknowledgement (the sender's own copy, queued once stored durably). Lost and
dups are those of the worst run; the other figures are medians.`

// row is one line of the suite's table.
type row struct {
	scenario, throughput, p50, p99, max, lost, dups, notes string
}

// table is the suite's results as a Markdown table, with its legend.
func table(results []result) string {
	var b strings.Builder
	b.WriteString("| scenario | throughput | p50 | p99 | max | lost | dups | notes |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, res := range results {
		r := rowOf(res)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.scenario, r.throughput, r.p50, r.p99, r.max, r.lost, r.dups, r.notes)
	}
	b.WriteString("\n")
	b.WriteString(tableLegend)
	return b.String()
}

// rowOf is the row of one scenario's runs: medians, the worst run's losses,
// and what went wrong.
func rowOf(res result) row {
	r := row{scenario: res.sc.title, throughput: "–", p50: "–", p99: "–", max: "–", lost: "–", dups: "–"}
	var notes []string
	reps := res.reports
	med := func(f func(Report) float64) float64 { return median(mapTo(reps, f)) }
	dur := func(f func(Report) time.Duration) string {
		return fmtDur(time.Duration(med(func(r Report) float64 { return float64(f(r)) })))
	}
	worst := func(f func(Report) int64) string {
		var n int64
		for _, r := range reps {
			n = max(n, f(r))
		}
		return fmt.Sprint(n)
	}
	serverCPU := func() string {
		return fmt.Sprintf("server CPU %.0f%% of a core", 100*med(func(r Report) float64 { return r.ServerCPUShare }))
	}
	switch {
	case res.sc.kind == kindLighthouse && len(res.pages) > 0:
		pg := func(f func(page) float64) float64 { return median(mapTo(res.pages, f)) }
		r.throughput = fmt.Sprintf("score %.0f", pg(func(p page) float64 { return p.Score }))
		notes = append(notes, fmt.Sprintf("LCP %s, TBT %s",
			fmtDur(time.Duration(pg(func(p page) float64 { return float64(p.LCP) }))),
			fmtDur(time.Duration(pg(func(p page) float64 { return float64(p.TBT) })))))
	case len(reps) == 0:
	case res.sc.kind == kindFanout:
		r.throughput = fmtRate(med(func(r Report) float64 { return r.DeliveriesPerSec })) + " deliveries/s"
		r.p50 = dur(func(r Report) time.Duration { return r.LatencyP50 })
		r.p99 = dur(func(r Report) time.Duration { return r.LatencyP99 })
		r.max = dur(func(r Report) time.Duration { return r.LatencyMax })
		r.lost = worst(func(r Report) int64 { return r.Lost })
		r.dups = worst(func(r Report) int64 { return r.Duplicates })
		notes = append(notes, serverCPU())
	case res.sc.kind == kindConnect:
		r.throughput = fmt.Sprintf("%.0f joined in %s", med(func(r Report) float64 { return float64(r.Joined) }),
			dur(func(r Report) time.Duration { return r.JoinTime }))
		r.p50 = dur(func(r Report) time.Duration { return r.JoinP50 })
		r.p99 = dur(func(r Report) time.Duration { return r.JoinP99 })
		r.max = dur(func(r Report) time.Duration { return r.JoinMax })
		notes = append(notes, fmt.Sprintf("server RSS %s per idle connection",
			size(int64(med(func(r Report) float64 { return float64(r.ServerRSSPerConn) })))))
	case res.sc.kind == kindIngest:
		r.throughput = fmtRate(med(func(r Report) float64 { return r.AckedPerSec })) + " acknowledged msg/s"
		r.p50 = dur(func(r Report) time.Duration { return r.AckP50 })
		r.p99 = dur(func(r Report) time.Duration { return r.AckP99 })
		r.max = dur(func(r Report) time.Duration { return r.AckMax })
		r.lost = worst(func(r Report) int64 { return r.Lost })
		r.dups = worst(func(r Report) int64 { return r.Duplicates })
		notes = append(notes, "delivery p99 "+dur(func(r Report) time.Duration { return r.LatencyP99 }), serverCPU())
	}
	for i, rep := range reps {
		if p := rep.Problems(); len(p) > 0 {
			notes = append(notes, fmt.Sprintf("run %d: %s", i+1, strings.Join(p, "; ")))
		}
	}
	if n := len(res.errs); n > 0 {
		notes = append(notes, fmt.Sprintf("%d of %d runs failed", n, n+len(reps)+len(res.pages)))
	}
	r.notes = strings.Join(notes, "; ")
	return r
}

// mapTo is f of each of xs.
func mapTo[T any](xs []T, f func(T) float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// median is the middle of xs, or the mean of the two middle ones for an even
// count; 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 0 {
		return (s[m-1] + s[m]) / 2
	}
	return s[m]
}

// fmtDur writes a duration for the table: "0.42 ms", "8.5 ms", "205 ms",
// "1.31 s".
func fmtDur(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 1:
		return fmt.Sprintf("%.2f ms", ms)
	case ms < 10:
		return fmt.Sprintf("%.1f ms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.2f s", ms/1000)
}

// fmtRate writes a rate for the table: "850", "9.5k", "591k".
func fmtRate(x float64) string {
	switch {
	case x < 1000:
		return fmt.Sprintf("%.0f", x)
	case x < 10000:
		return fmt.Sprintf("%.1fk", x/1000)
	}
	return fmt.Sprintf("%.0fk", x/1000)
}

// replaceBlock returns doc with what lies between its markers docBegin and
// docEnd replaced by block, on lines of their own. It fails unless doc holds
// each marker once, the beginning first.
func replaceBlock(doc, block string) (string, error) {
	if n, m := strings.Count(doc, docBegin), strings.Count(doc, docEnd); n != 1 || m != 1 {
		return "", fmt.Errorf("want the markers %s and %s once each, found %d and %d", docBegin, docEnd, n, m)
	}
	i := strings.Index(doc, docBegin) + len(docBegin)
	j := strings.Index(doc, docEnd)
	if j < i {
		return "", fmt.Errorf("the marker %s comes before %s", docEnd, docBegin)
	}
	return doc[:i] + "\n" + strings.TrimSpace(block) + "\n" + doc[j:], nil
}

// writeDoc writes block into the file at path, between its markers.
func writeDoc(path, block string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read the document: %w", err)
	}
	out, err := replaceBlock(string(b), block)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		return fmt.Errorf("write the document: %w", err)
	}
	return nil
}

// gitCommit is the short id of the commit the suite runs in, with a note
// when the work tree differs from it (the document the suite writes
// excepted), or "unknown" outside a git work tree.
func gitCommit(doc string) string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	id := strings.TrimSpace(string(out))
	args := []string{"status", "--porcelain", "--untracked-files=no", "--", "."}
	if doc != "" {
		args = append(args, ":(exclude)"+doc)
	}
	if out, err := exec.Command("git", args...).Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
		id += " (with uncommitted changes)"
	}
	return id
}

// loadAverage is the system's load average over the last minute, from
// /proc/loadavg, or "unknown": a suite run on a busy machine says so.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return parseLoadAverage(b)
}

// parseLoadAverage is the first field of a /proc/loadavg, "0.42 0.30 0.25
// 1/123 4567", or "unknown".
func parseLoadAverage(loadavg []byte) string {
	f := strings.Fields(string(loadavg))
	if len(f) == 0 {
		return "unknown"
	}
	if _, err := strconv.ParseFloat(f[0], 64); err != nil {
		return "unknown"
	}
	return f[0]
}

// cpuModel is the processor's name from /proc/cpuinfo, or the architecture
// where there is none.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	return parseCPUModel(b)
}

// parseCPUModel is the first "model name" of a /proc/cpuinfo, or the
// architecture when it has none (some ARM kernels).
func parseCPUModel(cpuinfo []byte) string {
	for line := range bytes.SplitSeq(cpuinfo, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && string(bytes.TrimSpace(k)) == "model name" {
			if name := strings.TrimSpace(string(v)); name != "" {
				return name
			}
		}
	}
	return runtime.GOARCH
}
