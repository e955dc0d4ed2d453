package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/chatwasm/chat/app/event"
)

// Pending is a message the server accepted but has not stored yet.
type Pending struct {
	// ID is the client's Send.ID. A non-empty ID makes the message
	// idempotent: storing (room, User, ID) a second time returns the first
	// message instead. Empty means the client gave none: never deduplicated.
	ID string
	// User is the sender's identity (event.Joined.User), Name the name it
	// goes by, Text what it wrote.
	User, Name, Text string
	// Time is when the server accepted the message, in Unix milliseconds; it
	// is stored as given and is what retention by age judges.
	Time int64
}

// Result is what Append did with one Pending.
type Result struct {
	// Message is the stored message: the new one, or when Duplicate the
	// original, with its Room, Seq, ID, User and Time. A duplicate's Name
	// and Text are the original's while retention keeps it, and empty once
	// retention deleted it: its client id outlives it (Options.DedupAge).
	Message event.Message
	// Duplicate reports that (room, User, ID) was already stored, by an
	// earlier Append or earlier in the same batch, so nothing new was stored
	// and no sequence number was used.
	Duplicate bool
}

// Append stores batch in room, in one transaction: the whole batch costs one
// fsync (group commit), so a caller that gathers the messages arriving while
// the previous Append runs gets throughput without giving up durability.
//
// Each new message gets the room's next sequence number, in batch order:
// numbers start at 1, grow by one, and are never reused, even after a restart
// or after Prune deleted every message of the room. A Pending whose non-empty
// ID the same User already used in room (earlier, or earlier in this batch) is
// not stored again; its Result is the original message with Duplicate set.
// Deduplication reaches back Options.DedupAge, and as far as retention keeps
// messages if that is further.
//
// Append returns one Result per Pending, in order. When it returns nil, every
// message of the batch is durable (synchronous=FULL). When it returns an
// error, none of the batch was stored and no sequence number was used. (One
// exception, with a failing disk: if the final fsync itself fails, the batch
// is in the WAL file and can reappear if the process dies before its next
// write; client ids make a retry of it harmless.) An empty batch stores
// nothing and returns no Results.
func (s *Store) Append(ctx context.Context, room string, batch []Pending) ([]Result, error) {
	if room == "" {
		return nil, ErrInvalidRoom
	}
	if len(batch) == 0 {
		return nil, nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	results, err := s.appendTx(ctx, room, batch)
	if err != nil {
		return nil, fmt.Errorf("append to %s: %w", room, err)
	}
	return results, nil
}

// The statements of appendTx. The client id's insert has the primary key of
// client_ids as its conflict target, the one clash that means a resend; a
// clash on the messages' (room, seq), which would be a bug, fails the
// statement instead.
const (
	selectLastSeq  = `SELECT last_seq FROM rooms WHERE name = ?`
	insertClientID = `INSERT INTO client_ids (room, user, client_id, seq, time) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (room, user, client_id) DO NOTHING`
	selectClientID = `SELECT seq, time FROM client_ids WHERE room = ? AND user = ? AND client_id = ?`
	insertMessage  = `INSERT INTO messages (room, seq, client_id, user, name, text, time)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	// selectOriginal reads what is left of a resend's original, which
	// retention may have deleted.
	selectOriginal = `SELECT name, text, time FROM messages
		WHERE room = ? AND seq = ? AND user = ? AND client_id = ?`
	upsertLastSeq = `INSERT INTO rooms (name, last_seq) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET last_seq = excluded.last_seq`
)

// appendTx is Append's transaction. The caller holds writeMu.
func (s *Store) appendTx(ctx context.Context, room string, batch []Pending) ([]Result, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit

	last, err := scanLastSeq(s.stmt(ctx, tx, selectLastSeq).QueryRowContext(ctx, room))
	if err != nil {
		return nil, err
	}
	insert := s.stmt(ctx, tx, insertMessage)
	insertID := s.stmt(ctx, tx, insertClientID)

	results := make([]Result, len(batch))
	seq := last
	for i, p := range batch {
		m := event.Message{Room: room, Seq: seq + 1, ID: p.ID, User: p.User, Name: p.Name, Text: p.Text, Time: p.Time}
		if p.ID != "" {
			res, err := insertID.ExecContext(ctx, room, p.User, p.ID, int64(m.Seq), p.Time)
			if err != nil {
				return nil, fmt.Errorf("insert client id of message %d of %d: %w", i+1, len(batch), err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return nil, fmt.Errorf("insert client id of message %d of %d: %w", i+1, len(batch), err)
			}
			if n == 0 {
				orig, err := s.original(ctx, tx, room, p)
				if err != nil {
					return nil, fmt.Errorf("read original of message %d (id %q): %w", i+1, p.ID, err)
				}
				results[i] = Result{Message: orig, Duplicate: true}
				continue
			}
		}
		if _, err := insert.ExecContext(ctx, room, int64(m.Seq), p.ID, p.User, p.Name, p.Text, p.Time); err != nil {
			return nil, fmt.Errorf("insert message %d of %d: %w", i+1, len(batch), err)
		}
		seq = m.Seq
		results[i] = Result{Message: m}
	}

	if seq != last {
		if _, err := s.stmt(ctx, tx, upsertLastSeq).ExecContext(ctx, room, int64(seq)); err != nil {
			return nil, fmt.Errorf("update last seq: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return results, nil
}

// original returns what is known of the message whose client id p repeats:
// its number and time from client_ids, and its name and text if retention
// still keeps it.
func (s *Store) original(ctx context.Context, tx *sql.Tx, room string, p Pending) (event.Message, error) {
	orig := event.Message{Room: room, ID: p.ID, User: p.User}
	var seq int64
	if err := s.stmt(ctx, tx, selectClientID).QueryRowContext(ctx, room, p.User, p.ID).Scan(&seq, &orig.Time); err != nil {
		return event.Message{}, fmt.Errorf("read client id: %w", err)
	}
	orig.Seq = uint64(seq)
	err := s.stmt(ctx, tx, selectOriginal).QueryRowContext(ctx, room, seq, p.User, p.ID).Scan(&orig.Name, &orig.Text, &orig.Time)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return event.Message{}, fmt.Errorf("read message %d: %w", seq, err)
	}
	return orig, nil
}

// lastSeq returns room's last sequence number as q sees it, 0 for a room
// that has none. Reads use it; Append uses its prepared statement.
func lastSeq(ctx context.Context, q querier, room string) (uint64, error) {
	return scanLastSeq(q.QueryRowContext(ctx, selectLastSeq, room))
}

// scanLastSeq reads the result of selectLastSeq: no row is a room that has
// none, 0.
func scanLastSeq(row *sql.Row) (uint64, error) {
	var last int64
	err := row.Scan(&last)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("read last seq: %w", err)
	}
	return uint64(last), nil
}

// querier is what *sql.DB and *sql.Tx have in common for reading.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}
