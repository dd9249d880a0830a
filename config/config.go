package config

import "net/netip"

// Config is the whole configuration file.
type Config struct {
	Node   string       `yaml:"node"` // node name in logs and audit rows; default: hostname
	Radius RadiusConfig `yaml:"radius"`
	LDAP   LDAPConfig   `yaml:"ldap"`
	Store  StoreConfig  `yaml:"store"`
	MFA    MFAConfig    `yaml:"mfa"`
	TOTP   TOTPConfig   `yaml:"totp"`
	Log    LogConfig    `yaml:"log"`

	// Primary selects how the password is checked: "ldap" (default) or "radius" (forward PAP to
	// the upstream servers, e.g. an existing NPS). With "radius", an ldap section is optional and
	// used only to look up groups and phone numbers.
	Primary       string              `yaml:"primary"`
	Upstream      UpstreamConfig      `yaml:"upstream"`
	Policy        PolicyConfig        `yaml:"policy"`
	Authorization []AuthorizationRule `yaml:"authorization"`
	SMS           SMSConfig           `yaml:"sms"`
	Metrics       MetricsConfig       `yaml:"metrics"`
	Audit         AuditConfig         `yaml:"audit"`
	Portal        PortalConfig        `yaml:"portal"`

	// Warnings are problems that do not stop radmfa from starting, each "path: line N: msg";
	// the caller logs them once at startup.
	Warnings []string `yaml:"-"`
}

// RadiusConfig is the RADIUS listener and its NAS clients.
type RadiusConfig struct {
	Listen          string         `yaml:"listen"`           // default ":1812"
	DuplicateWindow Duration       `yaml:"duplicate_window"` // RFC 5080 reply cache; default 30s
	MaxInFlight     int            `yaml:"max_in_flight"`    // concurrent requests; default 1024
	Clients         []ClientConfig `yaml:"clients"`
	// AccountingListen answers Accounting-Requests (UDP, default off) so VPNs that send
	// accounting log no errors; each is recorded in the audit trail.
	AccountingListen string       `yaml:"accounting_listen"`
	RadSec           RadSecConfig `yaml:"radsec"`
}

// RadSecConfig is RADIUS over TLS (RFC 6614) with mutual TLS.
type RadSecConfig struct {
	Listen   string `yaml:"listen"`    // e.g. ":2083"; empty: off
	CertFile string `yaml:"cert_file"` // server certificate (PEM)
	KeyFile  string `yaml:"key_file"`
	CAFile   string `yaml:"ca_file"` // CAs that sign client certificates
}

// PortalConfig is the self-service web portal: enrolment (QR code), phone, app passwords
// (when mfa.app_passwords), remembered devices, "this wasn't me", and the admin pages.
type PortalConfig struct {
	Listen     string `yaml:"listen"`      // e.g. ":8443"; empty: no portal
	CertFile   string `yaml:"cert_file"`   // TLS certificate (PEM); required unless listen is loopback
	KeyFile    string `yaml:"key_file"`    // its key
	AdminGroup string `yaml:"admin_group"` // directory group that sees the admin page; empty: none
}

// AuditConfig is the audit trail.
type AuditConfig struct {
	Retention Duration `yaml:"retention"` // rows older than this are deleted; default 90 days; 0 keeps all
}

// MetricsConfig is the Prometheus and health listener.
type MetricsConfig struct {
	Listen string `yaml:"listen"` // e.g. 127.0.0.1:9812; empty: off
}

// ClientConfig is one NAS (VPN appliance) allowed to send requests.
type ClientConfig struct {
	Name                        string `yaml:"name"`
	Address                     string `yaml:"address"` // IP or CIDR
	Secret                      Secret `yaml:"secret"`
	SecretFile                  string `yaml:"secret_file"`
	RequireMessageAuthenticator *bool  `yaml:"require_message_authenticator"` // default true
	// Mode is how the second factor travels: challenge (Access-Challenge, default), append
	// (password followed by the code in one field), auto (append when the trailing digits make
	// the password right, else challenge) or otp_only (the field holds only the code; the NAS
	// checked the password itself).
	Mode            string `yaml:"mode"`
	AppendSeparator string `yaml:"append_separator"` // optional character between password and code in append mode
	// PasswordChange lets users whose directory password expired set a new one at the prompt.
	PasswordChange bool `yaml:"password_change"`
	// Prompts override the global prompts for this NAS.
	Prompts PromptsConfig `yaml:"prompts"`
	// Failmode decides what happens when the store cannot be reached: closed (default:
	// reject) or open (a correct password is let in without MFA, logged at warn and audited).
	// FailmodeGroups limits open to members of these groups.
	Failmode       string   `yaml:"failmode"`
	FailmodeGroups []string `yaml:"failmode_groups"`
	// RateLimit caps requests per second from this NAS (0: no cap); excess is rejected at once.
	RateLimit int `yaml:"rate_limit"`
	// AppPasswords accepts users' app passwords on this NAS (when mfa.app_passwords is on).
	AppPasswords *bool `yaml:"app_passwords"` // default true
	// RememberDevices skips MFA for a device that passed it within this long (0: off); the
	// device is identified by RememberAttribute (Calling-Station-Id by default).
	RememberDevices   Duration `yaml:"remember_devices"`
	RememberAttribute string   `yaml:"remember_attribute"`

	// Prefix is Address parsed (a bare IP as /32 or /128), so the listener need not parse again.
	Prefix netip.Prefix `yaml:"-"`
}

