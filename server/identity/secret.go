package identity

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// secretFile is the name of the secret's file in the data directory.
const secretFile = "secret"

// LoadOrCreateSecret returns the signing secret kept in dir/secret, creating
// it on first start: SecretLen random bytes from crypto/rand, in a file of
// mode 0600, written to a temporary file and renamed into place so that a
// crash never leaves a partial secret. dir is created with mode 0700 if it is
// missing. A secret file of any other size than SecretLen is an error, not
// replaced: replacing the secret would sign everyone out, so it is left to a
// person (delete the file to start over).
//
// One server process should own dir: two processes creating the secret at
// the same instant could each use their own before one rename wins.
func LoadOrCreateSecret(dir string) ([]byte, error) {
	path := filepath.Join(dir, secretFile)
	secret, err := readSecret(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return secret, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("identity: create data directory: %w", err)
	}
	secret = make([]byte, SecretLen)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("identity: generate secret: %w", err)
	}
	if err := writeFileAtomic(path, secret); err != nil {
		return nil, fmt.Errorf("identity: write secret: %w", err)
	}
	return secret, nil
}

// readSecret reads the secret at path. An error wraps fs.ErrNotExist when
// there is no file.
func readSecret(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("identity: read secret: %w", err)
	}
	defer f.Close()
	// One byte more than a secret tells a long file from a good one without
	// reading all of it.
	b, err := io.ReadAll(io.LimitReader(f, SecretLen+1))
	if err != nil {
		return nil, fmt.Errorf("identity: read secret %s: %w", path, err)
	}
	if len(b) != SecretLen {
		return nil, fmt.Errorf("identity: secret %s is corrupt: %d bytes, want %d; delete it to create a new one, which signs everyone out", path, len(b), SecretLen)
	}
	return b, nil
}

// writeFileAtomic writes b to path with mode 0600 through a temporary file in
// the same directory, synced and then renamed over path.
func writeFileAtomic(path string, b []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp already uses 0600; Chmod states it and holds on any system.
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// Sync the directory so that the rename survives a power cut. This is
	// best effort: some systems (Windows) cannot sync a directory, and the
	// file is in place either way.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
