package factors

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestSMSCodeNewCode(t *testing.T) {
	tests := []struct {
		name     string
		code     SMSCode
		length   int
		alphabet string
	}{
		{"zero value is the default", SMSCode{}, 6, "0123456789"},
		{"default", DefaultSMSCode(), 6, "0123456789"},
		{"eight digits", SMSCode{Length: 8}, 8, "0123456789"},
		{"unambiguous letters", SMSCode{Length: 5, Alphabet: "ACDEFHJKMNPRTUVWXY"}, 5, "ACDEFHJKMNPRTUVWXY"},
		{"binary", SMSCode{Length: 32, Alphabet: "01"}, 32, "01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 200 {
				c, err := tc.code.NewCode(rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				if len(c) != tc.length || strings.Trim(c, tc.alphabet) != "" {
					t.Fatalf("code %q: want %d characters from %q", c, tc.length, tc.alphabet)
				}
			}
		})
	}
}

// Every digit should come up about equally often; a modulo bias on 10 digits would make 0–5
// about 4% more frequent than 6–9, which this bound (±5% at 60,000 samples per digit) catches.
func TestSMSCodeDistribution(t *testing.T) {
	c := SMSCode{Length: 30}
	counts := map[rune]int{}
	const codes = 20000
	for range codes {
		s, err := c.NewCode(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range s {
			counts[r]++
		}
	}
	want := codes * 30 / 10
	for d := '0'; d <= '9'; d++ {
		if got := counts[d]; got < want*95/100 || got > want*105/100 {
			t.Errorf("digit %c drawn %d times, want about %d", d, got, want)
		}
	}
}

// Bytes at or above 250 must be skipped for a 10-digit alphabet, not reduced modulo 10.
func TestSMSCodeRejectionSampling(t *testing.T) {
	tests := []struct {
		name  string
		bytes []byte
		want  string
	}{
		{"in range", []byte{0, 1, 2, 3, 9, 249, 0, 0, 0, 0, 0, 0}, "012399"},
		{"top bytes skipped", []byte{250, 255, 3, 251, 14, 25, 36, 47, 58, 0, 0, 0}, "345678"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SMSCode{}.NewCode(bytes.NewReader(tc.bytes))
			if err != nil || got != tc.want {
				t.Fatalf("NewCode = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

type constReader byte

func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

func TestSMSCodeBrokenRandom(t *testing.T) {
	tests := []struct {
		name string
		r    io.Reader
	}{
		{"always rejected byte", constReader(255)},
		{"failing reader", iotestErrReader{}},
		{"short reader", bytes.NewReader([]byte{1, 2})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := (SMSCode{}).NewCode(tc.r); !errors.Is(err, ErrRandom) {
				t.Fatalf("NewCode = %q, %v; want ErrRandom", c, err)
			}
		})
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("entropy pool on fire") }

func TestSMSCodeValidate(t *testing.T) {
	tests := []struct {
		name    string
		code    SMSCode
		wantErr string
	}{
		{"zero", SMSCode{}, ""},
		{"default", DefaultSMSCode(), ""},
		{"too short", SMSCode{Length: 3}, "length 3 is outside 4..32"},
		{"too long", SMSCode{Length: 33}, "length 33 is outside 4..32"},
		{"negative length", SMSCode{Length: -1}, "length -1"},
		{"one character", SMSCode{Alphabet: "7"}, "at least 2 characters"},
		{"duplicate", SMSCode{Alphabet: "01234567890"}, `'0' appears twice`},
		{"space", SMSCode{Alphabet: "01 "}, "character 2 is not printable ASCII"},
		{"non-ASCII", SMSCode{Alphabet: "01é"}, "not printable ASCII"},
		{"negative lifetime", SMSCode{Lifetime: -time.Second}, "lifetime -1s is negative"},
		{"negative tries", SMSCode{MaxTries: -1}, "max tries -1 is negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.code.Validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Validate() = %v, want %q", err, tc.wantErr)
			}
			if tc.wantErr != "" {
				if _, err := tc.code.NewCode(rand.Reader); err == nil {
					t.Fatal("NewCode accepted an invalid SMSCode")
				}
			}
		})
	}
}

func TestCheckCode(t *testing.T) {
	tests := []struct {
		name      string
		want, got string
		ok        bool
	}{
		{"equal", "123456", "123456", true},
		{"last digit", "123456", "123457", false},
		{"first digit", "123456", "023456", false},
		{"shorter", "123456", "12345", false},
		{"longer", "123456", "1234567", false},
		{"prefix plus junk", "123456", "123456 ", false},
		{"empty answer", "123456", "", false},
		{"empty code never matches", "", "", false},
		{"case matters", "ABCDEF", "abcdef", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CheckCode(tc.want, tc.got); got != tc.ok {
				t.Fatalf("CheckCode(%q, %q) = %v, want %v", tc.want, tc.got, got, tc.ok)
			}
		})
	}
}

func TestHashCode(t *testing.T) {
	h := HashCode("123456", "alice")
	if len(h) != 32 {
		t.Fatalf("hash is %d bytes, want 32", len(h))
	}
	if !bytes.Equal(h, HashCode("123456", "alice")) {
		t.Fatal("HashCode is not deterministic")
	}
	tests := []struct {
		name       string
		code, user string
		ok         bool
	}{
		{"same", "123456", "alice", true},
		{"other code", "123457", "alice", false},
		{"other user", "123456", "bob", false},
		{"shifted boundary", "3456", "alice12", false},
		{"empty", "", "alice", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CheckCodeHash(h, tc.code, tc.user); got != tc.ok {
				t.Fatalf("CheckCodeHash(%q, %q) = %v, want %v", tc.code, tc.user, got, tc.ok)
			}
		})
	}
	if bytes.Equal(HashCode("c", "ab"), HashCode("bc", "a")) {
		t.Fatal("user/code boundary is ambiguous")
	}
	if CheckCodeHash(nil, "", "") || CheckCodeHash(h[:16], "123456", "alice") {
		t.Fatal("a truncated or empty hash verified")
	}
}

func TestSMSCodeLifetime(t *testing.T) {
	issued := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name    string
		code    SMSCode
		after   time.Duration
		expired bool
		minutes int
	}{
		{"fresh", SMSCode{}, 0, false, 5},
		{"just before", SMSCode{}, 5*time.Minute - time.Nanosecond, false, 5},
		{"at the boundary", SMSCode{}, 5 * time.Minute, true, 5},
		{"odd lifetime rounds up", SMSCode{Lifetime: 90 * time.Second}, time.Minute, false, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.code.Expired(issued, issued.Add(tc.after)); got != tc.expired {
				t.Errorf("Expired = %v, want %v", got, tc.expired)
			}
			if got := tc.code.Minutes(); got != tc.minutes {
				t.Errorf("Minutes = %d, want %d", got, tc.minutes)
			}
		})
	}
	if (SMSCode{}).Exhausted(2) || !(SMSCode{}).Exhausted(3) || !(SMSCode{MaxTries: 1}).Exhausted(1) {
		t.Fatal("Exhausted disagrees with MaxTries")
	}
}
