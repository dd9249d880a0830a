package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// seedCopy fills s with every kind of state Copy must carry, and returns the audit events.
func seedCopy(t *testing.T, s Store) []AuditEvent {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.EnrollTOTP(ctx, "alice", []byte("alice-totp-secret"), false))
	must(s.SetPhone(ctx, "alice", "+15550001"))
	must(s.SetState(ctx, "alice", StateEnforced))
	must(s.SetMethod(ctx, "alice", "totp"))
	if ok, err := s.UseTOTPStep(ctx, "alice", 58000123, -1); !ok || err != nil {
		t.Fatalf("UseTOTPStep = %v, %v", ok, err)
	}
	must(s.SetPhone(ctx, "bob", "+4930123456")) // SMS only
	must(s.SetMethod(ctx, "bob", "sms"))
	must(s.SetState(ctx, "carol", StateDisabled)) // nothing sealed
	must(s.EnrollTOTP(ctx, "Ünïcödé", []byte{0, 1, 2, 0xff}, false))
	for i := range 20 { // more than one batch would need copyBatch rows; enough to order
		must(s.EnrollTOTP(ctx, fmt.Sprintf("user%02d", i), []byte(fmt.Sprintf("secret-%d", i)), false))
	}

	pol := LockoutPolicy{Threshold: 2, Duration: time.Minute, Max: time.Hour}
	for range 5 { // two lockouts (level 2), one failure counted
		if _, err := s.RecordFailure(ctx, "alice", KindPassword, t0, pol); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RecordFailure(ctx, "alice", KindFactor, t0, pol); err != nil {
		t.Fatal(err)
	}
	// Failures and lockouts of usernames without an MFA record.
	if _, err := s.RecordFailure(ctx, "mallory", KindPassword, t0, LockoutPolicy{Threshold: 1, Duration: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordFailure(ctx, "trudy", KindPassword, t0, pol); err != nil {
		t.Fatal(err)
	}
	return seedAudit(t, s)
}

// sameContent compares two stores through the Store interface only (not Export, which Copy
// itself relies on).
func sameContent(t *testing.T, want, got Store) {
	t.Helper()
	ctx := context.Background()
	wu, err := want.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gu, err := got.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(wu) != len(gu) {
		t.Fatalf("%d users, want %d", len(gu), len(wu))
	}
	for i := range wu {
		w, g := wu[i], gu[i]
		if w.Username != g.Username || w.State != g.State || w.Method != g.Method ||
			!bytes.Equal(w.TOTPSecret, g.TOTPSecret) || w.TOTPLastStep != g.TOTPLastStep ||
			w.TOTPDrift != g.TOTPDrift || w.Phone != g.Phone ||
			!w.CreatedAt.Equal(g.CreatedAt) || !w.UpdatedAt.Equal(g.UpdatedAt) {
			t.Errorf("user %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	for _, name := range []string{"alice", "mallory", "trudy", "bob"} {
		w, err1 := want.LockedUntil(ctx, name, t0)
		g, err2 := got.LockedUntil(ctx, name, t0)
		if err1 != nil || err2 != nil || !w.Equal(g) {
			t.Errorf("%s locked until %v (%v), want %v (%v)", name, g, err2, w, err1)
		}
	}
	wa, err := want.QueryAudit(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	ga, err := got.QueryAudit(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(wa) != len(ga) {
		t.Fatalf("%d audit events, want %d", len(ga), len(wa))
	}
	for i := range wa {
		w, g := wa[i], ga[i]
		w.ID, g.ID = 0, 0
		if w != g {
			t.Errorf("audit %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// checkCounters shows the failure counts and backoff levels came along: what the next
// failures do depends on them.
func checkCounters(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	pol := LockoutPolicy{Threshold: 2, Duration: time.Minute, Max: time.Hour}
	tests := []struct {
		name, user, kind string
		want             time.Duration // lockout the next failure sets; 0 = none
	}{
		{"alice password: one counted, level 2", "alice", KindPassword, 4 * time.Minute},
		{"trudy: one counted, level 0", "trudy", KindPassword, time.Minute},
		{"mallory: none counted", "mallory", KindPassword, 0},
	}
	for _, tc := range tests {
		until, err := s.RecordFailure(ctx, tc.user, tc.kind, t0, pol)
		if err != nil {
			t.Fatal(err)
		}
		if got := until.Sub(t0); tc.want == 0 && !until.IsZero() || tc.want != 0 && got != tc.want {
			t.Errorf("%s: next failure locks until %v, want +%v", tc.name, until, tc.want)
		}
	}
}

func TestCopySQLiteToPostgresAndBack(t *testing.T) {
	ctx := context.Background()
	src := openSQLite(t, filepath.Join(t.TempDir(), "src.db"), testKeyring(t))
	seedCopy(t, src)
	pgKeys := testKeyring(t) // the copy moves to a new key as well
	pg := openPostgres(t, pgDatabase(t), pgKeys)

	rep, err := Copy(ctx, src, pg)
	if err != nil {
		t.Fatal(err)
	}
	// 24 users with a record (alice, bob, carol, Ünïcödé, user00..19) plus mallory and trudy;
	// secrets: alice 2, bob 1, Ünïcödé 1, user00..19 20.
	want := CopyReport{Users: 26, Records: 24, Secrets: 24, Audit: 5}
	if rep != want {
		t.Fatalf("report %+v, want %+v", rep, want)
	}
	sameContent(t, src, pg)

	// And back, to a third key: what a rollback to SQLite would do.
	back := openSQLite(t, filepath.Join(t.TempDir(), "back.db"), testKeyring(t))
	if rep, err := Copy(ctx, pg, back); err != nil || rep != want {
		t.Fatalf("copy back: %+v, %v", rep, err)
	}
	sameContent(t, src, back)
	checkCounters(t, pg)
	checkCounters(t, back)
}

func TestCopySQLiteToSQLite(t *testing.T) {
	ctx := context.Background()
	src := openSQLite(t, filepath.Join(t.TempDir(), "src.db"), testKeyring(t))
	seedCopy(t, src)
	dst := openSQLite(t, filepath.Join(t.TempDir(), "dst.db"), testKeyring(t))
	if _, err := Copy(ctx, src, dst); err != nil {
		t.Fatal(err)
	}
	sameContent(t, src, dst)
	checkCounters(t, dst)

	// More than one batch of each.
	big := openSQLite(t, filepath.Join(t.TempDir(), "big.db"), testKeyring(t))
	var recs []UserRecord
	for i := range 2*copyBatch + 7 {
		name := fmt.Sprintf("bulk%04d", i)
		recs = append(recs, UserRecord{Username: name,
			User:     &User{Username: name, TOTPSecret: []byte(name), CreatedAt: t0, UpdatedAt: t0},
			Failures: map[string]int{KindFactor: i % 3}})
	}
	if err := big.ImportUsers(ctx, recs); err != nil {
		t.Fatal(err)
	}
	evs := make([]AuditEvent, copyBatch+1)
	for i := range evs {
		evs[i] = AuditEvent{Time: t0.Add(time.Duration(i%7) * time.Second), Username: fmt.Sprint(i)}
	}
	if err := big.ImportAudit(ctx, evs); err != nil {
		t.Fatal(err)
	}
	bigDst := openSQLite(t, filepath.Join(t.TempDir(), "bigdst.db"), testKeyring(t))
	rep, err := Copy(ctx, big, bigDst)
	want := CopyReport{Users: len(recs), Records: len(recs), Secrets: len(recs), Audit: len(evs)}
	if err != nil || rep != want {
		t.Fatalf("bulk copy: %+v, %v; want %+v", rep, err, want)
	}
	sameContent(t, big, bigDst)

	// An empty source copies nothing, and still verifies.
	empty := openSQLite(t, filepath.Join(t.TempDir(), "empty.db"), testKeyring(t))
	to := openSQLite(t, filepath.Join(t.TempDir(), "to.db"), testKeyring(t))
	if rep, err := Copy(ctx, empty, to); err != nil || rep != (CopyReport{}) {
		t.Fatalf("empty copy: %+v, %v", rep, err)
	}
}

func TestCopyRefusesNonEmptyDestination(t *testing.T) {
	ctx := context.Background()
	src := openSQLite(t, filepath.Join(t.TempDir(), "src.db"), testKeyring(t))
	seedCopy(t, src)
	tests := []struct {
		name string
		fill func(Store) error
		want string
	}{
		{"user", func(s Store) error { return s.SetState(ctx, "zed", StateEnabled) }, "user zed"},
		{"failure only", func(s Store) error {
			_, err := s.RecordFailure(ctx, "zed", KindPassword, t0, LockoutPolicy{})
			return err
		}, "user zed"},
		{"audit", func(s Store) error { return s.Audit(ctx, AuditEvent{Username: "x"}) }, "audit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := openSQLite(t, filepath.Join(t.TempDir(), "dst.db"), testKeyring(t))
			if err := tc.fill(dst); err != nil {
				t.Fatal(err)
			}
			_, err := Copy(ctx, src, dst)
			if err == nil || !strings.Contains(err.Error(), "not empty") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("copy into a used store: %v", err)
			}
		})
	}
}

// lossyImporter alters what it imports, as a buggy backend or a concurrent writer would.
type lossyImporter struct {
	*SQLite
	alter func([]UserRecord)
}

func (l lossyImporter) ImportUsers(ctx context.Context, recs []UserRecord) error {
	cp := make([]UserRecord, len(recs))
	for i, r := range recs {
		cp[i] = r
		if r.User != nil {
			u := *r.User
			cp[i].User = &u
		}
	}
	l.alter(cp)
	return l.SQLite.ImportUsers(ctx, cp)
}

func TestCopyVerifies(t *testing.T) {
	ctx := context.Background()
	src := openSQLite(t, filepath.Join(t.TempDir(), "src.db"), testKeyring(t))
	seedCopy(t, src)
	find := func(recs []UserRecord, name string) *UserRecord {
		for i := range recs {
			if recs[i].Username == name {
				return &recs[i]
			}
		}
		return &UserRecord{User: &User{}} // not in this batch: alter a throwaway
	}
	tests := []struct {
		name  string
		alter func([]UserRecord)
		want  string
	}{
		{"secret changed", func(r []UserRecord) { find(r, "alice").User.TOTPSecret = []byte("other") }, `user "alice" differs`},
		{"phone changed", func(r []UserRecord) { find(r, "bob").User.Phone = "+1999" }, `user "bob" differs`},
		{"last step changed", func(r []UserRecord) { find(r, "alice").User.TOTPLastStep-- }, `user "alice" differs`},
		{"lockout level changed", func(r []UserRecord) { find(r, "alice").Lockout.Level = 0 }, `user "alice" differs`},
		{"failure dropped", func(r []UserRecord) { find(r, "trudy").Failures = nil }, `"trudy"`},
		{"user dropped", func(r []UserRecord) {
			for i := range r {
				if r[i].Username == "carol" {
					r[i].User = nil
				}
			}
		}, `"carol"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := openSQLite(t, filepath.Join(t.TempDir(), "dst.db"), testKeyring(t))
			_, err := Copy(ctx, src, lossyImporter{SQLite: dst, alter: tc.alter})
			if err == nil || !strings.Contains(err.Error(), "verify") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("altered copy: %v; want a verification error naming %s", err, tc.want)
			}
		})
	}
}

func TestCopyWrongSourceKey(t *testing.T) {
	// A value the source cannot decrypt stops the copy: it is never copied as "not enrolled".
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "src.db")
	src := openSQLite(t, path, testKeyring(t))
	if err := src.EnrollTOTP(ctx, "alice", []byte("s"), false); err != nil {
		t.Fatal(err)
	}
	if _, err := rawDB(t, path).Exec(`UPDATE users SET totp_secret = x'01deadbeef00'`); err != nil {
		t.Fatal(err)
	}
	dst := openSQLite(t, filepath.Join(t.TempDir(), "dst.db"), testKeyring(t))
	if _, err := Copy(ctx, src, dst); !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), "alice") {
		t.Fatalf("copy of an undecryptable store: %v", err)
	}
}

// Copy carries app passwords, remembered devices and blocks too.
func TestCopyPortalData(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0).UTC()
	from := openSQLite(t, filepath.Join(t.TempDir(), "from.db"), testKeyring(t))
	to := openSQLite(t, filepath.Join(t.TempDir(), "to.db"), testKeyring(t))
	if err := from.EnrollTOTP(ctx, "ann", []byte("0123456789abcdefghij"), false); err != nil {
		t.Fatal(err)
	}
	if _, err := from.AddAppPassword(ctx, "ann", "mail", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$a2V5", MaxAppPasswords); err != nil {
		t.Fatal(err)
	}
	if err := from.RememberDevice(ctx, Device{Username: "ann", ID: DeviceID("vpn\x00198.51.100.7"), Label: "198.51.100.*",
		NAS: "vpn", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := from.SetBlocked(ctx, "ann", true, "fraud", now); err != nil {
		t.Fatal(err)
	}
	rep, err := Copy(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if rep.AppPasswords != 1 || rep.Devices != 1 || rep.Blocks != 1 {
		t.Fatalf("report %+v", rep)
	}
	if ok, err := to.DeviceRemembered(ctx, "ann", DeviceID("vpn\x00198.51.100.7"), now); err != nil || !ok {
		t.Fatalf("device not carried: %v", err)
	}
	if b, why, err := to.Blocked(ctx, "ann"); err != nil || !b || why != "fraud" {
		t.Fatalf("block not carried: %v %q %v", b, why, err)
	}
}
