package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chatwasm/chat/app/event"
)

// prune runs Prune at now and fails the test on error.
func prune(t *testing.T, s *Store, now time.Time) int {
	t.Helper()
	n, err := s.Prune(context.Background(), now)
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	return n
}

// storedSeqs returns the numbers of room's stored messages.
func storedSeqs(t *testing.T, s *Store, room string) []uint64 {
	t.Helper()
	msgs, _, err := s.After(context.Background(), room, 0, MaxReadLimit)
	if err != nil {
		t.Fatal(err)
	}
	return seqsOf(msgs)
}

// TestDedup_OutlivesRetention stores ten messages with client ids, lets
// retention delete seven, and resends the first: it is the original, with its
// number and time and no text, and uses no number; a resend of a message still
// stored is the original with its text.
func TestDedup_OutlivesRetention(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		opts  Options
		prune time.Time
	}{
		{"retention by count", Options{MaxMessages: 3}, start},
		// Message i is 10-i minutes old at the prune: 1..7 go, 8..10 stay.
		{"retention by age", Options{MaxMessages: -1, MaxAge: 2*time.Minute + 30*time.Second}, start.Add(10 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t, t.TempDir(), tt.opts)
			for i := 1; i <= 10; i++ {
				p := msg("ann", fmt.Sprintf("m%d", i), fmt.Sprintf("text %d", i))
				p.Time = start.Add(time.Duration(i) * time.Minute).UnixMilli()
				add(t, s, "lobby", p)
			}
			if n := prune(t, s, tt.prune); n != 7 {
				t.Fatalf("Prune deleted %d, want 7", n)
			}
			if got := storedSeqs(t, s, "lobby"); !slices.Equal(got, span(8, 10)) {
				t.Fatalf("stored %v, want 8..10", got)
			}

			res := add(t, s, "lobby", msg("ann", "m1", "resent"), msg("ann", "m9", "resent"), msg("ann", "m11", "new"))
			wantGone := Result{Duplicate: true, Message: event.Message{
				Room: "lobby", Seq: 1, ID: "m1", User: "ann", Time: start.Add(time.Minute).UnixMilli()}}
			if res[0] != wantGone {
				t.Errorf("resend of a pruned message = %+v, want %+v", res[0], wantGone)
			}
			wantKept := Result{Duplicate: true, Message: event.Message{
				Room: "lobby", Seq: 9, ID: "m9", User: "ann", Name: "name-ann", Text: "text 9", Time: start.Add(9 * time.Minute).UnixMilli()}}
			if res[1] != wantKept {
				t.Errorf("resend of a stored message = %+v, want %+v", res[1], wantKept)
			}
			if r := res[2]; r.Duplicate || r.Message.Seq != 11 {
				t.Errorf("new message = %+v, want seq 11: the resends used no number", r)
			}
			if got := lastSeqOf(t, s, "lobby"); got != 11 {
				t.Errorf("LastSeq = %d, want 11", got)
			}
		})
	}
}

// TestDedup_Age checks how long Prune keeps a client id: DedupAge after the
// message's time, zero meaning the default and a negative value forever, and
// in any case as long as the message itself is stored.
func TestDedup_Age(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	sent := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		opts  Options
		after time.Duration // from the message to the prune and the resend
		dup   bool
	}{
		{"default, within", Options{MaxAge: time.Minute}, DefaultDedupAge - day, true},
		{"default, beyond", Options{MaxAge: time.Minute}, DefaultDedupAge + day, false},
		{"an hour, within", Options{MaxAge: time.Minute, DedupAge: time.Hour}, 59 * time.Minute, true},
		{"an hour, beyond", Options{MaxAge: time.Minute, DedupAge: time.Hour}, 61 * time.Minute, false},
		{"forever", Options{MaxAge: time.Minute, DedupAge: -1}, 10 * 365 * day, true},
		{"message still stored", Options{MaxMessages: -1, DedupAge: time.Hour}, 2 * time.Hour, true},
		{"message still stored, by count", Options{MaxMessages: 5, DedupAge: time.Hour}, 2 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t, t.TempDir(), tt.opts)
			first := msg("ann", "x", "first")
			first.Time = sent.UnixMilli()
			add(t, s, "lobby", first)

			now := sent.Add(tt.after)
			prune(t, s, now)
			again := msg("ann", "x", "again")
			again.Time = now.UnixMilli()
			r := add(t, s, "lobby", again)[0]
			if tt.dup && (!r.Duplicate || r.Message.Seq != 1) {
				t.Errorf("resend %v later = %+v, want the original, seq 1", tt.after, r)
			}
			if !tt.dup && (r.Duplicate || r.Message.Seq != 2) {
				t.Errorf("resend %v later = %+v, want a new message 2", tt.after, r)
			}
		})
	}
}

