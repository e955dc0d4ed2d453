package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"
)

// The statements of Prune.
const (
	selectRooms = `SELECT name FROM rooms ORDER BY name`
	// selectFirstYoung finds the oldest (by seq) message after seq ? young
	// enough to keep. It walks the room from there and stops at the first
	// match, which after a previous prune is the first row it reads.
	selectFirstYoung = `SELECT seq FROM messages WHERE room = ? AND seq > ? AND time >= ? ORDER BY seq LIMIT 1`
	deleteUpTo       = `DELETE FROM messages WHERE room = ? AND seq <= ?`
	// deleteClientIDs deletes up to a chunk of room's client ids older than
	// a time whose messages are gone (numbered below the first kept).
	deleteClientIDs = `DELETE FROM client_ids WHERE room = ? AND (user, client_id) IN (
		SELECT user, client_id FROM client_ids WHERE room = ? AND time < ? AND seq < ? LIMIT ?)`
)

// Prune applies the retention of Options to every room and returns how many
// messages it deleted. now is the time that MaxAge is measured back from.
//
// It deletes only a room's oldest messages, so what stays is always a
// contiguous run of numbers ending at the room's last one; After relies on
// that. By count it keeps the newest MaxMessages. By age it deletes, of the
// messages those leave, the ones before the oldest that is younger than
// MaxAge: a message that looks old only because the server's clock went back
// stays until no younger one precedes it. It never changes a room's last
// sequence number.
//
// Then it forgets the client ids older than DedupAge whose messages are
// gone: a resend is recognized as long as either is kept. Those are not
// counted in the result.
//
// Prune deletes at most PruneChunk rows per transaction, so Appends are not
// held up for long. On error it returns how many messages it had deleted.
func (s *Store) Prune(ctx context.Context, now time.Time) (int, error) {
	keep := s.opts.maxMessages()
	dedup := s.opts.dedupAge()
	if keep == 0 && s.opts.MaxAge <= 0 && dedup == 0 {
		return 0, nil
	}
	rooms, err := s.roomNames(ctx)
	if err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	// Messages with time >= youngest are young enough to keep.
	youngest := int64(math.MinInt64)
	if s.opts.MaxAge > 0 {
		youngest = now.Add(-s.opts.MaxAge).UnixMilli()
	}
	total := 0
	for _, room := range rooms {
		n, err := s.pruneRoom(ctx, room, keep, youngest)
		total += n
		if err != nil {
			return total, fmt.Errorf("prune %s: %w", room, err)
		}
		if dedup > 0 {
			if err := s.pruneClientIDs(ctx, room, now.Add(-dedup).UnixMilli()); err != nil {
				return total, fmt.Errorf("prune client ids of %s: %w", room, err)
			}
		}
	}
	return total, nil
}

// pruneClientIDs deletes room's client ids with a time before oldest whose
// messages are no longer stored, PruneChunk at a time.
func (s *Store) pruneClientIDs(ctx context.Context, room string, oldest int64) error {
	first, err := s.firstKept(ctx, room)
	if err != nil {
		return err
	}
	// Messages below first are gone for good: a later Prune only raises
	// it, and new ones get higher numbers.
	for {
		n, err := s.deleteClientIDs(ctx, room, oldest, first)
		if err != nil || n < PruneChunk {
			return err
		}
	}
}

// firstKept returns the number of room's oldest stored message, or the next
// number when none is stored.
func (s *Store) firstKept(ctx context.Context, room string) (int64, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() // a read transaction has nothing to commit

	var first sql.NullInt64
	if err := tx.QueryRowContext(ctx, selectFirstSeq, room).Scan(&first); err != nil {
		return 0, fmt.Errorf("read first seq: %w", err)
	}
	if first.Valid {
		return first.Int64, nil
	}
	last, err := lastSeq(ctx, tx, room)
	if err != nil {
		return 0, err
	}
	return int64(last) + 1, nil
}

// deleteClientIDs deletes up to PruneChunk of room's client ids with a time
// before oldest and a number below first, in one write transaction, and
// returns how many it deleted.
func (s *Store) deleteClientIDs(ctx context.Context, room string, oldest, first int64) (int, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	res, err := s.db.ExecContext(ctx, deleteClientIDs, room, room, oldest, first, PruneChunk)
	if err != nil {
		return 0, fmt.Errorf("delete client ids before %d: %w", oldest, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete client ids before %d: %w", oldest, err)
	}
	return int(n), nil
}

// roomNames returns the name of every room that ever had a message.
func (s *Store) roomNames(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, selectRooms)
	if err != nil {
		return nil, fmt.Errorf("list rooms: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("list rooms: %w", err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list rooms: %w", err)
	}
	return names, nil
}

// pruneRoom deletes room's messages beyond the newest keep (0: no limit) and
// those before the first with time >= youngest, PruneChunk at a time.
func (s *Store) pruneRoom(ctx context.Context, room string, keep int, youngest int64) (int, error) {
	cutoff, first, err := s.pruneBounds(ctx, room, keep, youngest)
	if err != nil {
		return 0, err
	}
	total := 0
	// Messages first..cutoff are to go. Messages appended meanwhile have
	// higher numbers, so the bounds stay right across the chunks.
	for first <= cutoff {
		end := min(cutoff, first+PruneChunk-1)
		n, err := s.deleteUpTo(ctx, room, end)
		total += n
		if err != nil {
			return total, err
		}
		first = end + 1
	}
	return total, nil
}

// pruneBounds returns the highest number of room to delete (0 for none) and
// the oldest stored one, from one snapshot.
func (s *Store) pruneBounds(ctx context.Context, room string, keep int, youngest int64) (cutoff, first int64, err error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, 0, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() // a read transaction has nothing to commit

	last, err := lastSeq(ctx, tx, room)
	if err != nil {
		return 0, 0, err
	}
	var firstSeq sql.NullInt64
	if err := tx.QueryRowContext(ctx, selectFirstSeq, room).Scan(&firstSeq); err != nil {
		return 0, 0, fmt.Errorf("read first seq: %w", err)
	}
	if !firstSeq.Valid {
		return 0, 0, nil // nothing stored
	}
	if keep > 0 && last > uint64(keep) {
		cutoff = int64(last) - int64(keep)
	}
	if youngest != math.MinInt64 {
		var young int64
		// Look past the messages retention by count deletes anyway, so
		// that the result does not depend on which rule runs first and a
		// second Prune finds nothing more to do.
		err := tx.QueryRowContext(ctx, selectFirstYoung, room, cutoff, youngest).Scan(&young)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			cutoff = int64(last) // every stored message is too old
		case err != nil:
			return 0, 0, fmt.Errorf("find first young message: %w", err)
		default:
			cutoff = max(cutoff, young-1)
		}
	}
	return cutoff, firstSeq.Int64, nil
}

// deleteUpTo deletes room's messages numbered up to end in one write
// transaction and returns how many it deleted.
func (s *Store) deleteUpTo(ctx context.Context, room string, end int64) (int, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	res, err := s.db.ExecContext(ctx, deleteUpTo, room, end)
	if err != nil {
		return 0, fmt.Errorf("delete up to %d: %w", end, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete up to %d: %w", end, err)
	}
	return int(n), nil
}
