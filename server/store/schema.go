package store

import (
	"context"
	"fmt"
	"strings"
)

// migrations[v] takes the schema from version v to v+1. To change the schema,
// add a migration and raise schemaVersion (the array's length makes the
// compiler check that they agree); never edit a migration that has shipped.
var migrations = [schemaVersion]string{
	// 0 → 1: the first schema.
	//
	// rooms.last_seq is the last sequence number given in the room. It is
	// kept apart from the messages so that retention can delete every
	// message of a room without the next one reusing a number.
	//
	// messages is keyed by (room, seq) WITHOUT ROWID: the table is the
	// index, so reading a room in seq order and deleting its oldest
	// messages are range scans of one b-tree. client_id is the sender's
	// Send.ID; the partial unique index makes (room, user, client_id)
	// unique where the client gave one, which is how a retried Send is
	// recognized instead of stored twice.
	`CREATE TABLE rooms (
		name     TEXT PRIMARY KEY NOT NULL,
		last_seq INTEGER NOT NULL
	);
	CREATE TABLE messages (
		room      TEXT NOT NULL,
		seq       INTEGER NOT NULL,
		client_id TEXT NOT NULL,
		user      TEXT NOT NULL,
		name      TEXT NOT NULL,
		text      TEXT NOT NULL,
		time      INTEGER NOT NULL,
		PRIMARY KEY (room, seq)
	) WITHOUT ROWID;
	CREATE UNIQUE INDEX messages_client_id ON messages (room, user, client_id) WHERE client_id <> '';`,
}

// init checks that the database is in WAL mode and migrates its schema to
// schemaVersion, in one transaction so that a crash leaves either the old
// schema or the new one.
func (s *Store) init(ctx context.Context) error {
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		// SQLite keeps the old mode where WAL is impossible (some network
		// file systems); durability would hold, concurrent reads would not.
		return fmt.Errorf("journal mode is %q, want wal (is the directory on a local file system?)", mode)
	}

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()

	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > schemaVersion {
		return fmt.Errorf("schema version %d, this program knows up to %d: %w", version, schemaVersion, ErrNewerSchema)
	}
	if version == schemaVersion {
		return nil
	}
	for v := version; v < schemaVersion; v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate schema %d to %d: %w", v, v+1, err)
		}
	}
	// PRAGMA takes no parameters; schemaVersion is a constant.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return fmt.Errorf("set schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
