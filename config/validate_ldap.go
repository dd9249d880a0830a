package config

import (
	"crypto/x509"
	"errors"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Placeholders the LDAP filters may hold; ldapauth substitutes them, escaped.
const (
	phUsername = "{username}"
	phDN       = "{dn}"
)

func (v *validator) ldap(l *LDAPConfig) {
	v.ldapURLs(l)
	switch {
	case !v.keys.isSet("ldap.cache_ttl"):
		l.CacheTTL = Duration(DefaultLDAPCacheTTL)
	case l.CacheTTL < 0 || l.CacheTTL > Duration(time.Hour):
		v.errorf("ldap.cache_ttl", "must be between 0 (off) and 1h, got %s", l.CacheTTL)
	}
	if l.CAFile != "" {
		l.CAFile = v.resolve(l.CAFile)
		v.caFile("ldap.ca_file", l.CAFile)
	}
	if l.InsecureSkipVerify {
		v.warnf("ldap.insecure_skip_verify", msgInsecureTLS)
	}
	v.ldapBind(l)

	if l.BaseDN == "" {
		v.required("ldap.base_dn")
	} else {
		v.dn("ldap.base_dn", l.BaseDN)
	}
	if l.UserFilter == "" {
		l.UserFilter = DefaultUserFilter
		if l.ActiveDirectory {
			// AD users have sAMAccountName, not uid; disabled accounts are skipped up front.
			l.UserFilter = DefaultADUserFilter
		}
	}
	v.filter("ldap.user_filter", l.UserFilter, true)
	if l.UsernameAttr != "" && !attributeName.MatchString(l.UsernameAttr) {
		v.errorf("ldap.username_attribute", "%q is not an LDAP attribute name", l.UsernameAttr)
	}
	v.durationBetween(&l.Timeout, "ldap.timeout", DefaultLDAPTimeout, 0, 0)
	v.intBetween(&l.PoolSize, "ldap.pool_size", DefaultPoolSize, 1, 1024)
	defaultString(&l.DisplayNameAttr, DefaultDisplayNameAttr)
	defaultString(&l.MailAttr, DefaultMailAttr)
	defaultString(&l.PhoneAttr, DefaultPhoneAttr)
	defaultString(&l.GroupNameAttr, DefaultGroupNameAttr)

	if l.GroupMode == "" && l.ActiveDirectory {
		l.GroupMode = DefaultADGroupMode
	}
	v.oneOf(&l.GroupMode, "ldap.group_mode", DefaultGroupMode, GroupMemberOf, GroupSearch, GroupADChain, GroupNone)
	if l.GroupMode == GroupSearch {
		defaultString(&l.GroupFilter, DefaultGroupFilter)
		defaultString(&l.GroupBaseDN, l.BaseDN)
	}
	if l.GroupFilter != "" {
		v.filter("ldap.group_filter", l.GroupFilter, false)
	}
	if l.GroupBaseDN != "" && l.GroupBaseDN != l.BaseDN {
		v.dn("ldap.group_base_dn", l.GroupBaseDN)
	}
}

// attributeName is an LDAP attribute description without options (RFC 4512 descr).
var attributeName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`)

func (v *validator) ldapURLs(l *LDAPConfig) {
	if len(l.URLs) == 0 {
		v.errorf("ldap.urls", msgNoURLs)
		return
	}
	ldaps := false
	for i, raw := range l.URLs {
		p := indexPath("ldap.urls", i)
		u, err := url.Parse(raw)
		if err != nil {
			// The inner error only: url.Error quotes the whole URL, which may hold a password.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			v.errorf(p, msgBadURL, err)
			continue
		}
		switch u.Scheme {
		case "ldap":
		case "ldaps":
			ldaps = true
		default:
			v.errorf(p, msgScheme, u.Scheme)
			continue
		}
		switch {
		case u.User != nil:
			v.errorf(p, msgURLUser)
		case u.Hostname() == "":
			v.errorf(p, msgNoHost)
		case u.Port() != "" && !validPort(u.Port()):
			v.errorf(p, msgPort, u.Port())
		case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Opaque != "":
			v.errorf(p, msgURLPath)
		}
	}
	if ldaps && l.StartTLS {
		v.errorf("ldap.start_tls", msgStartTLSLDAPS)
	}
}

// caFile checks the CA bundle parses now, not at the first TLS handshake.
func (v *validator) caFile(path, file string) {
	pem, err := os.ReadFile(file)
	if err != nil {
		v.errorf(path, msgReadFile, err)
		return
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		v.errorf(path, msgNoPEM, file)
	}
}

// ldapBind checks the service account: bind_dn with exactly one of bind_password and
// bind_password_file, or none of the three for an anonymous search.
func (v *validator) ldapBind(l *LDAPConfig) {
	hasPW, hasFile := l.BindPassword != "", l.BindPasswordFile != ""
	switch {
	case hasPW && hasFile:
		v.errorf("ldap.bind_password_file", msgExclusive, "bind_password")
	case hasFile:
		l.BindPasswordFile = v.resolve(l.BindPasswordFile)
		if s, ok := v.readSecretFile("ldap.bind_password_file", l.BindPasswordFile); ok {
			l.BindPassword = s
		}
	}
	switch {
	case l.BindDN == "" && (hasPW || hasFile):
		v.errorf("ldap.bind_dn", msgBindDNForPW)
	case l.BindDN != "" && !hasPW && !hasFile:
		if v.keys.isSet("ldap.bind_password") {
			v.errorf("ldap.bind_password", msgEmpty)
		} else {
			v.errorf("ldap.bind_password", msgPasswordForBind)
		}
	}
	if l.BindDN != "" {
		v.dn("ldap.bind_dn", l.BindDN)
	}
}

func (v *validator) dn(path, dn string) {
	if _, err := ldap.ParseDN(dn); err != nil {
		v.errorf(path, msgBadDN, dn)
	}
}

// filter checks an LDAP filter compiles once its placeholders are filled in, so a typo fails
// at startup rather than as "user not found" for everyone.
func (v *validator) filter(path, f string, needUsername bool) {
	if !strings.HasPrefix(f, "(") || !strings.HasSuffix(f, ")") {
		v.errorf(path, msgFilterParens)
		return
	}
	if needUsername && !strings.Contains(f, phUsername) {
		v.errorf(path, msgFilterUsername)
		return
	}
	filled := strings.NewReplacer(phUsername, "u", phDN, "cn=u").Replace(f)
	if _, err := ldap.CompileFilter(filled); err != nil {
		v.errorf(path, msgBadFilter, f)
	}
}
