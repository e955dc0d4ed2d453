package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// suiteUsage heads the help of `chat bench suite`.
const suiteUsage = `usage: chat bench suite [flags]

Runs the standard load scenarios, each against a fresh server (this binary,
a new data directory, every per-IP and per-user limit off) that listens on
127.0.0.1 only, pinned to core 0 with taskset when there is one and the
machine has two cores, the generator pinned to core 1: 1000 clients in one
room with 50 senders at 10, 100, 300 and 600 msg/s; 1000 and 2000 clients
that connect and join; 100 senders in 10 rooms of 10 as fast as the server
acknowledges (one send in flight each, then eight); and Lighthouse (mobile)
against the page. It prints one table of the medians over -runs runs and,
with -doc, writes it between the markers ` + docBegin + ` and ` + docEnd + `
of that file.

Flags:
`

// suiteDuration is how long the senders of a scenario send: 8 s holds some
// thousands of latency samples at the lowest rate, and keeps the suite
// within minutes. suiteQuickDuration, 3 s, is the quick mode's.
const (
	suiteDuration      = 8 * time.Second
	suiteQuickDuration = 3 * time.Second
)

// lighthouseVersion is the Lighthouse the suite runs, pinned so that scores
// compare across runs of the suite.
const lighthouseVersion = "12.8.2"

// scenarioKind says which figures of a scenario's reports its row shows.
type scenarioKind int

const (
	kindFanout scenarioKind = iota
	kindConnect
	kindIngest
	kindLighthouse
)

// scenario is one load of the suite.
type scenario struct {
	name  string // for -only and the progress lines
	title string // the table's first column
	kind  scenarioKind
	args  []string // the generator's flags, but -url, -pid, -json and -duration
	quick bool     // part of the quick mode
}

// noLeaveWait spares a scenario that measures latency the wait for the
// server's memory to settle after the leave (15 s at least): only the
// connect scenarios report it.
var noLeaveWait = []string{"-leave-wait", "1ms"}

// scenarios lists the suite's loads, in the table's order.
func scenarios() []scenario {
	var out []scenario
	for _, rate := range []int{10, 100, 300, 600} {
		out = append(out, scenario{
			name:  fmt.Sprint("fanout-", rate),
			title: fmt.Sprintf("1000 clients, 1 room, 50 senders at %d msg/s", rate),
			kind:  kindFanout,
			args:  append([]string{"-clients", "1000", "-senders", "50", "-rate", strconv.Itoa(rate)}, noLeaveWait...),
			quick: rate == 100,
		})
	}
	for _, n := range []int{1000, 2000} {
		out = append(out, scenario{
			name:  fmt.Sprint("connect-", n),
			title: fmt.Sprintf("%d clients connect and join, no sender", n),
			kind:  kindConnect,
			args:  []string{"-clients", strconv.Itoa(n), "-senders", "0"},
			quick: n == 1000,
		})
	}
	for _, w := range []int{1, 8} {
		out = append(out, scenario{
			name:  fmt.Sprint("ingest-window-", w),
			title: fmt.Sprintf("ingest: 100 senders, 10 rooms of 10, as fast as acknowledged, %d in flight each", w),
			kind:  kindIngest,
			args:  append([]string{"-clients", "100", "-rooms", "10", "-senders", "100", "-rate", "0", "-window", strconv.Itoa(w)}, noLeaveWait...),
			quick: w == 8,
		})
	}
	out = append(out, scenario{name: "lighthouse", title: "page `/`: Lighthouse " + lighthouseVersion + " performance (mobile)", kind: kindLighthouse, quick: true})
	return out
}

// suite is one run of `chat bench suite`.
type suite struct {
	bin      string // the chat binary: server and generator
	runs     int
	duration time.Duration
	port     int       // 0: a free one for each server
	pin      bool      // taskset is there and the machine has two cores
	doc      string    // the file the table goes into, "" for none
	log      io.Writer // progress
}

// result is what the runs of one scenario gave.
type result struct {
	sc      scenario
	reports []Report
	pages   []page
	errs    []error // runs that could not be made
}