// LDAPConfig is the primary factor's directory.
type LDAPConfig struct {
	URLs               []string `yaml:"urls"`
	StartTLS           bool     `yaml:"start_tls"`
	CAFile             string   `yaml:"ca_file"`
	InsecureSkipVerify bool     `yaml:"insecure_skip_verify"`
	BindDN             string   `yaml:"bind_dn"`
	BindPassword       Secret   `yaml:"bind_password"`
	BindPasswordFile   string   `yaml:"bind_password_file"`
	BaseDN             string   `yaml:"base_dn"`
	UserFilter         string   `yaml:"user_filter"` // default (uid={username})
	// UsernameAttr holds the name users sign in with; default: the attribute user_filter
	// compares with {username}, when it compares exactly one.
	UsernameAttr string   `yaml:"username_attribute"`
	Timeout      Duration `yaml:"timeout"`   // default 5s
	PoolSize     int      `yaml:"pool_size"` // default 16
	// CacheTTL keeps what the user search found (DN, attributes, groups) this long, so a
	// sign-in costs one bind; the password bind always reaches the directory. 0 turns it off.
	CacheTTL        Duration       `yaml:"cache_ttl"` // default 30s
	DisplayNameAttr string         `yaml:"display_name_attribute"`
	MailAttr        string         `yaml:"mail_attribute"`
	PhoneAttr       string         `yaml:"phone_attribute"`
	GroupMode       string         `yaml:"group_mode"` // memberof | search | ad_chain | none
	GroupBaseDN     string         `yaml:"group_base_dn"`
	GroupFilter     string         `yaml:"group_filter"`
	GroupNameAttr   string         `yaml:"group_name_attribute"`
	ActiveDirectory bool           `yaml:"active_directory"`
	Username        UsernameConfig `yaml:"username"`
	// Messages override the Reply-Message sent for directory conditions, keyed by reason
	// (bad_password, password_expired, account_disabled, account_locked, …).
	Messages map[string]string `yaml:"messages"`
}

// UsernameConfig normalises what users type before the directory search; the normalised name
// is used everywhere after (store key, logs, audit).
type UsernameConfig struct {
	Lowercase   *bool             `yaml:"lowercase"`    // default true
	StripDomain *bool             `yaml:"strip_domain"` // DOMAIN\user → user; default true
	StripRealm  *bool             `yaml:"strip_realm"`  // user@realm → user; default true
	Realms      []string          `yaml:"realms"`       // strip only these realms (empty: any)
	RealmMap    map[string]string `yaml:"realm_map"`    // rewrite user@old to user@new instead of stripping
}

// UpstreamConfig is the upstream RADIUS server list used when primary is "radius".
type UpstreamConfig struct {
	Servers []UpstreamServer `yaml:"servers"`
	Timeout Duration         `yaml:"timeout"` // per try; default 5s
	Retries int              `yaml:"retries"` // per server; default 1
}

// UpstreamServer is one upstream RADIUS server.
type UpstreamServer struct {
	Address    string `yaml:"address"` // host:port
	Secret     Secret `yaml:"secret"`
	SecretFile string `yaml:"secret_file"`
}

// PolicyConfig decides who must do MFA: the first rule that matches wins, else Default.
type PolicyConfig struct {
	Default string       `yaml:"default"` // require_mfa (default) | password_only | deny
	Rules   []PolicyRule `yaml:"rules"`
}

// PolicyRule matches a request and gives an action.
type PolicyRule struct {
	Name           string   `yaml:"name"`
	Match          Match    `yaml:"match"`
	Action         string   `yaml:"action"` // require_mfa | password_only | deny
	SessionTimeout Duration `yaml:"session_timeout"`
}

// Match selects requests; every field given must match, and within a field any value does.
type Match struct {
	NAS           []string `yaml:"nas"`            // NAS client names
	NASIdentifier []string `yaml:"nas_identifier"` // NAS-Identifier attribute values
	Source        []string `yaml:"source"`         // CIDRs of the NAS's source address
	Groups        []string `yaml:"groups"`         // directory groups of the user
	Users         []string `yaml:"users"`          // normalised usernames
}

// AuthorizationRule adds reply attributes to the final Access-Accept for members of a group.
type AuthorizationRule struct {
	Group      string            `yaml:"group"`
	NAS        []string          `yaml:"nas"`        // only for these NAS clients (empty: all)
	Attributes map[string]string `yaml:"attributes"` // dictionary name → value, e.g. Class: admins
}

// PromptsConfig are the texts shown at the VPN prompt; Go templates with .Digits, .Phone,
// .Keyword. Defaults are short, plain ASCII and end with ": ".
type PromptsConfig struct {
	TOTP        string `yaml:"totp"`
	SMS         string `yaml:"sms"`
	Choose      string `yaml:"choose"`
	NewPassword string `yaml:"new_password"`
	Confirm     string `yaml:"confirm_password"`
}

