package e2e

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwasm/chat/app/event"
	"github.com/chatwasm/chat/server/servertest"
	"github.com/chatwasm/chat/server/store"
)

// refusalTimeout bounds how long a server refused the data directory may
// take to exit: it fails before it listens, so seconds are a wide margin on
// a loaded machine, and a server that serves instead never exits.
const refusalTimeout = 15 * time.Second

// freeAddr returns a 127.0.0.1 address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serves returns nil when the server at addr answers a request for its
// manifest.
func serves(addr string) error {
	resp, err := http.Get("http://" + addr + "/manifest.webmanifest")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// TestDataDirInUse starts a second server on the data directory of a running
// one: it must exit at once, with a non-zero status and a message that names
// the directory and says what to do, while the first goes on serving. After
// the first stops (SIGTERM, as in a deploy), the next one starts on the same
// directory.
func TestDataDirInUse(t *testing.T) {
	t.Parallel()
	first := startProcess(t)
	bin, err := chatBinary()
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), refusalTimeout)
	defer cancel()
	second := exec.CommandContext(ctx, bin, "-addr", freeAddr(t), "-data", first.dataDir, "-web", repoRoot)
	var stderr strings.Builder
	second.Stderr = &stderr
	err = second.Run()
	t.Logf("second server: %v; stderr:\n%s", err, stderr.String())
	if ctx.Err() != nil {
		t.Fatalf("the second server on %s did not exit within %v", first.dataDir, refusalTimeout)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() <= 0 {
		t.Fatalf("the second server exited with %v, want a non-zero status", err)
	}
	for _, want := range []string{
		"data directory " + first.dataDir + " is in use by another process",
		"stop the other process, or give this one another -data",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not say %q", want)
		}
	}
	if err := serves(first.addr); err != nil {
		t.Fatalf("the first server stopped serving: %v", err)
	}

	first.terminate()
	first.start() // fails the test unless it serves
}

// TestDataDirModes runs the server with the umask cleared, so that every
// file would be readable by anyone unless the server sets its mode, and
// checks that the secret, the database, its WAL and shared-memory files and
// the lock file are 0600, while it runs and after it stopped.
func TestDataDirModes(t *testing.T) {
	t.Parallel()
	bin, err := chatBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	// The shell clears the umask for the server alone: the test process's
	// umask is shared by every test running beside this one.
	cmd := exec.Command("/bin/sh", "-c", `umask 0 && exec "$@"`, "sh",
		bin, "-addr", addr, "-data", dir, "-web", repoRoot)
	cmd.Stderr = servertest.LogWriter(t)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	servertest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error { return serves(addr) })

	check := func(when string, files ...string) {
		t.Helper()
		for _, name := range files {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Errorf("%s: %v", when, err)
				continue
			}
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("%s: %s has mode %o, want 600", when, name, got)
			}
		}
	}
	check("while serving", "secret", "chat.db", "chat.db-wal", "chat.db-shm", "lock")

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the server did not exit cleanly on SIGTERM: %v", err)
	}
	// A clean close folds the WAL into the database and removes it.
	check("after SIGTERM", "secret", "chat.db", "lock")
}

// rawClient speaks the protocol over a bare WebSocket, for tests that check
// the frames themselves rather than what a page shows.
type rawClient struct {
	t    *testing.T
	conn *websocket.Conn
	// pending holds events of a frame read but not yet returned.
	pending []event.Event
}

// dialRaw connects to the server at addr and joins the lobby as name, with
// token if not empty. It returns the client, the Joined and the history that
// followed it (the messages up to Joined.Seq).
func dialRaw(t *testing.T, addr, name, token string) (*rawClient, event.Joined, []event.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, servertest.SocketURL("http://"+addr), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := &rawClient{t: t, conn: conn}
	t.Cleanup(func() { conn.CloseNow() })
	c.write(event.Join{Name: name, Token: token})
	joined, ok := c.next().(event.Joined)
	if !ok {
		t.Fatalf("the first event after join is not joined")
	}
	var history []event.Message
	for last := uint64(0); last < joined.Seq; {
		m, ok := c.next().(event.Message)
		if !ok {
			t.Fatalf("history: an event other than a message before seq %d", joined.Seq)
		}
		history = append(history, m)
		last = m.Seq
	}
	return c, joined, history
}

// write sends e as one frame.
func (c *rawClient) write(e event.Event) {
	c.t.Helper()
	b, err := event.Encode(e)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("write %T: %v", e, err)
	}
}

// next returns the next event but pings, which it answers.
func (c *rawClient) next() event.Event {
	c.t.Helper()
	for {
		for len(c.pending) > 0 {
			e := c.pending[0]
			c.pending = c.pending[1:]
			if _, ok := e.(event.Ping); ok {
				c.write(event.Pong{})
				continue
			}
			return e
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, b, err := c.conn.Read(ctx)
		cancel()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		events, err := event.DecodeServer(b)
		if err != nil {
			c.t.Fatalf("decode %q: %v", b, err)
		}
		c.pending = events
	}
}

// TestResendAfterRetention runs the real server with -retain 3: ten messages
// sent with ids, a restart (which applies the retention), and the first one
// sent again with its id. It must be acknowledged with its original number,
// not stored again, although its text is gone; the next message gets the
// next number.
func TestResendAfterRetention(t *testing.T) {
	t.Parallel()
	retain := []string{"-retain", "3"}
	srv := startProcess(t, retain...)
	ann, joined, _ := dialRaw(t, srv.addr, "Ann", "")
	for i := 1; i <= 10; i++ {
		ann.write(event.Send{ID: fmt.Sprintf("m%d", i), Text: fmt.Sprintf("text %d", i)})
		m, ok := ann.next().(event.Message)
		if !ok || m.Seq != uint64(i) {
			t.Fatalf("echo of m%d = %+v, want message %d", i, m, i)
		}
	}
	ann.conn.Close(websocket.StatusNormalClosure, "")

	srv.terminate()
	srv.start(retain...)
	// The server applies the retention once it serves: wait until the
	// database, read beside it, holds 8..10 alone.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(srv.dataDir, store.FileName)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	servertest.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		var first, n int
		if err := db.QueryRow(`SELECT MIN(seq), COUNT(*) FROM messages WHERE room = 'lobby'`).Scan(&first, &n); err != nil {
			return err
		}
		if first != 8 || n != 3 {
			return fmt.Errorf("stored: %d messages from %d, want 8..10", n, first)
		}
		return nil
	})
	db.Close()

	back, _, _ := dialRaw(t, srv.addr, "Ann", joined.Token)
	back.write(event.Send{ID: "m1", Text: "text 1"})
	if e := back.next(); e != (event.Ack{ID: "m1", Seq: 1}) {
		t.Fatalf("resend of m1 after retention = %#v, want ack of seq 1", e)
	}
	back.write(event.Send{ID: "m11", Text: "text 11"})
	if m, ok := back.next().(event.Message); !ok || m.Seq != 11 || m.ID != "m11" {
		t.Fatalf("next message = %+v, want m11 as seq 11: the resend used no number", m)
	}
}
