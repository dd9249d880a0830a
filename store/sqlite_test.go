package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func testKeyring(t *testing.T) *Keyring {
	t.Helper()
	k, err := NewKeyring(GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func openSQLite(t *testing.T, path string, keys *Keyring) *SQLite {
	t.Helper()
	s, err := OpenSQLite(context.Background(), path, keys)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawDB opens the database file without the store, to look at or tamper with what is stored.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSQLiteStore(t *testing.T) {
	testStore(t, func(t *testing.T) Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "radmfa.db"), testKeyring(t))
	})
}

func TestSQLitePersists(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "radmfa.db")
	keys := testKeyring(t)

	s := openSQLite(t, path, keys)
	if err := s.EnrollTOTP(ctx, "alice", []byte("secret"), false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPhone(ctx, "alice", "+15550001"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseTOTPStep(ctx, "alice", 77, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openSQLite(t, path, keys)
	u := mustGet(t, s, "alice")
	if string(u.TOTPSecret) != "secret" || u.Phone != "+15550001" || u.TOTPLastStep != 77 || u.TOTPDrift != 1 {
		t.Fatalf("after reopen: %+v", u)
	}
	var version int
	ms, err := loadMigrations(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if err := rawDB(t, path).QueryRow(`SELECT MAX(version) FROM schema_version`).Scan(&version); err != nil || version != len(ms) {
		t.Fatalf("schema version %d, %v; want %d", version, err, len(ms))
	}
	var mode string
	if err := rawDB(t, path).QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode %q, %v; want wal", mode, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database file mode %#o, want 0600", perm)
	}
}

func TestSQLiteWrongKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "radmfa.db")
	s := openSQLite(t, path, testKeyring(t))
	if err := s.EnrollTOTP(context.Background(), "alice", []byte("secret"), false); err != nil {
		t.Fatal(err)
	}
	s.Close()

	_, err := OpenSQLite(context.Background(), path, testKeyring(t))
	if !errors.Is(err, ErrWrongKey) {
		t.Fatalf("open with another key: %v, want ErrWrongKey", err)
	}
	if errors.Is(err, ErrUnavailable) {
		t.Errorf("a wrong key is not an outage: %v", err)
	}
	if !strings.Contains(err.Error(), "key file") {
		t.Errorf("message does not tell what to do: %v", err)
	}
}

func TestSQLiteCiphertextAtRest(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "radmfa.db")
	s := openSQLite(t, path, testKeyring(t))
	secret, phone := []byte("JBSWY3DPEHPK3PXP-plain"), "+15557654321"
	if err := s.EnrollTOTP(ctx, "alice", secret, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPhone(ctx, "alice", phone); err != nil {
		t.Fatal(err)
	}
	var rawSecret, rawPhone []byte
	if err := rawDB(t, path).QueryRow(`SELECT totp_secret, phone FROM users WHERE username = 'alice'`).
		Scan(&rawSecret, &rawPhone); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		raw, want []byte
	}{
		{"totp secret", rawSecret, secret},
		{"phone", rawPhone, []byte(phone)},
	}
	for _, tc := range tests {
		if len(tc.raw) == 0 || bytes.Contains(tc.raw, tc.want) {
			t.Errorf("%s stored as %q: plaintext visible or missing", tc.name, tc.raw)
		}
	}
}

