package ldapauth_test

import (
	"context"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/test/ldaptest"
)

const uidFilter = "(&(objectClass=inetOrgPerson)(uid={username}))"

// baseConfig is a working config for srv; tests change what they exercise.
func baseConfig(srv *ldaptest.Server) ldapauth.Config {
	return ldapauth.Config{
		URLs:         []string{srv.URL},
		BindDN:       srv.BindDN,
		BindPassword: srv.BindPassword,
		BaseDN:       srv.BaseDN,
		UserFilter:   uidFilter,
		Timeout:      2 * time.Second,
		PoolSize:     4,
		GroupMode:    ldapauth.GroupModeMemberOf,
	}
}

// newDirectory builds a Directory over a counting dialer, closed at cleanup.
func newDirectory(t *testing.T, cfg ldapauth.Config) (*ldapauth.Directory, *countingDialer) {
	t.Helper()
	cd := &countingDialer{}
	d, err := ldapauth.NewWithDialer(cfg, zerolog.New(zerolog.NewTestWriter(t)), cd.DialContext)
	if err != nil {
		t.Fatalf("NewWithDialer: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d, cd
}

// countingDialer dials TCP and counts connections: total dials and the most open at once.
// It can also break the connections open at some moment (breakOpen).
type countingDialer struct {
	d net.Dialer

	mu      sync.Mutex
	dials   int
	open    int
	maxOpen int
	live    []*countedConn
}

type fault int32

const (
	faultNone  fault = iota
	faultReset       // writes fail as if the server had reset the connection
	faultHang        // replies are swallowed: the server went silent
)

// breakOpen injects f into every connection to addr open now; later ones are healthy.
func (c *countingDialer) breakOpen(addr string, f fault) (n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cc := range c.live {
		if cc.addr == addr {
			cc.fault.Store(int32(f))
			n++
		}
	}
	return n
}

func (c *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := c.d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.dials++
	c.open++
	c.maxOpen = max(c.maxOpen, c.open)
	cc := &countedConn{Conn: conn, c: c, addr: addr}
	c.live = append(c.live, cc)
	c.mu.Unlock()
	return cc, nil
}

func (c *countingDialer) counts() (dials, open, maxOpen int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dials, c.open, c.maxOpen
}

type countedConn struct {
	net.Conn
	c     *countingDialer
	addr  string
	fault atomic.Int32
	once  sync.Once
}

func (cc *countedConn) Read(b []byte) (int, error) {
	for {
		n, err := cc.Conn.Read(b)
		if err != nil || fault(cc.fault.Load()) != faultHang {
			return n, err
		}
		// Swallowed; the next Read blocks until more data comes or the conn is closed.
	}
}

func (cc *countedConn) Write(b []byte) (int, error) {
	if fault(cc.fault.Load()) == faultReset {
		return 0, syscall.ECONNRESET
	}
	return cc.Conn.Write(b)
}

func (cc *countedConn) Close() error {
	cc.once.Do(func() {
		cc.c.mu.Lock()
		cc.c.open--
		cc.c.live = slices.DeleteFunc(cc.c.live, func(x *countedConn) bool { return x == cc })
		cc.c.mu.Unlock()
	})
	return cc.Conn.Close()
}

// closedPortURL returns an ldap:// URL on which nothing listens (connection refused).
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "ldap://" + addr
}

// blackholeAddr returns the address of a listener that accepts connections and never answers
// (a hung server or a firewall that swallows packets after the handshake).
func blackholeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	return l.Addr().String()
}
