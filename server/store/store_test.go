package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatwasm/chat/app/event"
)

// open opens a store in dir and closes it when the test ends.
func open(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// add appends batch to room and fails the test on error.
func add(t testing.TB, s *Store, room string, batch ...Pending) []Result {
	t.Helper()
	res, err := s.Append(context.Background(), room, batch)
	if err != nil {
		t.Fatalf("Append(%s, %d messages): %v", room, len(batch), err)
	}
	if len(res) != len(batch) {
		t.Fatalf("Append(%s) returned %d results for %d messages", room, len(res), len(batch))
	}
	return res
}

// msg is a Pending from user with client id and text, at time 1000.
func msg(user, id, text string) Pending {
	return Pending{ID: id, User: user, Name: "name-" + user, Text: text, Time: 1000}
}

// seqsOf returns the sequence numbers of msgs.
func seqsOf(msgs []event.Message) []uint64 {
	seqs := make([]uint64, len(msgs))
	for i, m := range msgs {
		seqs[i] = m.Seq
	}
	return seqs
}

// span returns from, from+1, …, to (nil when to < from).
func span(from, to uint64) []uint64 {
	var seqs []uint64
	for s := from; s <= to; s++ {
		seqs = append(seqs, s)
	}
	return seqs
}

// lastSeqOf returns room's last sequence number and fails the test on error.
func lastSeqOf(t testing.TB, s *Store, room string) uint64 {
	t.Helper()
	last, err := s.LastSeq(context.Background(), room)
	if err != nil {
		t.Fatalf("LastSeq(%s): %v", room, err)
	}
	return last
}

// TestOpen_Settings checks that Open creates the directory privately and that
// every pooled connection runs with the settings durability depends on.
func TestOpen_Settings(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data", "history")
	s := open(t, dir, Options{})

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != DirPerm {
		t.Errorf("directory mode %o, want %o", got, DirPerm)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Errorf("database file: %v", err)
	}
	if got, want := s.Path(), filepath.Join(dir, FileName); got != want {
		t.Errorf("Path() = %s, want %s", got, want)
	}

	// Hold every connection of the pool at once, so each is checked.
	ctx := context.Background()
	conns := make([]*sql.Conn, MaxConns)
	for i := range conns {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatalf("conn %d: %v", i, err)
		}
		conns[i] = c
		defer c.Close() // if the test fails before they are closed below
	}
	for i, c := range conns {
		for _, p := range []struct {
			pragma, want string
		}{
			{"journal_mode", "wal"},
			{"synchronous", "2"}, // FULL
			{"busy_timeout", "5000"},
		} {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(&got); err != nil {
				t.Fatalf("conn %d: PRAGMA %s: %v", i, p.pragma, err)
			}
			if got != p.want {
				t.Errorf("conn %d: PRAGMA %s = %s, want %s", i, p.pragma, got, p.want)
			}
		}
	}
	for _, c := range conns {
		c.Close()
	}
	var version int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version != schemaVersion {
		t.Errorf("user_version = %d, want %d", version, schemaVersion)
	}
}

// TestOpen_OddPath checks that characters that mean something in a URI reach
// the file system as they are.
func TestOpen_OddPath(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a?b#c %41 d&e=f")
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	add(t, s, "lobby", msg("ann", "1", "hello"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Fatalf("database not where asked: %v", err)
	}
	s = open(t, dir, Options{})
	if got := lastSeqOf(t, s, "lobby"); got != 1 {
		t.Errorf("LastSeq after reopen = %d, want 1", got)
	}
}

// TestOpen_NewerSchema checks that Open refuses a database written by a newer
// version rather than risking it.
func TestOpen_NewerSchema(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if !errors.Is(err, ErrNewerSchema) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open of a newer schema: %v, want ErrNewerSchema", err)
	}
}

// TestOpen_NotADatabase checks that a file that is not SQLite fails Open with
// an error naming the file.
func TestOpen_NotADatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open of a garbage file succeeded")
	}
	if !strings.Contains(err.Error(), FileName) {
		t.Errorf("error %q does not name the file", err)
	}
}

// TestClose checks that a closed store refuses work instead of panicking.
func TestClose(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(context.Background(), "lobby", []Pending{msg("ann", "", "x")}); err == nil {
		t.Errorf("Append after Close: %v, want an error", err)
	}
	if _, err := s.LastSeq(context.Background(), "lobby"); err == nil {
		t.Error("LastSeq after Close succeeded")
	}
}
