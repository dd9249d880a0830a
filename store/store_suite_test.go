package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// testStore is the behaviour every backend must show. open returns a fresh, empty store and
// arranges its closing; each case gets its own.
func testStore(t *testing.T, open func(t *testing.T) Store) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, s Store)
	}{
		{"missing user", testMissingUser},
		{"enroll and get", testEnrollGet},
		{"enroll twice", testEnrollTwice},
		{"enroll rejects empty input", testEnrollInvalid},
		{"delete user", testDeleteUser},
		{"set fields", testSetFields},
		{"list users", testListUsers},
		{"use totp step", testUseTOTPStep},
		{"use totp step race", testUseTOTPStepRace},
		{"lockout backoff", testLockoutBackoff},
		{"lockout counts", testLockoutCounts},
		{"lockout race", testLockoutRace},
		{"unlock", testUnlock},
		{"locked until expiry", testLockedUntilExpiry},
		{"audit query", testAuditQuery},
		{"audit prune", testAuditPrune},
		{"account", testAccount},
		{"ping", func(t *testing.T, s Store) {
			if err := s.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

// t0 is a fixed instant for lockout and audit times.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func mustGet(t *testing.T, s Store, username string) User {
	t.Helper()
	u, err := s.GetUser(context.Background(), username)
	if err != nil {
		t.Fatalf("GetUser(%q): %v", username, err)
	}
	return u
}

func testMissingUser(t *testing.T, s Store) {
	ctx := context.Background()
	checks := []struct {
		name string
		err  error
	}{
		{"GetUser", func() error { _, err := s.GetUser(ctx, "nobody"); return err }()},
		{"DeleteUser", s.DeleteUser(ctx, "nobody")},
		{"UseTOTPStep", func() error { _, err := s.UseTOTPStep(ctx, "nobody", 5, 0); return err }()},
	}
	for _, c := range checks {
		if !errors.Is(c.err, ErrNotFound) {
			t.Errorf("%s: got %v, want ErrNotFound", c.name, c.err)
		}
		if errors.Is(c.err, ErrUnavailable) {
			t.Errorf("%s: not found must not count as unavailable: %v", c.name, c.err)
		}
	}
	until, err := s.LockedUntil(ctx, "nobody", t0)
	if err != nil || !until.IsZero() {
		t.Errorf("LockedUntil(nobody) = %v, %v; want zero, nil", until, err)
	}
}

func testEnrollGet(t *testing.T, s Store) {
	ctx := context.Background()
	secret := []byte("12345678901234567890")
	if err := s.EnrollTOTP(ctx, "alice", secret, false); err != nil {
		t.Fatal(err)
	}
	u := mustGet(t, s, "alice")
	if !bytes.Equal(u.TOTPSecret, secret) {
		t.Errorf("secret = %q, want %q", u.TOTPSecret, secret)
	}
	if u.Username != "alice" || u.TOTPLastStep != 0 || u.TOTPDrift != 0 || !u.Enrolled() {
		t.Errorf("unexpected user %+v", u)
	}
	if u.CreatedAt.IsZero() || u.CreatedAt.Location() != time.UTC || u.UpdatedAt.Before(u.CreatedAt) {
		t.Errorf("timestamps created=%v updated=%v", u.CreatedAt, u.UpdatedAt)
	}
}

func testEnrollTwice(t *testing.T, s Store) {
	ctx := context.Background()
	first, second := []byte("first-secret"), []byte("second-secret")
	if err := s.EnrollTOTP(ctx, "bob", first, false); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.UseTOTPStep(ctx, "bob", 1000, 1); !ok || err != nil {
		t.Fatalf("UseTOTPStep = %v, %v", ok, err)
	}
	if err := s.EnrollTOTP(ctx, "bob", second, false); !errors.Is(err, ErrExists) {
		t.Fatalf("enroll again without force: got %v, want ErrExists", err)
	}
	if u := mustGet(t, s, "bob"); !bytes.Equal(u.TOTPSecret, first) || u.TOTPLastStep != 1000 {
		t.Fatalf("refused enroll changed the user: %+v", u)
	}
	if err := s.EnrollTOTP(ctx, "bob", second, true); err != nil {
		t.Fatalf("enroll with force: %v", err)
	}
	u := mustGet(t, s, "bob")
	if !bytes.Equal(u.TOTPSecret, second) || u.TOTPLastStep != 0 || u.TOTPDrift != 0 {
		t.Fatalf("forced enroll: got %+v, want new secret and reset step", u)
	}

	// A row created by SetState has no secret yet: enrolling needs no force.
	if err := s.SetState(ctx, "carol", StateEnforced); err != nil {
		t.Fatal(err)
	}
	if err := s.EnrollTOTP(ctx, "carol", first, false); err != nil {
		t.Fatalf("enroll user without secret: %v", err)
	}
	if u := mustGet(t, s, "carol"); u.State != StateEnforced {
		t.Errorf("enroll lost the state: %+v", u)
	}
}

func testEnrollInvalid(t *testing.T, s Store) {
	ctx := context.Background()
	tests := []struct {
		name, username string
		secret         []byte
	}{
		{"empty secret", "alice", nil},
		{"empty username", "", []byte("s")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.EnrollTOTP(ctx, tc.username, tc.secret, true); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func testDeleteUser(t *testing.T, s Store) {
	ctx := context.Background()
	if err := s.EnrollTOTP(ctx, "dave", []byte("secret"), false); err != nil {
		t.Fatal(err)
	}
	pol := LockoutPolicy{Threshold: 1, Duration: time.Minute}
	if _, err := s.RecordFailure(ctx, "dave", KindPassword, t0, pol); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "dave"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUser(ctx, "dave"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v, want ErrNotFound", err)
	}
	if err := s.DeleteUser(ctx, "dave"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v, want ErrNotFound", err)
	}
	if until, _ := s.LockedUntil(ctx, "dave", t0); until.IsZero() {
		t.Fatal("deleting the MFA record lifted the lockout")
	}
	// Re-enrolling after delete needs no force.
	if err := s.EnrollTOTP(ctx, "dave", []byte("new"), false); err != nil {
		t.Fatal(err)
	}
}

func testSetFields(t *testing.T, s Store) {
	ctx := context.Background()
	tests := []struct {
		name  string
		set   func(username string) error
		check func(u User) bool
	}{
		{"state enforced", func(n string) error { return s.SetState(ctx, n, StateEnforced) },
			func(u User) bool { return u.State == StateEnforced }},
		{"state disabled", func(n string) error { return s.SetState(ctx, n, StateDisabled) },
			func(u User) bool { return u.State == StateDisabled }},
		{"state default", func(n string) error { return s.SetState(ctx, n, StateDefault) },
			func(u User) bool { return u.State == StateDefault }},
		{"method sms", func(n string) error { return s.SetMethod(ctx, n, "sms") },
			func(u User) bool { return u.Method == "sms" }},
		{"phone", func(n string) error { return s.SetPhone(ctx, n, "+15551234567") },
			func(u User) bool { return u.Phone == "+15551234567" && u.Enrolled() }},
		{"phone cleared", func(n string) error { return s.SetPhone(ctx, n, "") },
			func(u User) bool { return u.Phone == "" && !u.Enrolled() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Once on a new user (creates the row), once on the shared one (updates it).
			for _, name := range []string{"new-" + tc.name, "erin"} {
				if err := tc.set(name); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if u := mustGet(t, s, name); !tc.check(u) {
					t.Errorf("%s: unexpected %+v", name, u)
				}
			}
		})
	}
	// Fields set earlier survive setting others.
	if err := s.SetPhone(ctx, "erin", "+4930123"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(ctx, "erin", StateEnabled); err != nil {
		t.Fatal(err)
	}
	if u := mustGet(t, s, "erin"); u.Method != "sms" || u.Phone != "+4930123" || u.State != StateEnabled {
		t.Errorf("fields lost: %+v", u)
	}
	if err := s.SetState(ctx, "erin", State("bogus")); err == nil {
		t.Error("unknown state accepted")
	}
}

func testListUsers(t *testing.T, s Store) {
	ctx := context.Background()
	users, err := s.ListUsers(ctx)
	if err != nil || len(users) != 0 {
		t.Fatalf("empty store: %v, %v", users, err)
	}
	for _, n := range []string{"zed", "amy", "mia"} {
		if err := s.EnrollTOTP(ctx, n, []byte("secret-"+n), false); err != nil {
			t.Fatal(err)
		}
	}
	users, err = s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range users {
		got = append(got, u.Username)
		if string(u.TOTPSecret) != "secret-"+u.Username {
			t.Errorf("%s: secret %q", u.Username, u.TOTPSecret)
		}
	}
	if fmt.Sprint(got) != "[amy mia zed]" {
		t.Errorf("order %v, want [amy mia zed]", got)
	}
}

func testUseTOTPStep(t *testing.T, s Store) {
	ctx := context.Background()
	if err := s.EnrollTOTP(ctx, "frank", []byte("secret"), false); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name  string
		step  int64
		drift int
		want  bool
	}{
		{"first use", 1000, 0, true},
		{"replay", 1000, 0, false},
		{"older step", 999, 0, false},
		{"next step with drift", 1001, -1, true},
		{"skip ahead", 1005, 1, true},
		{"back inside old window", 1003, 0, false},
	}
	for _, tc := range steps {
		ok, err := s.UseTOTPStep(ctx, "frank", tc.step, tc.drift)
		if err != nil || ok != tc.want {
			t.Fatalf("%s: UseTOTPStep(%d) = %v, %v; want %v", tc.name, tc.step, ok, err, tc.want)
		}
	}
	if u := mustGet(t, s, "frank"); u.TOTPLastStep != 1005 || u.TOTPDrift != 1 {
		t.Errorf("stored step %d drift %d, want 1005, 1", u.TOTPLastStep, u.TOTPDrift)
	}
}

func testUseTOTPStepRace(t *testing.T, s Store) {
	ctx := context.Background()
	if err := s.EnrollTOTP(ctx, "gina", []byte("secret"), false); err != nil {
		t.Fatal(err)
	}
	const n = 50
	var wg sync.WaitGroup
	results := make(chan bool, n)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			ok, err := s.UseTOTPStep(ctx, "gina", 4242, 0)
			if err != nil {
				t.Error(err)
			}
			results <- ok
		})
	}
	close(start)
	wg.Wait()
	close(results)
	wins := 0
	for ok := range results {
		if ok {
			wins++
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d racing callers accepted the same step, want exactly 1", wins, n)
	}
}

func testLockoutBackoff(t *testing.T, s Store) {
	ctx := context.Background()
	pol := LockoutPolicy{Threshold: 3, Duration: time.Minute, Max: 5 * time.Minute}
	// Each round: Threshold failures; the last one locks for the doubled, capped duration.
	rounds := []struct {
		name string
		want time.Duration
	}{
		{"first lockout", time.Minute},
		{"second doubles", 2 * time.Minute},
		{"third doubles", 4 * time.Minute},
		{"fourth capped", 5 * time.Minute},
		{"fifth stays capped", 5 * time.Minute},
	}
	now := t0
	for _, r := range rounds {
		for i := 1; i <= pol.Threshold; i++ {
			until, err := s.RecordFailure(ctx, "hank", KindPassword, now, pol)
			if err != nil {
				t.Fatal(err)
			}
			if i < pol.Threshold && !until.IsZero() {
				t.Fatalf("%s: failure %d locked until %v before the threshold", r.name, i, until)
			}
			if i == pol.Threshold && !until.Equal(now.Add(r.want)) {
				t.Fatalf("%s: locked until %v, want %v", r.name, until, now.Add(r.want))
			}
		}
		got, err := s.LockedUntil(ctx, "hank", now)
		if err != nil || !got.Equal(now.Add(r.want)) || got.Location() != time.UTC {
			t.Fatalf("%s: LockedUntil = %v, %v; want %v", r.name, got, err, now.Add(r.want))
		}
		now = got // next round starts when this lockout ends
	}
}

func testLockoutCounts(t *testing.T, s Store) {
	ctx := context.Background()
	pol := LockoutPolicy{Threshold: 3, Duration: time.Minute}
	fail := func(user, kind string, times int) time.Time {
		t.Helper()
		var until time.Time
		for range times {
			u, err := s.RecordFailure(ctx, user, kind, t0, pol)
			if err != nil {
				t.Fatal(err)
			}
			until = u
		}
		return until
	}
	tests := []struct {
		name   string
		run    func(user string) time.Time
		locked bool
	}{
		{"below threshold", func(u string) time.Time { return fail(u, KindPassword, 2) }, false},
		{"at threshold", func(u string) time.Time { return fail(u, KindPassword, 3) }, true},
		{"kinds counted separately", func(u string) time.Time {
			fail(u, KindPassword, 2)
			return fail(u, KindFactor, 2)
		}, false},
		{"reset clears the count", func(u string) time.Time {
			fail(u, KindFactor, 2)
			if err := s.ResetFailures(ctx, u, KindFactor); err != nil {
				t.Fatal(err)
			}
			return fail(u, KindFactor, 2)
		}, false},
		{"reset is per kind", func(u string) time.Time {
			fail(u, KindFactor, 2)
			if err := s.ResetFailures(ctx, u, KindPassword); err != nil {
				t.Fatal(err)
			}
			return fail(u, KindFactor, 1)
		}, true},
		{"count restarts after lockout", func(u string) time.Time {
			fail(u, KindPassword, 3)
			return fail(u, KindPassword, 2)
		}, false},
		{"threshold zero never locks", func(u string) time.Time {
			var until time.Time
			for range 10 {
				until, _ = s.RecordFailure(ctx, u, KindPassword, t0, LockoutPolicy{Duration: time.Minute})
			}
			return until
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			until := tc.run(tc.name)
			if locked := !until.IsZero(); locked != tc.locked {
				t.Errorf("RecordFailure locked=%v (%v), want %v", locked, until, tc.locked)
			}
		})
	}
}

func testLockoutRace(t *testing.T, s Store) {
	ctx := context.Background()
	pol := LockoutPolicy{Threshold: 5, Duration: time.Minute}
	const n = 50
	var wg sync.WaitGroup
	locks := make(chan time.Time, n)
	for range n {
		wg.Go(func() {
			until, err := s.RecordFailure(ctx, "ivan", KindPassword, t0, pol)
			if err != nil {
				t.Error(err)
			}
			locks <- until
		})
	}
	wg.Wait()
	close(locks)
	count := 0
	for u := range locks {
		if !u.IsZero() {
			count++
		}
	}
	if count != n/pol.Threshold {
		t.Fatalf("%d lockouts from %d concurrent failures, want %d", count, n, n/pol.Threshold)
	}
}

func testUnlock(t *testing.T, s Store) {
	ctx := context.Background()
	pol := LockoutPolicy{Threshold: 2, Duration: time.Minute, Max: time.Hour}
	for range 4 { // two lockouts: level 2
		if _, err := s.RecordFailure(ctx, "judy", KindPassword, t0, pol); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RecordFailure(ctx, "judy", KindFactor, t0, pol); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(ctx, "judy"); err != nil {
		t.Fatal(err)
	}
	if until, err := s.LockedUntil(ctx, "judy", t0); err != nil || !until.IsZero() {
		t.Fatalf("after unlock: %v, %v", until, err)
	}
	// Factor count was cleared too: one more factor failure does not lock.
	if until, _ := s.RecordFailure(ctx, "judy", KindFactor, t0, pol); !until.IsZero() {
		t.Fatalf("factor count survived unlock: %v", until)
	}
	// Backoff level was cleared: the next lockout is the base duration again.
	if _, err := s.RecordFailure(ctx, "judy", KindPassword, t0, pol); err != nil {
		t.Fatal(err)
	}
	until, err := s.RecordFailure(ctx, "judy", KindPassword, t0, pol)
	if err != nil || !until.Equal(t0.Add(time.Minute)) {
		t.Fatalf("lockout after unlock: %v, %v; want %v", until, err, t0.Add(time.Minute))
	}
	if err := s.Unlock(ctx, "never-failed"); err != nil {
		t.Fatalf("unlock unknown user: %v", err)
	}
}

func testLockedUntilExpiry(t *testing.T, s Store) {
	ctx := context.Background()
	pol := LockoutPolicy{Threshold: 1, Duration: time.Minute}
	end, err := s.RecordFailure(ctx, "kim", KindPassword, t0, pol)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		at     time.Time
		locked bool
	}{
		{"at start", t0, true},
		{"just before end", end.Add(-time.Nanosecond), true},
		{"at end", end, false},
		{"after end", end.Add(time.Hour), false},
	}
	for _, tc := range tests {
		got, err := s.LockedUntil(ctx, "kim", tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]time.Time{true: end}[tc.locked]; !got.Equal(want) {
			t.Errorf("%s: LockedUntil = %v, want %v", tc.name, got, want)
		}
	}
}

func seedAudit(t *testing.T, s Store) []AuditEvent {
	t.Helper()
	evs := []AuditEvent{
		{Time: t0, Node: "n1", Kind: "auth", Username: "alice", NAS: "vpn", ClientIP: "10.0.0.1",
			CallingStationID: "aa-bb", Factor: "password", Result: "reject", Reason: "bad password", Detail: "d1"},
		{Time: t0.Add(1 * time.Minute), Kind: "auth", Username: "alice", Factor: "totp", Result: "accept"},
		{Time: t0.Add(2 * time.Minute), Kind: "auth", Username: "bob", Factor: "totp", Result: "reject"},
		{Time: t0.Add(3 * time.Minute), Kind: "admin", Username: "alice", Result: "unlock"},
		{Time: t0.Add(3 * time.Minute), Kind: "auth", Username: "alice", Result: "challenge"}, // same time: id orders
	}
	for _, ev := range evs {
		if err := s.Audit(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	return evs
}

func testAuditQuery(t *testing.T, s Store) {
	ctx := context.Background()
	evs := seedAudit(t, s)
	tests := []struct {
		name string
		f    AuditFilter
		want []int // indexes into evs, newest first
	}{
		{"all", AuditFilter{}, []int{4, 3, 2, 1, 0}},
		{"by user", AuditFilter{Username: "alice"}, []int{4, 3, 1, 0}},
		{"since inclusive", AuditFilter{Since: t0.Add(2 * time.Minute)}, []int{4, 3, 2}},
		{"by result", AuditFilter{Result: "reject"}, []int{2, 0}},
		{"by kind", AuditFilter{Kind: "admin"}, []int{3}},
		{"limit", AuditFilter{Limit: 2}, []int{4, 3}},
		{"combined", AuditFilter{Username: "alice", Result: "accept", Since: t0}, []int{1}},
		{"no match", AuditFilter{Username: "nobody"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.QueryAudit(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d events, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, idx := range tc.want {
				want := evs[idx]
				want.ID = got[i].ID
				if got[i] != want {
					t.Errorf("event %d:\n got %+v\nwant %+v", i, got[i], want)
				}
				if got[i].ID == 0 || got[i].Time.Location() != time.UTC {
					t.Errorf("event %d: id %d, location %v", i, got[i].ID, got[i].Time.Location())
				}
			}
		})
	}

	// A zero time is stamped on insert.
	before := time.Now()
	if err := s.Audit(ctx, AuditEvent{Username: "zoe", Result: "accept"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.QueryAudit(ctx, AuditFilter{Username: "zoe"})
	if err != nil || len(got) != 1 || got[0].Time.Before(before.Add(-time.Second)) {
		t.Fatalf("zero-time event: %+v, %v", got, err)
	}
}

func testAuditPrune(t *testing.T, s Store) {
	ctx := context.Background()
	seedAudit(t, s)
	n, err := s.PruneAudit(ctx, t0.Add(2*time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("PruneAudit = %d, %v; want 2", n, err)
	}
	left, err := s.QueryAudit(ctx, AuditFilter{})
	if err != nil || len(left) != 3 {
		t.Fatalf("left %d events, %v; want 3", len(left), err)
	}
	if n, err := s.PruneAudit(ctx, t0); err != nil || n != 0 {
		t.Fatalf("second prune = %d, %v; want 0", n, err)
	}
}

// testAccount: Account reads in one statement what GetUser, LockedUntil, Blocked and the
// failure counts read separately, for users with and without a record.
func testAccount(t *testing.T, s Store) {
	ctx := context.Background()
	pol := LockoutPolicy{Threshold: 3, Duration: time.Minute}
	fail := func(user, kind string, times int) {
		t.Helper()
		for range times {
			if _, err := s.RecordFailure(ctx, user, kind, t0, pol); err != nil {
				t.Fatal(err)
			}
		}
	}
	get := func(user string, now time.Time) Account {
		t.Helper()
		a, err := s.Account(ctx, user, now)
		if err != nil {
			t.Fatalf("Account(%q): %v", user, err)
		}
		return a
	}

	if a := get("nobody", t0); a.Found || a.Blocked || !a.LockedUntil.IsZero() || a.PasswordFailures != 0 || a.FactorFailures != 0 {
		t.Errorf("unknown user: %+v, want the zero Account", a)
	}

	// Failures are counted for names without a record too (unknown users are throttled).
	fail("ghost", KindPassword, 2)
	if a := get("ghost", t0); a.Found || a.PasswordFailures != 2 || a.Failures(KindPassword) != 2 || a.FactorFailures != 0 {
		t.Errorf("ghost: %+v, want 2 password failures and no record", a)
	}

	if err := s.EnrollTOTP(ctx, "alice", []byte("0123456789abcdefghij"), false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPhone(ctx, "alice", "+15551234567"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(ctx, "alice", StateEnforced); err != nil {
		t.Fatal(err)
	}
	fail("alice", KindPassword, 1)
	fail("alice", KindFactor, 2)
	a := get("alice", t0)
	want := mustGet(t, s, "alice")
	if !a.Found || a.User.Username != "alice" || !bytes.Equal(a.User.TOTPSecret, want.TOTPSecret) ||
		a.User.Phone != want.Phone || a.User.State != StateEnforced || a.User.TOTPLastStep != want.TOTPLastStep ||
		!a.User.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("alice's record: %+v, want %+v", a.User, want)
	}
	if a.PasswordFailures != 1 || a.FactorFailures != 2 || a.Failures(KindFactor) != 2 {
		t.Errorf("alice's failures: password %d factor %d, want 1 and 2", a.PasswordFailures, a.FactorFailures)
	}
	if !a.LockedUntil.IsZero() {
		t.Errorf("alice locked until %v before the threshold", a.LockedUntil)
	}

	fail("alice", KindFactor, 1) // the third: locked for a minute from t0
	until, err := s.LockedUntil(ctx, "alice", t0)
	if err != nil || until.IsZero() {
		t.Fatalf("LockedUntil = %v, %v; want a lockout", until, err)
	}
	if a := get("alice", t0); !a.LockedUntil.Equal(until) {
		t.Errorf("Account locked until %v, LockedUntil says %v", a.LockedUntil, until)
	}
	if a := get("alice", until); !a.LockedUntil.IsZero() {
		t.Errorf("Account at the lockout's end: still locked until %v", a.LockedUntil)
	}

	p, ok := s.(Portal)
	if !ok {
		return
	}
	if err := p.SetBlocked(ctx, "alice", true, "fraud reported", t0); err != nil {
		t.Fatal(err)
	}
	if a := get("alice", t0); !a.Blocked || a.BlockReason != "fraud reported" {
		t.Errorf("blocked alice: Blocked %v reason %q", a.Blocked, a.BlockReason)
	}
}
