package ldapauth_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/test/ldaptest"
)

var aliceIdentity = ldapauth.Identity{
	Username:    "alice",
	DN:          "uid=alice,ou=people,dc=example,dc=test",
	DisplayName: "Alice Anders",
	Mail:        "alice@example.test",
	Phone:       "+15551230001",
	Groups:      []string{"vpn-admins", "vpn-users"},
}

func TestAuthenticate(t *testing.T) {
	t.Parallel() // timing-sensitive tests stay sequential, and run first
	srv := ldaptest.Start(t, "testdata/twins.ldif")

	withGroups := func(mode, base, filter string) func(*ldapauth.Config) {
		return func(c *ldapauth.Config) { c.GroupMode, c.GroupBaseDN, c.GroupFilter = mode, base, filter }
	}
	noGroups := func(id ldapauth.Identity) ldapauth.Identity { id.Groups = nil; return id }

	tests := []struct {
		name      string
		config    func(*ldapauth.Config)
		username  string
		password  string
		want      ldapauth.Identity
		wantErr   error
		wantDials int // -1: don't care
	}{
		{name: "memberof alice", username: "alice", password: "alice-pass", want: aliceIdentity, wantDials: -1},
		{name: "memberof bob, display name falls back to cn", username: "bob", password: "bob-pass",
			want: ldapauth.Identity{Username: "bob", DN: "uid=bob,ou=people,dc=example,dc=test",
				DisplayName: "Bob Baker", Mail: "bob@example.test", Groups: []string{"vpn-users"}}, wantDials: -1},
		{name: "memberof carol, no groups", username: "carol", password: "carol-pass",
			want: ldapauth.Identity{Username: "carol", DN: "uid=carol,ou=people,dc=example,dc=test",
				DisplayName: "Carol Clark", Mail: "carol@example.test"}, wantDials: -1},
		{name: "search mode, default filter", config: withGroups("search", "", ""),
			username: "alice", password: "alice-pass", want: aliceIdentity, wantDials: -1},
		{name: "search mode, own filter and base", config: withGroups("search", "ou=groups,dc=example,dc=test", "(&(objectClass=groupOfNames)(member={dn}))"),
			username: "alice", password: "alice-pass", want: aliceIdentity, wantDials: -1},
		{name: "search mode by username", config: withGroups("search", "", "(&(cn=vpn-*)(member=uid={username},ou=people,dc=example,dc=test))"),
			username: "alice", password: "alice-pass", want: aliceIdentity, wantDials: -1},
		{name: "no groups mode", config: withGroups("none", "", ""),
			username: "alice", password: "alice-pass", want: noGroups(aliceIdentity), wantDials: -1},
		{name: "own attribute names", config: func(c *ldapauth.Config) { c.DisplayNameAttr, c.PhoneAttr, c.MailAttr = "sn", "MOBILE", "uid" },
			username: "alice", password: "alice-pass", wantDials: -1,
			want: ldapauth.Identity{Username: "alice", DN: aliceIdentity.DN, DisplayName: "Anders", Mail: "alice",
				Phone: "+15551230001", Groups: aliceIdentity.Groups}},
		{name: "directory matching rules: case and spaces; the entry's spelling", username: " ALICE ", password: "alice-pass",
			want: aliceIdentity, wantDials: -1},
		{name: "UsernameAttr named explicitly", config: func(c *ldapauth.Config) { c.UsernameAttr = "uid" },
			username: " ALICE ", password: "alice-pass", want: aliceIdentity, wantDials: -1},
		{name: "UsernameAttr that is not the filter's: the entry's value", config: func(c *ldapauth.Config) { c.UsernameAttr = "mail" },
			username: "alice", password: "alice-pass",
			want: func() ldapauth.Identity { id := aliceIdentity; id.Username = "alice@example.test"; return id }(), wantDials: -1},
		{name: "wrong password", username: "alice", password: "bob-pass", wantErr: ldapauth.ErrInvalidCredentials, wantDials: -1},
		{name: "unknown user", username: "mallory", password: "x", wantErr: ldapauth.ErrUserNotFound, wantDials: -1},
		{name: "empty password never reaches the network", username: "alice", password: "", wantErr: ldapauth.ErrEmptyPassword, wantDials: 0},
		{name: "empty username never reaches the network", username: "", password: "x", wantErr: ldapauth.ErrUserNotFound, wantDials: 0},
		{name: "ambiguous user", config: func(c *ldapauth.Config) { c.UserFilter = "(mail={username})" },
			username: "twins@example.test", password: "twin-pass", wantErr: ldapauth.ErrAmbiguousUser, wantDials: -1},
		{name: "filter matching everything is ambiguous", config: func(c *ldapauth.Config) { c.UserFilter = "(|(uid={username})(objectClass=inetOrgPerson))" },
			username: "alice", password: "alice-pass", wantErr: ldapauth.ErrAmbiguousUser, wantDials: -1},
		{name: "wrong service password is an outage, not the user's fault",
			config:   func(c *ldapauth.Config) { c.BindPassword = "wrong" },
			username: "alice", password: "alice-pass", wantErr: ldapauth.ErrUnavailable, wantDials: -1},
		{name: "base DN that does not exist is an outage", config: func(c *ldapauth.Config) { c.BaseDN = "ou=nowhere,dc=example,dc=test" },
			username: "alice", password: "alice-pass", wantErr: ldapauth.ErrUnavailable, wantDials: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig(srv)
			if tt.config != nil {
				tt.config(&cfg)
			}
			d, cd := newDirectory(t, cfg)
			got, err := d.Authenticate(t.Context(), tt.username, tt.password)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if !errors.Is(tt.wantErr, ldapauth.ErrUnavailable) && errors.Is(err, ldapauth.ErrUnavailable) {
					t.Fatalf("user failure %v also matches ErrUnavailable", err)
				}
				if strings.Contains(err.Error(), tt.password) && tt.password != "" {
					t.Errorf("error %q contains the password", err)
				}
			} else if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if tt.wantErr == nil && !identityEqual(got, tt.want) {
				t.Errorf("identity = %+v, want %+v", got, tt.want)
			}
			if dials, _, _ := cd.counts(); tt.wantDials >= 0 && dials != tt.wantDials {
				t.Errorf("dials = %d, want %d", dials, tt.wantDials)
			}
		})
	}
}

