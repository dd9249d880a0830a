package ldapauth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Group modes (Config.GroupMode).
const (
	GroupModeNone     = "none"
	GroupModeMemberOf = "memberof"
	GroupModeSearch   = "search"
	GroupModeADChain  = "ad_chain"
)

// Defaults applied by New to empty Config fields. The config layer fills them too; repeating
// them here keeps a hand-built Config from meaning "no timeout" or "no pool".
const (
	DefaultTimeout         = 5 * time.Second
	DefaultPoolSize        = 8
	DefaultDisplayNameAttr = "displayName"
	DefaultMailAttr        = "mail"
	DefaultPhoneAttr       = "mobile"
	DefaultGroupNameAttr   = "cn"
	DefaultGroupFilter     = "(|(member={dn})(uniqueMember={dn}))"
)

// adChainFilter finds every group that contains the user, directly or through nested groups
// (LDAP_MATCHING_RULE_IN_CHAIN, Active Directory only).
const adChainFilter = "(member:1.2.840.113556.1.4.1941:={dn})"

// downBackoff is how long a URL that failed is skipped while other URLs work.
const downBackoff = 10 * time.Second

// withDefaults returns cfg with empty fields filled in.
func withDefaults(cfg Config) Config {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.PoolSize <= 0 {
		cfg.PoolSize = DefaultPoolSize
	}
	if cfg.DisplayNameAttr == "" {
		cfg.DisplayNameAttr = DefaultDisplayNameAttr
	}
	if cfg.MailAttr == "" {
		cfg.MailAttr = DefaultMailAttr
	}
	if cfg.PhoneAttr == "" {
		cfg.PhoneAttr = DefaultPhoneAttr
	}
	if cfg.GroupNameAttr == "" {
		cfg.GroupNameAttr = DefaultGroupNameAttr
	}
	cfg.GroupMode = strings.ToLower(strings.TrimSpace(cfg.GroupMode))
	if cfg.GroupMode == "" {
		cfg.GroupMode = GroupModeNone
	}
	if cfg.GroupMode == GroupModeSearch && cfg.GroupFilter == "" {
		cfg.GroupFilter = DefaultGroupFilter
	}
	if cfg.GroupMode == GroupModeADChain && cfg.GroupFilter == "" {
		cfg.GroupFilter = adChainFilter
	}
	if cfg.GroupBaseDN == "" {
		cfg.GroupBaseDN = cfg.BaseDN
	}
	if cfg.UsernameAttr == "" {
		cfg.UsernameAttr = UsernameAttrOf(cfg.UserFilter)
	}
	return cfg
}

// usernameTerm matches a filter item that compares an attribute with the username.
var usernameTerm = regexp.MustCompile(`\(\s*([A-Za-z][A-Za-z0-9-]*)\s*=\s*\{username\}\s*\)`)

// UsernameAttrOf returns the attribute filter compares with {username}, or "" when it
// compares none or several ((|(uid={username})(mail={username})) signs in by either).
func UsernameAttrOf(filter string) string {
	var attr string
	for _, m := range usernameTerm.FindAllStringSubmatch(filter, -1) {
		switch {
		case attr == "":
			attr = m[1]
		case !strings.EqualFold(attr, m[1]):
			return ""
		}
	}
	if strings.Count(filter, "{username}") != len(usernameTerm.FindAllString(filter, -1)) {
		return "" // {username} also used some other way (a substring or extensible match)
	}
	return attr
}

// validate reports every problem in cfg at once, so a bad config is fixed in one go.
func validate(cfg Config) error {
	var errs []error
	if len(cfg.URLs) == 0 {
		errs = append(errs, errors.New("no URLs"))
	}
	for _, u := range cfg.URLs {
		if _, err := parseURL(u); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.BindDN != "" && cfg.BindPassword == "" {
		// An empty password turns the service bind into an unauthenticated bind that
		// "succeeds" without checking anything.
		errs = append(errs, errors.New("BindDN set without BindPassword"))
	}
	if cfg.BaseDN == "" {
		errs = append(errs, errors.New("no BaseDN"))
	}
	if !strings.Contains(cfg.UserFilter, "{username}") {
		errs = append(errs, fmt.Errorf("UserFilter %q has no {username}", cfg.UserFilter))
	} else if _, err := ldap.CompileFilter(substitute(cfg.UserFilter, "x", "x")); err != nil {
		errs = append(errs, fmt.Errorf("UserFilter %q: %w", cfg.UserFilter, err))
	}
	switch cfg.GroupMode {
	case GroupModeNone, GroupModeMemberOf:
	case GroupModeSearch, GroupModeADChain:
		if !strings.Contains(cfg.GroupFilter, "{dn}") && !strings.Contains(cfg.GroupFilter, "{username}") {
			errs = append(errs, fmt.Errorf("GroupFilter %q has neither {dn} nor {username}", cfg.GroupFilter))
		} else if _, err := ldap.CompileFilter(substitute(cfg.GroupFilter, "x", "x")); err != nil {
			errs = append(errs, fmt.Errorf("GroupFilter %q: %w", cfg.GroupFilter, err))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown GroupMode %q (want none, memberof, search or ad_chain)", cfg.GroupMode))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ldapauth: config: %w", err)
	}
	return nil
}

// endpoint is one parsed directory URL.
type endpoint struct {
	url   string // as configured, for logs and errors
	addr  string // host:port to dial
	host  string // for TLS ServerName
	ldaps bool
}

func parseURL(raw string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("URL %q: %w", raw, err)
	}
	var port string
	switch strings.ToLower(u.Scheme) {
	case "ldap":
		port = "389"
	case "ldaps":
		port = "636"
	default:
		return endpoint{}, fmt.Errorf("URL %q: scheme must be ldap or ldaps", raw)
	}
	if u.Hostname() == "" {
		return endpoint{}, fmt.Errorf("URL %q: no host", raw)
	}
	if p := u.Port(); p != "" {
		port = p
	}
	return endpoint{
		url:   raw,
		addr:  net.JoinHostPort(u.Hostname(), port),
		host:  u.Hostname(),
		ldaps: strings.EqualFold(u.Scheme, "ldaps"),
	}, nil
}

// baseTLSConfig builds the TLS settings shared by all URLs; ServerName is set per URL.
func baseTLSConfig(cfg Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // only when configured
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ldapauth: CAFile: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ldapauth: CAFile %s: no PEM certificates", cfg.CAFile)
		}
		tc.RootCAs = roots
	}
	return tc, nil
}

// substitute fills {username} and {dn} in a filter template in one pass, so a value that
// itself contains "{dn}" is never substituted again. Values must already be escaped.
func substitute(template, username, dn string) string {
	return strings.NewReplacer("{username}", username, "{dn}", dn).Replace(template)
}

// timeLimitSeconds is the server-side search time limit matching the client timeout.
func timeLimitSeconds(d time.Duration) int {
	return int(math.Ceil(d.Seconds()))
}
