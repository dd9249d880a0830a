package radius

import (
	"crypto/hmac"
	"crypto/md5"
	"errors"
)

const (
	attrMessageAuthenticator = 80
	codeAccountingRequest    = 4
	headerLen                = 20
	maxPacketLen             = 4096
)

var (
	errBadMA       = errors.New("Message-Authenticator does not verify (wrong shared secret or altered packet)")
	errMalformedMA = errors.New("malformed Message-Authenticator")
	errTwoMA       = errors.New("more than one Message-Authenticator")
)

// findMA returns the offset of the Message-Authenticator value in a raw packet, or -1.
// The packet must already have passed attribute parsing (lengths are sane).
func findMA(b []byte) (int, error) {
	off := -1
	for i := headerLen; i+2 <= len(b); {
		t, l := b[i], int(b[i+1])
		if l < 2 || i+l > len(b) {
			return -1, errMalformedMA
		}
		if t == attrMessageAuthenticator {
			if l != 18 {
				return -1, errMalformedMA
			}
			if off >= 0 {
				return -1, errTwoMA
			}
			off = i + 2
		}
		i += l
	}
	return off, nil
}

// verifyRequestMA checks a request's Message-Authenticator (RFC 3579 §3.2): HMAC-MD5 over the
// packet with the attribute's value zeroed, keyed with the shared secret. present reports
// whether the attribute was there at all.
func verifyRequestMA(b, secret []byte) (present bool, err error) {
	off, err := findMA(b)
	if err != nil {
		return true, err
	}
	if off < 0 {
		return false, nil
	}
	var got [16]byte
	copy(got[:], b[off:off+16])
	want := requestMA(b, off, secret)
	if !hmac.Equal(got[:], want) {
		return true, errBadMA
	}
	return true, nil
}

// requestMA computes the Message-Authenticator of a request whose value sits at off. An
// Accounting-Request's Request Authenticator is itself an MD5 over the packet (and so over the
// Message-Authenticator), so the HMAC is taken with the authenticator zeroed, as FreeRADIUS
// computes and checks it; other requests keep their authenticator (RFC 3579 §3.2).
func requestMA(b []byte, off int, secret []byte) []byte {
	var zero [16]byte
	m := hmac.New(md5.New, secret)
	if b[0] == codeAccountingRequest {
		m.Write(b[:4])
		m.Write(zero[:])
		m.Write(b[20:off])
	} else {
		m.Write(b[:off])
	}
	m.Write(zero[:])
	m.Write(b[off+16:])
	return m.Sum(nil)
}

// signResponse fills in the Message-Authenticator and then the Response Authenticator of an
// encoded response whose header still carries the request authenticator and whose
// Message-Authenticator value is zero (RFC 3579 §3.2, RFC 2865 §3).
func signResponse(b []byte, secret []byte) error {
	off, err := findMA(b)
	if err != nil {
		return err
	}
	if off >= 0 {
		m := hmac.New(md5.New, secret)
		m.Write(b)
		copy(b[off:off+16], m.Sum(nil))
	}
	h := md5.New()
	h.Write(b)
	h.Write(secret)
	copy(b[4:20], h.Sum(nil))
	return nil
}
