// Package datadir gives one process at a time the server's data directory.
//
// Two servers on one directory would both open the store and hand out the
// same sequence numbers, breaking the promise that a number is given once.
// Lock takes an exclusive advisory lock (flock(2)) on a file in the
// directory and holds it for the process's lifetime: a second process asking
// for it is refused at once, and the kernel releases it when the holder
// exits, crashes included, so a stale lock never blocks a restart.
package datadir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Names and modes of the data directory.
const (
	// LockFile is the lock's file name in the directory. It holds the
	// holder's process id, for the operator; the lock is the flock on it,
	// not its content, so a file left by a crashed process is harmless.
	LockFile = "lock"

	// DirPerm is the mode Lock creates a missing directory with: 0o700,
	// because the history and the signing secret are private to the
	// server's user.
	DirPerm fs.FileMode = 0o700

	// FilePerm is the mode of the lock file, whatever the umask: 0o600, like
	// every file of the directory.
	FilePerm fs.FileMode = 0o600

	// maxPIDLen bounds what is read back from a lock file to name its
	// holder: a process id has at most 20 digits.
	maxPIDLen = 20
)

// ErrInUse is returned (wrapped, with the directory and what to do) by Lock
// when another process holds the directory: starting beside it would hand
// out the sequence numbers it hands out.
var ErrInUse = errors.New("data directory is in use by another process")

// inUseError is the error Lock returns for a directory held elsewhere. It
// matches ErrInUse with errors.Is and reads as an operator's instruction.
type inUseError struct {
	dir string
	pid int // the holder's process id from the lock file; 0 if unknown
}

func (e *inUseError) Error() string {
	holder := ""
	if e.pid > 0 {
		holder = fmt.Sprintf(" (pid %d)", e.pid)
	}
	return fmt.Sprintf("data directory %s is in use by another process%s: stop the other process, or give this one another -data", e.dir, holder)
}

// Is makes errors.Is(err, ErrInUse) hold.
func (e *inUseError) Is(target error) bool { return target == ErrInUse }

// Dir is a data directory locked by this process. Close releases it.
type Dir struct {
	path string
	f    *os.File

	closeOnce sync.Once
	closeErr  error
}

// Lock creates dir with mode DirPerm when it is missing and locks it for
// this process: it creates or opens dir/LockFile (mode FilePerm, also when
// the file existed with another mode) and takes an exclusive flock on it
// without waiting. When another process holds the lock, Lock returns an
// error matching ErrInUse at once. The lock lasts until Close or until the
// process exits.
//
// The flock belongs to the open file, not to the process: locking the same
// directory twice in one process also fails with ErrInUse, which is what
// keeps two servers in one test binary apart too.
func Lock(dir string) (*Dir, error) {
	if err := ensureDir(dir); err != nil {
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, LockFile)
	// O_NOFOLLOW: the lock file must be in the directory, not a symbolic
	// link to a file elsewhere that someone else may hold or own.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, FilePerm)
	if err != nil {
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	if err := flock(f); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &inUseError{dir: dir, pid: readPID(path)}
		}
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	// Only the holder gets here, so the mode and the content change under
	// the lock.
	if err := f.Chmod(FilePerm); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	if err := writePID(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock data directory %s: write %s: %w", dir, path, err)
	}
	return &Dir{path: dir, f: f}, nil
}

// ensureDir creates dir with mode DirPerm, whatever the umask, when it does
// not exist. An existing directory keeps its mode.
func ensureDir(dir string) error {
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		return err // nil: it exists
	}
	if err := os.MkdirAll(dir, DirPerm); err != nil {
		return err
	}
	// MkdirAll's mode is masked by the umask; the directory's must not be.
	return os.Chmod(dir, DirPerm)
}

// flock takes an exclusive lock on f without waiting, retrying when a signal
// interrupts the call.
func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// writePID replaces the lock file's content with this process's id.
func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// readPID returns the process id written in the lock file at path, or 0
// when it cannot tell (the holder may be between truncating and writing).
func readPID(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	b := make([]byte, maxPIDLen+1)
	n, _ := f.Read(b)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// Path returns the directory, as given to Lock.
func (d *Dir) Path() string { return d.path }

// Close releases the lock, letting the next process start on the directory.
// The lock file stays. Close may be called more than once; later calls
// return the first one's result.
func (d *Dir) Close() error {
	d.closeOnce.Do(func() {
		// Closing the only descriptor of the open file releases the flock.
		if err := d.f.Close(); err != nil {
			d.closeErr = fmt.Errorf("unlock data directory %s: %w", d.path, err)
		}
	})
	return d.closeErr
}
