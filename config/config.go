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
}

// ClientConfig is one NAS (VPN appliance) allowed to send requests.
type ClientConfig struct {
	Name                        string `yaml:"name"`
	Address                     string `yaml:"address"` // IP or CIDR
	Secret                      Secret `yaml:"secret"`
	SecretFile                  string `yaml:"secret_file"`
	RequireMessageAuthenticator *bool  `yaml:"require_message_authenticator"` // default true

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
	Timeout            Duration `yaml:"timeout"`     // default 5s
	PoolSize           int      `yaml:"pool_size"`   // default 16
	DisplayNameAttr    string   `yaml:"display_name_attribute"`
	MailAttr           string   `yaml:"mail_attribute"`
	PhoneAttr          string   `yaml:"phone_attribute"`
	GroupMode          string   `yaml:"group_mode"` // memberof | search | ad_chain | none
	GroupBaseDN        string   `yaml:"group_base_dn"`
	GroupFilter        string   `yaml:"group_filter"`
	GroupNameAttr      string   `yaml:"group_name_attribute"`
	ActiveDirectory    bool     `yaml:"active_directory"`
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
}

// LockoutConfig is per-user brute-force protection.
type LockoutConfig struct {
	PasswordThreshold int      `yaml:"password_threshold"` // default 10
	FactorThreshold   int      `yaml:"factor_threshold"`   // default 5
	Duration          Duration `yaml:"duration"`           // default 5m
	MaxDuration       Duration `yaml:"max_duration"`       // default 24h
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
