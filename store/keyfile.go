package store

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// GenerateKey returns a new random KeySize-byte key.
func GenerateKey() []byte {
	key := make([]byte, KeySize)
	rand.Read(key) // never fails since Go 1.24; crashes the program rather than return weak bytes
	return key
}

// LoadKeyFile reads a key file: KeySize random bytes, hex-encoded (64 hex characters, optional
// trailing newline). With create and no file, it generates a key and writes it with mode 0600,
// creating the parent directory with mode 0700.
//
// A lost key file must never be silently replaced by a new key while the database still holds
// data sealed with the old one; OpenSQLite's key check catches that with ErrWrongKey.
func LoadKeyFile(path string, create bool) ([]byte, error) {
	key, err := readKeyFile(path)
	if err == nil || !create || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := writeNewKeyFile(path); err != nil {
		return nil, err
	}
	return readKeyFile(path)
}

func readKeyFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("store: read key file: %w", err)
	}
	text := bytes.TrimRight(data, "\r\n")
	if len(text) != hex.EncodedLen(KeySize) {
		return nil, fmt.Errorf("store: key file %s: want %d hex characters, found %d",
			path, hex.EncodedLen(KeySize), len(text))
	}
	key := make([]byte, KeySize)
	if _, err := hex.Decode(key, text); err != nil {
		return nil, fmt.Errorf("store: key file %s: %w", path, err)
	}
	return key, nil
}

// writeNewKeyFile writes a fresh key to a temporary file and links it into place, so the key
// file appears complete or not at all, and two nodes creating it at once agree on one key
// (the loser's link fails with "exists" and it reads the winner's).
func writeNewKeyFile(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("store: create key directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".radmfa-key-*")
	if err != nil {
		return fmt.Errorf("store: create key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp already uses 0600; chmod anyway so the mode does not depend on that detail.
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.WriteString(hex.EncodeToString(GenerateKey()) + "\n")
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: write key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("store: create key file: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: sync key directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: sync key directory: %w", err)
	}
	return nil
}

// CheckKeyFileMode returns an error describing the problem when the key file can be read by
// its group or by others. It is meant to be logged as a warning: the key still works.
func CheckKeyFileMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("store: key file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("store: key file %s has mode %#o, readable beyond its owner; chmod 600 it", path, perm)
	}
	return nil
}
