// Package store is the chat's durable history: every message the server
// acknowledged, kept in an embedded SQLite database (modernc.org/sqlite, pure
// Go) so that it survives a crash of the process (kill -9), a power loss and a
// restart.
//
// Durability: the database runs in WAL mode with synchronous=FULL, so a
// transaction is on stable storage (the WAL is fsynced) when its COMMIT
// returns. Append stores a whole batch in one transaction, so a batch costs one
// fsync however many messages it holds (group commit), and when Append
// returns nil every message of the batch is durable; when it returns an error,
// none of the batch was stored.
//
// Deduplication: a message sent with a client id (Pending.ID) is stored once.
// The store remembers the id and the number it got in a table of its own,
// which outlives the message: a resend is recognized for Options.DedupAge
// (30 days by default) after the original was accepted, and at least as long
// as the original is stored, whatever the retention of the messages.
//
// Files: the database and the files SQLite keeps beside it are mode FilePerm
// (0600) whatever the umask, and Open writes to the database before it
// returns, so a directory that cannot be written fails at start.
//
// Ordering: each room numbers its messages 1, 2, 3, … in the order Append
// stored them. The last number given is kept in its own row, so a number is
// never given twice, not after a restart and not after retention deleted every
// message of the room. Retention (Prune) deletes only the oldest messages of a
// room, so what is stored of a room is always a contiguous run of numbers
// ending at the last one; a reader can therefore tell a client exactly when
// history it asks for is gone (see After).
//
// Concurrency: a Store is safe for use by many goroutines. Writes (Append,
// Prune) are serialized inside the Store, as SQLite allows one writer at a
// time; reads run concurrently with them and with each other.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"modernc.org/sqlite" // also registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// Limits and defaults of the store.
const (
	// DefaultMaxMessages is the retention by count used when
	// Options.MaxMessages is zero: 10,000 messages per room. At the protocol's
	// largest message (2,000 characters) that is at most ~80 MB per room, and
	// at a typical chat line (~100 bytes) about 1 MB, while it keeps days of
	// scroll-back for a busy room.
	DefaultMaxMessages = 10000

	// MaxReadLimit is the most messages one After, Before or Last call
	// returns; a larger limit is lowered to it. 1,000 messages are far more
	// than a screen, and bounding a read bounds the memory and the time a
	// single request can take (a client pages with After for more).
	MaxReadLimit = 1000

	// PruneChunk is the most messages Prune deletes in one transaction: 1,000
	// rows delete in a few milliseconds, so an Append waiting behind a large
	// prune (the first one after retention was tightened) waits that long, not
	// for the whole deletion.
	PruneChunk = 1000

	// BusyTimeout is how long a statement waits for a lock held by another
	// connection before failing with SQLITE_BUSY: 5 s. Writes are serialized
	// in-process, so in practice only a checkpoint or another process holding
	// the database (a backup, the sqlite3 shell) makes anyone wait.
	BusyTimeout = 5 * time.Second

	// MaxConns is the size of the connection pool: 4, one writer and three
	// readers. SQLite in WAL mode runs one writer and any number of readers
	// at once; each connection has its own page cache, and the server runs on
	// two cores, so more readers would add memory, not throughput.
	MaxConns = 4

	// FileName is the database's file name inside the directory given to
	// Open. SQLite keeps FileName+"-wal" and FileName+"-shm" beside it; a
	// backup must copy all three, or use SQLite's backup API.
	FileName = "chat.db"

	// DirPerm is the mode of the directory Open creates: 0o700, because the
	// history is private to the server's user.
	DirPerm = 0o700

	// FilePerm is the mode of FileName and of its -wal and -shm files,
	// whatever the umask: 0o600, for the same reason. SQLite creates the
	// -wal and -shm files with the database file's mode, so Open sets that
	// one before SQLite opens it, and corrects the others if they exist.
	FilePerm = 0o600

	// DefaultDedupAge is how long a client id is remembered when
	// Options.DedupAge is zero: 30 days, the lifetime of an identity token
	// (identity.DefaultMaxAge). A browser resends what it has not seen
	// acknowledged at its next join; one away for longer than that comes
	// back with an expired token, as a new user whose messages are new
	// anyway, so remembering ids longer would protect nothing, while a day
	// or a week offline is well within it. The cost is one small row (the
	// ids and two numbers) per message of the last 30 days.
	DefaultDedupAge = 30 * 24 * time.Hour

	// schemaVersion is the PRAGMA user_version of the schema this code
	// writes. Open migrates an older database up to it and refuses a newer
	// one (ErrNewerSchema).
	schemaVersion = 2
)

// ErrInvalidRoom is returned for an empty room name: every message belongs to
// a room, and "" would silently merge unrelated callers' histories.
var ErrInvalidRoom = errors.New("store: empty room name")

// ErrInvalidLimit is returned by After, Before and Last for a limit below 1,
// which is a caller's bug: there is no way to ask for "nothing".
var ErrInvalidLimit = errors.New("store: limit must be at least 1")

// ErrNewerSchema is returned by Open when the database was written by a newer
// version of this package: opening it with older code could corrupt data the
// older code does not understand.
var ErrNewerSchema = errors.New("store: database schema is newer than this program")

// ErrNotWritable is returned by Open, wrapped with the directory and the
// cause, when the database cannot be written (a read-only file system, files
// or a directory the process may not write): a server on it would accept
// messages and store none.
var ErrNotWritable = errors.New("store: data directory is not writable")

// notWritableError is the error Open returns for a database it cannot write.
// It matches ErrNotWritable and the cause with errors.Is.
type notWritableError struct {
	dir string
	err error
}

