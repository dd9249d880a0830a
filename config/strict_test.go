package config

import (
	"errors"
	"strings"
	"testing"
)

func TestStrictDecoding(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want []string
	}{
		{
			name: "unknown top-level key",
			doc:  yml("nodes: a"),
			want: []string{"nodes: line 1: unknown key"},
		},
		{
			name: "unknown key in a list item",
			doc: yml("radius:", "  clients:",
				"    - name: vpn", "      address: 10.0.0.1", "      secret: a-long-enough-secret",
				"    - name: other", "      address: 10.0.0.2", "      secrte: a-long-enough-secret"),
			want: []string{
				// The misspelt key leaves the secret missing: reported at the client's line.
				"radius.clients[1].secret: line 6: is required (or set secret_file)",
				"radius.clients[1].secrte: line 8: unknown key",
			},
		},
		{
			name: "unknown key three levels down",
			doc:  yml("mfa:", "  lockout:", "    treshold: 3"),
			want: []string{"mfa.lockout.treshold: line 3: unknown key"},
		},
		{
			name: "fields without a yaml key are not keys",
			doc:  yml("warnings: [a]"),
			want: []string{"warnings: line 1: unknown key"},
		},
		{
			name: "duplicate key",
			doc:  yml("log:", "  level: info", "  level: debug"),
			want: []string{"log.level: line 3: duplicate key (first on line 2)"},
		},
		{
			name: "string where an integer belongs",
			doc:  yml("radius:", "  max_in_flight: many", clientsOK),
			want: []string{`radius.max_in_flight: line 2: expected an integer, got "many"`},
		},
		{
			name: "quoted integer",
			doc:  yml("totp:", `  digits: "6"`),
			want: []string{`totp.digits: line 2: expected an integer, got "6"`},
		},
		{
			name: "not a boolean",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  start_tls: maybe"),
			want: []string{`ldap.start_tls: line 4: expected true or false, got "maybe"`},
		},
		{
			name: "scalar where a list belongs",
			doc:  yml("ldap:", "  urls: ldap://127.0.0.1", "  base_dn: dc=example,dc=test"),
			want: []string{`ldap.urls: line 2: expected a list, got "ldap://127.0.0.1"`},
		},
		{
			name: "list where a string belongs",
			doc:  yml("node: [a, b]"),
			want: []string{"node: line 1: expected a string, got a list"},
		},
		{
			name: "mapping where a duration belongs",
			doc:  yml("mfa:", "  challenge_timeout: {seconds: 30}"),
			want: []string{"mfa.challenge_timeout: line 2: expected a duration, got a mapping"},
		},
		{
			name: "list where a secret belongs",
			doc:  yml("radius:", "  clients:", "    - name: vpn", "      address: 10.0.0.1", "      secret: [a, b]"),
			want: []string{"radius.clients[0].secret: line 5: expected a string, got a list"},
		},
		{
			// The section failed to decode, so "at least one client" would only repeat it.
			name: "scalar where a section belongs hides that section's checks",
			doc:  yml("radius: yes"),
			want: []string{`radius: line 1: expected a mapping, got "yes"`},
		},
		{
			name: "document is a list",
			doc:  yml("- a", "- b"),
			want: []string{"line 1: expected a mapping, got a list"},
		},
		{
			name: "merge of a scalar",
			doc:  yml("log:", "  <<: info"),
			want: []string{"log: line 2: merge (<<) needs a mapping or a list of mappings"},
		},
		{
			name: "unknown key through a merge",
			doc:  yml("x: &base {levle: info}", "log:", "  <<: *base"),
			want: []string{"x: line 1: unknown key", "log.levle: line 1: unknown key"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := tc.doc
			if !strings.HasPrefix(doc, "- ") {
				doc = complete(doc)
			}
			_, err := parseIn(t, t.TempDir(), doc, nil)
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			equalLines(t, fieldErrors(t, err), tc.want)
		})
	}
}

func TestAnchorsAndMerges(t *testing.T) {
	doc := complete(yml(
		"radius:",
		"  clients:",
		"    - &nas",
		"      name: vpn-1",
		"      address: 10.0.0.1",
		"      secret: a-long-enough-secret",
		"      require_message_authenticator: true",
		"    - <<: *nas",
		"      name: vpn-2",
		"      address: 10.0.0.2",
	))
	cfg, err := parseIn(t, t.TempDir(), doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Radius.Clients
	if len(c) != 2 || c[1].Name != "vpn-2" || c[1].Address != "10.0.0.2/32" || c[1].Secret.Reveal() != "a-long-enough-secret" {
		t.Fatalf("merged client: %+v", c)
	}
}

func TestSyntaxErrors(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want string
	}{
		{name: "bad indentation", doc: "log:\n  level: info\n format: json\n", want: "config: t.yaml: yaml: line 2: did not find expected key"},
		{name: "two documents", doc: "log: {}\n---\nlog: {}\n", want: "config: t.yaml: line 2: more than one YAML document"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), "t.yaml")
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
			var ce *Error
			if errors.As(err, &ce) {
				t.Fatalf("a YAML syntax error is not a *Error: %v", err)
			}
		})
	}
}
