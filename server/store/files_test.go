package store

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// openHelperEnv names the environment variable that turns TestHelperOpen
// into a process that opens the store in the directory it names.
const openHelperEnv = "STORE_TEST_OPEN_DIR"

// otherUID is the user the not-writable test runs Open as when the tests run
// as root, whom permissions do not stop: nobody, on Debian and most systems.
const otherUID = 65534

// TestHelperOpen is not a test: run by TestOpen_NotWritable with
// openHelperEnv set, it opens the store in that directory and prints
// "opened", or "error", whether the error matches ErrNotWritable, and the
// error. Without the variable it returns at once.
func TestHelperOpen(t *testing.T) {
	dir := os.Getenv(openHelperEnv)
	if dir == "" {
		return
	}
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Printf("error %v %v\n", errors.Is(err, ErrNotWritable), err)
		os.Exit(0)
	}
	if err := s.Close(); err != nil {
		fmt.Println("close:", err)
		os.Exit(2)
	}
	fmt.Println("opened")
	os.Exit(0)
}

// modeOf returns the permission bits of path.
func modeOf(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// copyFile copies src to dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// crashedCopy leaves in dst what a crash leaves: a database with a message
// still in its WAL, and the -wal and -shm files beside it. It copies them from
// a store that is still open.
func crashedCopy(t *testing.T, dst string) {
	t.Helper()
	src := t.TempDir()
	s, err := Open(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	add(t, s, "lobby", msg("ann", "1", "in the WAL"))
	for _, name := range []string{FileName, FileName + "-wal", FileName + "-shm"} {
		copyFile(t, filepath.Join(src, name), filepath.Join(dst, name))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// closedStore leaves in dst a database closed cleanly: no -wal, no -shm.
func closedStore(t *testing.T, dst string) {
	t.Helper()
	s, err := Open(dst, Options{})
	if err != nil {
		t.Fatal(err)
	}
	add(t, s, "lobby", msg("ann", "1", "stored"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpen_NotWritable opens the store in directories it cannot write, and
// checks that Open fails with ErrNotWritable and says so, where the old code
// opened them and accepted messages it could not store. Permissions do not
// stop root, so as root Open runs in a process of another user (otherUID);
// otherwise in a process of this one. A writable directory, opened the same
// way, shows that only the permissions make the difference.
func TestOpen_NotWritable(t *testing.T) {
	t.Parallel()
	asOther := os.Geteuid() == 0
	// A directory every user may enter, holding a copy of the test binary
	// every user may run (the build's directories are private).
	base, err := os.MkdirTemp("", "store-not-writable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Make every directory writable again, so that it can be removed.
		filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(path, 0o700)
			}
			return nil
		})
		os.RemoveAll(base)
	})
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "store.test")
	copyFile(t, os.Args[0], bin)
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}

	// entry sets the mode of a file in the case's directory ("" for the
	// directory itself) and, as root, gives it to the other user when
	// writable says so; otherwise the mode alone decides.
	type entry struct {
		name     string
		writable bool
	}
	tests := []struct {
		name     string
		content  func(t *testing.T, dir string)
		entries  []entry
		writable bool
	}{
		{"writable directory and database", closedStore,
			[]entry{{"", true}, {FileName, true}}, true},
		{"read-only directory after a crash left -wal and -shm", crashedCopy,
			[]entry{{"", false}, {FileName, false}, {FileName + "-wal", false}, {FileName + "-shm", false}}, false},
		{"read-only directory, writable database, no -wal", closedStore,
			[]entry{{"", false}, {FileName, true}}, false},
		{"read-only directory, no database", func(*testing.T, string) {},
			[]entry{{"", false}}, false},
		{"writable directory, read-only database", closedStore,
			[]entry{{"", true}, {FileName, false}}, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(base, fmt.Sprint(i))
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			tt.content(t, dir)
			// Files before the directory: a read-only directory may
			// keep root from nothing, but the other user from chmod.
			for j := len(tt.entries) - 1; j >= 0; j-- {
				e := tt.entries[j]
				path := filepath.Join(dir, e.name)
				mode := fs.FileMode(0o444)
				switch {
				case e.name == "" && e.writable:
					mode = 0o755
				case e.name == "":
					mode = 0o555
				case e.writable:
					mode = 0o644
				}
				if err := os.Chmod(path, mode); err != nil {
					t.Fatal(err)
				}
				if asOther && e.writable {
					if err := os.Chown(path, otherUID, otherUID); err != nil {
						t.Fatal(err)
					}
				}
			}

			cmd := exec.Command(bin, "-test.run=^TestHelperOpen$", "-test.count=1")
			cmd.Env = append(os.Environ(), openHelperEnv+"="+dir)
			if asOther {
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: otherUID, Gid: otherUID}}
			}
			out, err := cmd.CombinedOutput()
			got := strings.TrimSpace(string(out))
			t.Logf("Open as uid %d: %s", map[bool]int{true: otherUID, false: os.Geteuid()}[asOther], got)
			if err != nil {
				t.Fatalf("helper: %v", err)
			}
			if tt.writable {
				if got != "opened" {
					t.Errorf("Open of a writable directory: %s, want it opened", got)
				}
				return
			}
			want := "error true open store " + filepath.Join(dir, FileName) + ": data directory " + dir + " is not writable: "
			if !strings.HasPrefix(got, want) {
				t.Errorf("Open = %q, want an error matching ErrNotWritable that starts %q", got, want)
			}
		})
	}
}

// TestOpen_FileModes checks, with the umask cleared, that the database and
// its -wal and -shm files are FilePerm: created so in a new directory, and
// set so when a crash left them with a wider mode. Not parallel: the umask
// is the whole process's.
func TestOpen_FileModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
	}{
		{"new directory", func(*testing.T, string) {}},
		{"files left with mode 0644", func(t *testing.T, dir string) {
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			crashedCopy(t, dir)
			for _, name := range []string{FileName, FileName + "-wal", FileName + "-shm"} {
				if err := os.Chmod(filepath.Join(dir, name), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"database made by SQLite with its default mode", func(t *testing.T, dir string) {
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open("sqlite", dsn(filepath.Join(dir, FileName)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(migrations[0] + "; PRAGMA user_version = 1"); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if got := modeOf(t, filepath.Join(dir, FileName)); got == FilePerm {
				t.Fatalf("setup: SQLite made the database %o already", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			tt.setup(t, dir)
			s := open(t, dir, Options{})
			add(t, s, "lobby", msg("ann", "2", "after the open"))
			if got := modeOf(t, dir); got != DirPerm {
				t.Errorf("directory mode %o, want %o", got, DirPerm)
			}
			for _, name := range []string{FileName, FileName + "-wal", FileName + "-shm"} {
				if got := modeOf(t, filepath.Join(dir, name)); got != FilePerm {
					t.Errorf("%s has mode %o, want %o", name, got, FilePerm)
				}
			}
		})
	}
}

// TestOpen_Writes checks that every Open writes to the database, a
// migration or not: the time of the open, in the meta table.
func TestOpen_Writes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var prev int64
	for i := range 3 {
		before := time.Now().UnixMilli()
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var opened int64
		err = s.db.QueryRow(`SELECT value FROM meta WHERE key = 'opened'`).Scan(&opened)
		if cerr := s.Close(); cerr != nil {
			t.Fatal(cerr)
		}
		if err != nil {
			t.Fatalf("open %d: read the time of the open: %v", i+1, err)
		}
		if opened < before || opened < prev {
			t.Errorf("open %d recorded %d, want at least %d (its start) and %d (the previous open)", i+1, opened, before, prev)
		}
		prev = opened
	}
}
