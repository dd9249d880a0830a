package factors

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// TOTP checks time-based one-time passwords (RFC 6238).
type TOTP struct {
	Digits    int           // 6 or 8
	Period    time.Duration // step length, 30s by default
	Skew      int           // steps accepted either side of the (drift-corrected) current step
	Algorithm string        // SHA1, SHA256 or SHA512
}

// DefaultTOTP is the shape every authenticator app supports.
func DefaultTOTP() TOTP {
	return TOTP{Digits: 6, Period: 30 * time.Second, Skew: 1, Algorithm: "SHA1"}
}

// SecretSize is the length of generated secrets: 160 bits, as RFC 4226 recommends.
const SecretSize = 20

// NewSecret returns a random secret.
func NewSecret() ([]byte, error) {
	s := make([]byte, SecretSize)
	if _, err := rand.Read(s); err != nil {
		return nil, fmt.Errorf("factors: random secret: %w", err)
	}
	return s, nil
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// EncodeSecret returns the unpadded base32 form users type into an app.
func EncodeSecret(secret []byte) string { return b32.EncodeToString(secret) }

// DecodeSecret parses a base32 secret, tolerating lower case, spaces and padding.
func DecodeSecret(s string) ([]byte, error) {
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-' || c == '=':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		clean = append(clean, c)
	}
	b, err := b32.DecodeString(string(clean))
	if err != nil {
		return nil, fmt.Errorf("factors: secret is not base32: %w", err)
	}
	if len(b) < 10 {
		return nil, fmt.Errorf("factors: secret is %d bytes; at least 10 (80 bits) are required", len(b))
	}
	return b, nil
}

// URI returns the otpauth:// URI authenticator apps scan (Key Uri Format).
func (t TOTP) URI(issuer, account string, secret []byte) string {
	v := url.Values{}
	v.Set("secret", EncodeSecret(secret))
	v.Set("issuer", issuer)
	v.Set("algorithm", t.Algorithm)
	v.Set("digits", strconv.Itoa(t.Digits))
	v.Set("period", strconv.Itoa(int(t.Period/time.Second)))
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + account, RawQuery: v.Encode()}
	return u.String()
}

// Step returns the time step holding now.
func (t TOTP) Step(now time.Time) int64 { return now.Unix() / int64(t.Period/time.Second) }

// Code returns the code for a step.
func (t TOTP) Code(secret []byte, step int64) (string, error) {
	return hotp.GenerateCodeCustom(EncodeSecret(secret), uint64(step), hotp.ValidateOpts{
		Digits: otp.Digits(t.Digits), Algorithm: t.algorithm(),
	})
}

func (t TOTP) algorithm() otp.Algorithm {
	switch t.Algorithm {
	case "SHA256":
		return otp.AlgorithmSHA256
	case "SHA512":
		return otp.AlgorithmSHA512
	default:
		return otp.AlgorithmSHA1
	}
}

// Match is where a code matched.
type Match struct {
	Step  int64 // the matched time step: store it so it can never be used again
	Drift int   // the matched step minus the real current step: the phone's clock offset
}

// Check compares code with the codes of the steps around the current one, moved by the user's
// learned drift, nearest first. Every candidate is computed and compared in constant time, so
// the time taken does not say which step (if any) matched.
func (t TOTP) Check(secret []byte, code string, now time.Time, drift int) (Match, bool) {
	if len(code) != t.Digits || !allDigits(code) || len(secret) == 0 {
		return Match{}, false
	}
	cur := t.Step(now)
	centre := cur + int64(drift)
	var found Match
	ok := 0
	for _, off := range offsets(t.Skew) {
		step := centre + int64(off)
		want, err := t.Code(secret, step)
		if err != nil {
			continue
		}
		eq := subtle.ConstantTimeCompare([]byte(want), []byte(code))
		if eq == 1 && ok == 0 {
			found = Match{Step: step, Drift: int(step - cur)}
		}
		ok |= eq
	}
	return found, ok == 1
}

// Resync finds a token whose clock is far off from two consecutive codes, searching window
// steps either side of now; it returns the match of the second code.
func (t TOTP) Resync(secret []byte, code1, code2 string, now time.Time, window int) (Match, bool) {
	cur := t.Step(now)
	for _, off := range offsets(window) {
		s := cur + int64(off)
		c1, err1 := t.Code(secret, s)
		c2, err2 := t.Code(secret, s+1)
		if err1 != nil || err2 != nil {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(c1), []byte(code1)) == 1 &&
			subtle.ConstantTimeCompare([]byte(c2), []byte(code2)) == 1 {
			return Match{Step: s + 1, Drift: int(s + 1 - cur)}, true
		}
	}
	return Match{}, false
}

// offsets returns 0, -1, 1, -2, 2 … ±n.
func offsets(n int) []int {
	out := make([]int, 0, 2*n+1)
	out = append(out, 0)
	for i := 1; i <= n; i++ {
		out = append(out, -i, i)
	}
	return out
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
