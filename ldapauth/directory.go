package ldapauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/rs/zerolog"
)

// Directory is the LDAP Authenticator: a service-account search, then a bind as the user,
// against a list of URLs with failover and a bounded connection pool per URL.
type Directory struct {
	cfg     Config
	log     zerolog.Logger
	servers []*server
	attrs   []string       // attributes fetched by the user search
	cache   *identityCache // nil when Config.CacheTTL is 0
}

var _ Authenticator = (*Directory)(nil)

// server is one configured URL, its pool and its health.
type server struct {
	endpoint
	pool      *pool
	downUntil atomic.Int64  // unix nanoseconds; 0 while the URL answers
	failures  atomic.Uint64 // serverFailed calls not caused by the caller's ctx, for Stats
}

// New returns a Directory for cfg. It does not connect: connections are opened on first use,
// so a directory that is down at start-up does not keep the server from starting (see Ping).
func New(cfg Config, log zerolog.Logger) (*Directory, error) {
	d := &net.Dialer{KeepAlive: 30 * time.Second}
	return NewWithDialer(cfg, log, d.DialContext)
}

// NewWithDialer is New with the transport dialer injected (tests count or fake connections).
func NewWithDialer(cfg Config, log zerolog.Logger, dialFn DialFunc) (*Directory, error) {
	if dialFn == nil {
		return nil, errors.New("ldapauth: nil DialFunc")
	}
	cfg = withDefaults(cfg)
	if err := validate(cfg); err != nil {
		return nil, err
	}
	base, err := baseTLSConfig(cfg)
	if err != nil {
		return nil, err
	}
	d := &Directory{
		cfg:   cfg,
		log:   log.With().Str("component", "ldapauth").Logger(),
		attrs: userAttributes(cfg),
		cache: newIdentityCache(cfg.CacheTTL, 100_000),
	}
	for _, raw := range cfg.URLs {
		ep, _ := parseURL(raw) // validated above
		tc := base.Clone()
		tc.ServerName = ep.host
		s := &server{endpoint: ep}
		s.pool = newPool(cfg.PoolSize, func(ctx context.Context) (*conn, error) {
			return dial(ctx, dialFn, ep, tc, cfg.StartTLS, cfg.Timeout)
		})
		d.servers = append(d.servers, s)
	}
	return d, nil
}

// Authenticate checks password for username: search as the service account, then bind as
// the entry found. Groups are read only after the bind succeeded.
func (d *Directory) Authenticate(ctx context.Context, username, password string) (Identity, error) {
	if password == "" {
		return Identity{}, ErrEmptyPassword
	}
	if username == "" {
		return Identity{}, fmt.Errorf("%w: empty username", ErrUserNotFound)
	}
	if id, ok := d.cache.get(username); ok {
		err := d.onServers(ctx, func(s *server) error { return d.bindUser(ctx, s, id.DN, password) })
		if err == nil {
			return id, nil
		}
		// Never a second bind for one attempt (each failed bind is a bad-password count in
		// AD). The entry is dropped so the next attempt searches afresh: a renamed or moved
		// entry answers "invalid credentials" at its old DN.
		d.cache.forget(username)
		return Identity{}, err
	}
	var id Identity
	err := d.onServers(ctx, func(s *server) error {
		entry, err := d.findUser(ctx, s, username)
		if err != nil {
			return err
		}
		if err := d.bindUser(ctx, s, entry.DN, password); err != nil {
			return err
		}
		id, err = d.identity(ctx, s, username, entry)
		return err
	})
	if err != nil {
		return Identity{}, err
	}
	d.cache.put(username, id)
	return id, nil
}

// Lookup finds username and its identity without checking a password.
func (d *Directory) Lookup(ctx context.Context, username string) (Identity, error) {
	if username == "" {
		return Identity{}, fmt.Errorf("%w: empty username", ErrUserNotFound)
	}
	if id, ok := d.cache.get(username); ok {
		return id, nil
	}
	var id Identity
	err := d.onServers(ctx, func(s *server) error {
		entry, err := d.findUser(ctx, s, username)
		if err != nil {
			return err
		}
		id, err = d.identity(ctx, s, username, entry)
		return err
	})
	if err != nil {
		return Identity{}, err
	}
	d.cache.put(username, id)
	return id, nil
}

