package engine

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzSplitAppended: append mode's "password" + [separator] + code split. When it splits, the
// code is exactly n ASCII digits, the password is not empty, and the parts put back together
// are the input; when it does not, it returns nothing.
func FuzzSplitAppended(f *testing.F) {
	// The corpus lives in testdata/fuzz/FuzzSplitAppended (TestWriteEngineCorpus writes it).
	f.Add("secret123456", uint8(6), "")
	f.Fuzz(func(t *testing.T, s string, n uint8, sep string) {
		digits := int(n % 11) // config allows 6 or 8; any small count must be safe
		pass, code, ok := splitAppended(s, digits, sep)
		if !ok {
			if pass != "" || code != "" {
				t.Fatalf("split(%q, %d, %q) failed but returned %q, %q", s, digits, sep, pass, code)
			}
			return
		}
		if pass == "" {
			t.Fatalf("split(%q, %d, %q): empty password", s, digits, sep)
		}
		if len(code) != digits || !allDigits(code) {
			t.Fatalf("split(%q, %d, %q): code %q is not %d digits", s, digits, sep, code, digits)
		}
		if pass+sep+code != s {
			t.Fatalf("split(%q, %d, %q) = %q + %q: does not rebuild the input", s, digits, sep, pass, code)
		}
	})
}

// FuzzDecodeGrant: the grant sealed in State. decodeGrant never panics; whatever it accepts
// encodes back to the same bytes; and every grant the engine can build survives
// encode → decode unchanged.
func FuzzDecodeGrant(f *testing.F) {
	// The corpus lives in testdata/fuzz/FuzzDecodeGrant (TestWriteEngineCorpus writes it).
	f.Add([]byte{}, uint32(0), int16(-1), []byte{}, "", []byte{}, []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, b []byte, gen uint32, rule int16, authz []byte, phone string, hash, secret, confirm []byte) {
		// Any bytes: decode, and what decodes re-encodes identically.
		if g, err := decodeGrant(b); err == nil {
			if enc := g.encode(); !bytes.Equal(enc, b) {
				t.Fatalf("decode(%x) re-encodes as %x", b, enc)
			}
		}
		// Any grant within what encode can carry: a rule index below 255 and fields of at most
		// 255 bytes (TestKnownBugGrantLimits shows what happens beyond).
		r := int(rule)
		if r < -1 || r > 254 || len(authz) > 255 || len(phone) > 255 || len(hash) > 255 ||
			len(secret) > 255 || len(confirm) > 255 {
			return
		}
		g := grant{generation: gen, rule: r, authz: nilIfEmpty(authz), phone: phone, codeHash: nilIfEmpty(hash),
			nonce: nilIfEmpty(hash), secret: nilIfEmpty(secret), confirm: nilIfEmpty(confirm)}
		got, err := decodeGrant(g.encode())
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", g, err)
		}
		if got.generation != g.generation || got.rule != g.rule || got.phone != g.phone ||
			!bytes.Equal(got.authz, g.authz) || !bytes.Equal(got.codeHash, g.codeHash) ||
			!bytes.Equal(got.nonce, g.nonce) || !bytes.Equal(got.secret, g.secret) || !bytes.Equal(got.confirm, g.confirm) {
			t.Fatalf("round trip: %+v → %+v", g, got)
		}
	})
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// TestGrantLimits: the rule index and every field length travel as one byte. Grants that do
// not fit are refused before sealing (fits), config check caps policy.rules at 254 and
// authorization at 255, and what fits round-trips exactly.
func TestGrantLimits(t *testing.T) {
	tests := []struct {
		name string
		g    grant
		fits bool
	}{
		{"default rule", grant{rule: -1}, true},
		{"rule 254", grant{rule: 254}, true},
		{"rule 255", grant{rule: 255}, false},
		{"rule 300", grant{rule: 300}, false},
		{"255 authorization indices", grant{rule: -1, authz: make([]byte, 255)}, true},
		{"256 authorization indices", grant{rule: -1, authz: make([]byte, 256)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.g.fits(); got != tt.fits {
				t.Fatalf("fits = %v, want %v", got, tt.fits)
			}
			if !tt.fits {
				return
			}
			got, err := decodeGrant(tt.g.encode())
			if err != nil || got.rule != tt.g.rule || len(got.authz) != len(tt.g.authz) {
				t.Fatalf("round trip: %+v, %v", got, err)
			}
		})
	}
}

// TestWriteEngineCorpus regenerates the seed corpora under testdata/fuzz:
// RADMFA_WRITE_CORPUS=1 go test -run TestWriteEngineCorpus ./engine/
func TestWriteEngineCorpus(t *testing.T) {
	if os.Getenv("RADMFA_WRITE_CORPUS") == "" {
		t.Skip("set RADMFA_WRITE_CORPUS=1 to rewrite the seed corpus")
	}
	write := func(fuzz, name, body string) {
		dir := filepath.Join("testdata", "fuzz", fuzz)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte("go test fuzz v1\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range []struct {
		in  string
		n   uint8
		sep string
	}{
		{"secret123456", 6, ""}, {"secret,123456", 6, ","}, {"123456", 6, ""}, {"1234567", 6, ""},
		{"pässwörd12345678", 8, ""}, {"pw 12345", 6, ""}, {"pw,,123456", 6, ","}, {"", 6, ""},
		{"secret123456", 6, ","}, {"secret\u0661\u0662\u0663\u0664\u0665\u0666", 6, ""},
		{"x\x00123456", 6, ""}, {",123456", 6, ","}, {"pw123456", 0, ""}, {"pw\xff123456", 6, ""},
		{"pw 123 456", 6, " "}, {"123456123456", 6, ""},
	} {
		write("FuzzSplitAppended", fmt.Sprintf("%02d", i), fmt.Sprintf("string(%q)\nbyte(%q)\nstring(%q)\n", s.in, s.n, s.sep))
	}
	grants := []struct {
		name string
		g    grant
	}{
		{"empty", grant{rule: -1}},
		{"challenge", grant{generation: 7, rule: 2, authz: []byte{0, 3}}},
		{"sms", grant{generation: 7, rule: -1, phone: "+15551230001", codeHash: bytes.Repeat([]byte{1}, 32), nonce: bytes.Repeat([]byte{2}, 12)}},
		{"password-change", grant{rule: -1, secret: []byte("old-password"), confirm: bytes.Repeat([]byte{3}, 16)}},
		{"limits", grant{generation: 1<<32 - 1, rule: 254, authz: bytes.Repeat([]byte{9}, 255), phone: strings.Repeat("5", 255)}},
	}
	for _, c := range grants {
		g := c.g
		write("FuzzDecodeGrant", c.name, fmt.Sprintf("[]byte(%q)\nuint32(%d)\nint16(%d)\n[]byte(%q)\nstring(%q)\n[]byte(%q)\n[]byte(%q)\n[]byte(%q)\n",
			g.encode(), g.generation, g.rule, g.authz, g.phone, g.codeHash, g.secret, g.confirm))
	}
	for name, b := range map[string][]byte{
		"short": {0, 0, 0}, "no-fields": {0, 0, 0, 1, 0}, "length-past-end": {0, 0, 0, 1, 0, 9, 1},
		"trailing": append(grant{rule: -1}.encode(), 0), "all-ff": bytes.Repeat([]byte{0xff}, 40),
	} {
		write("FuzzDecodeGrant", "raw-"+name, fmt.Sprintf("[]byte(%q)\nuint32(0)\nint16(-1)\n[]byte(\"\")\nstring(\"\")\n[]byte(\"\")\n[]byte(\"\")\n[]byte(\"\")\n", b))
	}
}
