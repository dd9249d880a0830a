package store

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLoadKeyFileCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets", "radmfa.key")
	key, err := LoadKeyFile(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != KeySize {
		t.Fatalf("key is %d bytes", len(key))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != hex.EncodeToString(key)+"\n" {
		t.Errorf("file holds %q", data)
	}
	for p, want := range map[string]fs.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %#o, want %#o", p, fi.Mode().Perm(), want)
		}
	}
	if err := CheckKeyFileMode(path); err != nil {
		t.Errorf("CheckKeyFileMode on a created file: %v", err)
	}
	again, err := LoadKeyFile(path, true)
	if err != nil || !bytes.Equal(again, key) {
		t.Fatalf("second load: %x, %v; want the same key", again, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestLoadKeyFileConcurrentCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "radmfa.key")
	const n = 10
	keys := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, err := LoadKeyFile(path, true)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for i := range keys {
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("creators disagree on the key: %x vs %x", keys[i], keys[0])
		}
	}
}

func TestLoadKeyFile(t *testing.T) {
	good := strings.Repeat("ab", KeySize)
	tests := []struct {
		name    string
		content string
		wantErr string
	}{
		{"no newline", good, ""},
		{"newline", good + "\n", ""},
		{"crlf", good + "\r\n", ""},
		{"upper case hex", strings.ToUpper(good), ""},
		{"empty", "", "want 64 hex characters, found 0"},
		{"short", good[:62], "found 62"},
		{"long", good + "00", "found 66"},
		{"not hex", strings.Repeat("zz", KeySize), "invalid byte"},
		{"leading space", " " + good[1:], "invalid byte"},
		{"two newlines kept out", good + "\n\nx", "found 67"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "k")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			key, err := LoadKeyFile(path, true)
			if tc.wantErr == "" {
				if err != nil || len(key) != KeySize {
					t.Fatalf("got %x, %v", key, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want error containing %q", err, tc.wantErr)
			}
			if data, _ := os.ReadFile(path); string(data) != tc.content {
				t.Fatal("a malformed key file was overwritten")
			}
		})
	}
}

func TestLoadKeyFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.key")
	if _, err := LoadKeyFile(path, false); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("file created without create")
	}
}

func TestCheckKeyFileMode(t *testing.T) {
	tests := []struct {
		name string
		mode fs.FileMode
		warn bool
	}{
		{"owner only", 0o600, false},
		{"owner read only", 0o400, false},
		{"group readable", 0o640, true},
		{"world readable", 0o644, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "k")
			if err := os.WriteFile(path, []byte(strings.Repeat("ab", KeySize)), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := CheckKeyFileMode(path); (err != nil) != tc.warn {
				t.Fatalf("CheckKeyFileMode = %v, want warning %v", err, tc.warn)
			}
			// A loose mode is a warning, never a refusal.
			if _, err := LoadKeyFile(path, false); err != nil {
				t.Fatal(err)
			}
		})
	}
}
