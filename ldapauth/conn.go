package ldapauth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// DialFunc opens the transport to a directory server; net.Dialer.DialContext fits. It is the
// seam tests use to count or fake connections (NewWithDialer).
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// conn is one LDAP connection and what the pool knows about it.
type conn struct {
	lc      *ldap.Conn
	raw     net.Conn // the TCP connection under any TLS, for deadlines
	url     string
	tls     bool // ldaps:// or StartTLS done
	service bool // currently bound as the service account (ready for searches)
	reused  bool // handed out from the idle list rather than freshly dialled
	broken  bool // a network error, timeout or cancellation hit it: never reuse
	// timedOut: the server left a request unanswered for the whole timeout. Unlike a reset,
	// that is no reason to retry on the same URL: it would double the wait before failover.
	timedOut bool
}

// dial opens a connection to ep: TCP, then TLS for ldaps:// or StartTLS when configured.
// The whole setup is bounded by timeout and ctx. The connection is not bound yet.
func dial(ctx context.Context, dialFn DialFunc, ep endpoint, tc *tls.Config, startTLS bool, timeout time.Duration) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	raw, err := dialFn(ctx, "tcp", ep.addr)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	transport := raw
	if ep.ldaps {
		tlsConn := tls.Client(raw, tc)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		transport = tlsConn
	}
	lc := ldap.NewConn(transport, ep.ldaps)
	lc.Start()
	c := &conn{lc: lc, raw: raw, url: ep.url, tls: ep.ldaps}

	if startTLS && !ep.ldaps {
		// go-ldap bounds the StartTLS response but not the handshake after it; a socket
		// deadline covers both.
		deadline, _ := ctx.Deadline()
		_ = raw.SetDeadline(deadline)
		err := c.run(ctx, timeout, func(lc *ldap.Conn) error { return lc.StartTLS(tc) })
		_ = raw.SetDeadline(time.Time{})
		if err != nil {
			c.close()
			return nil, fmt.Errorf("StartTLS: %w", err)
		}
		c.tls = true
	}
	return c, nil
}

// run performs one LDAP request on c within timeout and ctx. go-ldap has no context
// support, so the request timeout is set to whichever ends first, and a cancelled ctx
// closes the connection to unblock the request. A connection that saw a transport error
// or a cancellation is marked broken: a late reply could otherwise answer the next request.
func (c *conn) run(ctx context.Context, timeout time.Duration, op func(*ldap.Conn) error) error {
	limit, byCtx := timeout, false
	if deadline, ok := ctx.Deadline(); ok {
		if left := time.Until(deadline); left < limit {
			limit, byCtx = left, true
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if limit <= 0 {
		return context.DeadlineExceeded
	}
	c.lc.SetTimeout(limit)
	stop := context.AfterFunc(ctx, func() { _ = c.lc.Close() })
	start := time.Now()
	err := op(c.lc)
	if !stop() {
		c.broken = true
		if err != nil {
			return fmt.Errorf("%w (%v)", context.Cause(ctx), err)
		}
	}
	if err != nil && !isServerResult(err) {
		c.broken = true
		c.timedOut = time.Since(start) >= limit
		if c.timedOut && byCtx {
			// The caller's deadline, not the server, cut the request short. go-ldap's timer
			// may fire a hair before ctx's: wait for ctx, so callers see ctx.Err() and do
			// not blame the server.
			<-ctx.Done()
			return fmt.Errorf("%w (%v)", context.Cause(ctx), err)
		}
	}
	return err
}

// fail wraps err from step on c as the server's failure.
func (c *conn) fail(step string, err error) error {
	var ue *unavailableError
	if errors.As(err, &ue) {
		return err
	}
	return &unavailableError{url: c.url, step: step, err: err, stale: c.reused && c.broken && !c.timedOut}
}

func (c *conn) close() { _ = c.lc.Close() }

// usable reports whether c may go back to the idle list.
func (c *conn) usable() bool { return !c.broken && !c.lc.IsClosing() }
