package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/radmfa/radmfa/test/pgtest"
)

// Tests of several radmfa nodes on one database: each node is a Postgres store with its own
// pool, as separate processes would have.

func twoNodes(t *testing.T) (a, b *Postgres) {
	t.Helper()
	dsn, keys := pgDatabase(t), testKeyring(t)
	return openPostgres(t, dsn, keys), openPostgres(t, dsn, keys)
}

func TestPostgresNodesUseTOTPStep(t *testing.T) {
	ctx := context.Background()
	a, b := twoNodes(t)
	if err := a.EnrollTOTP(ctx, "alice", []byte("secret"), false); err != nil {
		t.Fatal(err)
	}
	// The same code reaches both nodes at once (a retransmit sent to two servers), 100 times.
	const rounds = 100
	for round := 1; round <= rounds; round++ {
		step := int64(1000 + round)
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, node := range []*Postgres{a, b, a, b} {
			wg.Go(func() {
				<-start
				ok, err := node.UseTOTPStep(ctx, "alice", step, 0)
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d callers on two nodes accepted step %d, want exactly 1", round, wins.Load(), step)
		}
	}
	if u := mustGet(t, b, "alice"); u.TOTPLastStep != 1000+rounds {
		t.Fatalf("last step %d, want %d", u.TOTPLastStep, 1000+rounds)
	}
}

func TestPostgresNodesOnce(t *testing.T) {
	// A retransmit answered on one node must not be answered again on another.
	ctx := context.Background()
	a, b := twoNodes(t)
	now := t0
	for round := range 50 {
		key := fmt.Sprintf("retransmit-%d", round)
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, node := range []*Postgres{a, b, a, b} {
			wg.Go(func() {
				<-start
				ok, err := node.Once(ctx, key, now, now.Add(time.Minute))
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d nodes took key %q, want 1", round, wins.Load(), key)
		}
	}
}

func TestPostgresNodesRecordFailure(t *testing.T) {
	ctx := context.Background()
	a, b := twoNodes(t)
	pol := LockoutPolicy{Threshold: 10, Duration: time.Minute, Max: time.Hour}
	// Both nodes count failures of the same user at once; 30 failures are exactly 3 lockouts,
	// with levels 0, 1 and 2 (1, 2 and 4 minutes).
	const n = 30
	var wg sync.WaitGroup
	locks := make(chan time.Time, n)
	for i := range n {
		node := []*Postgres{a, b}[i%2]
		wg.Go(func() {
			until, err := node.RecordFailure(ctx, "bob", KindPassword, t0, pol)
			if err != nil {
				t.Error(err)
			}
			locks <- until
		})
	}
	wg.Wait()
	close(locks)
	got := map[time.Duration]int{}
	for u := range locks {
		if !u.IsZero() {
			got[u.Sub(t0)]++
		}
	}
	want := map[time.Duration]int{time.Minute: 1, 2 * time.Minute: 1, 4 * time.Minute: 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lockouts by duration %v, want %v", got, want)
	}
}

func TestPostgresNodesLockoutKinds(t *testing.T) {
	// A password and a factor failure reaching their thresholds at once on two nodes must be
	// two lockouts in a row (levels 0 and 1), not two level-0 lockouts.
	ctx := context.Background()
	a, b := twoNodes(t)
	pol := LockoutPolicy{Threshold: 1, Duration: time.Minute, Max: time.Hour}
	for round := range 50 {
		user := fmt.Sprintf("carol%d", round)
		var wg sync.WaitGroup
		ends := make([]time.Time, 2)
		for i, kind := range []string{KindPassword, KindFactor} {
			node := []*Postgres{a, b}[i]
			wg.Go(func() {
				until, err := node.RecordFailure(ctx, user, kind, t0, pol)
				if err != nil {
					t.Error(err)
				}
				ends[i] = until
			})
		}
		wg.Wait()
		d1, d2 := ends[0].Sub(t0), ends[1].Sub(t0)
		if min(d1, d2) != time.Minute || max(d1, d2) != 2*time.Minute {
			t.Fatalf("round %d: lockouts of %v and %v, want 1m and 2m", round, d1, d2)
		}
	}
}

func TestPostgresNodesConcurrentOpen(t *testing.T) {
	// Nodes starting at once on a new database: one migrates and seals the key check, the
	// others wait on the advisory lock and find both done.
	ctx := context.Background()
	dsn, keys := pgDatabase(t), testKeyring(t)
	const n = 4
	stores := make([]*Postgres, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = OpenPostgres(ctx, dsn, keys)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		s := stores[i]
		t.Cleanup(func() { s.Close() })
	}
	if err := stores[0].EnrollTOTP(ctx, "alice", []byte("s"), false); err != nil {
		t.Fatal(err)
	}
	if err := stores[n-1].EnrollTOTP(ctx, "alice", []byte("t"), false); !errors.Is(err, ErrExists) {
		t.Fatalf("other node: %v, want ErrExists", err)
	}
	// Each migration applied once.
	ms, err := loadMigrations(postgresMigrations, "migrations/postgres")
	if err != nil {
		t.Fatal(err)
	}
	var versions int
	if err := rawPG(t, dsn).QueryRow(ctx, `SELECT count(*) FROM schema_version`).Scan(&versions); err != nil || versions != len(ms) {
		t.Fatalf("%d schema_version rows, %v; want %d", versions, err, len(ms))
	}

	// A node started with another key at the same time as the first is refused, whichever
	// of them seals the key check.
	dsn = pgDatabase(t)
	other := testKeyring(t)
	wrong := 0
	for i, k := range []*Keyring{keys, other} {
		wg.Go(func() {
			stores[i], errs[i] = OpenPostgres(ctx, dsn, k)
		})
	}
	wg.Wait()
	for i := range 2 {
		if errors.Is(errs[i], ErrWrongKey) {
			wrong++
		} else if errs[i] != nil {
			t.Fatalf("node %d: %v", i, errs[i])
		} else {
			stores[i].Close()
		}
	}
	if wrong != 1 {
		t.Fatalf("%d of two nodes with different keys refused, want 1 (%v)", wrong, errs[:2])
	}
}

func TestPostgresOutage(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.StartPrivate(t) // stopped and restarted below: not the shared cluster
	p := openPostgres(t, srv.NewDatabase(t), testKeyring(t))
	if err := p.EnrollTOTP(ctx, "alice", []byte("secret"), false); err != nil {
		t.Fatal(err)
	}
	if ok, err := p.UseTOTPStep(ctx, "alice", 10, 0); !ok || err != nil {
		t.Fatalf("UseTOTPStep = %v, %v", ok, err)
	}

	// A restart (failover, maintenance) breaks every pooled connection; the next call after
	// the database is back must succeed on a new one, without reopening the store.
	srv.Restart(t)
	if ok, err := p.UseTOTPStep(ctx, "alice", 11, 0); !ok || err != nil {
		t.Fatalf("first call after restart: %v, %v", ok, err)
	}
	if u := mustGet(t, p, "alice"); string(u.TOTPSecret) != "secret" || u.TOTPLastStep != 11 {
		t.Fatalf("after restart: %+v", u)
	}

	// Stopped: calls fail with ErrUnavailable, promptly, and within the caller's deadline.
	srv.Stop(t)
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"GetUser", func(ctx context.Context) error { _, err := p.GetUser(ctx, "alice"); return err }},
		{"UseTOTPStep", func(ctx context.Context) error { _, err := p.UseTOTPStep(ctx, "alice", 12, 0); return err }},
		{"RecordFailure", func(ctx context.Context) error {
			_, err := p.RecordFailure(ctx, "alice", KindFactor, t0, LockoutPolicy{Threshold: 3, Duration: time.Minute})
			return err
		}},
		{"LockedUntil", func(ctx context.Context) error { _, err := p.LockedUntil(ctx, "alice", t0); return err }},
		{"Audit", func(ctx context.Context) error { return p.Audit(ctx, AuditEvent{Username: "alice"}) }},
		{"Ping", p.Ping},
	}
	const deadline = 3 * time.Second
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			cctx, cancel := context.WithTimeout(ctx, deadline)
			defer cancel()
			begin := time.Now()
			err := c.call(cctx)
			took := time.Since(begin)
			if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotFound) {
				t.Errorf("database down: %v; want ErrUnavailable", err)
			}
			if took > deadline+time.Second {
				t.Errorf("took %v with a %v deadline", took, deadline)
			}
		})
	}
	// Without a deadline of its own a call is still bounded (connection refused at once here;
	// pgConnectTimeout and pgCallTimeout otherwise).
	begin := time.Now()
	if _, err := p.GetUser(ctx, "alice"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("no deadline, database down: %v", err)
	}
	if took := time.Since(begin); took > pgConnectTimeout+time.Second {
		t.Errorf("call without deadline took %v", took)
	}

	// And back again.
	srv.Restart(t)
	if ok, err := p.UseTOTPStep(ctx, "alice", 12, 0); !ok || err != nil {
		t.Fatalf("after the outage: %v, %v", ok, err)
	}
}