func (e *notWritableError) Error() string {
	return fmt.Sprintf("data directory %s is not writable: %v", e.dir, e.err)
}

// Unwrap returns ErrNotWritable and the cause.
func (e *notWritableError) Unwrap() []error { return []error{ErrNotWritable, e.err} }

// Options tune retention. The zero value keeps DefaultMaxMessages messages per
// room, for any age, and remembers client ids for DefaultDedupAge.
type Options struct {
	// MaxMessages is how many messages Prune keeps per room, the newest.
	// Zero means DefaultMaxMessages; a negative value means no limit by
	// count.
	MaxMessages int

	// MaxAge is how old a message may get before Prune deletes it, judged by
	// the message's Time. Zero (or a negative value) means no limit by age.
	MaxAge time.Duration

	// DedupAge is how long Prune keeps a message's client id after the
	// message's Time, so that a resend gets the original's number instead
	// of being stored again; an id is kept as long as its message too,
	// whichever is longer. Zero means DefaultDedupAge; a negative value
	// means forever.
	DedupAge time.Duration
}

// dedupAge returns the effective retention of client ids, or 0 for forever.
func (o Options) dedupAge() time.Duration {
	switch {
	case o.DedupAge == 0:
		return DefaultDedupAge
	case o.DedupAge < 0:
		return 0
	default:
		return o.DedupAge
	}
}

// maxMessages returns the effective retention by count, or 0 for none.
func (o Options) maxMessages() int {
	switch {
	case o.MaxMessages == 0:
		return DefaultMaxMessages
	case o.MaxMessages < 0:
		return 0
	default:
		return o.MaxMessages
	}
}

// Store is the chat's durable history. Create one with Open and release it
// with Close. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
	opts Options

	// stmts are Append's statements, prepared once: parsing them again for
	// every batch cost a fifth of a one-message Append's CPU time.
	stmts map[string]*sql.Stmt

	// writeMu serializes write transactions. SQLite admits one writer at a
	// time; waiting here is cheaper than in SQLite's busy handler, which
	// sleeps and polls.
	writeMu sync.Mutex
}

// Open opens the history kept in dir, creating dir (mode DirPerm) and the
// database file (dir/FileName, mode FilePerm) if they are missing, and
// migrating its schema to the current version. It writes to the database
// before it returns: when that fails, because dir cannot be written, the
// error matches ErrNotWritable.
//
// Every connection runs in WAL mode with synchronous=FULL: a COMMIT returns
// only once the transaction is fsynced, which is what lets Append promise
// that an acknowledged message survives a crash or a power loss.
func Open(dir string, opts Options) (*Store, error) {
	if err := os.MkdirAll(dir, DirPerm); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	path, err := filepath.Abs(filepath.Join(dir, FileName))
	if err != nil {
		return nil, fmt.Errorf("open store in %s: %w", dir, err)
	}
	if err := privateFiles(path); err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			err = &notWritableError{dir: filepath.Dir(path), err: err}
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.SetMaxOpenConns(MaxConns)
	// Keep every connection: reopening one re-runs the PRAGMAs and loses its
	// page cache.
	db.SetMaxIdleConns(MaxConns)

	s := &Store{db: db, path: path, opts: opts}
	if err := s.init(context.Background(), time.Now()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := s.prepare(context.Background()); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// The new file's directory entry must be durable too, or a power loss
	// right after the first Open could lose the whole file.
	if err := syncDir(filepath.Dir(path)); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// dsn returns the data source name that opens path with the store's settings.
// The path is a file: URI so that any character in it, '?' and '#' included,
// reaches SQLite escaped rather than being taken for the start of the query.
// Every connection of the pool applies the settings when it is opened;
// _txlock=immediate makes each read-write transaction take the write lock at
// BEGIN, so it cannot fail half-way with SQLITE_BUSY when upgrading.
func dsn(path string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// privateFiles gives the database at path, and its -wal and -shm files when
// they exist, the mode FilePerm, creating the database file (empty, which
// SQLite takes for a new database) when it is missing. Opening it for
// writing is a first check that it can be written.
func privateFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, FilePerm)
	if err != nil {
		return err
	}
	// The mode given to OpenFile is masked by the umask, and an existing
	// file keeps its own: set it.
	err = f.Chmod(FilePerm)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Chmod(path+suffix, FilePerm); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// writeError returns err, from a write to the database, as a
// notWritableError when SQLite says it cannot write the files (read-only,
// not allowed, cannot open, an I/O error or a full disk), and unchanged
// otherwise.
func (s *Store) writeError(err error) error {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL:
		return &notWritableError{dir: filepath.Dir(s.path), err: err}
	}
	return err
}

// syncDir fsyncs the directory dir, making the entries of files created in it
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return d.Close()
}

// prepare prepares the statements that are run for every Append.
func (s *Store) prepare(ctx context.Context) error {
	s.stmts = make(map[string]*sql.Stmt)
	for _, q := range []string{selectLastSeq, insertMessage, insertClientID, selectClientID, selectOriginal, upsertLastSeq} {
		st, err := s.db.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", q, err)
		}
		s.stmts[q] = st
	}
	return nil
}

// stmt returns the prepared statement q, bound to tx.
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	return tx.StmtContext(ctx, s.stmts[q])
}

// Close closes the database. Calls in progress finish first; later calls fail.
func (s *Store) Close() error {
	var errs []error
	for _, st := range s.stmts {
		errs = append(errs, st.Close())
	}
	errs = append(errs, s.db.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
	return nil
}

// Path returns the database file's absolute path, for logs and backups.
func (s *Store) Path() string { return s.path }
