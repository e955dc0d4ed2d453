package identity

import (
	"bytes"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

func TestLoadOrCreateSecret(t *testing.T) {
	t.Parallel()
	// A missing directory, two levels deep, is created.
	dir := filepath.Join(t.TempDir(), "data", "chat")
	first, err := LoadOrCreateSecret(dir, nil)
	if err != nil {
		t.Fatalf("first LoadOrCreateSecret: %v", err)
	}
	if len(first) != SecretLen {
		t.Fatalf("secret is %d bytes, want %d", len(first), SecretLen)
	}
	if bytes.Equal(first, make([]byte, SecretLen)) {
		t.Fatal("secret is all zeros")
	}
	second, err := LoadOrCreateSecret(dir, nil)
	if err != nil {
		t.Fatalf("second LoadOrCreateSecret: %v", err)
	}
	if !bytes.Equal(first, second) {
		t.Fatal("the second start returned another secret")
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, secretFile))
	if err != nil || !bytes.Equal(onDisk, first) {
		t.Fatalf("secret file = %x, %v; want the returned secret", onDisk, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("data directory holds %d entries, want the secret alone (a temporary file left over?)", len(entries))
	}
	if runtime.GOOS != "windows" {
		assertMode(t, filepath.Join(dir, secretFile), 0o600)
		assertMode(t, dir, 0o700|os.ModeDir)
	}
	// A Signer from the reloaded secret verifies a token from the first.
	a, err := NewSigner(first, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSigner(second, 0)
	if err != nil {
		t.Fatal(err)
	}
	token, c := a.Issue("", "Ann", now)
	if got, err := b.Verify(token, now); err != nil || got != c {
		t.Fatalf("after a restart, Verify = %+v, %v; want %+v", got, err, c)
	}
}

func TestLoadOrCreateSecretDiffersPerDirectory(t *testing.T) {
	t.Parallel()
	a, err := LoadOrCreateSecret(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateSecret(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Fatal("two data directories got the same secret")
	}
}

func TestLoadOrCreateSecretRefusesCorruptFile(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, SecretLen - 1, SecretLen + 1, 4096} {
		dir := t.TempDir()
		path := filepath.Join(dir, secretFile)
		corrupt := bytes.Repeat([]byte{'x'}, n)
		if err := os.WriteFile(path, corrupt, 0o600); err != nil {
			t.Fatal(err)
		}
		if s, err := LoadOrCreateSecret(dir, nil); err == nil {
			t.Errorf("a %d-byte secret file was accepted: %x", n, s)
		}
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, corrupt) {
			t.Errorf("a %d-byte secret file was changed: %d bytes, %v", n, len(got), err)
		}
	}
}

func TestLoadOrCreateSecretUnreadable(t *testing.T) {
	t.Parallel()
	// A directory where the file should be is an error, not a new secret.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, secretFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSecret(dir, nil); err == nil {
		t.Fatal("a directory named secret was accepted")
	}
	// A data directory path that is a file cannot be created.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSecret(filepath.Join(file, "data"), nil); err == nil {
		t.Fatal("a data directory under a file was accepted")
	}
}

// assertMode fails t unless path has mode want.
func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode(); got != want {
		t.Fatalf("%s has mode %v, want %v", path, got, want)
	}
}

// TestLoadOrCreateSecretTightensMode checks that a secret file others may
// read or write is made SecretPerm with a warning naming it, and that a
// private one is left alone, without a warning.
func TestLoadOrCreateSecretTightensMode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode fs.FileMode
		want fs.FileMode
		warn bool
	}{
		{0o644, SecretPerm, true},
		{0o640, SecretPerm, true},
		{0o604, SecretPerm, true},
		{0o666, SecretPerm, true},
		{0o620, SecretPerm, true},
		{0o600, SecretPerm, false},
		{0o400, 0o400, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%04o", tt.mode), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, secretFile)
			secret := bytes.Repeat([]byte{7}, SecretLen)
			if err := os.WriteFile(path, secret, 0o600); err != nil {
				t.Fatal(err)
			}
			// WriteFile's mode is masked by the umask: set it.
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			got, err := LoadOrCreateSecret(dir, log)
			if err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("LoadOrCreateSecret = %x, %v; want the file's secret", got, err)
			}
			assertMode(t, path, tt.want)
			warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), path)
			if warned != tt.warn {
				t.Errorf("warning logged: %v, want %v; log:\n%s", warned, tt.warn, logs.String())
			}
			if tt.warn && !strings.Contains(logs.String(), fmt.Sprintf("mode=%04o", tt.mode)) {
				t.Errorf("the warning does not give the old mode %04o:\n%s", tt.mode, logs.String())
			}
		})
	}
}

// TestLoadOrCreateSecretUmask checks, with the umask cleared, that a new
// secret and its new directory are private. Not parallel: the umask is the
// whole process's.
func TestLoadOrCreateSecretUmask(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := LoadOrCreateSecret(dir, nil); err != nil {
		t.Fatal(err)
	}
	assertMode(t, filepath.Join(dir, secretFile), SecretPerm)
	assertMode(t, dir, 0o700|os.ModeDir)
}