// TestDedup_PruneChunks checks that Prune forgets more client ids than one
// chunk holds, and only the old ones.
func TestDedup_PruneChunks(t *testing.T) {
	t.Parallel()
	const old, young = 2*PruneChunk + 10, 5
	s := open(t, t.TempDir(), Options{MaxAge: time.Minute, DedupAge: time.Hour})
	batch := make([]Pending, old+young)
	for i := range batch {
		batch[i] = msg("ann", fmt.Sprint(i), "x")
		if i >= old {
			batch[i].Time = 3_600_000 + 1000 // young at the prune below
		}
	}
	add(t, s, "lobby", batch...)
	prune(t, s, time.UnixMilli(3_600_000+1000+30_000))

	var ids int
	if err := s.db.QueryRow("SELECT COUNT(*) FROM client_ids").Scan(&ids); err != nil {
		t.Fatal(err)
	}
	if ids != young {
		t.Errorf("%d client ids kept, want %d", ids, young)
	}
}

// shippedMigrations are the SHA-256 of each migration that has shipped: a
// shipped migration must never change, since databases already ran it.
var shippedMigrations = []string{
	"3c5ce841c6f886c5aedc258a467b890f4eb1b736c68cf5454cf2d6639d3f08f0",
	"181d8b7bfa59043d5c52cc5dde5dfed64fcbddeabb3e28a6ea8315038570257a",
}

// TestMigrations_Unchanged checks the shipped migrations against their
// hashes.
func TestMigrations_Unchanged(t *testing.T) {
	t.Parallel()
	if len(shippedMigrations) != len(migrations) {
		t.Errorf("%d migrations, %d hashes: add the new migration's hash once it ships", len(migrations), len(shippedMigrations))
	}
	for v, want := range shippedMigrations {
		sum := sha256.Sum256([]byte(migrations[v]))
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("migration %d → %d has changed (sha256 %s, shipped %s): add a new one instead", v, v+1, got, want)
		}
	}
}

// TestMigrate_1To2 builds a version-1 database by hand, with messages with
// and without client ids in two rooms, and opens it: the client ids are
// carried over, so a resend is recognized after retention deleted every
// message, and the numbering goes on.
func TestMigrate_1To2(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		migrations[0],
		"PRAGMA user_version = 1",
		`INSERT INTO rooms (name, last_seq) VALUES ('lobby', 3), ('other', 1)`,
		`INSERT INTO messages (room, seq, client_id, user, name, text, time) VALUES
			('lobby', 1, 'a1', 'ann', 'Ann', 'one', 1000),
			('lobby', 2, '', 'ann', 'Ann', 'two', 2000),
			('lobby', 3, 'b1', 'bob', 'Bob', 'three', 3000),
			('other', 1, 'a1', 'ann', 'Ann', 'elsewhere', 4000)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := open(t, dir, Options{MaxAge: time.Millisecond})
	var version int
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != schemaVersion {
		t.Fatalf("user_version = %d, %v; want %d", version, err, schemaVersion)
	}
	var oldIndex int
	if err := s.db.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE name = 'messages_client_id'`).Scan(&oldIndex); err != nil || oldIndex != 0 {
		t.Errorf("the version-1 index is still there (%d, %v)", oldIndex, err)
	}
	if n := prune(t, s, time.UnixMilli(5000)); n != 4 {
		t.Fatalf("Prune deleted %d, want all 4", n)
	}

	res := add(t, s, "lobby",
		msg("ann", "a1", "resent"), msg("bob", "b1", "resent"), msg("ann", "", "two again"), msg("bob", "a1", "bob's a1"))
	want := []struct {
		seq  uint64
		time int64
		dup  bool
	}{{1, 1000, true}, {3, 3000, true}, {4, 1000, false}, {5, 1000, false}}
	for i, r := range res {
		if w := want[i]; r.Duplicate != w.dup || r.Message.Seq != w.seq || r.Message.Time != w.time {
			t.Errorf("lobby result %d = %+v, want seq %d, time %d, duplicate %v", i, r, w.seq, w.time, w.dup)
		}
	}
	if r := add(t, s, "other", msg("ann", "a1", "resent"))[0]; !r.Duplicate || r.Message.Seq != 1 {
		t.Errorf("other room's resend = %+v, want the original 1", r)
	}
}
