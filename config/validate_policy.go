package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"text/template"
	"time"

	"github.com/radmfa/radmfa/radius/dict"
)

func (v *validator) primary(c *Config) {
	v.oneOf(&c.Primary, "primary", DefaultPrimary, "ldap", "radius")
	if c.Primary != "radius" {
		return
	}
	u := &c.Upstream
	if len(u.Servers) == 0 {
		v.errorf("upstream.servers", "at least one server is required when primary is radius")
	}
	for i := range u.Servers {
		p := indexPath("upstream.servers", i)
		s := &u.Servers[i]
		if s.Address == "" {
			v.required(p + ".address")
		} else {
			if !strings.Contains(s.Address, ":") {
				s.Address += ":1812"
			}
			if msg := checkHostPort(s.Address); msg != "" {
				v.errorf(p+".address", "%s", msg)
			}
		}
		switch {
		case s.Secret != "" && s.SecretFile != "":
			v.errorf(p+".secret_file", msgExclusive, "secret")
		case s.SecretFile != "":
			s.SecretFile = v.resolve(s.SecretFile)
			if sec, ok := v.readSecretFile(p+".secret_file", s.SecretFile); ok {
				s.Secret = sec
			}
		case s.Secret == "":
			v.errorf(p+".secret", msgSecretRequired)
		}
	}
	v.durationBetween(&u.Timeout, "upstream.timeout", DefaultUpstreamTO, time.Second, 2*time.Minute)
	v.intBetween(&u.Retries, "upstream.retries", DefaultUpstreamTries, 0, 5)
}

var actions = []string{ActionRequireMFA, ActionPasswordOnly, ActionDeny}

func (v *validator) policy(c *Config) {
	p := &c.Policy
	v.oneOf(&p.Default, "policy.default", DefaultPolicyAction, actions...)
	// The State carries rule and authorization indices in one byte each.
	if len(p.Rules) > 254 {
		v.errorf("policy.rules", "at most 254 rules, got %d", len(p.Rules))
	}
	if len(c.Authorization) > 255 {
		v.errorf("authorization", "at most 255 entries, got %d", len(c.Authorization))
	}
	names := map[string]int{}
	clients := map[string]bool{}
	for _, cl := range c.Radius.Clients {
		clients[cl.Name] = true
	}
	for i := range p.Rules {
		path := indexPath("policy.rules", i)
		r := &p.Rules[i]
		if r.Name == "" {
			r.Name = fmt.Sprintf("rule-%d", i+1)
		} else if first, dup := names[r.Name]; dup {
			v.errorf(path+".name", "duplicate rule name %q (first on line %d)", r.Name, first)
		}
		names[r.Name] = v.keys.lineOf(path + ".name")
		if r.Action == "" {
			v.required(path + ".action")
		} else {
			v.oneOf(&r.Action, path+".action", "", actions...)
		}
		m := r.Match
		if len(m.NAS)+len(m.NASIdentifier)+len(m.Source)+len(m.Groups)+len(m.Users) == 0 {
			v.warnf(path+".match", "matches every request")
		}
		for j, n := range m.NAS {
			if !clients[n] {
				v.errorf(indexPath(path+".match.nas", j), "no radius client is named %q", n)
			}
		}
		for j, s := range m.Source {
			if _, err := parseCIDR(s); err != nil {
				v.errorf(indexPath(path+".match.source", j), msgBadAddress, s)
			}
		}
		if len(m.Groups) > 0 && c.LDAP.GroupMode == GroupNone {
			v.errorf(path+".match.groups", "needs ldap.group_mode other than none")
		}
		if r.SessionTimeout < 0 {
			v.errorf(path+".session_timeout", msgDurPositive, r.SessionTimeout)
		}
	}
	for i := range c.Authorization {
		path := indexPath("authorization", i)
		a := &c.Authorization[i]
		if a.Group == "" {
			v.required(path + ".group")
		}
		for j, n := range a.NAS {
			if !clients[n] {
				v.errorf(indexPath(path+".nas", j), "no radius client is named %q", n)
			}
		}
		if len(a.Attributes) == 0 {
			v.required(path + ".attributes")
		}
		for name, val := range a.Attributes {
			if _, err := dict.Encode(name, val); err != nil {
				if _, known := dict.Lookup(name); !known {
					v.errorf(childPath(path+".attributes", name), "unknown attribute (known: %s)", strings.Join(dict.Names(), ", "))
				} else {
					v.errorf(childPath(path+".attributes", name), "%v", err)
				}
			}
		}
	}
}