// Suite runs `chat bench suite` with args, the flags after "suite": the
// scenarios, each -runs times against a fresh server; it prints the table
// of medians to out, progress to errOut, and with -doc writes the table into
// that file. It returns an error when a run could not be made (a server
// that did not start, a generator that wrote no report), after writing what
// the others measured; a run that was not clean (a delivery lost) is a
// result, shown in the table's notes.
func Suite(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("chat bench suite", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), suiteUsage)
		fs.PrintDefaults()
	}
	self, _ := os.Executable()
	bin := fs.String("bin", self, "the chat binary to serve and to generate the load with")
	runs := fs.Int("runs", 3, "runs of each scenario, of which the table gives the median")
	quick := fs.Bool("quick", false, "fewer scenarios (fan-out at 100 msg/s, 1000 joins, ingest with 8 in flight, Lighthouse) of 3 s sends")
	only := fs.String("only", "", "run only the scenarios whose name matches this regular expression (fanout-10, fanout-100, fanout-300, fanout-600, connect-1000, connect-2000, ingest-window-1, ingest-window-8, lighthouse)")
	port := fs.Int("port", 0, "the port each server listens on, on 127.0.0.1 (0: a free one each time)")
	doc := fs.String("doc", "", "write the table into this file, between its markers "+docBegin+" and "+docEnd)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("bench suite: unexpected argument %q", fs.Arg(0))
	}
	if *runs < 1 {
		return errors.New("bench suite: -runs must be 1 or more")
	}
	if *bin == "" {
		return errors.New("bench suite: -bin: the chat binary is unknown")
	}
	match, err := regexp.Compile(*only)
	if err != nil {
		return fmt.Errorf("bench suite: -only: %w", err)
	}
	_, tasksetErr := exec.LookPath("taskset")
	s := &suite{
		bin: *bin, runs: *runs, duration: suiteDuration, port: *port,
		pin: tasksetErr == nil && runtime.NumCPU() >= 2, doc: *doc, log: errOut,
	}
	if *quick {
		s.duration = suiteQuickDuration
	}
	var picked []scenario
	for _, sc := range scenarios() {
		if (!*quick || sc.quick) && match.MatchString(sc.name) {
			picked = append(picked, sc)
		}
	}
	if len(picked) == 0 {
		return fmt.Errorf("bench suite: -only %q matches no scenario", *only)
	}
	head := s.header(*quick)
	var results []result
	var failed []string
	for _, sc := range picked {
		res := s.scenario(ctx, sc)
		results = append(results, res)
		for _, err := range res.errs {
			failed = append(failed, fmt.Sprintf("%s: %v", sc.name, err))
		}
		if ctx.Err() != nil {
			break
		}
	}
	block := head + "\n\n" + table(results)
	if _, err := fmt.Fprintln(out, block); err != nil {
		return fmt.Errorf("bench suite: write the table: %w", err)
	}
	if *doc != "" && ctx.Err() == nil {
		if err := writeDoc(*doc, block); err != nil {
			return fmt.Errorf("bench suite: %w", err)
		}
		fmt.Fprintf(errOut, "bench suite: wrote the table into %s\n", *doc)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bench suite: %w", err)
	}
	if len(failed) > 0 {
		return fmt.Errorf("bench suite: runs that could not be made: %s", strings.Join(failed, "; "))
	}
	return nil
}

// header is the line above the table: when, which commit, on what machine,
// and how.
func (s *suite) header(quick bool) string {
	mode := "full suite"
	if quick {
		mode = "quick mode"
	}
	pin := "server pinned to core 0, generator to core 1 (taskset)"
	if !s.pin {
		pin = "not pinned to cores (no taskset, or one core)"
	}
	runs := "median of 3 runs"
	if s.runs != 3 {
		runs = fmt.Sprintf("median of %d runs", s.runs)
	}
	if s.runs == 1 {
		runs = "1 run"
	}
	return fmt.Sprintf("%s, commit %s, %s (%d cores, load average %s at the start); %s, %s, %s; sends of %v, fresh server and data directory each run, every limit off.",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), gitCommit(s.doc), cpuModel(), runtime.NumCPU(), loadAverage(), mode, runs, pin, s.duration)
}

// scenario runs sc s.runs times, each against a fresh server.
func (s *suite) scenario(ctx context.Context, sc scenario) result {
	res := result{sc: sc}
	for i := range s.runs {
		if ctx.Err() != nil {
			break
		}
		t0 := time.Now()
		var summary string
		err := s.withServer(ctx, func(url string, pid int) error {
			if sc.kind == kindLighthouse {
				p, err := s.runLighthouse(ctx, url)
				for try := 1; err != nil && try < lighthouseTries && ctx.Err() == nil; try++ {
					fmt.Fprintf(s.log, "bench suite: %s run %d: %v; again\n", sc.name, i+1, err)
					p, err = s.runLighthouse(ctx, url)
				}
				if err == nil {
					res.pages = append(res.pages, p)
					summary = fmt.Sprintf("score %.0f, LCP %s, TBT %s", p.Score, fmtDur(p.LCP), fmtDur(p.TBT))
				}
				return err
			}
			rep, err := s.generate(ctx, sc, url, pid)
			if err == nil {
				res.reports = append(res.reports, rep)
				summary = "clean"
				if p := rep.Problems(); len(p) > 0 {
					summary = strings.Join(p, "; ")
				}
			}
			return err
		})
		if err != nil {
			res.errs = append(res.errs, fmt.Errorf("run %d: %w", i+1, err))
			summary = "failed: " + err.Error()
		}
		fmt.Fprintf(s.log, "bench suite: %s run %d/%d in %v: %s\n", sc.name, i+1, s.runs, time.Since(t0).Round(100*time.Millisecond), summary)
	}
	return res
}

