package ldapauth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/test/ldaptest"
)

func TestStats(t *testing.T) {
	srv := ldaptest.Start(t)
	dead := closedPortURL(t)
	cfg := baseConfig(srv)
	cfg.URLs = []string{dead, srv.URL}
	d, _ := newDirectory(t, cfg)

	want := func(name string, got ldapauth.PoolStats, url string, inUse, idle int, errs uint64, down bool) {
		t.Helper()
		w := ldapauth.PoolStats{URL: url, Size: cfg.PoolSize, InUse: inUse, Idle: idle, Errors: errs, Down: down}
		if got != w {
			t.Errorf("%s: %+v, want %+v", name, got, w)
		}
	}
	st := d.Stats()
	if len(st) != 2 {
		t.Fatalf("Stats() = %+v, want 2 URLs", st)
	}
	want("before use, dead URL", st[0], dead, 0, 0, 0, false)
	want("before use, live URL", st[1], srv.URL, 0, 0, 0, false)

	if _, err := d.Authenticate(t.Context(), "alice", "alice-pass"); err != nil {
		t.Fatal(err)
	}
	st = d.Stats()
	want("after a sign-in, dead URL", st[0], dead, 0, 0, 1, true)
	if st[1].InUse != 0 || st[1].Idle < 1 || st[1].Errors != 0 || st[1].Down {
		t.Errorf("after a sign-in, live URL: %+v, want idle connections, none in use, no errors", st[1])
	}

	// A wrong password is the user's failure, not the directory's.
	if _, err := d.Authenticate(t.Context(), "alice", "nope"); !errors.Is(err, ldapauth.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	// A request its caller cancelled is not the URL's failure either.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_ = d.Ping(ctx)
	if got := d.Stats()[1].Errors; got != 0 {
		t.Errorf("live URL errors = %d after a wrong password and a cancelled ping, want 0", got)
	}

	_ = d.Ping(t.Context())
	if got := d.Stats()[0].Errors; got != 2 {
		t.Errorf("dead URL errors = %d after a sign-in and a ping, want 2", got)
	}

	_ = d.Close()
	if st := d.Stats(); st[1].InUse != 0 || st[1].Idle != 0 {
		t.Errorf("after Close: %+v, want nothing open", st[1])
	}
}
