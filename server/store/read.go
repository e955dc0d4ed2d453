package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"

	"github.com/chatwasm/chat/app/event"
)

// The statements of the read path. Each is a range scan of the messages
// table's primary key (room, seq).
const (
	selectFirstSeq = `SELECT MIN(seq) FROM messages WHERE room = ?`
	selectAfter    = `SELECT seq, client_id, user, name, text, time FROM messages
		WHERE room = ? AND seq > ? ORDER BY seq LIMIT ?`
	selectBefore = `SELECT seq, client_id, user, name, text, time FROM messages
		WHERE room = ? AND seq < ? ORDER BY seq DESC LIMIT ?`
)

// After returns up to limit messages of room with a sequence number above
// since, in sequence order: what a client that has seen since needs to catch
// up. A limit above MaxReadLimit is lowered to it; fewer than limit messages
// means the client is caught up, as of the read.
//
// complete is false when messages after since are gone, deleted by retention
// (the oldest stored message has a number above since+1 and since is below the
// room's last number): the caller must tell the client that its history has a
// gap before the messages returned. A room that has no messages, an unknown
// one included, returns no messages and complete true, and so does a since at
// or above the room's last number; a since above it means the client saw
// history this store never had or lost (a restore from an older backup), which
// a caller can detect with LastSeq.
func (s *Store) After(ctx context.Context, room string, since uint64, limit int) (msgs []event.Message, complete bool, err error) {
	if room == "" {
		return nil, false, ErrInvalidRoom
	}
	if limit < 1 {
		return nil, false, ErrInvalidLimit
	}
	limit = min(limit, MaxReadLimit)
	msgs, complete, err = s.after(ctx, room, since, limit)
	if err != nil {
		return nil, false, fmt.Errorf("read %s after %d: %w", room, since, err)
	}
	return msgs, complete, nil
}

// after is After's read transaction: the last number, the first stored one
// and the messages come from one snapshot, so a concurrent Append or Prune
// cannot make them disagree.
func (s *Store) after(ctx context.Context, room string, since uint64, limit int) ([]event.Message, bool, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, false, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() // a read transaction has nothing to commit

	last, err := lastSeq(ctx, tx, room)
	if err != nil {
		return nil, false, err
	}
	if since >= last {
		// Nothing after since (this also keeps since, which a client
		// chose, from reaching SQLite as an out-of-range integer).
		return nil, true, nil
	}
	var first sql.NullInt64
	if err := tx.QueryRowContext(ctx, selectFirstSeq, room).Scan(&first); err != nil {
		return nil, false, fmt.Errorf("read first seq: %w", err)
	}
	firstSeq := last + 1 // every message pruned
	if first.Valid {
		firstSeq = uint64(first.Int64)
	}
	complete := since+1 >= firstSeq

	msgs, err := scanMessages(tx.QueryContext(ctx, selectAfter, room, int64(since), limit))
	if err != nil {
		return nil, false, err
	}
	for i := range msgs {
		msgs[i].Room = room
	}
	return msgs, complete, nil
}

// Last returns the newest n messages of room (at most MaxReadLimit), in
// sequence order: what a person joining the room sees first. more reports
// that older messages are still stored (Before fetches them). An unknown room
// returns no messages.
func (s *Store) Last(ctx context.Context, room string, n int) (msgs []event.Message, more bool, err error) {
	return s.Before(ctx, room, math.MaxUint64, n)
}

// Before returns the newest limit messages (at most MaxReadLimit) of room with
// a sequence number below before, in sequence order: the page of history above
// what a client shows. more reports that messages older than those returned are
// still stored.
func (s *Store) Before(ctx context.Context, room string, before uint64, limit int) (msgs []event.Message, more bool, err error) {
	if room == "" {
		return nil, false, ErrInvalidRoom
	}
	if limit < 1 {
		return nil, false, ErrInvalidLimit
	}
	limit = min(limit, MaxReadLimit)
	// Stored numbers fit an int64; a larger bound means "no bound".
	bound := int64(math.MaxInt64)
	if before < math.MaxInt64 {
		bound = int64(before)
	}
	// One row more than asked tells whether older ones exist.
	msgs, err = scanMessages(s.db.QueryContext(ctx, selectBefore, room, bound, limit+1))
	if err != nil {
		return nil, false, fmt.Errorf("read %s before %d: %w", room, before, err)
	}
	if len(msgs) > limit {
		msgs, more = msgs[:limit], true
	}
	// Newest first from the query; callers want sequence order.
	for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
	for i := range msgs {
		msgs[i].Room = room
	}
	return msgs, more, nil
}

// LastSeq returns room's last sequence number: the number of the newest
// message ever stored in it, pruned or not, and 0 for a room that has none.
func (s *Store) LastSeq(ctx context.Context, room string) (uint64, error) {
	if room == "" {
		return 0, ErrInvalidRoom
	}
	last, err := lastSeq(ctx, s.db, room)
	if err != nil {
		return 0, fmt.Errorf("last seq of %s: %w", room, err)
	}
	return last, nil
}

// scanMessages reads the rows of selectAfter or selectBefore, without Room,
// and closes them.
func scanMessages(rows *sql.Rows, err error) ([]event.Message, error) {
	if err != nil {
		return nil, fmt.Errorf("query messages: %w", err)
	}
	defer rows.Close()
	var msgs []event.Message
	for rows.Next() {
		var m event.Message
		var seq int64
		if err := rows.Scan(&seq, &m.ID, &m.User, &m.Name, &m.Text, &m.Time); err != nil {
			return nil, fmt.Errorf("scan message: %w", err)
		}
		m.Seq = uint64(seq)
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read messages: %w", err)
	}
	return msgs, nil
}
