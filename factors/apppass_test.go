package factors

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
)

func TestNewAppPassword(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		pw, err := NewAppPassword(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		groups := strings.Split(pw, " ")
		if len(groups) != 4 {
			t.Fatalf("%q: want 4 groups", pw)
		}
		for _, g := range groups {
			if len(g) != 4 || strings.Trim(g, appPasswordAlphabet) != "" {
				t.Fatalf("%q: group %q", pw, g)
			}
		}
		if seen[pw] {
			t.Fatalf("%q drawn twice", pw)
		}
		seen[pw] = true
	}
	if _, err := NewAppPassword(bytes.NewReader(nil)); err == nil {
		t.Fatal("an empty random source gave a password")
	}
}

func TestNormalizeAppPassword(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"as shown", "abcd efgh ijkl mnop", "abcdefghijklmnop", true},
		{"no spaces", "abcdefghijklmnop", "abcdefghijklmnop", true},
		{"dashes and upper case", "ABCD-efgh-IJKL-mnop", "abcdefghijklmnop", true},
		{"too short", "abcd efgh ijkl mno", "", false},
		{"too long", "abcd efgh ijkl mnopq", "", false},
		{"digits", "abcd efgh ijkl mno1", "", false},
		{"directory password", "alice-pass", "", false},
		{"wildcard", "abcd efgh ijkl mno*", "", false},
		{"empty", "", "", false},
	}
	for _, tc := range tests {
		got, ok := NormalizeAppPassword(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: NormalizeAppPassword(%q) = %q, %v; want %q, %v", tc.name, tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestAppPasswordHash(t *testing.T) {
	pw, err := NewAppPassword(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := HashAppPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(hash, strings.ReplaceAll(pw, " ", "")) {
		t.Fatalf("hash %q", hash)
	}
	again, _ := HashAppPassword(pw)
	if again == hash {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	other, _ := NewAppPassword(rand.Reader)
	parts := strings.Split(hash, "$")
	tests := []struct {
		name, hash, typed string
		want              bool
	}{
		{"right", hash, pw, true},
		{"typed without spaces, upper case", hash, strings.ToUpper(strings.ReplaceAll(pw, " ", "")), true},
		{"other salt, same password", again, pw, true},
		{"wrong", hash, other, false},
		{"empty", hash, "", false},
		{"not a hash", "hunter2", pw, false},
		{"argon2i", strings.Replace(hash, "argon2id", "argon2i", 1), pw, false},
		{"huge memory", strings.Replace(hash, "m=19456", "m=4194304", 1), pw, false},
		{"zero passes", strings.Replace(hash, "t=2", "t=0", 1), pw, false},
		{"padded parameters", strings.Replace(hash, "t=2", "t=02", 1), pw, false},
		{"truncated key", strings.Join(append(parts[:5:5], parts[5][:10]), "$"), pw, false},
		{"bad base64", strings.Join(append(parts[:4:4], "!!!", parts[5]), "$"), pw, false},
	}
	for _, tc := range tests {
		if got := CheckAppPassword(tc.hash, tc.typed); got != tc.want {
			t.Errorf("%s: CheckAppPassword = %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, err := HashAppPassword("alice-pass"); err == nil {
		t.Error("hashed something that is not an app password")
	}
}
