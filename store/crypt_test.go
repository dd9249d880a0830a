package store

import (
	"bytes"
	"errors"
	"testing"
)

func TestKeyring(t *testing.T) {
	k1, k2, k3 := GenerateKey(), GenerateKey(), GenerateKey()
	ring := func(primary []byte, older ...[]byte) *Keyring {
		t.Helper()
		k, err := NewKeyring(primary, older...)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	aad := fieldAAD(colTOTPSecret, "alice")
	sealedBy1, _ := ring(k1).Encrypt([]byte("plain"), aad)
	flip := func(i int) []byte {
		b := bytes.Clone(sealedBy1)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name    string
		ring    *Keyring
		ct      []byte
		aad     []byte
		wantErr error
	}{
		{"same key", ring(k1), sealedBy1, aad, nil},
		{"older key", ring(k2, k1), sealedBy1, aad, nil},
		{"unknown key", ring(k2, k3), sealedBy1, aad, ErrWrongKey},
		{"other user", ring(k1), sealedBy1, fieldAAD(colTOTPSecret, "bob"), ErrDecrypt},
		{"other column", ring(k1), sealedBy1, fieldAAD(colPhone, "alice"), ErrDecrypt},
		{"no aad", ring(k1), sealedBy1, nil, ErrDecrypt},
		{"version flipped", ring(k1), flip(0), aad, ErrDecrypt},
		{"key id flipped", ring(k1), flip(1), aad, ErrWrongKey},
		{"nonce flipped", ring(k1), flip(headerSize), aad, ErrDecrypt},
		{"body flipped", ring(k1), flip(headerSize + 12), aad, ErrDecrypt},
		{"tag flipped", ring(k1), flip(len(sealedBy1) - 1), aad, ErrDecrypt},
		{"truncated", ring(k1), sealedBy1[:3], aad, ErrDecrypt},
		{"empty", ring(k1), nil, aad, ErrDecrypt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := tc.ring.Decrypt(tc.ct, tc.aad)
			if tc.wantErr == nil {
				if err != nil || string(pt) != "plain" {
					t.Fatalf("Decrypt = %q, %v", pt, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || pt != nil {
				t.Fatalf("Decrypt = %q, %v; want %v", pt, err, tc.wantErr)
			}
		})
	}
}

func TestKeyringEncrypt(t *testing.T) {
	k, err := NewKeyring(GenerateKey(), GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := k.Encrypt([]byte("same"), nil)
	b, _ := k.Encrypt([]byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Error("two encryptions are equal: nonce not random")
	}
	if got := sealedKeyID(a); got != k.PrimaryID() {
		t.Errorf("sealed with key %s, primary is %s", got, k.PrimaryID())
	}
	if ids := k.IDs(); len(ids) != 2 || ids[0] != k.PrimaryID() || len(ids[0]) != 2*keyIDSize {
		t.Errorf("IDs = %v", ids)
	}
	// The same key twice is kept once.
	key := GenerateKey()
	if k, _ := NewKeyring(key, key); len(k.IDs()) != 1 {
		t.Errorf("duplicate key kept: %v", k.IDs())
	}
}

func TestNewKeyringBadKey(t *testing.T) {
	tests := []struct {
		name           string
		primary, older []byte
	}{
		{"short primary", make([]byte, 16), nil},
		{"long primary", make([]byte, 33), nil},
		{"nil primary", nil, nil},
		{"short older", GenerateKey(), make([]byte, 31)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var older [][]byte
			if tc.older != nil {
				older = append(older, tc.older)
			}
			if _, err := NewKeyring(tc.primary, older...); err == nil {
				t.Fatal("bad key accepted")
			}
		})
	}
}