func TestSQLiteCiphertextMoved(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "radmfa.db")
	s := openSQLite(t, path, testKeyring(t))
	for _, n := range []string{"alice", "mallory"} {
		if err := s.EnrollTOTP(ctx, n, []byte("secret-of-"+n), false); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPhone(ctx, n, "+1555000"+n); err != nil {
			t.Fatal(err)
		}
	}
	raw := rawDB(t, path)
	var flipped []byte
	if err := raw.QueryRow(`SELECT totp_secret FROM users WHERE username = 'mallory'`).Scan(&flipped); err != nil {
		t.Fatal(err)
	}
	flipped[len(flipped)/2] ^= 0x80
	tests := []struct {
		name string
		sql  string
		args []any
	}{
		{"secret copied to another user",
			`UPDATE users SET totp_secret = (SELECT totp_secret FROM users WHERE username = 'alice') WHERE username = 'mallory'`, nil},
		{"phone moved into the secret column",
			`UPDATE users SET totp_secret = phone WHERE username = 'mallory'`, nil},
		{"one bit flipped",
			`UPDATE users SET totp_secret = ? WHERE username = 'mallory'`, []any{flipped}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.EnrollTOTP(ctx, "mallory", []byte("secret-of-mallory"), true); err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Exec(tc.sql, tc.args...); err != nil {
				t.Fatal(err)
			}
			u, err := s.GetUser(ctx, "mallory")
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("GetUser = %+v, %v; want ErrDecrypt", u, err)
			}
			if _, err := s.ListUsers(ctx); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("ListUsers: %v, want ErrDecrypt", err)
			}
		})
	}
}

func TestSQLiteRotateKey(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "radmfa.db")
	oldKeys, newKeys := testKeyring(t), testKeyring(t)

	s := openSQLite(t, path, oldKeys)
	if err := s.EnrollTOTP(ctx, "alice", []byte("alice-secret"), false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPhone(ctx, "bob", "+15550002"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(ctx, "carol", StateEnforced); err != nil { // nothing sealed
		t.Fatal(err)
	}
	n, err := s.RotateKey(ctx, newKeys)
	if err != nil || n != 2 {
		t.Fatalf("RotateKey = %d, %v; want 2", n, err)
	}
	// Still readable, and later writes are sealed with the new key.
	if u := mustGet(t, s, "alice"); string(u.TOTPSecret) != "alice-secret" {
		t.Fatalf("after rotation: %+v", u)
	}
	if err := s.EnrollTOTP(ctx, "dave", []byte("dave-secret"), false); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openSQLite(t, path, newKeys)
	want := map[string]User{
		"alice": {TOTPSecret: []byte("alice-secret")},
		"bob":   {Phone: "+15550002"},
		"carol": {State: StateEnforced},
		"dave":  {TOTPSecret: []byte("dave-secret")},
	}
	users, err := s.ListUsers(ctx)
	if err != nil || len(users) != len(want) {
		t.Fatalf("ListUsers with only the new key: %d users, %v", len(users), err)
	}
	for _, u := range users {
		w := want[u.Username]
		if !bytes.Equal(u.TOTPSecret, w.TOTPSecret) || u.Phone != w.Phone || u.State != w.State {
			t.Errorf("%s: got %+v", u.Username, u)
		}
	}
	s.Close()

	if _, err := OpenSQLite(ctx, path, oldKeys); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("open with the retired key: %v, want ErrWrongKey", err)
	}
}