// Ping binds as the service account on every URL (in parallel), even over connections that
// are already bound, so that it proves the credentials still work. Every URL gets an entry:
// nil when it answered. It also updates the URLs' up/down state.
func (d *Directory) Ping(ctx context.Context) map[string]error {
	out := make(map[string]error, len(d.servers))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range d.servers {
		wg.Go(func() {
			err := d.ping(ctx, s)
			mu.Lock()
			out[s.url] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

func (d *Directory) ping(ctx context.Context, s *server) error {
	c, err := s.pool.get(ctx, false)
	if err != nil {
		return d.serverFailed(ctx, s, &unavailableError{url: s.url, step: "connect", err: err})
	}
	if err := d.bindService(ctx, c); err != nil {
		ferr := c.fail("service bind", err)
		s.pool.put(c)
		return d.serverFailed(ctx, s, ferr)
	}
	s.pool.put(c)
	d.markUp(s)
	return nil
}

// Close closes the idle connections; connections still in use close when their request ends.
func (d *Directory) Close() error {
	for _, s := range d.servers {
		s.pool.close()
	}
	return nil
}

// onServers runs fn against one URL after another until one gives an answer: success or a
// user failure. URLs marked down are tried only after the others, so an outage of every URL
// still gets each one tried once per request rather than rejected outright.
func (d *Directory) onServers(ctx context.Context, fn func(s *server) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var details []string
	for _, s := range d.order() {
		err := fn(s)
		var ue *unavailableError
		if err != nil && errors.As(err, &ue) && ue.stale && !ue.final && ctx.Err() == nil {
			// A pooled connection went bad while idle; the pool was flushed: try once fresh.
			s.pool.flush()
			d.log.Debug().Str("url", s.url).Err(err).Msg("retrying on a fresh connection")
			err = fn(s)
		}
		if err == nil {
			d.markUp(s)
			return nil
		}
		if !errors.As(err, &ue) {
			return err // the user's failure: the same on every URL
		}
		err = d.serverFailed(ctx, s, err)
		if ctx.Err() != nil || ue.final {
			return err
		}
		details = append(details, ue.detail())
	}
	if len(details) == 0 {
		return fmt.Errorf("%w: no URL tried", ErrUnavailable)
	}
	return fmt.Errorf("%w: %s", ErrUnavailable, strings.Join(details, "; "))
}

// serverFailed records that s failed with err (an *unavailableError) and returns err. A
// cancelled or expired ctx is the caller's doing and does not mark s down.
func (d *Directory) serverFailed(ctx context.Context, s *server, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		if !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w: %w", err, ctxErr)
		}
		return err
	}
	s.failures.Add(1)
	var ue *unavailableError
	if errors.As(err, &ue) && !isServerResult(ue.err) {
		// Network trouble: the idle connections to s are suspect too.
		s.pool.flush()
	}
	until := time.Now().Add(downBackoff).UnixNano()
	if s.downUntil.Swap(until) == 0 {
		d.log.Warn().Str("url", s.url).Err(err).Dur("backoff", downBackoff).
			Msg("directory URL failed; other URLs are preferred during the backoff")
	}
	return err
}

func (d *Directory) markUp(s *server) {
	if s.downUntil.Load() != 0 && s.downUntil.Swap(0) != 0 {
		d.log.Info().Str("url", s.url).Msg("directory URL answers again")
	}
}

// order returns the URLs to try: those up in configured order, then those marked down.
func (d *Directory) order() []*server {
	now := time.Now().UnixNano()
	out := make([]*server, 0, len(d.servers))
	var down []*server
	for _, s := range d.servers {
		if s.downUntil.Load() > now {
			down = append(down, s)
		} else {
			out = append(out, s)
		}
	}
	return append(out, down...)
}

// acquire takes a connection from s's pool, bound as the service account when service is
// set. The caller gives it back with s.pool.put.
func (d *Directory) acquire(ctx context.Context, s *server, service bool) (*conn, error) {
	c, err := s.pool.get(ctx, service)
	if err != nil {
		return nil, &unavailableError{url: s.url, step: "connect", err: err}
	}
	if service && !c.service {
		if err := d.bindService(ctx, c); err != nil {
			ferr := c.fail("service bind", err)
			s.pool.put(c)
			return nil, ferr
		}
	}
	return c, nil
}

// bindService binds c as the service account (anonymous when no BindDN is configured).
func (d *Directory) bindService(ctx context.Context, c *conn) error {
	c.service = false
	err := c.run(ctx, d.cfg.Timeout, func(lc *ldap.Conn) error {
		if d.cfg.BindDN == "" {
			return lc.UnauthenticatedBind("")
		}
		return lc.Bind(d.cfg.BindDN, d.cfg.BindPassword)
	})
	if err != nil {
		return fmt.Errorf("as %s: %w", d.cfg.BindDN, err)
	}
	c.service = true
	return nil
}

// bindUser binds as dn on a user-bind connection. Such connections go back to the pool
// bound as the user: the next bind replaces that identity, so no re-bind is needed.
func (d *Directory) bindUser(ctx context.Context, s *server, dn, password string) error {
	c, err := d.acquire(ctx, s, false)
	if err != nil {
		return err
	}
	err = d.bindAs(ctx, c, dn, password)
	s.pool.put(c)
	return err
}

// bindAs binds c as dn and classifies the outcome: nil, a user error, or the server's failure.
func (d *Directory) bindAs(ctx context.Context, c *conn, dn, password string) error {
	// Never an unauthenticated bind (empty password) or an anonymous one (empty DN).
	if password == "" {
		return ErrEmptyPassword
	}
	if dn == "" {
		return c.fail("bind as user", errors.New("empty DN"))
	}
	c.service = false
	err := c.run(ctx, d.cfg.Timeout, func(lc *ldap.Conn) error { return lc.Bind(dn, password) })
	if err == nil {
		return nil
	}
	if uerr := userBindError(dn, d.cfg.ActiveDirectory, err); uerr != nil {
		return uerr
	}
	return c.fail("bind as user", err)
}
