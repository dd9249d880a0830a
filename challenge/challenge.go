package challenge

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Errors from Open. All mean "refuse the request"; they differ for the log.
var (
	ErrMalformed = errors.New("challenge: malformed State")
	ErrForged    = errors.New("challenge: State does not authenticate (forged, altered or another key)")
	ErrExpired   = errors.New("challenge: State expired")
	ErrWrongUser = errors.New("challenge: State belongs to another user")
	ErrWrongNAS  = errors.New("challenge: State was issued to another NAS")
)

const (
	version   = 1
	nonceSize = 12
	// plaintext: issued(8) user(16) nas(8) phase(1) factor(1) flags(1) extra(len-prefixed)
	fixedLen = 8 + 16 + 8 + 3
	// MaxExtra bounds the opaque bytes a caller may carry; RADIUS attributes hold 253 bytes.
	MaxExtra = 253 - 1 - nonceSize - 16 - fixedLen - 1
)

// Phase says what the second leg answers.
type Phase byte

const (
	PhaseCode        Phase = 1 // a second-factor code
	PhaseChoose      Phase = 2 // a code, or a keyword choosing another factor
	PhaseNewPassword Phase = 3 // a new password (expired / must change)
	PhaseConfirm     Phase = 4 // the new password again
)

// Claims are what a State token asserts.
type Claims struct {
	User   string // bound as a hash; Open checks it against the request's User-Name
	NAS    string // NAS client name; bound as a hash
	Issued time.Time
	Phase  Phase
	Factor byte   // which factor the code is for (engine-defined)
	Flags  byte   // engine-defined
	Extra  []byte // engine-defined, at most MaxExtra bytes, encrypted
}

// Sealer seals and opens State tokens with one key.
type Sealer struct {
	aead     cipher.AEAD
	derive   []byte // HMAC key for Derive, separate from the AEAD key
	lifetime time.Duration
	rand     io.Reader
}

// NewSealer returns a sealer for a 32-byte key; tokens older than lifetime are refused.
func NewSealer(key []byte, lifetime time.Duration) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("challenge: key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("challenge: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("challenge: %w", err)
	}
	dk := sha256.Sum256(append([]byte("radmfa-derive\x00"), key...))
	return &Sealer{aead: aead, derive: dk[:], lifetime: lifetime, rand: rand.Reader}, nil
}

// Derive returns 64 pseudorandom bytes determined by the key, label and parts. Nodes sharing
// the key derive the same bytes for the same request, so a retransmit answered by another node
// carries the same SMS code as the first answer.
func (s *Sealer) Derive(label string, parts ...[]byte) []byte {
	m := hmac.New(sha512.New, s.derive)
	m.Write([]byte(label))
	var n [4]byte
	for _, p := range parts {
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		m.Write(n[:])
		m.Write(p)
	}
	return m.Sum(nil)
}

// Lifetime is how long a token is accepted after it is issued.
func (s *Sealer) Lifetime() time.Duration { return s.lifetime }

// Seal returns the State attribute value for c.
func (s *Sealer) Seal(c Claims) ([]byte, error) {
	if len(c.Extra) > MaxExtra {
		return nil, fmt.Errorf("challenge: extra is %d bytes, at most %d fit", len(c.Extra), MaxExtra)
	}
	pt := make([]byte, fixedLen, fixedLen+1+len(c.Extra))
	binary.BigEndian.PutUint64(pt[0:8], uint64(c.Issued.UnixNano()))
	uh := hash("user", c.User)
	copy(pt[8:24], uh[:16])
	nh := hash("nas", c.NAS)
	copy(pt[24:32], nh[:8])
	pt[32], pt[33], pt[34] = byte(c.Phase), c.Factor, c.Flags
	pt = append(pt, byte(len(c.Extra)))
	pt = append(pt, c.Extra...)

	out := make([]byte, 1+nonceSize, 1+nonceSize+len(pt)+s.aead.Overhead())
	out[0] = version
	if _, err := io.ReadFull(s.rand, out[1:1+nonceSize]); err != nil {
		return nil, fmt.Errorf("challenge: nonce: %w", err)
	}
	return s.aead.Seal(out, out[1:1+nonceSize], pt, out[:1]), nil
}

// Open authenticates and decrypts a State value received from nas for user at now.
func (s *Sealer) Open(state []byte, user, nas string, now time.Time) (Claims, error) {
	if len(state) < 1+nonceSize+s.aead.Overhead()+fixedLen+1 || state[0] != version {
		return Claims{}, ErrMalformed
	}
	pt, err := s.aead.Open(nil, state[1:1+nonceSize], state[1+nonceSize:], state[:1])
	if err != nil {
		return Claims{}, ErrForged
	}
	if len(pt) < fixedLen+1 || int(pt[fixedLen]) != len(pt)-fixedLen-1 {
		return Claims{}, ErrMalformed
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(pt[0:8])))
	// A token from the future beyond small clock skew between nodes is as suspect as an old one.
	if age := now.Sub(issued); age > s.lifetime || age < -5*time.Second {
		return Claims{}, ErrExpired
	}
	uh := hash("user", user)
	if subtle.ConstantTimeCompare(pt[8:24], uh[:16]) != 1 {
		return Claims{}, ErrWrongUser
	}
	nh := hash("nas", nas)
	if subtle.ConstantTimeCompare(pt[24:32], nh[:8]) != 1 {
		return Claims{}, ErrWrongNAS
	}
	return Claims{
		User: user, NAS: nas, Issued: issued,
		Phase: Phase(pt[32]), Factor: pt[33], Flags: pt[34],
		Extra: append([]byte(nil), pt[fixedLen+1:]...),
	}, nil
}

func hash(label, v string) [32]byte {
	return sha256.Sum256([]byte("radmfa-state\x00" + label + "\x00" + v))
}

// LoadOrCreateKey reads a hex-encoded 32-byte key from path, creating it (mode 0600) with a
// random key when it does not exist. Nodes that must finish each other's challenges need the
// same file.
func LoadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("challenge: generate key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("challenge: create key dir: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return LoadOrCreateKey(path) // another process won the race; use its key
		}
		if err != nil {
			return nil, fmt.Errorf("challenge: create key file: %w", err)
		}
		defer f.Close()
		if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
			return nil, fmt.Errorf("challenge: write key file: %w", err)
		}
		return key, f.Sync()
	}
	if err != nil {
		return nil, fmt.Errorf("challenge: read key file: %w", err)
	}
	return ParseKey(string(b))
}

// ParseKey decodes a hex-encoded 32-byte key.
func ParseKey(s string) ([]byte, error) {
	key, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(key) != 32 {
		return nil, errors.New("challenge: key must be 64 hex characters (32 bytes)")
	}
	return key, nil
}
