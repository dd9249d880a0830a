package challenge

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestSealOpen(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	s, err := NewSealer(key, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewSealer(bytes.Repeat([]byte{8}, 32), 2*time.Minute)
	now := time.Unix(1_800_000_000, 0)
	tok, err := s.Seal(Claims{User: "alice", NAS: "vpn", Issued: now, Phase: PhaseCode, Factor: 1, Extra: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) > 253 {
		t.Fatalf("token is %d bytes; a RADIUS attribute holds 253", len(tok))
	}
	tampered := append([]byte(nil), tok...)
	tampered[len(tampered)-1] ^= 1
	tests := []struct {
		name    string
		sealer  *Sealer
		tok     []byte
		user    string
		nas     string
		at      time.Time
		wantErr error
	}{
		{"ok", s, tok, "alice", "vpn", now.Add(time.Second), nil},
		{"expired", s, tok, "alice", "vpn", now.Add(2*time.Minute + time.Second), ErrExpired},
		{"from the future", s, tok, "alice", "vpn", now.Add(-time.Minute), ErrExpired},
		{"other user", s, tok, "bob", "vpn", now, ErrWrongUser},
		{"other nas", s, tok, "alice", "wifi", now, ErrWrongNAS},
		{"tampered", s, tampered, "alice", "vpn", now, ErrForged},
		{"other key", other, tok, "alice", "vpn", now, ErrForged},
		{"empty", s, nil, "alice", "vpn", now, ErrMalformed},
		{"short", s, tok[:20], "alice", "vpn", now, ErrMalformed},
		{"bad version", s, append([]byte{9}, tok[1:]...), "alice", "vpn", now, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.sealer.Open(tt.tok, tt.user, tt.nas, tt.at)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (c.Phase != PhaseCode || c.Factor != 1 || string(c.Extra) != "x" || !c.Issued.Equal(now)) {
				t.Fatalf("claims = %+v", c)
			}
		})
	}
}

func TestSealExtraBound(t *testing.T) {
	s, _ := NewSealer(make([]byte, 32), time.Minute)
	long := "user-" + string(bytes.Repeat([]byte("x"), 300))
	tok, err := s.Seal(Claims{User: long, NAS: "n", Issued: time.Now(), Extra: make([]byte, MaxExtra)})
	if err != nil || len(tok) > 253 {
		t.Fatalf("max extra: len %d, err %v", len(tok), err)
	}
	if _, err := s.Seal(Claims{Extra: make([]byte, MaxExtra+1)}); err == nil {
		t.Fatal("oversized extra accepted")
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "state.key")
	k1, err := LoadOrCreateKey(p)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKey(p)
	if err != nil || !bytes.Equal(k1, k2) || len(k1) != 32 {
		t.Fatalf("reload: %v equal=%v", err, bytes.Equal(k1, k2))
	}
	if _, err := ParseKey("abcd"); err == nil {
		t.Fatal("short key accepted")
	}
}

func FuzzOpen(f *testing.F) {
	s, _ := NewSealer(make([]byte, 32), time.Minute)
	now := time.Unix(1_800_000_000, 0)
	tok, _ := s.Seal(Claims{User: "u", NAS: "n", Issued: now})
	f.Add(tok)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := s.Open(b, "u", "n", now)
		if err == nil && !bytes.Equal(b, tok) {
			t.Fatalf("forged token accepted: %+v", c)
		}
	})
}

func TestDerive(t *testing.T) {
	a, _ := NewSealer(bytes.Repeat([]byte{1}, 32), time.Minute)
	b, _ := NewSealer(bytes.Repeat([]byte{1}, 32), time.Minute)
	c, _ := NewSealer(bytes.Repeat([]byte{2}, 32), time.Minute)
	x := a.Derive("sms", []byte("ab"), []byte("c"))
	if !bytes.Equal(x, b.Derive("sms", []byte("ab"), []byte("c"))) {
		t.Fatal("same key, same input, different output")
	}
	for name, y := range map[string][]byte{
		"other key":   c.Derive("sms", []byte("ab"), []byte("c")),
		"other split": a.Derive("sms", []byte("a"), []byte("bc")),
		"other label": a.Derive("smt", []byte("ab"), []byte("c")),
	} {
		if bytes.Equal(x, y) {
			t.Errorf("%s: same output", name)
		}
	}
}
