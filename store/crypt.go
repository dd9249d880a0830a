package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of an encryption key: AES-256.
const KeySize = 32

const (
	cipherVersion = 1
	keyIDSize     = 4
	// headerSize is the version byte plus the key ID that precede the GCM output.
	headerSize = 1 + keyIDSize
)

// Keyring encrypts with its primary key and decrypts with any of its keys. Every ciphertext
// starts with a version byte and the 4-byte ID of the key that sealed it, so a keyring holding
// old and new keys can read both during a rotation without trial decryption.
//
// Ciphertext layout: version(1) | keyID(4) | nonce(12) | sealed | tag(16). The header is
// authenticated together with the caller's associated data.
type Keyring struct {
	primary keyEntry
	all     []keyEntry // primary first
}

type keyEntry struct {
	id   [keyIDSize]byte
	aead cipher.AEAD
}

// NewKeyring builds a keyring: primary encrypts, primary and older decrypt. Every key must be
// KeySize bytes.
func NewKeyring(primary []byte, older ...[]byte) (*Keyring, error) {
	p, err := newKeyEntry(primary)
	if err != nil {
		return nil, fmt.Errorf("store: primary key: %w", err)
	}
	k := &Keyring{primary: p, all: []keyEntry{p}}
	for i, raw := range older {
		e, err := newKeyEntry(raw)
		if err != nil {
			return nil, fmt.Errorf("store: older key %d: %w", i+1, err)
		}
		k.add(e)
	}
	return k, nil
}

func newKeyEntry(key []byte) (keyEntry, error) {
	if len(key) != KeySize {
		return keyEntry{}, fmt.Errorf("key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return keyEntry{}, err
	}
	// The random 96-bit nonce is generated inside Seal and prepended to the output.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return keyEntry{}, err
	}
	return keyEntry{id: keyID(key), aead: aead}, nil
}

// keyID derives a short public identifier from the key. A truncated hash of the key reveals
// nothing usable about it; the domain prefix keeps it from matching any other hash of the key.
func keyID(key []byte) [keyIDSize]byte {
	h := sha256.New()
	h.Write([]byte("radmfa key id\x00"))
	h.Write(key)
	var id [keyIDSize]byte
	copy(id[:], h.Sum(nil))
	return id
}

// add appends e unless a key with the same ID is already there.
func (k *Keyring) add(e keyEntry) {
	for _, have := range k.all {
		if have.id == e.id {
			return
		}
	}
	k.all = append(k.all, e)
}

// withOlder returns a keyring with k's primary that also decrypts with every key of o.
func (k *Keyring) withOlder(o *Keyring) *Keyring {
	n := &Keyring{primary: k.primary, all: append([]keyEntry(nil), k.all...)}
	for _, e := range o.all {
		n.add(e)
	}
	return n
}

// PrimaryID is the hex ID of the key new ciphertexts are sealed with.
func (k *Keyring) PrimaryID() string { return hex.EncodeToString(k.primary.id[:]) }

// IDs lists the hex IDs of every key in the ring, primary first.
func (k *Keyring) IDs() []string {
	ids := make([]string, len(k.all))
	for i, e := range k.all {
		ids[i] = hex.EncodeToString(e.id[:])
	}
	return ids
}

// Encrypt seals plaintext with the primary key. aad binds the ciphertext to its place (for
// stored values: column and username), so it will not decrypt anywhere else.
func (k *Keyring) Encrypt(plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, headerSize, headerSize+len(plaintext)+k.primary.aead.Overhead())
	out[0] = cipherVersion
	copy(out[1:headerSize], k.primary.id[:])
	return k.primary.aead.Seal(out, nil, plaintext, joinAAD(out[:headerSize], aad)), nil
}

// Decrypt opens a ciphertext made by Encrypt with any key in the ring and the same aad. A key
// ID the ring does not hold gives ErrWrongKey; a ciphertext that fails authentication (altered,
// or moved to another row) gives ErrDecrypt.
func (k *Keyring) Decrypt(ciphertext, aad []byte) ([]byte, error) {
	if len(ciphertext) < headerSize {
		return nil, fmt.Errorf("%w: ciphertext too short", ErrDecrypt)
	}
	if ciphertext[0] != cipherVersion {
		return nil, fmt.Errorf("%w: unknown ciphertext version %d", ErrDecrypt, ciphertext[0])
	}
	var id [keyIDSize]byte
	copy(id[:], ciphertext[1:headerSize])
	for _, e := range k.all {
		if e.id != id {
			continue
		}
		pt, err := e.aead.Open(nil, nil, ciphertext[headerSize:], joinAAD(ciphertext[:headerSize], aad))
		if err != nil {
			return nil, fmt.Errorf("%w: authentication failed (key %x)", ErrDecrypt, id)
		}
		return pt, nil
	}
	return nil, fmt.Errorf("%w: sealed with key %x, keyring holds %s", ErrWrongKey, id,
		strings.Join(k.IDs(), ", "))
}

func joinAAD(header, aad []byte) []byte {
	b := make([]byte, 0, len(header)+len(aad))
	return append(append(b, header...), aad...)
}

// fieldAAD is the associated data of an encrypted column value: the column and the row's
// username, NUL-separated so no two (field, username) pairs collide.
func fieldAAD(field, username string) []byte {
	return []byte("radmfa/" + field + "\x00" + username)
}

// errNoKeyring is returned by constructors given a nil keyring.
var errNoKeyring = errors.New("store: no encryption keyring")