func TestSQLiteRotateKeyFailsWhole(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "radmfa.db")
	keys := testKeyring(t)
	s := openSQLite(t, path, keys)
	for _, n := range []string{"alice", "bob"} {
		if err := s.EnrollTOTP(ctx, n, []byte("secret-"+n), false); err != nil {
			t.Fatal(err)
		}
	}
	// bob's secret is damaged: rotation must fail and leave alice sealed with the old key.
	if _, err := rawDB(t, path).Exec(`UPDATE users SET totp_secret = x'01deadbeef00' WHERE username = 'bob'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateKey(ctx, testKeyring(t)); err == nil {
		t.Fatal("rotation over a damaged value succeeded")
	}
	s.Close()
	s = openSQLite(t, path, keys)
	if u := mustGet(t, s, "alice"); string(u.TOTPSecret) != "secret-alice" {
		t.Fatalf("alice after failed rotation: %+v", u)
	}
}

func TestSQLiteSchemaNewer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "radmfa.db")
	keys := testKeyring(t)
	openSQLite(t, path, keys).Close()
	if _, err := rawDB(t, path).Exec(`INSERT INTO schema_version (version, applied_at) VALUES (99, 0)`); err != nil {
		t.Fatal(err)
	}
	_, err := OpenSQLite(context.Background(), path, keys)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("open newer schema: %v", err)
	}
}

func TestSQLiteUnavailable(t *testing.T) {
	ctx := context.Background()
	s := openSQLite(t, filepath.Join(t.TempDir(), "radmfa.db"), testKeyring(t))

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.GetUser(cancelled, "alice"); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v; want ErrUnavailable wrapping context.Canceled", err)
	}

	s.Close()
	calls := []struct {
		name string
		err  error
	}{
		{"GetUser", func() error { _, err := s.GetUser(ctx, "alice"); return err }()},
		{"EnrollTOTP", s.EnrollTOTP(ctx, "alice", []byte("s"), false)},
		{"UseTOTPStep", func() error { _, err := s.UseTOTPStep(ctx, "alice", 1, 0); return err }()},
		{"RecordFailure", func() error { _, err := s.RecordFailure(ctx, "alice", KindPassword, t0, LockoutPolicy{}); return err }()},
		{"Audit", s.Audit(ctx, AuditEvent{})},
		{"Ping", s.Ping(ctx)},
	}
	for _, c := range calls {
		if !errors.Is(c.err, ErrUnavailable) || errors.Is(c.err, ErrNotFound) {
			t.Errorf("%s on a closed store: %v; want ErrUnavailable", c.name, c.err)
		}
		if c.err != nil && !strings.Contains(c.err.Error(), "closed") {
			t.Errorf("%s: cause not printed: %v", c.name, c.err)
		}
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, driver, dsn string
		wantErr           string
	}{
		{"sqlite", "sqlite", filepath.Join(t.TempDir(), "a.db"), ""},
		{"postgres unreachable", "postgres", "postgres://radmfa@127.0.0.1:1/radmfa?sslmode=disable&connect_timeout=2", "open postgres"},
		{"unknown driver", "mysql", "x", "unknown driver"},
		{"sqlite bad path", "sqlite", "file:x.db?mode=memory", "plain file path"},
		{"sqlite missing directory", "sqlite", filepath.Join(t.TempDir(), "no", "such", "a.db"), "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(ctx, tc.driver, tc.dsn, testKeyring(t))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || s != nil {
				t.Fatalf("got %v, %v; want error containing %q", s, err, tc.wantErr)
			}
		})
	}
	if _, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "a.db"), nil); err == nil {
		t.Error("nil keyring accepted")
	}
}

func TestSQLiteConcurrentOpen(t *testing.T) {
	// Two stores on one new file (a server and the CLI): migrations and the key check must
	// run once, and both must see each other's writes.
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "radmfa.db")
	keys := testKeyring(t)
	stores := make(chan *SQLite, 2)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			s, err := OpenSQLite(ctx, path, keys)
			errs <- err
			stores <- s
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	a, b := <-stores, <-stores
	defer a.Close()
	defer b.Close()
	if err := a.EnrollTOTP(ctx, "alice", []byte("s"), false); err != nil {
		t.Fatal(err)
	}
	if err := b.EnrollTOTP(ctx, "alice", []byte("t"), false); !errors.Is(err, ErrExists) {
		t.Fatalf("second store: %v, want ErrExists", err)
	}
	if ok, err := a.UseTOTPStep(ctx, "alice", 9, 0); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, err := b.UseTOTPStep(ctx, "alice", 9, 0); ok || err != nil {
		t.Fatalf("replay through the other store accepted: %v, %v", ok, err)
	}

	// The compare-and-set holds across connections that contend on the file lock.
	const n = 50
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		st := []*SQLite{a, b}[i%2]
		wg.Go(func() {
			ok, err := st.UseTOTPStep(ctx, "alice", 1000, 0)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d callers on two stores accepted the same step, want 1", wins.Load())
	}
}
