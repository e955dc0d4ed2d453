package store

import (
	"context"
	"fmt"
	"strings"
	"time"
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

	// 1 → 2: deduplication outlives retention; a written meta table.
	//
	// client_ids remembers the seq and time of every message stored with a
	// client id, so that a resend is recognized after retention deleted
	// the message itself (the unique index of version 1 went with the
	// rows). Prune keeps its rows for Options.DedupAge, and as long as
	// their message is stored. It is filled from the messages kept so
	// far, and takes over from the old index, which is dropped: one unique
	// index per insert is enough.
	//
	// meta holds facts about the database itself; Open writes the time
	// it opened it, which proves at every start that the database can
	// be written.
	`CREATE TABLE client_ids (
		room      TEXT NOT NULL,
		user      TEXT NOT NULL,
		client_id TEXT NOT NULL,
		seq       INTEGER NOT NULL,
		time      INTEGER NOT NULL,
		PRIMARY KEY (room, user, client_id)
	) WITHOUT ROWID;
	CREATE INDEX client_ids_time ON client_ids (room, time);
	INSERT INTO client_ids (room, user, client_id, seq, time)
		SELECT room, user, client_id, seq, time FROM messages WHERE client_id <> '';
	DROP INDEX messages_client_id;
	CREATE TABLE meta (
		key   TEXT PRIMARY KEY NOT NULL,
		value INTEGER NOT NULL
	) WITHOUT ROWID;`,
}

// upsertOpened writes the meta row "opened": when the database was last opened,
// in Unix milliseconds.
const upsertOpened = `INSERT INTO meta (key, value) VALUES ('opened', ?)
	ON CONFLICT (key) DO UPDATE SET value = excluded.value`

// init checks that the database is in WAL mode, migrates its schema to
// schemaVersion and records the time it was opened, all in one transaction
// so that a crash leaves either the old schema or the new one. The write is
// done at every open, migration or not: a database that cannot be written
// (a read-only file system or file, a directory of another user) fails here,
// with ErrNotWritable, instead of starting a server that would acknowledge
// nothing it receives.
func (s *Store) init(ctx context.Context, now time.Time) error {
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		// Opening the connection set WAL mode, which needs the -wal and
		// -shm files: a directory that cannot be written fails here.
		return s.writeError(fmt.Errorf("read journal mode: %w", err))
	}
	if !strings.EqualFold(mode, "wal") {
		// SQLite keeps the old mode where WAL is impossible (some network
		// file systems); durability would hold, concurrent reads would not.
		return fmt.Errorf("journal mode is %q, want wal (is the directory on a local file system?)", mode)
	}

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	// BEGIN IMMEDIATE (see dsn) already asks for the write lock.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.writeError(fmt.Errorf("begin: %w", err))
	}
	defer tx.Rollback()

	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > schemaVersion {
		return fmt.Errorf("schema version %d, this program knows up to %d: %w", version, schemaVersion, ErrNewerSchema)
	}
	for v := version; v < schemaVersion; v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return s.writeError(fmt.Errorf("migrate schema %d to %d: %w", v, v+1, err))
		}
	}
	if version != schemaVersion {
		// PRAGMA takes no parameters; schemaVersion is a constant.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
			return s.writeError(fmt.Errorf("set schema version: %w", err))
		}
	}
	if _, err := tx.ExecContext(ctx, upsertOpened, now.UnixMilli()); err != nil {
		return s.writeError(fmt.Errorf("record the open: %w", err))
	}
	if err := tx.Commit(); err != nil {
		return s.writeError(fmt.Errorf("commit: %w", err))
	}
	return nil
}
