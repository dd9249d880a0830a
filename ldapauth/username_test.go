package ldapauth

import "testing"

func TestNormalize(t *testing.T) {
	all := Normalizer{Lowercase: true, StripDomain: true, StripRealm: true}
	tests := []struct {
		name string
		n    Normalizer
		in   string
		want string
	}{
		{"plain", all, "alice", "alice"},
		{"case", all, "Alice", "alice"},
		{"domain", all, `EXAMPLE\Alice`, "alice"},
		{"upn", all, "alice@Example.Test", "alice"},
		{"spaces", all, "  alice ", "alice"},
		{"only a realm", all, "@example.test", ""},
		{"realm list miss", Normalizer{StripRealm: true, Realms: []string{"corp.test"}}, "alice@example.test", "alice@example.test"},
		{"realm list hit", Normalizer{StripRealm: true, Realms: []string{"EXAMPLE.test"}}, "alice@example.test", "alice"},
		{"realm map", Normalizer{StripRealm: true, RealmMap: map[string]string{"old.test": "example.test"}}, "alice@OLD.test", "alice@example.test"},
		{"nothing on", Normalizer{}, `EX\Alice@x`, `EX\Alice@x`},
		{"injection kept for escaping", all, "*)(uid=*", "*)(uid=*"},
		{"fullwidth", all, "ａｌｉｃｅ", "alice"},
		{"mathematical bold", all, "𝐚𝐥𝐢𝐜𝐞", "alice"},
		{"circled", all, "ⓐⓛⓘⓒⓔ", "alice"},
		{"fullwidth capitals", all, "ＡＬＩＣＥ", "alice"},
		{"compatibility folded even without lowercase", Normalizer{}, "ａlice", "alice"},
		{"fullwidth domain separator", all, "EXAMPLE＼alice", "alice"},
		{"accented kept", all, "Alíce", "alíce"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.n.Normalize(tt.in); got != tt.want {
				t.Fatalf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"alice", `D\u@r`, "@", `\`, "a@b@c", "ÅSA@x", "ａ＠ｂ", "İ", "ǅ"} {
		f.Add(s)
	}
	n := Normalizer{Lowercase: true, StripDomain: true, StripRealm: true}
	f.Fuzz(func(t *testing.T, s string) {
		once := n.Normalize(s)
		if twice := n.Normalize(once); twice != once {
			t.Fatalf("not idempotent: %q → %q → %q", s, once, twice)
		}
	})
}
