package main

import (
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
)

const attrMessageAuthenticator = 80

var (
	errTimeout = errors.New("timeout")
	errBadMA   = errors.New("response Message-Authenticator does not verify")
)

// radClient is one worker's RADIUS socket: a connected UDP socket, one request at a time, its
// own Identifier sequence. Late answers to earlier (timed-out) requests are recognised by
// their Identifier and Response Authenticator and dropped.
type radClient struct {
	conn    *net.UDPConn
	secret  []byte
	id      byte
	buf     []byte
	timeout time.Duration
}

func newRadClient(addr string, secret []byte, timeout time.Duration) (*radClient, error) {
	ra, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	c, err := net.DialUDP("udp", nil, ra)
	if err != nil {
		return nil, err
	}
	_ = c.SetReadBuffer(1 << 20)
	return &radClient{conn: c, secret: secret, buf: make([]byte, 4096), timeout: timeout}, nil
}

func (c *radClient) close() { _ = c.conn.Close() }

// accessRequest builds an Access-Request with a fresh random Request Authenticator, the
// password hidden with it (RFC 2865 §5.2), and an optional State.
func (c *radClient) accessRequest(user, password string, state []byte) (*radius.Packet, error) {
	p := radius.New(radius.CodeAccessRequest, c.secret)
	if err := rfc2865.UserName_SetString(p, user); err != nil {
		return nil, err
	}
	if err := rfc2865.UserPassword_SetString(p, password); err != nil {
		return nil, err
	}
	if err := rfc2865.NASIdentifier_SetString(p, "bench"); err != nil {
		return nil, err
	}
	if state != nil {
		if err := rfc2865.State_Set(p, state); err != nil {
			return nil, err
		}
	}
	// Message-Authenticator last, zero for now; exchange signs the encoded packet.
	if err := rfc2869.MessageAuthenticator_Set(p, make([]byte, 16)); err != nil {
		return nil, err
	}
	return p, nil
}

// findMA returns the offset of the Message-Authenticator value in an encoded packet, or -1.
func findMA(b []byte) int {
	for i := 20; i+2 <= len(b); {
		t, l := b[i], int(b[i+1])
		if l < 2 || i+l > len(b) {
			return -1
		}
		if t == attrMessageAuthenticator && l == 18 {
			return i + 2
		}
		i += l
	}
	return -1
}

// signRequest fills in the Message-Authenticator of an encoded Access-Request (RFC 3579 §3.2):
// HMAC-MD5 keyed with the shared secret over the packet with that value zeroed.
func signRequest(b, secret []byte) {
	off := findMA(b)
	if off < 0 {
		return
	}
	clear(b[off : off+16])
	m := hmac.New(md5.New, secret)
	m.Write(b)
	copy(b[off:off+16], m.Sum(nil))
}

// verifyResponseMA checks a response's Message-Authenticator if it has one: HMAC-MD5 over the
// response with the Request Authenticator in the header and the value zeroed.
func verifyResponseMA(resp, req, secret []byte) bool {
	off := findMA(resp)
	if off < 0 {
		return true
	}
	var got [16]byte
	copy(got[:], resp[off:off+16])
	tmp := make([]byte, len(resp))
	copy(tmp, resp)
	copy(tmp[4:20], req[4:20])
	clear(tmp[off : off+16])
	m := hmac.New(md5.New, secret)
	m.Write(tmp)
	return hmac.Equal(m.Sum(nil), got[:])
}

// exchange sends p and waits for its answer until the timeout.
func (c *radClient) exchange(p *radius.Packet) (*radius.Packet, error) {
	c.id++
	p.Identifier = c.id
	b, err := p.Encode()
	if err != nil {
		return nil, err
	}
	signRequest(b, c.secret)
	if err := c.conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return nil, err
	}
	if _, err := c.conn.Write(b); err != nil {
		return nil, err
	}
	for {
		n, err := c.conn.Read(c.buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, errTimeout
			}
			return nil, err
		}
		r := c.buf[:n]
		if n < 20 || r[1] != c.id || !radius.IsAuthenticResponse(r, b, c.secret) {
			continue // a late answer to an earlier request
		}
		if !verifyResponseMA(r, b, c.secret) {
			return nil, errBadMA
		}
		resp, err := radius.Parse(r, c.secret)
		if err != nil {
			return nil, fmt.Errorf("parse response: %w", err)
		}
		return resp, nil
	}
}
