package config

import (
	"testing"
)

// Each case breaks one rule; the error list must be exactly want, in order.
func TestValidateRejects(t *testing.T) {
	const pem = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
	cases := []struct {
		name  string
		doc   string
		files map[string]string // written into the config's directory first
		env   map[string]string
		want  []string
	}{
		// radius
		{
			name: "listen without port",
			doc:  yml("radius:", `  listen: "1812"`, clientsOK),
			want: []string{`radius.listen: line 2: must be host:port, got "1812"`},
		},
		{
			name: "listen with a service name",
			doc:  yml("radius:", `  listen: ":radius"`, clientsOK),
			want: []string{`radius.listen: line 2: invalid port "radius"`},
		},
		{
			name: "duplicate_window zero",
			doc:  yml("radius:", "  duplicate_window: 0", clientsOK),
			want: []string{"radius.duplicate_window: line 2: must be greater than 0 and at most 10m, got 0s"},
		},
		{
			name: "duplicate_window too long",
			doc:  yml("radius:", "  duplicate_window: 11m", clientsOK),
			want: []string{"radius.duplicate_window: line 2: must be greater than 0 and at most 10m, got 11m"},
		},
		{
			name: "max_in_flight zero",
			doc:  yml("radius:", "  max_in_flight: 0", clientsOK),
			want: []string{"radius.max_in_flight: line 2: must be at least 1, got 0"},
		},
		{
			name: "no clients",
			doc:  yml("radius:", `  listen: ":1812"`),
			want: []string{"radius.clients: line 1: at least one client is required"},
		},
		{
			name: "empty client list",
			doc:  yml("radius:", "  clients: []"),
			want: []string{"radius.clients: line 2: at least one client is required"},
		},
		{
			name: "client without name",
			doc:  yml("radius:", "  clients:", "    - address: 10.0.0.1", "      secret: a-long-enough-secret"),
			want: []string{"radius.clients[0].name: line 3: is required"},
		},
		{
			name: "client with empty name",
			doc:  yml("radius:", "  clients:", `    - name: ""`, "      address: 10.0.0.1", "      secret: a-long-enough-secret"),
			want: []string{"radius.clients[0].name: line 3: must not be empty"},
		},
		{
			name: "duplicate client names",
			doc: yml("radius:", "  clients:",
				"    - name: vpn", "      address: 10.0.0.1", "      secret: a-long-enough-secret",
				"    - name: vpn", "      address: 10.0.0.2", "      secret: a-long-enough-secret"),
			want: []string{`radius.clients[1].name: line 6: duplicate client name "vpn" (first on line 3)`},
		},
		{
			name: "client without address",
			doc:  yml("radius:", "  clients:", "    - name: vpn", "      secret: a-long-enough-secret"),
			want: []string{"radius.clients[0].address: line 3: is required"},
		},
		{
			name: "client address not an IP",
			doc:  yml("radius:", "  clients:", "    - name: vpn", "      address: 10.0.0.300", "      secret: a-long-enough-secret"),
			want: []string{`radius.clients[0].address: line 4: invalid address "10.0.0.300": want an IP address or CIDR prefix`},
		},
		{
			name: "client address a hostname",
			doc:  yml("radius:", "  clients:", "    - name: vpn", "      address: vpn.example.test", "      secret: a-long-enough-secret"),
			want: []string{`radius.clients[0].address: line 4: invalid address "vpn.example.test": want an IP address or CIDR prefix`},
		},
		{
			name: "duplicate client addresses, bare and CIDR",
			doc: yml("radius:", "  clients:",
				"    - name: a", "      address: 10.0.0.1", "      secret: a-long-enough-secret",
				"    - name: b", "      address: 10.0.0.1/32", "      secret: a-long-enough-secret"),
			want: []string{"radius.clients[1].address: line 7: duplicate client address 10.0.0.1/32 (first on line 4)"},
		},
		{
			name: "secret and secret_file",
			doc: yml("radius:", "  clients:", "    - name: vpn", "      address: 10.0.0.1",
				"      secret: a-long-enough-secret", "      secret_file: vpn.secret"),
			files: map[string]string{"vpn.secret": "a-long-enough-secret\n"},
			want:  []string{"radius.clients[0].secret_file: line 6: cannot be set together with secret"},
		},
		{
			name: "neither secret nor secret_file",
			doc:  yml("radius:", "  clients:", "    - name: vpn", "      address: 10.0.0.1"),
			want: []string{"radius.clients[0].secret: line 3: is required (or set secret_file)"},
		},
		{
			name: "empty secret",
			doc:  yml("radius:", "  clients:", "    - name: vpn", "      address: 10.0.0.1", `      secret: ""`),
			want: []string{"radius.clients[0].secret: line 5: must not be empty"},
		},
		{
			name: "secret from an empty environment variable",
			doc:  yml("radius:", "  clients:", "    - name: vpn", "      address: 10.0.0.1", "      secret: env:RADMFA_TEST_EMPTY"),
			env:  map[string]string{"RADMFA_TEST_EMPTY": ""},
			want: []string{"radius.clients[0].secret: line 5: must not be empty"},
		},
		{
			name: "secret from an unset environment variable",
			doc:  yml("radius:", "  clients:", "    - name: vpn", "      address: 10.0.0.1", "      secret: env:RADMFA_TEST_UNSET"),
			want: []string{"radius.clients[0].secret: line 5: environment variable RADMFA_TEST_UNSET is not set"},
		},
		{
			name: "secret env: without a name",
			doc:  yml("radius:", "  clients:", "    - name: vpn", "      address: 10.0.0.1", "      secret: 'env:'"),
			want: []string{`radius.clients[0].secret: line 5: "env:" needs a variable name`},
		},
		{
			name: "secret_file missing",
			doc:  yml("radius:", "  clients:", "    - name: vpn", "      address: 10.0.0.1", "      secret_file: nope.secret"),
			want: []string{"radius.clients[0].secret_file: line 5: cannot read file: open {dir}/nope.secret: no such file or directory"},
		},
		{
			name:  "secret_file empty",
			doc:   yml("radius:", "  clients:", "    - name: vpn", "      address: 10.0.0.1", "      secret_file: empty.secret"),
			files: map[string]string{"empty.secret": "\n"},
			want:  []string{"radius.clients[0].secret_file: line 5: file {dir}/empty.secret is empty"},
		},

		// ldap
		{
			name: "ldap urls missing",
			doc:  yml("ldap:", "  base_dn: dc=example,dc=test"),
			want: []string{"ldap.urls: line 1: at least one URL is required"},
		},
		{
			name: "ldap url with unsupported scheme",
			doc:  yml("ldap:", "  base_dn: dc=example,dc=test", "  urls:", "    - ldap://a.example.test", "    - ldapx://b.example.test"),
			want: []string{`ldap.urls[1]: line 5: unsupported scheme "ldapx"`},
		},
		{
			name: "ldap url without scheme",
			doc:  yml("ldap:", "  base_dn: dc=example,dc=test", "  urls: [a.example.test]"),
			want: []string{`ldap.urls[0]: line 3: unsupported scheme ""`},
		},
		{
			name: "ldap url without host",
			doc:  yml("ldap:", "  base_dn: dc=example,dc=test", "  urls: [ldap:///dc=example]"),
			want: []string{"ldap.urls[0]: line 3: missing host"},
		},
		{
			name: "ldap url with bad port",
			doc:  yml("ldap:", "  base_dn: dc=example,dc=test", `  urls: ["ldap://a.example.test:99999"]`),
			want: []string{`ldap.urls[0]: line 3: invalid port "99999"`},
		},
		{
			name: "ldap url that does not parse",
			doc:  yml("ldap:", "  base_dn: dc=example,dc=test", `  urls: ["ldap://[::1"]`),
			want: []string{"ldap.urls[0]: line 3: invalid URL: missing ']' in host"},
		},
		{
			name: "ldap url with credentials",
			doc:  yml("ldap:", "  base_dn: dc=example,dc=test", `  urls: ["ldap://admin:hunter2@a.example.test"]`),
			want: []string{"ldap.urls[0]: line 3: credentials in the URL are not supported; use bind_dn and bind_password"},
		},
		{
			name: "ldap url with a base DN",
			doc:  yml("ldap:", "  base_dn: dc=example,dc=test", `  urls: ["ldap://a.example.test/dc=example,dc=test"]`),
			want: []string{"ldap.urls[0]: line 3: must not have a path or query; set base_dn instead"},
		},
		{
			name: "start_tls with ldaps",
			doc:  yml("ldap:", "  urls: [ldaps://a.example.test]", "  start_tls: true", "  base_dn: dc=example,dc=test"),
			want: []string{"ldap.start_tls: line 3: cannot be used with ldaps:// URLs"},
		},
		{
			name: "ca_file missing",
			doc:  yml("ldap:", "  urls: [ldaps://a.example.test]", "  ca_file: ca.pem", "  base_dn: dc=example,dc=test"),
			want: []string{"ldap.ca_file: line 3: cannot read file: open {dir}/ca.pem: no such file or directory"},
		},
		{
			name:  "ca_file without certificates",
			doc:   yml("ldap:", "  urls: [ldaps://a.example.test]", "  ca_file: ca.pem", "  base_dn: dc=example,dc=test"),
			files: map[string]string{"ca.pem": pem},
			want:  []string{"ldap.ca_file: line 3: no PEM certificates in {dir}/ca.pem"},
		},
		{
			name: "bind_password and bind_password_file",
			doc: yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  bind_dn: cn=radmfa,dc=example,dc=test",
				"  bind_password: pw", "  bind_password_file: bind.pw"),
			files: map[string]string{"bind.pw": "pw\n"},
			want:  []string{"ldap.bind_password_file: line 6: cannot be set together with bind_password"},
		},
		{
			name: "bind_dn without password",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  bind_dn: cn=radmfa,dc=example,dc=test"),
			want: []string{"ldap.bind_password: line 1: is required when bind_dn is set (or set bind_password_file)"},
		},
		{
			name: "bind_dn with empty password",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  bind_dn: cn=radmfa,dc=example,dc=test", `  bind_password: ""`),
			want: []string{"ldap.bind_password: line 5: must not be empty"},
		},
		{
			name: "bind password without bind_dn",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  bind_password: pw"),
			want: []string{"ldap.bind_dn: line 1: is required when a bind password is set"},
		},
		{
			name: "bind_password_file missing",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  bind_dn: cn=radmfa,dc=example,dc=test", "  bind_password_file: bind.pw"),
			want: []string{"ldap.bind_password_file: line 5: cannot read file: open {dir}/bind.pw: no such file or directory"},
		},
		{
			name: "bind_dn not a DN",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  bind_dn: radmfa", "  bind_password: pw"),
			want: []string{`ldap.bind_dn: line 4: invalid DN "radmfa"`},
		},
		{
			name: "base_dn missing",
			doc:  yml("ldap:", ldapURL),
			want: []string{"ldap.base_dn: line 1: is required"},
		},
		{
			name: "base_dn not a DN",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,"),
			want: []string{`ldap.base_dn: line 3: invalid DN "dc=example,"`},
		},
		{
			name: "user_filter without {username}",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  user_filter: (uid=alice)"),
			want: []string{"ldap.user_filter: line 4: must contain {username}"},
		},
		{
			name: "user_filter without parentheses",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  user_filter: uid={username}"),
			want: []string{"ldap.user_filter: line 4: must be enclosed in parentheses"},
		},
		{
			name: "user_filter that does not compile",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  user_filter: (&(uid={username})"),
			want: []string{`ldap.user_filter: line 4: invalid LDAP filter "(&(uid={username})"`},
		},
		{
			name: "username_attribute not an attribute name",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  username_attribute: uid)(cn"),
			want: []string{`ldap.username_attribute: line 4: "uid)(cn" is not an LDAP attribute name`},
		},
		{
			name: "timeout not a duration",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  timeout: 5 sec"),
			want: []string{`ldap.timeout: line 4: invalid duration "5 sec"`},
		},
		{
			name: "timeout zero",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  timeout: 0s"),
			want: []string{"ldap.timeout: line 4: must be greater than 0, got 0s"},
		},
		{
			name: "pool_size zero",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  pool_size: 0"),
			want: []string{"ldap.pool_size: line 4: must be between 1 and 1024, got 0"},
		},
		{
			name: "pool_size too large",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  pool_size: 1025"),
			want: []string{"ldap.pool_size: line 4: must be between 1 and 1024, got 1025"},
		},
		{
			name: "group_mode unknown",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  group_mode: nested"),
			want: []string{`ldap.group_mode: line 4: unsupported value "nested" (want memberof, search, ad_chain or none)`},
		},
		{
			name: "group_filter without parentheses",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  group_mode: search", "  group_filter: member={dn}"),
			want: []string{"ldap.group_filter: line 5: must be enclosed in parentheses"},
		},
		{
			name: "group_base_dn not a DN",
			doc:  yml("ldap:", ldapURL, "  base_dn: dc=example,dc=test", "  group_mode: search", "  group_base_dn: groups"),
			want: []string{`ldap.group_base_dn: line 5: invalid DN "groups"`},
		},

		// store
		{
			name: "store driver unknown",
			doc:  yml("store:", "  driver: mongo"),
			want: []string{`store.driver: line 2: unsupported value "mongo" (want sqlite or postgres)`},
		},
		{
			name: "postgres without dsn",
			doc:  yml("store:", "  driver: postgres"),
			want: []string{"store.dsn: line 1: is required for postgres"},
		},

		// mfa
		{
			name: "challenge_timeout too short",
			doc:  yml("mfa:", "  challenge_timeout: 5"),
			want: []string{"mfa.challenge_timeout: line 2: must be between 10s and 10m, got 5s"},
		},
		{
			name: "challenge_timeout too long",
			doc:  yml("mfa:", "  challenge_timeout: 1h"),
			want: []string{"mfa.challenge_timeout: line 2: must be between 10s and 10m, got 1h"},
		},
		{
			name: "state_key and state_key_file",
			doc:  yml("mfa:", "  state_key: "+stateKeyHex, "  state_key_file: state.key"),
			want: []string{"mfa.state_key_file: line 3: cannot be set together with state_key"},
		},
		{
			name: "state_key too short",
			doc:  yml("mfa:", "  state_key: abcdef"),
			want: []string{"mfa.state_key: line 2: must be 64 hex characters (32 bytes)"},
		},
		{
			name: "state_key not hex",
			doc:  yml("mfa:", "  state_key: "+stateKeyHex[:62]+"zz"),
			want: []string{"mfa.state_key: line 2: must be 64 hex characters (32 bytes)"},
		},
		{
			name: "default_state unknown",
			doc:  yml("mfa:", "  default_state: optional"),
			want: []string{`mfa.default_state: line 2: unsupported value "optional" (want enforced, enabled or disabled)`},
		},
		{
			name: "unenrolled unknown",
			doc:  yml("mfa:", "  unenrolled: enroll"),
			want: []string{`mfa.unenrolled: line 2: unsupported value "enroll" (want reject or allow)`},
		},
		{
			name: "enroll_url not http",
			doc:  yml("mfa:", "  enroll_url: ftp://mfa.example.test/"),
			want: []string{"mfa.enroll_url: line 2: must be an http:// or https:// URL"},
		},
		{
			name: "negative thresholds",
			doc:  yml("mfa:", "  lockout:", "    password_threshold: -1", "    factor_threshold: -2"),
			want: []string{
				"mfa.lockout.password_threshold: line 3: must be at least 0, got -1",
				"mfa.lockout.factor_threshold: line 4: must be at least 0, got -2",
			},
		},
		{
			name: "lockout duration zero",
			doc:  yml("mfa:", "  lockout:", "    duration: 0"),
			want: []string{"mfa.lockout.duration: line 3: must be greater than 0, got 0s"},
		},
		{
			name: "lockout max_duration below duration",
			doc:  yml("mfa:", "  lockout:", "    duration: 1h", "    max_duration: 30m"),
			want: []string{"mfa.lockout.max_duration: line 4: must be at least mfa.lockout.duration (1h), got 30m"},
		},

		// totp
		{
			name: "issuer with a colon",
			doc:  yml("totp:", "  issuer: 'ACME: VPN'"),
			want: []string{"totp.issuer: line 2: must not contain ':'"},
		},
		{
			name: "digits 7",
			doc:  yml("totp:", "  digits: 7"),
			want: []string{"totp.digits: line 2: must be 6 or 8, got 7"},
		},
		{
			name: "period too short",
			doc:  yml("totp:", "  period: 10"),
			want: []string{"totp.period: line 2: must be between 15 and 300, got 10"},
		},
		{
			name: "period too long",
			doc:  yml("totp:", "  period: 301"),
			want: []string{"totp.period: line 2: must be between 15 and 300, got 301"},
		},
		{
			name: "skew too large",
			doc:  yml("totp:", "  skew: 11"),
			want: []string{"totp.skew: line 2: must be between 0 and 10, got 11"},
		},
		{
			name: "skew negative",
			doc:  yml("totp:", "  skew: -1"),
			want: []string{"totp.skew: line 2: must be between 0 and 10, got -1"},
		},
		{
			name: "algorithm unknown",
			doc:  yml("totp:", "  algorithm: md5"),
			want: []string{`totp.algorithm: line 2: unsupported value "md5" (want SHA1, SHA256 or SHA512)`},
		},

		// policy, authorization, modes, sms, upstream
		{
			name: "policy rule with unknown action",
			doc:  yml("policy:", "  rules:", "    - name: r", "      match: {groups: [g]}", "      action: allow"),
			want: []string{`policy.rules[0].action: line 5: unsupported value "allow" (want require_mfa, password_only or deny)`},
		},
		{
			name: "policy rule without action",
			doc:  yml("policy:", "  rules:", "    - name: r", "      match: {groups: [g]}"),
			want: []string{`policy.rules[0].action: line 3: is required`},
		},
		{
			name: "policy rule with an unknown match field",
			doc:  yml("policy:", "  rules:", "    - name: r", "      match: {group: [g]}", "      action: deny"),
			want: []string{`policy.rules[0].match.group: line 4: unknown key`},
		},
		{
			name: "policy rule naming an unknown NAS",
			doc:  yml("policy:", "  rules:", "    - match: {nas: [nope]}", "      action: deny"),
			want: []string{`policy.rules[0].match.nas[0]: line 3: no radius client is named "nope"`},
		},
		{
			name: "policy rule with a bad source",
			doc:  yml("policy:", "  rules:", "    - match:", "        source: [10.0.0.0/33]", "      action: deny"),
			want: []string{`policy.rules[0].match.source[0]: line 4: invalid address "10.0.0.0/33": want an IP address or CIDR prefix`},
		},
		{
			name: "authorization with an unknown attribute",
			doc:  yml("authorization:", "  - group: admins", "    attributes:", "      Klass: admins"),
			want: []string{`authorization[0].attributes.Klass: line 4: unknown attribute (known: ASA-Banner1, ASA-Group-Policy, ASA-Simultaneous-Logins, Acct-Interim-Interval, Aruba-User-Role, Cisco-AVPair, Class, Filter-Id, Fortinet-Access-Profile, Fortinet-Group-Name, Fortinet-Vdom-Name, Framed-IP-Address, Framed-IP-Netmask, Framed-MTU, Framed-Pool, Framed-Protocol, Framed-Route, Idle-Timeout, Juniper-Local-User-Name, PaloAlto-Admin-Access-Domain, PaloAlto-Admin-Role, PaloAlto-User-Group, Reply-Message, Service-Type, Session-Timeout, Termination-Action)`},
		},
		{
			name: "authorization with a bad value",
			doc:  yml("authorization:", "  - group: admins", "    attributes:", "      Session-Timeout: 8h"),
			want: []string{`authorization[0].attributes.Session-Timeout: line 4: Session-Timeout: "8h" is not an integer`},
		},
		{
			name: "client mode unknown",
			doc:  yml("radius:", "  clients: [{name: vpn, address: 10.0.0.1, secret: a-long-enough-secret, mode: both}]"),
			want: []string{`radius.clients[0].mode: line 2: unsupported value "both" (want challenge, append, auto or otp_only)`},
		},
		{
			name: "twilio without credentials",
			doc:  yml("sms:", "  provider: twilio", "  twilio:", "    from: '+15550001111'"),
			want: []string{`sms.twilio.account_sid: line 3: is required`, `sms.twilio.auth_token: line 3: is required`},
		},
		{
			name: "sms keyword with digits",
			doc:  yml("sms:", "  keyword: sms1"),
			want: []string{`sms.keyword: line 2: must be a word without digits`},
		},
		{
			name: "upstream primary without servers",
			doc:  yml("primary: radius"),
			want: []string{`upstream.servers: line 1: at least one server is required when primary is radius`},
		},
		{
			name: "prompt with a broken template",
			doc:  yml("mfa:", "  prompts:", "    totp: 'Code {{.Digits: '"),
			want: []string{`mfa.prompts.totp: line 3: invalid template: template: totp:1: expected :=`},
		},
		// log
		{
			name: "log level unknown",
			doc:  yml("log:", "  level: trace"),
			want: []string{`log.level: line 2: unsupported value "trace" (want debug, info, warn or error)`},
		},
		{
			name: "log format unknown",
			doc:  yml("log:", "  format: text"),
			want: []string{`log.format: line 2: unsupported value "text" (want json or console)`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			dir := t.TempDir()
			cfg, err := parseIn(t, dir, complete(tc.doc), tc.files)
			if err == nil {
				t.Fatalf("no error; want %q\nConfig: %+v", tc.want, cfg)
			}
			equalLines(t, fieldErrors(t, err), withDir(tc.want, dir))
		})
	}
}

const (
	ldapURL     = "  urls: [ldap://127.0.0.1:389]"
	stateKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
)
