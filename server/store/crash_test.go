package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// helperDirEnv names the environment variable that turns TestHelperProcess
// into the crash test's writer: its value is the store's directory.
const helperDirEnv = "STORE_TEST_HELPER_DIR"

// Sizes of the crash test.
const (
	// crashBatch is how many messages the writer appends per batch.
	crashBatch = 7
	// crashAcks is how many acknowledged messages the parent waits for
	// before it kills the writer: enough for several dozen commits.
	crashAcks = 300
	// crashMaxBatches bounds the writer, so that it stops by itself should
	// the parent never kill it.
	crashMaxBatches = 100000
)

// TestHelperProcess is not a test: run by TestCrash_AcknowledgedSurvive with
// helperDirEnv set, it is the writer that gets killed. It appends batches to
// the store in a loop and prints "seq id" for every message as soon as Append
// returns, that is, once the message is acknowledged. Without the variable it
// returns at once.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		return
	}
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper: open:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	deadline := time.Now().Add(time.Minute)
	for b := 0; b < crashMaxBatches && time.Now().Before(deadline); b++ {
		batch := make([]Pending, crashBatch)
		for i := range batch {
			id := fmt.Sprintf("b%d.%d", b, i)
			batch[i] = Pending{ID: id, User: "writer", Name: "Writer", Text: "text " + id, Time: int64(b)}
		}
		res, err := s.Append(ctx, "lobby", batch)
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper: append:", err)
			os.Exit(2)
		}
		var out strings.Builder
		for _, r := range res {
			fmt.Fprintf(&out, "%d %s\n", r.Message.Seq, r.Message.ID)
		}
		// One unbuffered write per batch: what the parent reads was
		// acknowledged. A write error means the parent is gone.
		if _, err := os.Stdout.WriteString(out.String()); err != nil {
			os.Exit(3)
		}
	}
	os.Exit(0)
}

// TestCrash_AcknowledgedSurvive kills a writer with SIGKILL while it appends
// and checks that every message it had acknowledged is stored, that the
// numbers are contiguous from 1, and that numbering continues after them.
func TestCrash_AcknowledgedSurvive(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperDirEnv+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()

	acked := make(map[uint64]string) // seq → client id
	lines := bufio.NewScanner(stdout)
	read := func() bool {
		if !lines.Scan() {
			return false
		}
		seq, id, ok := strings.Cut(lines.Text(), " ")
		n, err := strconv.ParseUint(seq, 10, 64)
		if !ok || err != nil {
			t.Fatalf("writer printed %q", lines.Text())
		}
		acked[n] = id
		return true
	}
	for len(acked) < crashAcks {
		if !read() {
			cmd.Wait()
			t.Fatalf("writer stopped after %d acknowledgements: %v\n%s", len(acked), lines.Err(), stderr.String())
		}
	}
	// The writer is between two Appends or inside one: kill it there.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	killed = true
	// Lines written before the kill are acknowledged too.
	for read() {
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != -1 {
		t.Fatalf("writer was not killed mid-loop: %v\n%s", err, stderr.String())
	}

	s := open(t, dir, Options{})
	ctx := context.Background()
	last := lastSeqOf(t, s, "lobby")
	var maxAcked uint64
	for seq := range acked {
		maxAcked = max(maxAcked, seq)
	}
	if last < maxAcked {
		t.Fatalf("LastSeq after the crash %d, but %d was acknowledged", last, maxAcked)
	}
	var stored uint64
	for since := uint64(0); since < last; {
		msgs, complete, err := s.After(ctx, "lobby", since, MaxReadLimit)
		if err != nil || !complete || len(msgs) == 0 {
			t.Fatalf("After(%d): %d messages, complete %v, err %v", since, len(msgs), complete, err)
		}
		for _, m := range msgs {
			if m.Seq != since+1 {
				t.Fatalf("seq %d follows %d", m.Seq, since)
			}
			if id, ok := acked[m.Seq]; ok && id != m.ID {
				t.Errorf("seq %d holds %q, acknowledged as %q", m.Seq, m.ID, id)
			}
			if m.Text != "text "+m.ID {
				t.Errorf("seq %d: text %q for id %q", m.Seq, m.Text, m.ID)
			}
			since = m.Seq
			stored++
		}
	}
	if stored != last {
		t.Errorf("%d messages stored, LastSeq %d", stored, last)
	}
	t.Logf("%d acknowledged, %d stored (the difference was committed but not yet printed)", len(acked), stored)

	// A retry of an acknowledged message is still recognized, and a new
	// message continues the numbering.
	res := add(t, s, "lobby",
		Pending{ID: acked[maxAcked], User: "writer", Name: "Writer", Text: "retry"},
		Pending{ID: "after", User: "writer", Name: "Writer", Text: "text after"})
	if !res[0].Duplicate || res[0].Message.Seq != maxAcked {
		t.Errorf("retry of %d after the crash: %+v", maxAcked, res[0])
	}
	if res[1].Duplicate || res[1].Message.Seq != last+1 {
		t.Errorf("first Append after the crash: %+v, want seq %d", res[1], last+1)
	}
}
