package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// ldapPool is a fixed set of connections handed out one flow at a time.
type ldapPool struct {
	ch      chan *ldap.Conn
	url     string
	bindDN  string // "" = connections are rebound per flow (user binds)
	bindPW  string
	timeout time.Duration
}

func newLDAPPool(url string, size int, bindDN, bindPW string, timeout time.Duration) (*ldapPool, error) {
	p := &ldapPool{ch: make(chan *ldap.Conn, size), url: url, bindDN: bindDN, bindPW: bindPW, timeout: timeout}
	for range size {
		c, err := p.dial()
		if err != nil {
			p.close()
			return nil, err
		}
		p.ch <- c
	}
	return p, nil
}

func (p *ldapPool) dial() (*ldap.Conn, error) {
	c, err := ldap.DialURL(p.url)
	if err != nil {
		return nil, err
	}
	c.SetTimeout(p.timeout)
	if p.bindDN != "" {
		if err := c.Bind(p.bindDN, p.bindPW); err != nil {
			c.Close()
			return nil, fmt.Errorf("service bind: %w", err)
		}
	}
	return c, nil
}

func (p *ldapPool) get() *ldap.Conn { return <-p.ch }

// put returns c, replacing it when the flow broke it (a closed connection is redialled).
func (p *ldapPool) put(c *ldap.Conn, err error) {
	if err != nil && (c.IsClosing() || !isLDAPResult(err)) {
		c.Close()
		if nc, derr := p.dial(); derr == nil {
			c = nc
		}
	}
	p.ch <- c
}

func (p *ldapPool) close() {
	for {
		select {
		case c := <-p.ch:
			c.Close()
		default:
			return
		}
	}
}

// isLDAPResult tells an LDAP result code (the server answered) from a transport error.
func isLDAPResult(err error) bool {
	var le *ldap.Error
	return errors.As(err, &le) && le.ResultCode != ldap.ErrorNetwork
}

// radmfaUserAttrs are the attributes radmfa's user search fetches in memberof group mode, so
// that the raw search costs slapd what radmfa's does.
var radmfaUserAttrs = []string{"displayName", "cn", "mail", "mobile", "memberOf"}

// searchUser is radmfa's user search: subtree, size limit 2, the configured filter.
func searchUser(c *ldap.Conn, base, uid string, timeout time.Duration) (string, error) {
	req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2,
		int(timeout/time.Second), false,
		"(&(objectClass=inetOrgPerson)(uid="+ldap.EscapeFilter(uid)+"))", radmfaUserAttrs, nil)
	res, err := c.Search(req)
	if err != nil {
		return "", err
	}
	if len(res.Entries) != 1 {
		return "", fmt.Errorf("search %s: %d entries", uid, len(res.Entries))
	}
	return res.Entries[0].DN, nil
}
