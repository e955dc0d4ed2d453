package identity

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// secretFile is the name of the secret's file in the data directory.
const secretFile = "secret"

// SecretPerm is the mode of the secret's file: 0o600, readable by the
// server's user alone, since whoever reads the secret can sign tokens as
// anyone. LoadOrCreateSecret creates the file so and tightens a file found
// readable or writable by others to it.
const SecretPerm fs.FileMode = 0o600

// LoadOrCreateSecret returns the signing secret kept in dir/secret, creating
// it on first start: SecretLen random bytes from crypto/rand, in a file of
// mode SecretPerm, written to a temporary file and renamed into place so that
// a crash never leaves a partial secret. dir is created with mode 0700 if it
// is missing. A secret file of any other size than SecretLen is an error, not
// replaced: replacing the secret would sign everyone out, so it is left to a
// person (delete the file to start over).
//
// A secret file that group or others may read or write is set to SecretPerm,
// and a warning goes to log (nil means slog.Default()): whoever could read it
// could sign tokens, which only replacing the secret revokes.
//
// One server process should own dir (see package datadir): two processes
// creating the secret at the same instant could each use their own before
// one rename wins.
func LoadOrCreateSecret(dir string, log *slog.Logger) ([]byte, error) {
	if log == nil {
		log = slog.Default()
	}
	path := filepath.Join(dir, secretFile)
	secret, err := readSecret(path, log)
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

// readSecret reads the secret at path, first setting its mode to SecretPerm
// if others may read or write it, with a warning to log. An error wraps
// fs.ErrNotExist when there is no file.
func readSecret(path string, log *slog.Logger) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("identity: read secret: %w", err)
	}
	defer f.Close()
	// The open file's mode, not the path's: it is the file read below.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("identity: read secret %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("identity: secret %s is not a regular file (%v)", path, fi.Mode().Type())
	}
	if mode := fi.Mode().Perm(); mode&0o077 != 0 {
		if err := f.Chmod(SecretPerm); err != nil {
			return nil, fmt.Errorf("identity: secret %s has mode %04o and cannot be made %04o: %w", path, mode, SecretPerm, err)
		}
		log.Warn("the identity secret was open to other users: its mode is now private; if anyone may have read it, replace it (delete the file: everyone becomes a new user)",
			"path", path, "mode", fmt.Sprintf("%04o", mode), "now", fmt.Sprintf("%04o", SecretPerm))
	}
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

// writeFileAtomic writes b to path with mode SecretPerm through a temporary file in
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
	if err := tmp.Chmod(SecretPerm); err != nil {
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
