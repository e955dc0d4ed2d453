package servertest

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// Logger returns a logger that writes the records at level and above, as
// text, to LogWriter(t): a server's log in the test's log, which go test
// prints for a failing test and with -v. New passes slog.LevelWarn; a test
// that wants the whole story passes slog.LevelInfo or lower.
func Logger(t testing.TB, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewTextHandler(LogWriter(t), &slog.HandlerOptions{Level: level}))
}

// LogWriter returns a writer that passes each line written to it to t.Log,
// prefixed "server: ", until the test ends; then it drops them. A server's
// goroutines may log a moment after the test, when t.Log would panic. Lines
// may come in pieces, as from a process's stderr: a line is logged once its
// newline arrives, and a last line without one when the test ends. It is
// safe for concurrent use.
func LogWriter(t testing.TB) io.Writer {
	w := &logWriter{t: t}
	t.Cleanup(w.close)
	return w
}

// logWriter is the writer of LogWriter.
type logWriter struct {
	t       testing.TB
	mu      sync.Mutex
	done    bool
	partial []byte // the start of a line whose newline has not come yet
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.log(w.partial[:i])
		w.partial = w.partial[i+1:]
	}
	w.partial = bytes.Clone(w.partial) // let go of the lines logged
	return len(p), nil
}

// close logs a pending partial line and makes the writer drop what follows.
func (w *logWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.log(w.partial)
		w.partial = nil
	}
	w.done = true
}

// log passes one line to the test's log.
func (w *logWriter) log(line []byte) {
	w.t.Log("server: " + strings.TrimRight(string(line), "\r"))
}