// pinned returns the command that runs name with args on core (with
// taskset), or as is when the suite does not pin.
func (s *suite) pinned(ctx context.Context, core int, name string, args ...string) *exec.Cmd {
	cpus := ""
	if s.pin {
		cpus = strconv.Itoa(core)
	}
	return pinned(ctx, cpus, name, args...)
}

// pinned is the command running name with args on cpus (taskset -c), or as
// it is when cpus is empty. taskset executes name in its own process, so
// the command's pid is the program's.
func pinned(ctx context.Context, cpus, name string, args ...string) *exec.Cmd {
	if cpus == "" {
		return exec.CommandContext(ctx, name, args...)
	}
	return exec.CommandContext(ctx, "taskset", append([]string{"-c", cpus, name}, args...)...)
}

// stopServer stops a server with SIGTERM, or SIGKILL after
// serverStopTimeout, and waits for it.
func stopServer(cmd *exec.Cmd, exited <-chan error) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(serverStopTimeout):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// serverLimitsOff are the server's flags that turn off every per-IP and
// per-user limit, which would refuse most of a load from one address.
var serverLimitsOff = []string{
	"-ip-conns", "-1", "-max-conns", "-1", "-ip-rate", "-1", "-ip-burst", "-1",
	"-ip-identities", "-1", "-ip-identity-burst", "-1", "-rate", "-1", "-burst", "-1",
}

// serverStartTimeout bounds a server's start, until it answers HTTP: 20 s,
// far above the tenth of a second it takes, so that only a server that
// cannot start fails it. serverStopTimeout bounds its graceful stop.
const (
	serverStartTimeout = 20 * time.Second
	serverStopTimeout  = 20 * time.Second
)

// withServer starts a fresh server, pinned to core 0, with a new data
// directory and every limit off, waits until it answers, calls f with its
// WebSocket URL and pid, then stops it (SIGTERM) and removes its directory.
func (s *suite) withServer(ctx context.Context, f func(url string, pid int) error) error {
	root, err := os.MkdirTemp("", "chat-bench-")
	if err != nil {
		return fmt.Errorf("make the server's directory: %w", err)
	}
	defer os.RemoveAll(root)
	port := s.port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return err
		}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logPath := filepath.Join(root, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("make the server's log: %w", err)
	}
	defer logFile.Close()
	args := append([]string{"-addr", addr, "-data", filepath.Join(root, "data")}, serverLimitsOff...)
	cmd := s.pinned(ctx, 0, s.bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			stopServer(cmd, exited)
		}
	}()
	if err := waitHTTP(ctx, "http://"+addr+"/", exited); err != nil {
		stopped = errors.Is(err, errExited)
		return fmt.Errorf("%w; its log: %s", err, tail(logPath))
	}
	if err := f("ws://"+addr+"/ws", cmd.Process.Pid); err != nil {
		return err
	}
	select {
	case err := <-exited:
		stopped = true
		return fmt.Errorf("the server exited during the run (%v); its log: %s", err, tail(logPath))
	default:
	}
	return nil
}

// errExited is a server that exited before it answered.
var errExited = errors.New("the server exited before it answered")

// waitHTTP polls url until it answers, the process exits (exited), ctx ends
// or serverStartTimeout passed.
func waitHTTP(ctx context.Context, url string, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, serverStartTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("ask the server: %w", err)
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("%w (%v)", errExited, err)
		case <-ctx.Done():
			return fmt.Errorf("the server did not answer at %s: %w", url, ctx.Err())
		case <-tick.C:
		}
	}
}

// freePort returns a port of 127.0.0.1 free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail is the end of the file at path, for an error: its last 2 KB.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return "(empty)"
	}
	return strings.TrimSpace(string(b))
}

// generate runs the generator for sc against url as a process of its own,
// pinned to core 1, and returns its report. A run that was not clean (exit
// status 1 with a report) is a report, not an error.
func (s *suite) generate(ctx context.Context, sc scenario, url string, pid int) (Report, error) {
	args := append([]string{"bench", "-url", url, "-pid", strconv.Itoa(pid), "-json", "-duration", s.duration.String()}, sc.args...)
	cmd := s.pinned(ctx, 1, s.bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || rep.Clients == 0 {
		return Report{}, fmt.Errorf("the generator wrote no report (%v): %s", runErr, strings.TrimSpace(stderr.String()))
	}
	return rep, nil
}