func identityEqual(a, b ldapauth.Identity) bool {
	return a.Username == b.Username && a.DN == b.DN && a.DisplayName == b.DisplayName &&
		a.Mail == b.Mail && a.Phone == b.Phone && slices.Equal(a.Groups, b.Groups)
}

// Usernames full of filter syntax must be literal: a bad password or an unknown user, never a
// success, never an outage (which a raw LDAP filter error would be).
func TestFilterMetacharacters(t *testing.T) {
	t.Parallel() // timing-sensitive tests stay sequential, and run first
	srv := ldaptest.Start(t)
	d, _ := newDirectory(t, baseConfig(srv))
	usernames := []string{
		"*", "a*", "*alice*", ")(uid=*", `\00`, "\x00", "alice\x00", "alice)(|(uid=*",
		"*)(uid=*))(|(uid=*", "(uid=alice)", `alice\`, `\2a`, "{username}", "\xff\xfe",
	}
	for _, name := range usernames {
		for _, password := range []string{"alice-pass", "wrong"} {
			t.Run(fmt.Sprintf("%q/%s", name, password), func(t *testing.T) {
				id, err := d.Authenticate(t.Context(), name, password)
				if err == nil {
					t.Fatalf("accepted %q as %s", name, id.DN)
				}
				if !errors.Is(err, ldapauth.ErrUserNotFound) && !errors.Is(err, ldapauth.ErrInvalidCredentials) {
					t.Fatalf("got %v, want ErrUserNotFound or ErrInvalidCredentials", err)
				}
				if _, err := d.Lookup(t.Context(), name); !errors.Is(err, ldapauth.ErrUserNotFound) {
					t.Errorf("Lookup: got %v, want ErrUserNotFound", err)
				}
			})
		}
	}
}

func TestFailover(t *testing.T) {
	srv := ldaptest.Start(t)
	const timeout = time.Second

	tests := []struct {
		name    string
		urls    []string
		timeout time.Duration
		ctx     time.Duration // 0: no deadline of its own
		wantErr error
		// maxFirst bounds the first call; maxSecond the next one, after the failed URL was
		// marked down.
		maxFirst, maxSecond time.Duration
	}{
		{name: "first URL refuses connections", urls: []string{closedPortURL(t), srv.URL},
			maxFirst: timeout, maxSecond: timeout / 2},
		{name: "first URL blackholed", urls: []string{"ldap://" + blackholeAddr(t), srv.URL},
			maxFirst: timeout + timeout/2, maxSecond: timeout / 2},
		{name: "first URL blackholed, ldaps", urls: []string{"ldaps://" + blackholeAddr(t), srv.URL},
			maxFirst: timeout + timeout/2, maxSecond: timeout / 2},
		{name: "all down", urls: []string{closedPortURL(t), "ldap://" + blackholeAddr(t)},
			wantErr: ldapauth.ErrUnavailable, maxFirst: timeout + timeout/2, maxSecond: timeout + timeout/2},
		{name: "ctx deadline shorter than Timeout", urls: []string{"ldap://" + blackholeAddr(t)},
			timeout: 10 * time.Second, ctx: 300 * time.Millisecond,
			wantErr: context.DeadlineExceeded, maxFirst: time.Second, maxSecond: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig(srv)
			cfg.URLs = tt.urls
			cfg.Timeout = timeout
			if tt.timeout != 0 {
				cfg.Timeout = tt.timeout
			}
			d, _ := newDirectory(t, cfg)
			for i, limit := range []time.Duration{tt.maxFirst, tt.maxSecond} {
				ctx := t.Context()
				if tt.ctx != 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.ctx)
					defer cancel()
				}
				start := time.Now()
				id, err := d.Authenticate(ctx, "alice", "alice-pass")
				took := time.Since(start)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) || !errors.Is(err, ldapauth.ErrUnavailable) {
						t.Fatalf("call %d: err = %v, want %v and ErrUnavailable", i+1, err, tt.wantErr)
					}
				} else if err != nil || id.DN != aliceIdentity.DN {
					t.Fatalf("call %d: %+v, %v", i+1, id, err)
				}
				if took > limit {
					t.Errorf("call %d took %v, want at most %v", i+1, took, limit)
				}
			}
		})
	}
}

// Pooled connections that went bad while idle: a reset is retried once on a fresh connection
// to the same URL; a server that went silent fails over within Timeout, not twice that.
func TestPooledConnectionsGoBad(t *testing.T) {
	srv := ldaptest.Start(t)
	const timeout = time.Second
	primary := strings.TrimPrefix(srv.URL, "ldap://")
	_, port, _ := strings.Cut(primary, ":")
	secondary := "localhost:" + port // the same slapd under another address

	tests := []struct {
		name    string
		fault   fault
		maxTook time.Duration
	}{
		{name: "reset: retried on a fresh connection", fault: faultReset, maxTook: timeout / 2},
		{name: "silent: failover within Timeout", fault: faultHang, maxTook: timeout + timeout/2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig(srv)
			cfg.URLs = []string{"ldap://" + primary, "ldap://" + secondary}
			cfg.Timeout = timeout
			d, cd := newDirectory(t, cfg)
			if _, err := d.Authenticate(t.Context(), "alice", "alice-pass"); err != nil {
				t.Fatal(err)
			}
			// Only the pooled connections go bad; new ones to the same address work.
			if n := cd.breakOpen(primary, tt.fault); n == 0 {
				t.Fatal("no pooled connection to break")
			}
			dialsBefore, _, _ := cd.counts()
			start := time.Now()
			id, err := d.Authenticate(t.Context(), "alice", "alice-pass")
			if took := time.Since(start); took > tt.maxTook {
				t.Errorf("took %v, want at most %v", took, tt.maxTook)
			}
			if err != nil || id.DN != aliceIdentity.DN {
				t.Fatalf("%+v, %v", id, err)
			}
			if dials, _, _ := cd.counts(); dials == dialsBefore {
				t.Errorf("no new connection was dialled")
			}
		})
	}
}

func TestCancelledContext(t *testing.T) {
	t.Parallel() // timing-sensitive tests stay sequential, and run first
	srv := ldaptest.Start(t)
	d, cd := newDirectory(t, baseConfig(srv))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := d.Authenticate(ctx, "alice", "alice-pass")
	if !errors.Is(err, ldapauth.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrUnavailable and context.Canceled", err)
	}
	if dials, _, _ := cd.counts(); dials != 0 {
		t.Errorf("dialled %d times for a cancelled request", dials)
	}
	// The URL was not marked down for the caller's cancellation.
	if _, err := d.Authenticate(t.Context(), "alice", "alice-pass"); err != nil {
		t.Fatalf("after cancellation: %v", err)
	}
}

// Callers queued behind a full pool give up when their ctx ends, not when the pool frees up.
func TestPoolWaitersHonourContext(t *testing.T) {
	srv := ldaptest.Start(t)
	cfg := baseConfig(srv)
	cfg.URLs = []string{"ldap://" + blackholeAddr(t)}
	cfg.PoolSize = 1
	cfg.Timeout = 10 * time.Second
	d, cd := newDirectory(t, cfg)

	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = d.Authenticate(ctx, "alice", "alice-pass") })
	}
	wg.Wait()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v, want about the ctx's 500ms", took)
	}
	for i, err := range errs {
		if !errors.Is(err, ldapauth.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if _, _, maxOpen := cd.counts(); maxOpen > 1 {
		t.Errorf("%d connections open at once, pool size 1", maxOpen)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel() // timing-sensitive tests stay sequential, and run first
	srv := ldaptest.Start(t)
	localhost := strings.Replace(srv.LDAPSURL, "127.0.0.1", "localhost", 1)
	tests := []struct {
		name    string
		config  func(*ldapauth.Config)
		wantErr error
	}{
		{name: "ldaps with CAFile", config: func(c *ldapauth.Config) { c.URLs, c.CAFile = []string{srv.LDAPSURL}, srv.CAFile }},
		{name: "ldaps by host name", config: func(c *ldapauth.Config) { c.URLs, c.CAFile = []string{localhost}, srv.CAFile }},
		{name: "StartTLS with CAFile", config: func(c *ldapauth.Config) { c.StartTLS, c.CAFile = true, srv.CAFile }},
		{name: "ldaps untrusted", config: func(c *ldapauth.Config) { c.URLs = []string{srv.LDAPSURL} },
			wantErr: ldapauth.ErrUnavailable},
		{name: "StartTLS untrusted", config: func(c *ldapauth.Config) { c.StartTLS = true },
			wantErr: ldapauth.ErrUnavailable},
		{name: "ldaps InsecureSkipVerify", config: func(c *ldapauth.Config) { c.URLs, c.InsecureSkipVerify = []string{srv.LDAPSURL}, true }},
		{name: "ldaps to the plain port", config: func(c *ldapauth.Config) {
			c.URLs, c.CAFile = []string{strings.Replace(srv.URL, "ldap:", "ldaps:", 1)}, srv.CAFile
		}, wantErr: ldapauth.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig(srv)
			tt.config(&cfg)
			d, _ := newDirectory(t, cfg)
			for _, call := range []string{"first", "pooled"} {
				id, err := d.Authenticate(t.Context(), "alice", "alice-pass")
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("%s: err = %v, want %v", call, err, tt.wantErr)
					}
					continue
				}
				if err != nil || !identityEqual(id, aliceIdentity) {
					t.Fatalf("%s: %+v, %v", call, id, err)
				}
			}
		})
	}
}

// A burst far larger than the pool waits for connections instead of opening more, and every
// answer is still the right one (no identity leaks between pooled binds).
func TestBurstStaysWithinPool(t *testing.T) {
	t.Parallel() // timing-sensitive tests stay sequential, and run first
	srv := ldaptest.Start(t)
	for _, mode := range []string{ldapauth.GroupModeMemberOf, ldapauth.GroupModeSearch} {
		t.Run(mode, func(t *testing.T) {
			cfg := baseConfig(srv)
			cfg.PoolSize = 4
			cfg.GroupMode = mode
			d, cd := newDirectory(t, cfg)

			groups := map[string][]string{"alice": {"vpn-admins", "vpn-users"}, "bob": {"vpn-users"}}
			type call struct {
				user, password string
				wantErr        error
			}
			calls := []call{
				{user: "alice", password: "alice-pass"},
				{user: "bob", password: "bob-pass"},
				{user: "alice", password: "bob-pass", wantErr: ldapauth.ErrInvalidCredentials},
				{user: "carol", password: "carol-pass"},
				{user: "nobody", password: "x", wantErr: ldapauth.ErrUserNotFound},
			}
			var wg sync.WaitGroup
			errs := make(chan error, 200)
			for i := range 200 {
				c := calls[i%len(calls)]
				wg.Go(func() {
					var id ldapauth.Identity
					var err error
					if i%7 == 6 {
						id, err = d.Lookup(t.Context(), c.user)
						if c.user == "nobody" {
							c.wantErr = ldapauth.ErrUserNotFound
						} else {
							c.wantErr = nil
						}
					} else {
						id, err = d.Authenticate(t.Context(), c.user, c.password)
					}
					switch {
					case c.wantErr != nil && !errors.Is(err, c.wantErr):
						errs <- fmt.Errorf("call %d %s: err = %v, want %v", i, c.user, err, c.wantErr)
					case c.wantErr == nil && err != nil:
						errs <- fmt.Errorf("call %d %s: %v", i, c.user, err)
					case c.wantErr == nil && (id.Username != c.user || !slices.Equal(id.Groups, groups[c.user])):
						errs <- fmt.Errorf("call %d %s: identity %+v", i, c.user, id)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			dials, _, maxOpen := cd.counts()
			if maxOpen > cfg.PoolSize {
				t.Errorf("%d connections open at once, pool size %d", maxOpen, cfg.PoolSize)
			}
			if dials > cfg.PoolSize {
				t.Errorf("%d dials: connections were not reused (pool size %d)", dials, cfg.PoolSize)
			}
			t.Logf("dials %d, most open at once %d", dials, maxOpen)
		})
	}
}

func TestLookup(t *testing.T) {
	t.Parallel() // timing-sensitive tests stay sequential, and run first
	srv := ldaptest.Start(t)
	tests := []struct {
		name     string
		mode     string
		username string
		want     ldapauth.Identity
		wantErr  error
	}{
		{name: "memberof", mode: "memberof", username: "alice", want: aliceIdentity},
		{name: "search", mode: "search", username: "alice", want: aliceIdentity},
		{name: "unknown", mode: "memberof", username: "mallory", wantErr: ldapauth.ErrUserNotFound},
		{name: "wildcard", mode: "memberof", username: "*", wantErr: ldapauth.ErrUserNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig(srv)
			cfg.GroupMode = tt.mode
			d, _ := newDirectory(t, cfg)
			got, err := d.Lookup(t.Context(), tt.username)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && !identityEqual(got, tt.want) {
				t.Errorf("identity = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestChangePassword(t *testing.T) {
	t.Parallel() // timing-sensitive tests stay sequential, and run first
	srv := ldaptest.Start(t)
	srv.AddUser(t, "dave", "old-pass", "vpn-users")
	srv.AddUser(t, "erin", "erin-pass")
	tests := []struct {
		name          string
		startTLS      bool
		user          string
		old, new      string
		wantErr       error
		thenGood      string // password that must work afterwards
		thenBad       string // password that must no longer work
		wantGroupsFor []string
	}{
		{name: "wrong old password", user: "dave", old: "nope", new: "new-pass", wantErr: ldapauth.ErrInvalidCredentials,
			thenGood: "old-pass", thenBad: "new-pass"},
		{name: "empty new password", user: "dave", old: "old-pass", new: "", wantErr: ldapauth.ErrEmptyPassword, thenGood: "old-pass"},
		{name: "empty old password", user: "dave", old: "", new: "new-pass", wantErr: ldapauth.ErrEmptyPassword, thenGood: "old-pass"},
		{name: "unknown user", user: "mallory", old: "x", new: "y", wantErr: ldapauth.ErrUserNotFound},
		{name: "change", user: "dave", old: "old-pass", new: "new-pass", thenGood: "new-pass", thenBad: "old-pass"},
		{name: "change over StartTLS", startTLS: true, user: "erin", old: "erin-pass", new: "Erin-2", thenGood: "Erin-2", thenBad: "erin-pass"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig(srv)
			if tt.startTLS {
				cfg.StartTLS, cfg.CAFile = true, srv.CAFile
			}
			d, _ := newDirectory(t, cfg)
			err := d.ChangePassword(t.Context(), tt.user, tt.old, tt.new)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.thenGood != "" {
				if _, err := d.Authenticate(t.Context(), tt.user, tt.thenGood); err != nil {
					t.Errorf("password %q should work: %v", tt.thenGood, err)
				}
			}
			if tt.thenBad != "" {
				if _, err := d.Authenticate(t.Context(), tt.user, tt.thenBad); !errors.Is(err, ldapauth.ErrInvalidCredentials) {
					t.Errorf("password %q should be refused: %v", tt.thenBad, err)
				}
			}
		})
	}
}

func TestPing(t *testing.T) {
	srv := ldaptest.Start(t)
	dead, hole := closedPortURL(t), "ldap://"+blackholeAddr(t)
	cfg := baseConfig(srv)
	cfg.URLs = []string{dead, srv.URL, hole}
	cfg.Timeout = 500 * time.Millisecond
	d, _ := newDirectory(t, cfg)

	start := time.Now()
	got := d.Ping(t.Context())
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Ping took %v; URLs are pinged in parallel, each within Timeout", took)
	}
	if len(got) != 3 {
		t.Fatalf("Ping = %v, want 3 entries", got)
	}
	if err := got[srv.URL]; err != nil {
		t.Errorf("%s: %v", srv.URL, err)
	}
	for _, u := range []string{dead, hole} {
		if err := got[u]; !errors.Is(err, ldapauth.ErrUnavailable) || !strings.Contains(err.Error(), u) {
			t.Errorf("%s: %v, want ErrUnavailable naming the URL", u, err)
		}
	}

	cfg.URLs, cfg.BindPassword = []string{srv.URL}, "wrong"
	d, _ = newDirectory(t, cfg)
	if err := d.Ping(t.Context())[srv.URL]; !errors.Is(err, ldapauth.ErrUnavailable) {
		t.Errorf("wrong service password: %v, want ErrUnavailable", err)
	}
}

func TestClose(t *testing.T) {
	t.Parallel() // timing-sensitive tests stay sequential, and run first
	srv := ldaptest.Start(t)
	d, cd := newDirectory(t, baseConfig(srv))
	if _, err := d.Authenticate(t.Context(), "alice", "alice-pass"); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, open, _ := cd.counts(); open != 0 {
		t.Errorf("%d connections still open after Close", open)
	}
	if _, err := d.Authenticate(t.Context(), "alice", "alice-pass"); !errors.Is(err, ldapauth.ErrUnavailable) {
		t.Errorf("after Close: %v, want ErrUnavailable", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel() // timing-sensitive tests stay sequential, and run first
	good := ldapauth.Config{URLs: []string{"ldap://127.0.0.1:1"}, BindDN: "cn=s", BindPassword: "p",
		BaseDN: "dc=x", UserFilter: "(uid={username})"}
	tests := []struct {
		name   string
		config func(*ldapauth.Config)
		want   []string
	}{
		{name: "no URLs", config: func(c *ldapauth.Config) { c.URLs = nil }, want: []string{"no URLs"}},
		{name: "bad scheme", config: func(c *ldapauth.Config) { c.URLs = []string{"http://x"} }, want: []string{`"http://x": scheme`}},
		{name: "no host", config: func(c *ldapauth.Config) { c.URLs = []string{"ldap://"} }, want: []string{"no host"}},
		{name: "filter without placeholder", config: func(c *ldapauth.Config) { c.UserFilter = "(uid=alice)" }, want: []string{"has no {username}"}},
		{name: "filter does not compile", config: func(c *ldapauth.Config) { c.UserFilter = "(uid={username}" }, want: []string{"UserFilter"}},
		{name: "bind DN without password", config: func(c *ldapauth.Config) { c.BindPassword = "" }, want: []string{"BindDN set without BindPassword"}},
		{name: "unknown group mode", config: func(c *ldapauth.Config) { c.GroupMode = "nested" }, want: []string{`GroupMode "nested"`}},
		{name: "group filter without placeholder", config: func(c *ldapauth.Config) { c.GroupMode, c.GroupFilter = "search", "(cn=x)" }, want: []string{"GroupFilter"}},
		{name: "missing CA file", config: func(c *ldapauth.Config) { c.CAFile = "/nonexistent/ca.pem" }, want: []string{"CAFile"}},
		{name: "every problem at once", config: func(c *ldapauth.Config) { c.URLs, c.BaseDN, c.UserFilter = nil, "", "" },
			want: []string{"no URLs", "no BaseDN", "UserFilter"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.config(&cfg)
			_, err := ldapauth.New(cfg, zerolog.Nop())
			if err == nil {
				t.Fatal("New accepted the config")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := ldapauth.New(good, zerolog.Nop()); err != nil {
		t.Errorf("good config: %v", err)
	}
}

// TestLooseDirectoryMatch: slapd matches compatibility forms, case and extra spaces of a uid to
// alice's entry. With Normalize set (as radmfa always sets it) only the name that normalises to
// the entry's own uid gets it; every other form is an unknown user, refused before any bind.
func TestLooseDirectoryMatch(t *testing.T) {
	t.Parallel()
	srv := ldaptest.Start(t)
	cfg := baseConfig(srv)
	n := ldapauth.Normalizer{Lowercase: true}
	cfg.Normalize = n.Normalize
	d, _ := newDirectory(t, cfg)
	for _, name := range []string{"ａlice", "𝐚𝐥𝐢𝐜𝐞", "ⓐⓛⓘⓒⓔ", "ALICE", "Alice", "alice ", " alice"} {
		t.Run(name, func(t *testing.T) {
			id, err := d.Authenticate(t.Context(), name, "alice-pass")
			if !errors.Is(err, ldapauth.ErrUserNotFound) {
				t.Fatalf("Authenticate(%q) = %+v, %v; want ErrUserNotFound", name, id, err)
			}
			if _, err := d.Lookup(t.Context(), name); !errors.Is(err, ldapauth.ErrUserNotFound) {
				t.Fatalf("Lookup(%q): %v, want ErrUserNotFound", name, err)
			}
			// What the engine searches for is the normalised name, and that one is alice.
			id, err = d.Authenticate(t.Context(), n.Normalize(name), "alice-pass")
			if err != nil || id.Username != "alice" {
				t.Fatalf("Authenticate(%q) = %+v, %v; want alice", n.Normalize(name), id, err)
			}
		})
	}

	// Without Normalize the directory's loose match is taken as is: the hole the check closes.
	plain, _ := newDirectory(t, baseConfig(srv))
	if _, err := plain.Authenticate(t.Context(), "ａlice", "alice-pass"); err != nil {
		t.Skipf("this slapd does not match compatibility forms (%v): nothing to guard", err)
	}
}

func TestUsernameAttrOf(t *testing.T) {
	tests := []struct{ filter, want string }{
		{"(uid={username})", "uid"},
		{"(&(objectClass=inetOrgPerson)(uid={username}))", "uid"},
		{"(&(objectCategory=person)(objectClass=user)(sAMAccountName={username}))", "sAMAccountName"},
		{"(|(uid={username})(UID={username}))", "uid"},
		{"(|(uid={username})(mail={username}))", ""},
		{"(cn=*{username}*)", ""},
		{"(&(uid={username})(cn=*{username}))", ""},
		{"(objectClass=person)", ""},
		{"( userPrincipalName = {username} )", "userPrincipalName"},
	}
	for _, tt := range tests {
		if got := ldapauth.UsernameAttrOf(tt.filter); got != tt.want {
			t.Errorf("UsernameAttrOf(%q) = %q, want %q", tt.filter, got, tt.want)
		}
	}
}
