package store

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/radmfa/radmfa/test/pgtest"
)

// pgDatabase returns the DSN of a new empty database on the shared test cluster.
func pgDatabase(t *testing.T) string {
	t.Helper()
	return pgtest.Start(t).NewDatabase(t)
}

func openPostgres(t *testing.T, dsn string, keys *Keyring) *Postgres {
	t.Helper()
	p, err := OpenPostgres(context.Background(), dsn, keys)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// rawPG connects to the database without the store, to look at or tamper with what is stored.
func rawPG(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func TestPostgresSuite(t *testing.T) {
	testStore(t, func(t *testing.T) Store {
		return openPostgres(t, pgDatabase(t), testKeyring(t))
	})
}

func TestMigrationsParity(t *testing.T) {
	// Every schema change is made in both dialects, under the same number and name, so a
	// store copied from one backend to the other has the same tables.
	sq, err := loadMigrations(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := loadMigrations(postgresMigrations, "migrations/postgres")
	if err != nil {
		t.Fatal(err)
	}
	for i := range max(len(sq), len(pg)) {
		var a, b string
		if i < len(sq) {
			a = sq[i].name
		}
		if i < len(pg) {
			b = pg[i].name
		}
		if a != b {
			t.Errorf("migration %d: sqlite %q, postgres %q", i+1, a, b)
		}
	}
}

func TestPostgresEphemeral(t *testing.T) {
	testEphemeral(t, openPostgres(t, pgDatabase(t), testKeyring(t)))
}

func TestPostgresPersists(t *testing.T) {
	ctx := context.Background()
	dsn, keys := pgDatabase(t), testKeyring(t)
	p := openPostgres(t, dsn, keys)
	if err := p.EnrollTOTP(ctx, "alice", []byte("secret"), false); err != nil {
		t.Fatal(err)
	}
	if err := p.SetPhone(ctx, "alice", "+15550001"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.UseTOTPStep(ctx, "alice", 77, 1); err != nil {
		t.Fatal(err)
	}
	p.Close()

	p = openPostgres(t, dsn, keys)
	u := mustGet(t, p, "alice")
	if string(u.TOTPSecret) != "secret" || u.Phone != "+15550001" || u.TOTPLastStep != 77 || u.TOTPDrift != 1 {
		t.Fatalf("after reopen: %+v", u)
	}
	ms, err := loadMigrations(postgresMigrations, "migrations/postgres")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := p.Migrate(ctx); err != nil || v != len(ms) {
		t.Fatalf("Migrate again = %d, %v; want %d", v, err, len(ms))
	}
	var version int
	if err := rawPG(t, dsn).QueryRow(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&version); err != nil || version != len(ms) {
		t.Fatalf("schema version %d, %v; want %d", version, err, len(ms))
	}
}

func TestPostgresWrongKey(t *testing.T) {
	ctx := context.Background()
	dsn := pgDatabase(t)
	p := openPostgres(t, dsn, testKeyring(t))
	if err := p.EnrollTOTP(ctx, "alice", []byte("secret"), false); err != nil {
		t.Fatal(err)
	}
	p.Close()

	_, err := OpenPostgres(ctx, dsn, testKeyring(t))
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

func TestPostgresCiphertextAtRest(t *testing.T) {
	ctx := context.Background()
	dsn := pgDatabase(t)
	p := openPostgres(t, dsn, testKeyring(t))
	secret, phone := []byte("JBSWY3DPEHPK3PXP-plain"), "+15557654321"
	if err := p.EnrollTOTP(ctx, "alice", secret, false); err != nil {
		t.Fatal(err)
	}
	if err := p.SetPhone(ctx, "alice", phone); err != nil {
		t.Fatal(err)
	}
	raw := rawPG(t, dsn)
	var rawSecret, rawPhone []byte
	if err := raw.QueryRow(ctx, `SELECT totp_secret, phone FROM users WHERE username = 'alice'`).
		Scan(&rawSecret, &rawPhone); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		raw, want []byte
	}{{"totp secret", rawSecret, secret}, {"phone", rawPhone, []byte(phone)}} {
		if len(tc.raw) == 0 || bytes.Contains(tc.raw, tc.want) {
			t.Errorf("%s stored as %q: plaintext visible or missing", tc.name, tc.raw)
		}
	}
	// A sealed value moved to another row does not decrypt there.
	if err := p.EnrollTOTP(ctx, "mallory", []byte("other"), false); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(ctx, `UPDATE users SET totp_secret = $1 WHERE username = 'mallory'`, rawSecret); err != nil {
		t.Fatal(err)
	}
	if _, err := p.GetUser(ctx, "mallory"); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("moved secret: %v, want ErrDecrypt", err)
	}
}

func TestPostgresRotateKey(t *testing.T) {
	ctx := context.Background()
	dsn := pgDatabase(t)
	oldKeys, newKeys := testKeyring(t), testKeyring(t)
	p := openPostgres(t, dsn, oldKeys)
	if err := p.EnrollTOTP(ctx, "alice", []byte("alice-secret"), false); err != nil {
		t.Fatal(err)
	}
	if err := p.SetPhone(ctx, "bob", "+15550002"); err != nil {
		t.Fatal(err)
	}
	if err := p.SetState(ctx, "carol", StateEnforced); err != nil { // nothing sealed
		t.Fatal(err)
	}
	n, err := p.RotateKey(ctx, newKeys)
	if err != nil || n != 2 {
		t.Fatalf("RotateKey = %d, %v; want 2", n, err)
	}
	// The rotating store still reads, and seals new values with the new key.
	if u := mustGet(t, p, "alice"); string(u.TOTPSecret) != "alice-secret" {
		t.Fatalf("after rotation: %+v", u)
	}
	if err := p.EnrollTOTP(ctx, "dave", []byte("dave-secret"), false); err != nil {
		t.Fatal(err)
	}
	p.Close()

	p = openPostgres(t, dsn, newKeys)
	users, err := p.ListUsers(ctx)
	if err != nil || len(users) != 4 {
		t.Fatalf("ListUsers with only the new key: %d users, %v", len(users), err)
	}
	if u := mustGet(t, p, "bob"); u.Phone != "+15550002" {
		t.Errorf("bob: %+v", u)
	}
	if _, err := OpenPostgres(ctx, dsn, oldKeys); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("open with the retired key: %v, want ErrWrongKey", err)
	}
}

func TestPostgresRotateKeyFailsWhole(t *testing.T) {
	ctx := context.Background()
	dsn, keys := pgDatabase(t), testKeyring(t)
	p := openPostgres(t, dsn, keys)
	for _, n := range []string{"alice", "bob"} {
		if err := p.EnrollTOTP(ctx, n, []byte("secret-"+n), false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rawPG(t, dsn).Exec(ctx, `UPDATE users SET totp_secret = '\x01deadbeef00' WHERE username = 'bob'`); err != nil {
		t.Fatal(err)
	}
	// The damaged value names a key the ring does not hold.
	if _, err := p.RotateKey(ctx, testKeyring(t)); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("rotation over a damaged value: %v, want ErrWrongKey", err)
	}
	p.Close()
	p = openPostgres(t, dsn, keys)
	if u := mustGet(t, p, "alice"); string(u.TOTPSecret) != "secret-alice" {
		t.Fatalf("alice after failed rotation: %+v", u)
	}
}

func TestPostgresSchemaNewer(t *testing.T) {
	dsn, keys := pgDatabase(t), testKeyring(t)
	openPostgres(t, dsn, keys).Close()
	if _, err := rawPG(t, dsn).Exec(context.Background(),
		`INSERT INTO schema_version (version, applied_at) VALUES (99, 0)`); err != nil {
		t.Fatal(err)
	}
	_, err := OpenPostgres(context.Background(), dsn, keys)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("open newer schema: %v", err)
	}
}

func TestPostgresOpenErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, dsn   string
		keys        *Keyring
		unavailable bool
		wantErr     string
	}{
		{"nil keyring", pgDatabase(t), nil, false, "keyring"},
		{"bad dsn", "postgres://radmfa:hunter2@127.0.0.1:notaport/x", testKeyring(t), false, "cannot parse"},
		// Port 1 on loopback refuses at once: the open fails fast and is an outage.
		{"nobody listening", "postgres://radmfa@127.0.0.1:1/radmfa?sslmode=disable", testKeyring(t), true, "127.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(ctx, "postgres", tc.dsn, tc.keys)
			if err == nil || s != nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, %v; want error containing %q", s, err, tc.wantErr)
			}
			if errors.Is(err, ErrUnavailable) != tc.unavailable {
				t.Errorf("ErrUnavailable = %v, want %v: %v", !tc.unavailable, tc.unavailable, err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("password in the error: %v", err)
			}
		})
	}
}

func TestPostgresUnavailable(t *testing.T) {
	ctx := context.Background()
	p := openPostgres(t, pgDatabase(t), testKeyring(t))

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.GetUser(cancelled, "alice"); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v; want ErrUnavailable wrapping context.Canceled", err)
	}

	p.Close()
	calls := []struct {
		name string
		err  error
	}{
		{"GetUser", func() error { _, err := p.GetUser(ctx, "alice"); return err }()},
		{"EnrollTOTP", p.EnrollTOTP(ctx, "alice", []byte("s"), false)},
		{"UseTOTPStep", func() error { _, err := p.UseTOTPStep(ctx, "alice", 1, 0); return err }()},
		{"RecordFailure", func() error { _, err := p.RecordFailure(ctx, "alice", KindPassword, t0, LockoutPolicy{}); return err }()},
		{"Audit", p.Audit(ctx, AuditEvent{})},
		{"Ping", p.Ping(ctx)},
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
