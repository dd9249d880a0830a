// Package upstream checks a password by forwarding PAP to an upstream RADIUS server (an existing
// NPS or FreeRADIUS), so sites whose password check already lives there can put radmfa in front.
// Servers are tried in order; one that times out is skipped for a while.
package upstream

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"fmt"
	"sync"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
)

var (
	// ErrRejected: the upstream server answered Access-Reject (or a challenge radmfa cannot relay).
	ErrRejected = errors.New("upstream: rejected")
	// ErrUnavailable: no upstream server answered in time.
	ErrUnavailable = errors.New("upstream: no server answered")
)

// Server is one upstream RADIUS server.
type Server struct {
	Addr   string // host:port
	Secret []byte
}

// Client forwards PAP requests.
type Client struct {
	servers []Server
	timeout time.Duration
	retries int
	nasID   string

	mu        sync.Mutex
	downUntil map[string]time.Time
}

// New returns a client; timeout is per try, retries the extra tries per server.
func New(servers []Server, timeout time.Duration, retries int, nasIdentifier string) *Client {
	return &Client{servers: servers, timeout: timeout, retries: retries, nasID: nasIdentifier, downUntil: map[string]time.Time{}}
}

// Result is an upstream Access-Accept.
type Result struct {
	Class [][]byte // Class attributes, relayed on radmfa's own Accept
}

// Authenticate forwards username and password and reports the answer.
func (c *Client) Authenticate(ctx context.Context, username, password string) (Result, error) {
	if password == "" {
		return Result{}, fmt.Errorf("%w: empty password", ErrRejected)
	}
	var errs []error
	for _, s := range c.ordered() {
		for try := 0; try <= c.retries; try++ {
			res, err := c.exchange(ctx, s, username, password)
			if err == nil || errors.Is(err, ErrRejected) {
				return res, err
			}
			errs = append(errs, fmt.Errorf("%s: %w", s.Addr, err))
			if ctx.Err() != nil {
				return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, errors.Join(errs...))
			}
		}
		c.markDown(s.Addr)
	}
	return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, errors.Join(errs...))
}

// ordered returns servers not marked down first, keeping configured order.
func (c *Client) ordered() []Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	var up, down []Server
	for _, s := range c.servers {
		if now.Before(c.downUntil[s.Addr]) {
			down = append(down, s)
		} else {
			up = append(up, s)
		}
	}
	return append(up, down...)
}

func (c *Client) markDown(addr string) {
	c.mu.Lock()
	c.downUntil[addr] = time.Now().Add(30 * time.Second)
	c.mu.Unlock()
}

func (c *Client) exchange(ctx context.Context, s Server, username, password string) (Result, error) {
	p := radius.New(radius.CodeAccessRequest, s.Secret)
	if err := rfc2865.UserName_SetString(p, username); err != nil {
		return Result{}, fmt.Errorf("%w: username: %v", ErrRejected, err)
	}
	if err := rfc2865.UserPassword_SetString(p, password); err != nil {
		return Result{}, fmt.Errorf("%w: password: %v", ErrRejected, err)
	}
	_ = rfc2865.NASIdentifier_SetString(p, c.nasID)
	if err := signRequest(p); err != nil {
		return Result{}, err
	}
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	client := radius.Client{Retry: 0}
	resp, err := client.Exchange(tctx, p, s.Addr)
	if err != nil {
		return Result{}, err
	}
	switch resp.Code {
	case radius.CodeAccessAccept:
		cls, _ := rfc2865.Class_Gets(resp)
		return Result{Class: cls}, nil
	case radius.CodeAccessReject:
		return Result{}, ErrRejected
	default:
		return Result{}, fmt.Errorf("%w: upstream answered %s", ErrRejected, resp.Code)
	}
}

// signRequest adds a Message-Authenticator (RFC 3579) so upstream servers hardened against
// BlastRADIUS accept the request.
func signRequest(p *radius.Packet) error {
	if err := rfc2869.MessageAuthenticator_Set(p, make([]byte, 16)); err != nil {
		return err
	}
	b, err := p.Encode()
	if err != nil {
		return fmt.Errorf("upstream: encode: %w", err)
	}
	m := hmac.New(md5.New, p.Secret)
	m.Write(b)
	return rfc2869.MessageAuthenticator_Set(p, m.Sum(nil))
}
