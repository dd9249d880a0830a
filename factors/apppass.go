package factors

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/argon2"
)

// App passwords stand in for the directory password and the second factor together, for apps
// that cannot show a code prompt. They are generated, never chosen: 16 lower-case letters
// (75 bits), shown once in groups of four ("abcd efgh ijkl mnop"); spaces and dashes typed
// with them are ignored. Only an argon2id hash is stored.

// AppPasswordLength is the number of letters in an app password.
const AppPasswordLength = 16

const appPasswordAlphabet = "abcdefghijklmnopqrstuvwxyz"

// argon2id parameters for new hashes: RFC 9106's second recommended option scaled to OWASP's
// minimum (19 MiB, 2 passes, 1 lane). App passwords are random, so the hash only has to make
// a stolen database expensive to use, not protect a guessable password.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Bounds on the parameters CheckAppPassword accepts from a stored hash, so an altered row
// cannot make a check use gigabytes or minutes.
const (
	maxArgonMemory  = 256 * 1024 // KiB
	maxArgonTime    = 16
	maxArgonThreads = 16
)

// ErrAppPasswordHash: a stored app password hash is not an argon2id PHC string radmfa reads.
var ErrAppPasswordHash = errors.New("factors: not an argon2id app password hash")

var phcB64 = base64.RawStdEncoding

// NewAppPassword draws an app password from rand, formatted for display in groups of four.
func NewAppPassword(rand io.Reader) (string, error) {
	code := SMSCode{Length: AppPasswordLength, Alphabet: appPasswordAlphabet}
	pw, err := code.NewCode(rand)
	if err != nil {
		return "", fmt.Errorf("factors: app password: %w", err)
	}
	var b strings.Builder
	for i := 0; i < len(pw); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(pw[i : i+4])
	}
	return b.String(), nil
}

// NormalizeAppPassword returns the app password's canonical form (the 16 letters, without
// separators, lower-cased) and whether typed has the shape of one. A directory password
// that does not look like an app password need not be hashed to know it is not one.
func NormalizeAppPassword(typed string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(typed); i++ {
		c := typed[i]
		switch {
		case c == ' ' || c == '-':
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c < 'a' || c > 'z':
			return "", false
		}
		b.WriteByte(c)
	}
	if b.Len() != AppPasswordLength {
		return "", false
	}
	return b.String(), true
}

// HashAppPassword returns the argon2id PHC string of the app password's canonical form, with
// a random salt: $argon2id$v=19$m=19456,t=2,p=1$salt$hash.
func HashAppPassword(pw string) (string, error) {
	canon, ok := NormalizeAppPassword(pw)
	if !ok {
		return "", errors.New("factors: hash app password: not an app password")
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("factors: hash app password: %w: %w", ErrRandom, err)
	}
	key := argon2.IDKey([]byte(canon), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		phcB64.EncodeToString(salt), phcB64.EncodeToString(key)), nil
}

// CheckAppPassword reports whether typed is the app password hash was made from. The final
// comparison is constant-time; a hash it cannot read never matches.
func CheckAppPassword(hash, typed string) bool {
	p, err := parseArgon2id(hash)
	if err != nil {
		return false
	}
	canon, ok := NormalizeAppPassword(typed)
	if !ok {
		return false
	}
	key := argon2.IDKey([]byte(canon), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1
}

type argon2Params struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// parseArgon2id reads a PHC string "$argon2id$v=19$m=M,t=T,p=P$salt$hash" (unpadded base64).
func parseArgon2id(s string) (argon2Params, error) {
	var p argon2Params
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, ErrAppPasswordHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, fmt.Errorf("%w: version %q", ErrAppPasswordHash, parts[2])
	}
	var m, t, threads uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &threads); err != nil || n != 3 ||
		fmt.Sprintf("m=%d,t=%d,p=%d", m, t, threads) != parts[3] {
		return p, fmt.Errorf("%w: parameters %q", ErrAppPasswordHash, parts[3])
	}
	if m < 8*threads || m > maxArgonMemory || t < 1 || t > maxArgonTime || threads < 1 || threads > maxArgonThreads {
		return p, fmt.Errorf("%w: parameters %q out of range", ErrAppPasswordHash, parts[3])
	}
	salt, err := phcB64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return p, fmt.Errorf("%w: salt", ErrAppPasswordHash)
	}
	key, err := phcB64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, fmt.Errorf("%w: hash", ErrAppPasswordHash)
	}
	return argon2Params{memory: m, time: t, threads: uint8(threads), salt: salt, key: key}, nil
}