func parseCIDR(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

var modes = []string{ModeChallenge, ModeAppend, ModeAuto, ModeOTPOnly}

// clientModes checks the per-NAS flow settings.
func (v *validator) clientModes(c *Config) {
	for i := range c.Radius.Clients {
		p := indexPath("radius.clients", i)
		cl := &c.Radius.Clients[i]
		v.oneOf(&cl.Mode, p+".mode", DefaultMode, modes...)
		if len(cl.AppendSeparator) > 4 {
			v.errorf(p+".append_separator", "must be at most 4 characters")
		}
		if strings.ContainsAny(cl.AppendSeparator, "0123456789") {
			v.errorf(p+".append_separator", "must not contain digits")
		}
		v.prompts(&cl.Prompts, p+".prompts", false)
		v.oneOf(&cl.Failmode, p+".failmode", "closed", "closed", "open")
		if cl.Failmode == "open" {
			v.warnf(p+".failmode", "is open: when the store is unreachable a correct password alone is let in")
		} else if len(cl.FailmodeGroups) > 0 {
			v.errorf(p+".failmode_groups", "needs failmode: open")
		}
		if cl.RateLimit < 0 {
			v.errorf(p+".rate_limit", msgIntAtLeast, 0, cl.RateLimit)
		}
		if cl.AppPasswords == nil {
			on := true
			cl.AppPasswords = &on
		}
		if cl.RememberDevices < 0 || cl.RememberDevices > Duration(365*24*time.Hour) {
			v.errorf(p+".remember_devices", "must be between 0 (off) and 8760h, got %s", cl.RememberDevices)
		}
		defaultString(&cl.RememberAttribute, "Calling-Station-Id")
		if _, ok := RememberAttribute(cl.RememberAttribute); !ok {
			v.errorf(p+".remember_attribute", msgOneOf, cl.RememberAttribute, "Calling-Station-Id, Called-Station-Id, NAS-Port-Id or Framed-IP-Address")
		}
	}
	r := &c.Radius
	if r.AccountingListen != "" {
		if msg := checkHostPort(r.AccountingListen); msg != "" {
			v.errorf("radius.accounting_listen", "%s", msg)
		}
	}
	if rs := &r.RadSec; rs.Listen != "" {
		if msg := checkHostPort(rs.Listen); msg != "" {
			v.errorf("radius.radsec.listen", "%s", msg)
		}
		for _, f := range []struct {
			path string
			val  *string
		}{{"radius.radsec.cert_file", &rs.CertFile}, {"radius.radsec.key_file", &rs.KeyFile}, {"radius.radsec.ca_file", &rs.CAFile}} {
			if *f.val == "" {
				v.required(f.path)
				continue
			}
			*f.val = v.resolve(*f.val)
			if _, err := os.Stat(*f.val); err != nil {
				v.errorf(f.path, msgReadFile, err)
			}
		}
	}
	if c.Metrics.Listen != "" {
		if msg := checkHostPort(c.Metrics.Listen); msg != "" {
			v.errorf("metrics.listen", "%s", msg)
		}
	}
}

// prompts checks prompt templates; withDefaults fills the global defaults.
func (v *validator) prompts(pr *PromptsConfig, path string, withDefaults bool) {
	fields := []struct {
		s   *string
		key string
		def string
	}{
		{&pr.TOTP, "totp", DefaultPromptTOTP},
		{&pr.SMS, "sms", DefaultPromptSMS},
		{&pr.Choose, "choose", DefaultPromptChoose},
		{&pr.NewPassword, "new_password", DefaultPromptNewPW},
		{&pr.Confirm, "confirm_password", DefaultPromptConfirm},
	}
	for _, f := range fields {
		if withDefaults {
			defaultString(f.s, f.def)
		}
		if *f.s == "" {
			continue
		}
		if _, err := template.New(f.key).Parse(*f.s); err != nil {
			v.errorf(path+"."+f.key, "invalid template: %v", err)
		}
		if len(*f.s) > 253 {
			v.errorf(path+"."+f.key, "longer than a Reply-Message can carry (253 bytes)")
		}
	}
}

func (v *validator) username(u *UsernameConfig) {
	on := true
	if u.Lowercase == nil {
		u.Lowercase = &on
	}
	if u.StripDomain == nil {
		u.StripDomain = &on
	}
	if u.StripRealm == nil {
		u.StripRealm = &on
	}
	for i, r := range u.Realms {
		if r == "" || strings.ContainsAny(r, "@\\ ") {
			v.errorf(indexPath("ldap.username.realms", i), "invalid realm %q", r)
		}
	}
}

func (v *validator) sms(c *Config) {
	s := &c.SMS
	v.oneOf(&s.Provider, "sms.provider", DefaultSMSProvider, "none", "twilio", "http", "command")
	switch s.Provider {
	case "twilio":
		t := &s.Twilio
		defaultString(&t.BaseURL, DefaultTwilioBaseURL)
		if t.AccountSID == "" {
			v.required("sms.twilio.account_sid")
		}
		if t.AuthToken == "" {
			v.required("sms.twilio.auth_token")
		}
		if t.From == "" && t.MessagingServiceSID == "" {
			v.errorf("sms.twilio.from", "is required (or set messaging_service_sid)")
		}
	case "http":
		h := &s.HTTP
		defaultString(&h.Method, "POST")
		if h.URL == "" {
			v.required("sms.http.url")
		} else if _, err := template.New("url").Funcs(smsTemplateFuncs).Parse(h.URL); err != nil {
			v.errorf("sms.http.url", "invalid template: %v", err)
		}
		if _, err := template.New("body").Funcs(smsTemplateFuncs).Parse(h.Body); err != nil {
			v.errorf("sms.http.body", "invalid template: %v", err)
		}
	case "command":
		if len(s.Command.Argv) == 0 {
			v.required("sms.command.argv")
		}
	}
	v.durationBetween(&s.Timeout, "sms.timeout", DefaultSMSTimeout, time.Second, 2*time.Minute)
	v.intBetween(&s.CodeLength, "sms.code_length", DefaultSMSCodeLength, 4, 12)
	defaultString(&s.CodeAlphabet, DefaultSMSAlphabet)
	if len(s.CodeAlphabet) < 10 {
		v.errorf("sms.code_alphabet", "needs at least 10 characters")
	}
	v.durationBetween(&s.CodeLifetime, "sms.code_lifetime", DefaultSMSLifetime, 30*time.Second, time.Hour)
	v.intBetween(&s.MaxTries, "sms.max_tries", DefaultSMSMaxTries, 1, 10)
	v.intAtLeast(&s.PerUserLimit, "sms.per_user_limit", DefaultSMSPerUser, 1)
	v.intAtLeast(&s.PerNASLimit, "sms.per_nas_limit", DefaultSMSPerNAS, 1)
	v.durationBetween(&s.Window, "sms.window", DefaultSMSWindow, time.Minute, 24*time.Hour)
	defaultString(&s.Message, DefaultSMSMessage)
	if _, err := template.New("message").Parse(s.Message); err != nil {
		v.errorf("sms.message", "invalid template: %v", err)
	}
	defaultString(&s.Keyword, DefaultSMSKeyword)
	if strings.TrimSpace(s.Keyword) == "" || strings.ContainsAny(s.Keyword, "0123456789") {
		v.errorf("sms.keyword", "must be a word without digits")
	}
	if s.DefaultCountry != "" {
		cc := strings.TrimPrefix(s.DefaultCountry, "+")
		if len(cc) < 1 || len(cc) > 3 || strings.Trim(cc, "0123456789") != "" {
			v.errorf("sms.default_country", "must be a calling code such as 1 or 44")
		}
	}
}

// RememberAttribute returns the type number of a request attribute that can identify a
// device for remember_devices.
func RememberAttribute(name string) (int, bool) {
	switch name {
	case "Calling-Station-Id":
		return 31, true
	case "Called-Station-Id":
		return 30, true
	case "NAS-Port-Id":
		return 87, true
	case "Framed-IP-Address":
		return 8, true
	}
	return 0, false
}

func (v *validator) mfaExtra(c *Config) {
	m := &c.MFA
	if fc := m.FraudCode.Reveal(); fc != "" && (len(fc) < 4 || len(fc) > 12) {
		v.errorf("mfa.fraud_code", "must be 4 to 12 characters")
	}
	if m.FraudWebhook != "" {
		u, err := url.Parse(m.FraudWebhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errorf("mfa.fraud_webhook", "must be an http(s) URL")
		}
	}
	if !v.keys.isSet("audit.retention") {
		c.Audit.Retention = Duration(90 * 24 * time.Hour)
	} else if c.Audit.Retention < 0 {
		v.errorf("audit.retention", "must be 0 (keep everything) or more, got %s", c.Audit.Retention)
	}
}

// smsTemplateFuncs names the functions the HTTP SMS provider's templates may call, so config
// check parses them as the provider will (the values are never called here).
var smsTemplateFuncs = template.FuncMap{
	"json":     func(any) (string, error) { return "", nil },
	"urlquery": func(...any) string { return "" },
}
