package datadir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// lock locks dir and fails the test on error.
func lock(t *testing.T, dir string) *Dir {
	t.Helper()
	d, err := Lock(dir)
	if err != nil {
		t.Fatalf("Lock(%s): %v", dir, err)
	}
	return d
}

// modeOf returns the permission bits of path.
func modeOf(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestLock_Exclusive checks that a locked directory cannot be locked again,
// even by the same process through another open file, that the error says
// which directory and what to do, and that Close lets the next one in.
func TestLock_Exclusive(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := lock(t, dir)

	second, err := Lock(dir)
	if !errors.Is(err, ErrInUse) {
		if second != nil {
			second.Close()
		}
		t.Fatalf("second Lock = %v, want ErrInUse", err)
	}
	for _, want := range []string{
		"data directory " + dir + " is in use by another process",
		fmt.Sprintf("(pid %d)", os.Getpid()),
		"stop the other process, or give this one another -data",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}

	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Errorf("second Close: %v, want the first's nil", err)
	}
	third := lock(t, dir)
	if err := third.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestLock_Refused checks the directories Lock cannot use: the errors are
// not ErrInUse, which would send the operator looking for a process.
func TestLock_Refused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the path to lock
	}{
		{"directory is a file", func(t *testing.T, dir string) string {
			path := filepath.Join(dir, "file")
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return path
		}},
		{"lock file is a symbolic link", func(t *testing.T, dir string) string {
			target := filepath.Join(dir, "elsewhere")
			if err := os.WriteFile(target, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, filepath.Join(dir, LockFile)); err != nil {
				t.Fatal(err)
			}
			return dir
		}},
		{"lock file is a directory", func(t *testing.T, dir string) string {
			if err := os.Mkdir(filepath.Join(dir, LockFile), 0o700); err != nil {
				t.Fatal(err)
			}
			return dir
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := tt.setup(t, t.TempDir())
			d, err := Lock(path)
			if err == nil {
				d.Close()
				t.Fatal("Lock succeeded")
			}
			if errors.Is(err, ErrInUse) {
				t.Errorf("Lock = %v, want an error other than ErrInUse", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
		})
	}
}

// TestLock_Modes checks, with the umask cleared, that a missing directory is
// created with DirPerm and the lock file has FilePerm, also when it existed
// with a wider mode. Not parallel: the umask is the whole process's.
func TestLock_Modes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	tests := []struct {
		name     string
		existing fs.FileMode // mode of a lock file made beforehand; 0: none
	}{
		{"new directory", 0},
		{"lock file left with mode 0644", 0o644},
		{"lock file left with mode 0666", 0o666},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data", "chat")
			if tt.existing != 0 {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, LockFile), []byte("12345\n"), tt.existing); err != nil {
					t.Fatal(err)
				}
				if got := modeOf(t, filepath.Join(dir, LockFile)); got != tt.existing {
					t.Fatalf("setup: lock file mode %o, want %o", got, tt.existing)
				}
			}
			d := lock(t, dir)
			defer d.Close()
			if tt.existing == 0 {
				if got := modeOf(t, dir); got != DirPerm {
					t.Errorf("directory mode %o, want %o", got, DirPerm)
				}
			}
			if got := modeOf(t, filepath.Join(dir, LockFile)); got != FilePerm {
				t.Errorf("lock file mode %o, want %o", got, FilePerm)
			}
			b, err := os.ReadFile(filepath.Join(dir, LockFile))
			if err != nil || string(b) != fmt.Sprintf("%d\n", os.Getpid()) {
				t.Errorf("lock file holds %q, %v; want this process's id", b, err)
			}
		})
	}
}
