package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestExampleLoads(t *testing.T) {
	cfg, err := Load("example.yaml")
	if err != nil {
		t.Fatalf("example.yaml:\n%v", err)
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("example.yaml warns:\n%s", strings.Join(cfg.Warnings, "\n"))
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", cfg.Radius.Listen, "127.0.0.1:1812"},
		{"client", cfg.Radius.Clients[0].Name + " " + cfg.Radius.Clients[0].Address, "localhost 127.0.0.1/32"},
		{"client secret", cfg.Radius.Clients[0].Secret.Reveal(), "testing123-radmfa"},
		{"require_message_authenticator", *cfg.Radius.Clients[0].RequireMessageAuthenticator, true},
		{"ldap url", cfg.LDAP.URLs, []string{"ldap://127.0.0.1:3890"}},
		{"bind_dn", cfg.LDAP.BindDN, "cn=radmfa,ou=services,dc=example,dc=test"},
		{"bind_password", cfg.LDAP.BindPassword.Reveal(), "radmfa-service"},
		{"base_dn", cfg.LDAP.BaseDN, "dc=example,dc=test"},
		{"user_filter", cfg.LDAP.UserFilter, "(&(objectClass=inetOrgPerson)(uid={username}))"},
		{"dsn", cfg.Store.DSN, filepath.Join(repo, "var", "radmfa.db")},
		{"key_file", cfg.Store.KeyFile, filepath.Join(repo, "var", "radmfa.key")},
		{"state_key_file", cfg.MFA.StateKeyFile, filepath.Join(repo, "var", "radmfa-state.key")},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	// The embedded copy is the same file.
	embedded, err := Parse(Example(), "example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(embedded, cfg) {
		t.Errorf("Example() decodes differently from example.yaml")
	}
}

// TestExampleShowsEveryKey keeps example.yaml complete as the schema grows: every key must
// appear, set or commented out.
func TestExampleShowsEveryKey(t *testing.T) {
	example := string(Example())
	var walk func(t reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		for name, i := range yamlFields(typ) {
			p := childPath(path, name)
			if !strings.Contains(example, " "+name+":") && !strings.HasPrefix(example, name+":") &&
				!strings.Contains(example, "\n"+name+":") {
				t.Errorf("example.yaml does not show %s", p)
			}
			ft := typ.Field(i).Type
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				walk(ft, p)
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
}

func TestDefaults(t *testing.T) {
	dir := t.TempDir()
	cfg, err := parseIn(t, dir, complete(""), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Radius.Clients[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"radius.listen", cfg.Radius.Listen, ":1812"},
		{"radius.duplicate_window", cfg.Radius.DuplicateWindow.D(), 30 * time.Second},
		{"radius.max_in_flight", cfg.Radius.MaxInFlight, 1024},
		{"client address", c.Address, "10.0.0.1/32"},
		{"client prefix", c.Prefix.String(), "10.0.0.1/32"},
		{"require_message_authenticator", *c.RequireMessageAuthenticator, true},
		{"ldap.user_filter", cfg.LDAP.UserFilter, "(uid={username})"},
		{"ldap.timeout", cfg.LDAP.Timeout.D(), 5 * time.Second},
		{"ldap.pool_size", cfg.LDAP.PoolSize, 16},
		{"ldap attributes", []string{cfg.LDAP.DisplayNameAttr, cfg.LDAP.MailAttr, cfg.LDAP.PhoneAttr, cfg.LDAP.GroupNameAttr},
			[]string{"displayName", "mail", "mobile", "cn"}},
		{"ldap.group_mode", cfg.LDAP.GroupMode, "memberof"},
		{"ldap.group_filter", cfg.LDAP.GroupFilter, ""},
		{"store.driver", cfg.Store.Driver, "sqlite"},
		{"store.dsn", cfg.Store.DSN, filepath.Join(dir, "radmfa.db")},
		{"store.key_file", cfg.Store.KeyFile, filepath.Join(dir, "radmfa.key")},
		{"mfa.challenge_timeout", cfg.MFA.ChallengeTimeout.D(), 120 * time.Second},
		{"mfa.state_key_file", cfg.MFA.StateKeyFile, filepath.Join(dir, "radmfa-state.key")},
		{"mfa.default_state", cfg.MFA.DefaultState, "enforced"},
		{"mfa.unenrolled", cfg.MFA.Unenrolled, "reject"},
		{"mfa.lockout", cfg.MFA.Lockout, LockoutConfig{
			PasswordThreshold: 10, FactorThreshold: 5,
			Duration: Duration(5 * time.Minute), MaxDuration: Duration(24 * time.Hour),
			SourceThreshold: 30, SourceWindow: Duration(10 * time.Minute)}},
		{"totp", cfg.TOTP, TOTPConfig{Issuer: "radmfa", Digits: 6, Period: 30, Skew: 1, Algorithm: "SHA1"}},
		{"log", cfg.Log, LogConfig{Level: "info", Format: "json"}},
		{"warnings", cfg.Warnings, []string(nil)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestDefaultsFollowSettings(t *testing.T) {
	cases := []struct {
		name  string
		doc   string
		check func(t *testing.T, dir string, c *Config)
	}{
		{
			name: "explicit zero thresholds and skew are kept",
			doc:  yml("mfa:", "  lockout: {password_threshold: 0, factor_threshold: 0}", "totp:", "  skew: 0"),
			check: func(t *testing.T, _ string, c *Config) {
				if c.MFA.Lockout.PasswordThreshold != 0 || c.MFA.Lockout.FactorThreshold != 0 || c.TOTP.Skew != 0 {
					t.Errorf("zeros replaced: %+v %+v", c.MFA.Lockout, c.TOTP)
				}
			},
		},
		{
			name: "null values take the default",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  pool_size:", "  timeout: ~"),
			check: func(t *testing.T, _ string, c *Config) {
				if c.LDAP.PoolSize != 16 || c.LDAP.Timeout.D() != 5*time.Second {
					t.Errorf("pool_size %d timeout %s", c.LDAP.PoolSize, c.LDAP.Timeout)
				}
			},
		},
		{
			name: "integer durations are seconds",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  timeout: 10", "mfa:", "  challenge_timeout: 1m30s"),
			check: func(t *testing.T, _ string, c *Config) {
				if c.LDAP.Timeout.D() != 10*time.Second || c.MFA.ChallengeTimeout.D() != 90*time.Second {
					t.Errorf("timeout %s challenge_timeout %s", c.LDAP.Timeout, c.MFA.ChallengeTimeout)
				}
			},
		},
		{
			name: "active directory presets",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  active_directory: true"),
			check: func(t *testing.T, _ string, c *Config) {
				if c.LDAP.GroupMode != "ad_chain" || !strings.Contains(c.LDAP.UserFilter, "(sAMAccountName={username})") {
					t.Errorf("group_mode %q user_filter %q", c.LDAP.GroupMode, c.LDAP.UserFilter)
				}
			},
		},
		{
			name: "active directory keeps an explicit group_mode",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  active_directory: true", "  group_mode: memberof"),
			check: func(t *testing.T, _ string, c *Config) {
				if c.LDAP.GroupMode != "memberof" {
					t.Errorf("group_mode %q", c.LDAP.GroupMode)
				}
			},
		},
		{
			name: "search mode fills group filter and base",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  group_mode: search"),
			check: func(t *testing.T, _ string, c *Config) {
				if c.LDAP.GroupFilter != "(|(member={dn})(uniqueMember={dn}))" || c.LDAP.GroupBaseDN != "dc=example,dc=test" {
					t.Errorf("group_filter %q group_base_dn %q", c.LDAP.GroupFilter, c.LDAP.GroupBaseDN)
				}
			},
		},
		{
			name: "anonymous search",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test"),
			check: func(t *testing.T, _ string, c *Config) {
				if c.LDAP.BindDN != "" || c.LDAP.BindPassword != "" {
					t.Errorf("bind %q", c.LDAP.BindDN)
				}
			},
		},
		{
			name: "key file beside a relative sqlite database",
			doc:  yml("store:", "  dsn: data/mfa.db"),
			check: func(t *testing.T, dir string, c *Config) {
				if c.Store.DSN != filepath.Join(dir, "data", "mfa.db") || c.Store.KeyFile != filepath.Join(dir, "data", "radmfa.key") {
					t.Errorf("dsn %q key_file %q", c.Store.DSN, c.Store.KeyFile)
				}
			},
		},
		{
			name: "absolute paths are kept",
			doc:  yml("store:", "  dsn: /srv/radmfa/mfa.db", "  key_file: /etc/radmfa/store.key", "mfa:", "  state_key_file: /etc/radmfa/state.key"),
			check: func(t *testing.T, _ string, c *Config) {
				if c.Store.DSN != "/srv/radmfa/mfa.db" || c.Store.KeyFile != "/etc/radmfa/store.key" || c.MFA.StateKeyFile != "/etc/radmfa/state.key" {
					t.Errorf("%+v %q", c.Store, c.MFA.StateKeyFile)
				}
			},
		},
		{
			name: "in-memory sqlite is not a path",
			doc:  yml("store:", "  dsn: ':memory:'"),
			check: func(t *testing.T, dir string, c *Config) {
				if c.Store.DSN != ":memory:" || c.Store.KeyFile != filepath.Join(dir, "radmfa.key") {
					t.Errorf("%+v", c.Store)
				}
			},
		},
		{
			name: "postgres dsn is not a path",
			doc:  yml("store:", "  driver: postgres", "  dsn: postgres://radmfa@db.example.test/radmfa"),
			check: func(t *testing.T, dir string, c *Config) {
				if c.Store.DSN != "postgres://radmfa@db.example.test/radmfa" || c.Store.KeyFile != filepath.Join(dir, "radmfa.key") {
					t.Errorf("%+v", c.Store)
				}
			},
		},
		{
			name: "inline state key means no state key file",
			doc:  yml("mfa:", "  state_key: "+stateKeyHex),
			check: func(t *testing.T, _ string, c *Config) {
				if c.MFA.StateKeyFile != "" || c.MFA.StateKey.Reveal() != stateKeyHex {
					t.Errorf("state_key_file %q", c.MFA.StateKeyFile)
				}
			},
		},
		{
			name: "IPv6 client and case-insensitive algorithm",
			doc: yml("radius:", "  clients: [{name: v6, address: '2001:db8::1', secret: a-long-enough-secret}]",
				"totp:", "  algorithm: sha256"),
			check: func(t *testing.T, _ string, c *Config) {
				if c.Radius.Clients[0].Address != "2001:db8::1/128" || c.TOTP.Algorithm != "SHA256" {
					t.Errorf("address %q algorithm %q", c.Radius.Clients[0].Address, c.TOTP.Algorithm)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg, err := parseIn(t, dir, complete(tc.doc), nil)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, dir, cfg)
		})
	}
}

func TestNodeDefaultsToHostname(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	cfg, err := Parse([]byte(radiusOK+ldapOK), "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Node != host {
		t.Errorf("node = %q, want %q", cfg.Node, host)
	}

	// Without a hostname, node must be set.
	root, err := parseDocument([]byte(radiusOK + ldapOK))
	if err != nil {
		t.Fatal(err)
	}
	w := newWalker()
	var c Config
	w.decodeRoot(root, &c)
	v := newValidator(w, t.TempDir())
	v.hostname = func() (string, error) { return "", errors.New("no uts namespace") }
	v.validate(&c)
	errs, _ := v.result()
	if len(errs) != 1 || errs[0].Error() != "node: line 1: is required: cannot read the hostname: no uts namespace" {
		t.Errorf("got %v", errs)
	}
}

func TestEnvSecrets(t *testing.T) {
	t.Setenv("RADMFA_TEST_NAS_SECRET", "nas-secret-from-env-123")
	t.Setenv("RADMFA_TEST_BIND_PW", "bind-pw-from-env")
	t.Setenv("RADMFA_TEST_STATE_KEY", stateKeyHex)
	doc := yml(
		"node: test",
		"radius:",
		"  clients: [{name: vpn, address: 10.0.0.1, secret: 'env:RADMFA_TEST_NAS_SECRET'}]",
		"ldap:",
		ldapURL,
		"  base_dn: dc=example,dc=test",
		"  bind_dn: cn=radmfa,dc=example,dc=test",
		"  bind_password: env:RADMFA_TEST_BIND_PW",
		"mfa:",
		"  state_key: env:RADMFA_TEST_STATE_KEY",
	)
	cfg, err := parseIn(t, t.TempDir(), doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{cfg.Radius.Clients[0].Secret.Reveal(), cfg.LDAP.BindPassword.Reveal(), cfg.MFA.StateKey.Reveal()}
	want := []string{"nas-secret-from-env-123", "bind-pw-from-env", stateKeyHex}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	doc := yml(
		"node: test",
		"radius:",
		"  clients: [{name: vpn, address: 10.0.0.1, secret_file: secrets/vpn.secret}]",
		"ldap:",
		ldapURL,
		"  base_dn: dc=example,dc=test",
		"  bind_dn: cn=radmfa,dc=example,dc=test",
		"  bind_password_file: "+filepath.Join(dir, "abs", "bind.pw"),
	)
	files := map[string]string{
		"secrets/vpn.secret": "nas-secret-from-file-123\n", // written 0644: readable by others is fine
		"abs/bind.pw":        "bind pw with spaces\r\n",
	}
	cfg, err := parseIn(t, dir, doc, files)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Radius.Clients[0]
	if c.Secret.Reveal() != "nas-secret-from-file-123" || c.SecretFile != filepath.Join(dir, "secrets", "vpn.secret") {
		t.Errorf("client secret %q from %q", c.Secret.Reveal(), c.SecretFile)
	}
	if cfg.LDAP.BindPassword.Reveal() != "bind pw with spaces" {
		t.Errorf("bind password %q", cfg.LDAP.BindPassword.Reveal())
	}
}

func TestWarnings(t *testing.T) {
	doc := yml(
		"node: test",
		"radius:",
		"  clients:",
		"    - name: legacy",
		"      address: 10.1.2.3/16",
		"      secret: short",
		"      require_message_authenticator: false",
		"ldap:",
		"  urls: [ldaps://127.0.0.1]",
		"  base_dn: dc=example,dc=test",
		"  insecure_skip_verify: true",
		"mfa:",
		"  unenrolled: allow",
	)
	cfg, err := parseIn(t, t.TempDir(), doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	equalLines(t, cfg.Warnings, []string{
		`radius.clients[0].address: line 5: host bits set in "10.1.2.3/16"; using 10.1.0.0/16`,
		"radius.clients[0].secret: line 6: is shorter than 16 characters; use a long random secret",
		"radius.clients[0].require_message_authenticator: line 7: is false: requests without Message-Authenticator are accepted (BlastRADIUS, CVE-2024-3596)",
		"ldap.insecure_skip_verify: line 11: is true: the directory's TLS certificate is not verified",
		"mfa.unenrolled: line 13: is allow: users without a second factor get in with a password alone",
	})
	if cfg.Radius.Clients[0].Address != "10.1.0.0/16" {
		t.Errorf("address %q", cfg.Radius.Clients[0].Address)
	}
}

func TestEveryErrorAtOnce(t *testing.T) {
	doc := yml(
		"nod: a",
		"radius:",
		"  listen: nowhere",
		"  clients:",
		"    - name: vpn",
		"      address: 10.0.0.1",
		"      secrte: a-long-enough-secret",
		"ldap:",
		"  urls: [ldap://127.0.0.1, ldapx://127.0.0.1]",
		"  timeout: 5 sec",
		"totp:",
		"  digits: 7",
		"log: {level: loud}",
	)
	_, err := parseIn(t, t.TempDir(), doc, nil)
	want := []string{
		"nod: line 1: unknown key",
		`radius.listen: line 3: must be host:port, got "nowhere"`,
		"radius.clients[0].secret: line 5: is required (or set secret_file)",
		"radius.clients[0].secrte: line 7: unknown key",
		"ldap.base_dn: line 8: is required",
		`ldap.urls[1]: line 9: unsupported scheme "ldapx"`,
		`ldap.timeout: line 10: invalid duration "5 sec"`,
		"totp.digits: line 12: must be 6 or 8, got 7",
		`log.level: line 13: unsupported value "loud" (want debug, info, warn or error)`,
	}
	equalLines(t, fieldErrors(t, err), want)
	if err.Error() != strings.Join(want, "\n") {
		t.Errorf("Error() =\n%s", err)
	}
	var fe FieldError
	if !errors.As(err, &fe) || fe.Path != "nod" || fe.Line != 1 || fe.Msg != "unknown key" {
		t.Errorf("errors.As FieldError: %+v", fe)
	}
}

func TestEmptyFile(t *testing.T) {
	_, err := Parse([]byte("# nothing yet\n"), "")
	equalLines(t, fieldErrors(t, err), []string{
		"radius.clients: line 1: at least one client is required",
		"ldap.urls: line 1: at least one URL is required",
		"ldap.base_dn: line 1: is required",
	})
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "config: open ") {
		t.Fatalf("got %v", err)
	}
}
