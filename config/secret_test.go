package config

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestConfigNeverPrintsSecrets formats a loaded Config every way a log line might.
func TestConfigNeverPrintsSecrets(t *testing.T) {
	const (
		nasSecret = "nas-secret-value-9f2c"
		bindPW    = "bind-password-value-71ab"
		pgPW      = "pg-password-value-0c3d"
	)
	t.Setenv("RADMFA_TEST_BIND_PW", bindPW)
	dir := t.TempDir()
	cases := []struct {
		name    string
		dsn     string
		secrets []string
	}{
		{name: "postgres URL", dsn: "postgres://radmfa:" + pgPW + "@db.example.test/radmfa", secrets: []string{pgPW}},
		{name: "postgres URL query", dsn: "postgres://db.example.test/radmfa?user=radmfa&password=" + pgPW, secrets: []string{pgPW}},
		{name: "postgres keywords", dsn: "host=db.example.test user=radmfa password=" + pgPW + " dbname=radmfa", secrets: []string{pgPW}},
		{name: "postgres quoted keyword", dsn: "host=db password='" + pgPW + " with space' dbname=radmfa", secrets: []string{pgPW, "with space"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := yml(
				"node: test",
				"radius:",
				"  clients: [{name: vpn, address: 10.0.0.1, secret: "+nasSecret+"}]",
				"ldap:",
				ldapURL,
				"  base_dn: dc=example,dc=test",
				"  bind_dn: cn=radmfa,dc=example,dc=test",
				"  bind_password: env:RADMFA_TEST_BIND_PW",
				"store:",
				"  driver: postgres",
				"  dsn: \""+tc.dsn+"\"",
				"mfa:",
				"  state_key: "+stateKeyHex,
			)
			cfg, err := parseIn(t, dir, doc, nil)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Store.DSN != tc.dsn {
				t.Fatalf("DSN changed: %q", cfg.Store.DSN)
			}
			secrets := append([]string{nasSecret, bindPW, stateKeyHex}, tc.secrets...)
			var outs []string
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
				outs = append(outs, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, *cfg))
			}
			outs = append(outs, fmt.Sprint(cfg.Radius.Clients), fmt.Sprintf("%#v", cfg.Store))
			j, err := json.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			y, err := yaml.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, string(j), string(y))
			for _, out := range outs {
				for _, s := range secrets {
					for _, form := range []string{s, hex.EncodeToString([]byte(s)), strings.ToUpper(hex.EncodeToString([]byte(s)))} {
						if strings.Contains(out, form) {
							t.Fatalf("output shows secret %q:\n%s", s, out)
						}
					}
				}
			}
			if plus := fmt.Sprintf("%+v", cfg); !strings.Contains(plus, "Secret:[redacted]") || !strings.Contains(plus, "db.example.test") && !strings.Contains(plus, "host=db") {
				t.Errorf("%%+v lost the non-secret parts:\n%s", plus)
			}
		})
	}
}

func TestSecretFormatting(t *testing.T) {
	s := Secret("hunter2")
	cases := []struct {
		name, got, want string
	}{
		{"String", s.String(), "[redacted]"},
		{"%v", fmt.Sprintf("%v", s), "[redacted]"},
		{"%s", fmt.Sprintf("%s", s), "[redacted]"},
		{"%q", fmt.Sprintf("%q", s), `"[redacted]"`},
		{"%#v", fmt.Sprintf("%#v", s), `config.Secret("[redacted]")`},
		{"%d", fmt.Sprintf("%d", s), "[redacted]"},
		{"empty %v", fmt.Sprintf("%v", Secret("")), ""},
		{"empty %#v", fmt.Sprintf("%#v", Secret("")), `config.Secret("")`},
		{"Reveal", s.Reveal(), "hunter2"},
		{"redactDSN URL", redactDSN("postgres://u:p@h/db"), "postgres://u:xxxxx@h/db"},
		{"redactDSN sqlite path", redactDSN("/var/lib/radmfa/radmfa.db"), "/var/lib/radmfa/radmfa.db"},
		{"redactDSN bad URL", redactDSN("postgres://u:p@[::1/db"), "xxxxx"},
		{"redactDSN keywords", redactDSN("host=h password = p user=u"), "host=h password = xxxxx user=u"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		want  string // String() of the result
		error string
	}{
		{name: "seconds", in: "30s", want: "30s"},
		{name: "minutes", in: "5m", want: "5m"},
		{name: "mixed", in: "1h30m", want: "1h30m"},
		{name: "hours", in: "24h", want: "24h"},
		{name: "hours and seconds", in: "1h0m30s", want: "1h0m30s"},
		{name: "integer seconds", in: "90", want: "1m30s"},
		{name: "zero", in: "0", want: "0s"},
		{name: "sub-second", in: "250ms", want: "250ms"},
		{name: "words", in: "5 sec", error: `invalid duration "5 sec"`},
		{name: "float without unit", in: "1.5", error: `invalid duration "1.5"`},
		{name: "overflow", in: "99999999999999", error: `invalid duration "99999999999999"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var d Duration
			err := yaml.Unmarshal([]byte("d: "+tc.in), &struct {
				D *Duration `yaml:"d"`
			}{&d})
			switch {
			case tc.error != "":
				if err == nil || !strings.Contains(err.Error(), tc.error) {
					t.Fatalf("got %v, want %s", err, tc.error)
				}
			case err != nil:
				t.Fatal(err)
			case d.String() != tc.want:
				t.Errorf("got %s, want %s", d, tc.want)
			}
		})
	}
}
