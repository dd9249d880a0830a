package factors

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// SMSCode describes the one-time codes sent by text message. The zero value of a field means
// its default, so SMSCode{} behaves like DefaultSMSCode().
//
// Only the shape lives here. Remembering a code, its expiry, its failed tries and that it was
// used once is the store's job, so those rules hold across nodes.
type SMSCode struct {
	Length   int           // characters per code, 6 by default
	Alphabet string        // ASCII characters codes are drawn from, "0123456789" by default
	Lifetime time.Duration // how long a code is valid, 5 minutes by default
	MaxTries int           // wrong answers allowed before the code is void, 3 by default
}

// Defaults and limits for SMS codes.
const (
	DefaultSMSLength   = 6
	DefaultSMSAlphabet = "0123456789"
	DefaultSMSLifetime = 5 * time.Minute
	DefaultSMSMaxTries = 3

	minSMSLength = 4  // 4 digits and 3 tries already give a guesser 1 chance in 3,333
	maxSMSLength = 32 // more is unusable on a phone keypad
)

// ErrRandom means the random source failed or is not random enough to draw a code from.
var ErrRandom = errors.New("factors: random source failed")

// DefaultSMSCode returns six digits valid for five minutes and three tries.
func DefaultSMSCode() SMSCode {
	return SMSCode{Length: DefaultSMSLength, Alphabet: DefaultSMSAlphabet, Lifetime: DefaultSMSLifetime, MaxTries: DefaultSMSMaxTries}
}

// withDefaults fills the zero fields.
func (c SMSCode) withDefaults() SMSCode {
	d := DefaultSMSCode()
	if c.Length == 0 {
		c.Length = d.Length
	}
	if c.Alphabet == "" {
		c.Alphabet = d.Alphabet
	}
	if c.Lifetime == 0 {
		c.Lifetime = d.Lifetime
	}
	if c.MaxTries == 0 {
		c.MaxTries = d.MaxTries
	}
	return c
}

// Validate reports the first field that cannot work. Zero fields are valid: they mean the default.
func (c SMSCode) Validate() error {
	c = c.withDefaults()
	if c.Length < minSMSLength || c.Length > maxSMSLength {
		return fmt.Errorf("factors: sms code length %d is outside %d..%d", c.Length, minSMSLength, maxSMSLength)
	}
	if len(c.Alphabet) < 2 {
		return errors.New("factors: sms code alphabet needs at least 2 characters")
	}
	var seen [128]bool
	for i := 0; i < len(c.Alphabet); i++ {
		ch := c.Alphabet[i]
		// Printable ASCII only: codes are typed into a password prompt and must survive any
		// SMS encoding.
		if ch <= ' ' || ch > '~' {
			return fmt.Errorf("factors: sms code alphabet: character %d is not printable ASCII", i)
		}
		// A repeated character would be drawn twice as often: the codes would not be uniform.
		if seen[ch] {
			return fmt.Errorf("factors: sms code alphabet: %q appears twice", ch)
		}
		seen[ch] = true
	}
	if c.Lifetime < 0 {
		return fmt.Errorf("factors: sms code lifetime %s is negative", c.Lifetime)
	}
	if c.MaxTries < 0 {
		return fmt.Errorf("factors: sms code max tries %d is negative", c.MaxTries)
	}
	return nil
}

// NewCode draws a code uniformly from the alphabet. Each character comes from one random byte;
// bytes at or above the largest multiple of the alphabet size are thrown away (rejection
// sampling), because reducing them modulo the size would favour the first characters.
func (c SMSCode) NewCode(rand io.Reader) (string, error) {
	if err := c.Validate(); err != nil {
		return "", err
	}
	c = c.withDefaults()
	n := len(c.Alphabet)
	limit := 256 - 256%n // accept bytes in [0, limit)
	out := make([]byte, 0, c.Length)
	buf := make([]byte, 2*c.Length)
	// Fewer than 37% of byte values are rejected (n ≤ 94), so a working source needs under
	// 2·Length bytes; one that exhausts this budget is broken, not unlucky.
	for budget := 64 * c.Length; len(out) < c.Length; budget -= len(buf) {
		if budget <= 0 {
			return "", fmt.Errorf("%w: too many out-of-range bytes", ErrRandom)
		}
		if _, err := io.ReadFull(rand, buf); err != nil {
			return "", fmt.Errorf("%w: %w", ErrRandom, err)
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < c.Length {
				out = append(out, c.Alphabet[int(b)%n])
			}
		}
	}
	return string(out), nil
}

// Minutes is the lifetime in whole minutes, rounded up, for the message text.
func (c SMSCode) Minutes() int {
	c = c.withDefaults()
	return int((c.Lifetime + time.Minute - 1) / time.Minute)
}

// Expired reports whether a code issued at issued is no longer valid at now. A store calls it
// so every node agrees where the boundary is: the code is dead at issued+Lifetime exactly.
func (c SMSCode) Expired(issued, now time.Time) bool {
	return !now.Before(issued.Add(c.withDefaults().Lifetime))
}

// Exhausted reports whether failed wrong answers use up the code.
func (c SMSCode) Exhausted(failed int) bool { return failed >= c.withDefaults().MaxTries }

// CheckCode compares the code sent with the one typed, in constant time for equal lengths.
// A length mismatch returns at once, which reveals only the length, and the length is public
// (it is in the configuration). An empty want never matches, so a lost code cannot be
// "guessed" with an empty answer.
func CheckCode(want, got string) bool {
	if want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// codeHashLabel separates these hashes from any other SHA-256 of the same bytes.
const codeHashLabel = "radmfa sms code v1\x00"

// HashCode returns what a store keeps instead of the code: SHA-256 over a domain label, the
// user and the code, each length-prefixed so ("ab","c") and ("a","bc") differ. Binding the user
// means a hash copied to another user's row does not verify.
//
// A short code can be found from its hash by trying every value, so this keeps codes out of
// backups and casual reads of the database; the short lifetime is what protects them.
func HashCode(code, user string) []byte {
	h := sha256.New()
	h.Write([]byte(codeHashLabel))
	var n [8]byte
	for _, s := range []string{user, code} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	return h.Sum(nil)
}

// CheckCodeHash compares a typed code with a stored HashCode, in constant time.
func CheckCodeHash(hash []byte, got, user string) bool {
	if len(hash) != sha256.Size {
		return false
	}
	return subtle.ConstantTimeCompare(hash, HashCode(got, user)) == 1
}