// SMSConfig is the text-message factor.
type SMSConfig struct {
	Provider       string        `yaml:"provider"` // none (default) | twilio | http | command
	Twilio         TwilioConfig  `yaml:"twilio"`
	HTTP           HTTPSMSConfig `yaml:"http"`
	Command        CommandConfig `yaml:"command"`
	Timeout        Duration      `yaml:"timeout"`         // per send; default 10s
	CodeLength     int           `yaml:"code_length"`     // default 6
	CodeAlphabet   string        `yaml:"code_alphabet"`   // default 0123456789
	CodeLifetime   Duration      `yaml:"code_lifetime"`   // default 5m
	MaxTries       int           `yaml:"max_tries"`       // wrong codes before a code is void; default 3
	DefaultCountry string        `yaml:"default_country"` // calling code for national numbers, e.g. "1" or "44"
	PerUserLimit   int           `yaml:"per_user_limit"`  // texts per user per window; default 3
	PerNASLimit    int           `yaml:"per_nas_limit"`   // texts per NAS per window; default 1000
	Window         Duration      `yaml:"window"`          // default 10m
	Message        string        `yaml:"message"`         // template; .Code .Minutes .Issuer .User
	Keyword        string        `yaml:"keyword"`         // typed at the prompt to get a text; default sms
}

// TwilioConfig is Twilio's Messages API.
type TwilioConfig struct {
	BaseURL             string `yaml:"base_url"` // default https://api.twilio.com
	AccountSID          string `yaml:"account_sid"`
	AuthToken           Secret `yaml:"auth_token"`
	From                string `yaml:"from"`
	MessagingServiceSID string `yaml:"messaging_service_sid"`
}

// HTTPSMSConfig is a generic HTTP SMS gateway.
type HTTPSMSConfig struct {
	Method       string            `yaml:"method"` // default POST
	URL          string            `yaml:"url"`    // template
	Headers      map[string]Secret `yaml:"headers"`
	Body         string            `yaml:"body"` // template
	ContentType  string            `yaml:"content_type"`
	SuccessCodes []int             `yaml:"success_codes"`
}

// CommandConfig runs a program to send a text.
type CommandConfig struct {
	Argv []string `yaml:"argv"`
}

// StoreConfig selects the durable store.
type StoreConfig struct {
	Driver  string `yaml:"driver"`   // sqlite (default) | postgres
	DSN     string `yaml:"dsn"`      // sqlite: file path; default radmfa.db
	KeyFile string `yaml:"key_file"` // AES-256 key for secrets at rest; generated if missing
}

// MFAConfig is the second-factor flow.
type MFAConfig struct {
	ChallengeTimeout Duration      `yaml:"challenge_timeout"` // default 120s
	StateKeyFile     string        `yaml:"state_key_file"`    // AEAD key for State tokens; generated if missing
	StateKey         Secret        `yaml:"state_key"`         // or inline (hex, 32 bytes)
	DefaultState     string        `yaml:"default_state"`     // enforced (default) | enabled | disabled
	Unenrolled       string        `yaml:"unenrolled"`        // reject (default) | allow
	EnrollURL        string        `yaml:"enroll_url"`        // shown to unenrolled users
	Lockout          LockoutConfig `yaml:"lockout"`
	Prompts          PromptsConfig `yaml:"prompts"`
	// AppPasswords is the global "allow users to create app passwords" switch.
	AppPasswords bool `yaml:"app_passwords"`
	// FraudCode typed at a challenge prompt reports the sign-in as not the user's and blocks
	// the account; FraudWebhook is POSTed a JSON alert. Empty: off.
	FraudCode    Secret `yaml:"fraud_code"`
	FraudWebhook string `yaml:"fraud_webhook"`
}

// LockoutConfig is per-user brute-force protection.
type LockoutConfig struct {
	PasswordThreshold int      `yaml:"password_threshold"` // default 10
	FactorThreshold   int      `yaml:"factor_threshold"`   // default 5
	Duration          Duration `yaml:"duration"`           // default 5m
	MaxDuration       Duration `yaml:"max_duration"`       // default 24h
	// SourceThreshold caps failed sign-ins from one Calling-Station-Id (the user's address)
	// per SourceWindow across all usernames: password spraying. 0 disables.
	SourceThreshold int      `yaml:"source_threshold"` // default 30
	SourceWindow    Duration `yaml:"source_window"`    // default 10m
}

// TOTPConfig shapes TOTP codes (RFC 6238).
type TOTPConfig struct {
	Issuer    string `yaml:"issuer"`    // default radmfa
	Digits    int    `yaml:"digits"`    // 6 (default) or 8
	Period    int    `yaml:"period"`    // seconds; default 30
	Skew      int    `yaml:"skew"`      // steps accepted either side; default 1
	Algorithm string `yaml:"algorithm"` // SHA1 (default) | SHA256 | SHA512
}

// LogConfig shapes the log output.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug | info (default) | warn | error
	Format string `yaml:"format"` // json (default) | console
}
