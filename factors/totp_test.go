package factors

import (
	"testing"
	"time"
)

// RFC 6238 Appendix B, SHA1, 8 digits, secret "12345678901234567890".
func TestTOTPRFC6238Vectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	tt := TOTP{Digits: 8, Period: 30 * time.Second, Skew: 0, Algorithm: "SHA1"}
	vectors := []struct {
		unix int64
		code string
	}{
		{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"},
		{1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
	}
	for _, v := range vectors {
		got, err := tt.Code(secret, tt.Step(time.Unix(v.unix, 0)))
		if err != nil || got != v.code {
			t.Errorf("T=%d: code %q (%v), want %q", v.unix, got, err, v.code)
		}
	}
}

func TestTOTPCheck(t *testing.T) {
	secret := []byte("12345678901234567890")
	tt := DefaultTOTP()
	now := time.Unix(1_800_000_015, 0)
	cur := tt.Step(now)
	code := func(step int64) string { c, _ := tt.Code(secret, step); return c }
	tests := []struct {
		name      string
		code      string
		drift     int
		wantOK    bool
		wantStep  int64
		wantDrift int
	}{
		{"current", code(cur), 0, true, cur, 0},
		{"previous", code(cur - 1), 0, true, cur - 1, -1},
		{"next", code(cur + 1), 0, true, cur + 1, 1},
		{"two back", code(cur - 2), 0, false, 0, 0},
		{"two back with learned drift", code(cur - 2), -2, true, cur - 2, -2},
		{"four ahead with learned drift 3", code(cur + 4), 3, true, cur + 4, 4},
		{"wrong", "000000", 0, false, 0, 0},
		{"short", code(cur)[:5], 0, false, 0, 0},
		{"letters", "12345a", 0, false, 0, 0},
		{"empty", "", 0, false, 0, 0},
		{"padded", " " + code(cur), 0, false, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := tt.Check(secret, tc.code, now, tc.drift)
			if ok != tc.wantOK || (ok && (m.Step != tc.wantStep || m.Drift != tc.wantDrift)) {
				t.Fatalf("Check = %+v %v, want step %d drift %d ok %v", m, ok, tc.wantStep, tc.wantDrift, tc.wantOK)
			}
		})
	}
}

func TestTOTPResync(t *testing.T) {
	secret := []byte("12345678901234567890")
	tt := DefaultTOTP()
	now := time.Unix(1_800_000_015, 0)
	cur := tt.Step(now)
	c1, _ := tt.Code(secret, cur+15)
	c2, _ := tt.Code(secret, cur+16)
	m, ok := tt.Resync(secret, c1, c2, now, 20)
	if !ok || m.Drift != 16 {
		t.Fatalf("Resync = %+v %v", m, ok)
	}
	if _, ok := tt.Resync(secret, c2, c1, now, 20); ok {
		t.Fatal("codes out of order accepted")
	}
}

func TestSecretCodec(t *testing.T) {
	s, err := NewSecret()
	if err != nil || len(s) != SecretSize {
		t.Fatal(err)
	}
	enc := EncodeSecret(s)
	for _, in := range []string{enc, "  " + enc, lower(enc)} {
		got, err := DecodeSecret(in)
		if err != nil || string(got) != string(s) {
			t.Fatalf("DecodeSecret(%q) = %v", in, err)
		}
	}
	for _, bad := range []string{"", "!!!!", "AAAA"} {
		if _, err := DecodeSecret(bad); err == nil {
			t.Errorf("DecodeSecret(%q) accepted", bad)
		}
	}
	uri := DefaultTOTP().URI("radmfa", "alice", s)
	if want := "otpauth://totp/radmfa:alice?algorithm=SHA1&digits=6&issuer=radmfa&period=30&secret=" + enc; uri != want {
		t.Fatalf("URI = %s\nwant  %s", uri, want)
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}
