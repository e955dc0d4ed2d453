package identity

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestLoadOrCreateSecret(t *testing.T) {
	t.Parallel()
	// A missing directory, two levels deep, is created.
	dir := filepath.Join(t.TempDir(), "data", "chat")
	first, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatalf("first LoadOrCreateSecret: %v", err)
	}
	if len(first) != SecretLen {
		t.Fatalf("secret is %d bytes, want %d", len(first), SecretLen)
	}
	if bytes.Equal(first, make([]byte, SecretLen)) {
		t.Fatal("secret is all zeros")
	}
	second, err := LoadOrCreateSecret(dir)
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
	a, err := NewSigner(first)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSigner(second)
	if err != nil {
		t.Fatal(err)
	}
	token, c := a.Issue("", "Ann", now)
	if got, err := b.Verify(token); err != nil || got != c {
		t.Fatalf("after a restart, Verify = %+v, %v; want %+v", got, err, c)
	}
}

func TestLoadOrCreateSecretDiffersPerDirectory(t *testing.T) {
	t.Parallel()
	a, err := LoadOrCreateSecret(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateSecret(t.TempDir())
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
		if s, err := LoadOrCreateSecret(dir); err == nil {
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
	if _, err := LoadOrCreateSecret(dir); err == nil {
		t.Fatal("a directory named secret was accepted")
	}
	// A data directory path that is a file cannot be created.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSecret(filepath.Join(file, "data")); err == nil {
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
