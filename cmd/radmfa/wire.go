package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"net/netip"
	"sort"
	"time"

	"github.com/rs/zerolog"
	layeh "layeh.com/radius"

	"github.com/radmfa/radmfa/challenge"
	"github.com/radmfa/radmfa/config"
	"github.com/radmfa/radmfa/engine"
	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/radius"
	"github.com/radmfa/radmfa/radius/dict"
	"github.com/radmfa/radmfa/store"
	"github.com/radmfa/radmfa/upstream"
)

// newLogger builds the process logger from the log section.
func newLogger(c config.LogConfig, w io.Writer) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(c.Level)
	if err != nil || c.Level == "" {
		lvl = zerolog.InfoLevel
	}
	if c.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

func ldapConfig(c config.LDAPConfig) ldapauth.Config {
	return ldapauth.Config{
		URLs: c.URLs, StartTLS: c.StartTLS, CAFile: c.CAFile, InsecureSkipVerify: c.InsecureSkipVerify,
		BindDN: c.BindDN, BindPassword: c.BindPassword.Reveal(), BaseDN: c.BaseDN, UserFilter: c.UserFilter,
		Timeout: c.Timeout.D(), PoolSize: c.PoolSize, CacheTTL: c.CacheTTL.D(),
		DisplayNameAttr: c.DisplayNameAttr, MailAttr: c.MailAttr, PhoneAttr: c.PhoneAttr,
		GroupMode: c.GroupMode, GroupBaseDN: c.GroupBaseDN, GroupFilter: c.GroupFilter,
		GroupNameAttr: c.GroupNameAttr, ActiveDirectory: c.ActiveDirectory,
		UsernameAttr: c.UsernameAttr, Normalize: normalizer(c.Username).Normalize,
	}
}

func totpConfig(c config.TOTPConfig) factors.TOTP {
	return factors.TOTP{Digits: c.Digits, Period: time.Duration(c.Period) * time.Second, Skew: c.Skew, Algorithm: c.Algorithm}
}

// radiusClients builds the NAS table from the config.
func radiusClients(cs []config.ClientConfig) (*radius.Clients, error) {
	out := make([]radius.Client, 0, len(cs))
	for _, c := range cs {
		req := true
		if c.RequireMessageAuthenticator != nil {
			req = *c.RequireMessageAuthenticator
		}
		out = append(out, radius.Client{Name: c.Name, Prefix: c.Prefix, Secret: []byte(c.Secret.Reveal()), RequireMessageAuthenticator: req})
	}
	return radius.NewClients(out), nil
}

// openStore opens the configured store with its encryption key.
func openStore(ctx context.Context, c config.StoreConfig) (store.Store, error) {
	key, err := store.LoadKeyFile(c.KeyFile, true)
	if err != nil {
		return nil, err
	}
	kr, err := store.NewKeyring(key)
	if err != nil {
		return nil, err
	}
	return store.Open(ctx, c.Driver, c.DSN, kr)
}

// stateKey returns the State AEAD key: inline, or from (created on first start) the key file.
func stateKey(c config.MFAConfig) ([]byte, error) {
	if c.StateKey != "" {
		return challenge.ParseKey(c.StateKey.Reveal())
	}
	return challenge.LoadOrCreateKey(c.StateKeyFile)
}

// loadConfig loads and validates the file, printing warnings.
func loadConfig(path string, warn io.Writer) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(warn, "warning:", w)
	}
	return cfg, nil
}

// services are the long-lived parts built from one config.
type services struct {
	dir    *ldapauth.Directory // nil with an upstream primary and no ldap section
	st     store.Store
	engine *engine.Engine
}

func (s *services) close(ctx context.Context) {
	if s.engine != nil {
		_ = s.engine.Close(ctx)
	}
	if s.dir != nil {
		_ = s.dir.Close()
	}
	if s.st != nil {
		_ = s.st.Close()
	}
}

// engineStore narrows a store to what the engine needs; every backend implements it.
func engineStore(st store.Store) (engine.Store, error) {
	es, ok := st.(engine.Store)
	if !ok {
		return nil, fmt.Errorf("store %T lacks ephemeral keys", st)
	}
	return es, nil
}

func buildServices(ctx context.Context, cfg *config.Config, log zerolog.Logger, obs engine.Observer) (*services, error) {
	s := &services{}
	st, err := openStore(ctx, cfg.Store)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.st = st
	eng, err := buildEngine(cfg, st, s, log, obs)
	if err != nil {
		s.close(ctx)
		return nil, err
	}
	s.engine = eng
	return s, nil
}

// buildEngine builds the directory (into s) and the engine on an open store.
func buildEngine(cfg *config.Config, st store.Store, s *services, log zerolog.Logger, obs engine.Observer) (*engine.Engine, error) {
	es, err := engineStore(st)
	if err != nil {
		return nil, err
	}
	var dir engine.Directory
	if len(cfg.LDAP.URLs) > 0 {
		d, err := ldapauth.New(ldapConfig(cfg.LDAP), log.With().Str("component", "ldap").Logger())
		if err != nil {
			return nil, fmt.Errorf("ldap: %w", err)
		}
		s.dir, dir = d, d
	}
	var primary engine.Primary
	if cfg.Primary == "radius" {
		var servers []upstream.Server
		for _, u := range cfg.Upstream.Servers {
			servers = append(servers, upstream.Server{Addr: u.Address, Secret: []byte(u.Secret.Reveal())})
		}
		primary = engine.UpstreamPrimary(upstream.New(servers, cfg.Upstream.Timeout.D(), cfg.Upstream.Retries, "radmfa-"+cfg.Node), dir)
	} else {
		primary = s.dir
	}
	key, err := stateKey(cfg.MFA)
	if err != nil {
		return nil, err
	}
	sealer, err := challenge.NewSealer(key, cfg.MFA.ChallengeTimeout.D())
	if err != nil {
		return nil, err
	}
	sms, err := smsOptions(cfg)
	if err != nil {
		return nil, err
	}
	policy, authz, err := policyOptions(cfg)
	if err != nil {
		return nil, err
	}
	nas := map[string]engine.NAS{}
	for _, c := range cfg.Radius.Clients {
		remember, _ := config.RememberAttribute(c.RememberAttribute)
		nas[c.Name] = engine.NAS{Mode: c.Mode, AppendSeparator: c.AppendSeparator, PasswordChange: c.PasswordChange,
			Prompts: prompts(c.Prompts), FailOpen: c.Failmode == "open", FailOpenGroups: c.FailmodeGroups, RateLimit: c.RateLimit,
			AppPasswords: deref(c.AppPasswords), RememberFor: c.RememberDevices.D(),
			RememberAttribute: layeh.Type(remember)}
	}
	lock := cfg.MFA.Lockout
	return engine.New(engine.Options{
		Node: cfg.Node, Primary: primary, Directory: dir, Store: es, Sealer: sealer, TOTP: totpConfig(cfg.TOTP),
		SMS:             sms,
		Normalizer:      normalizer(cfg.LDAP.Username),
		DefaultState:    store.State(cfg.MFA.DefaultState),
		AllowUnenrolled: cfg.MFA.Unenrolled == "allow",
		EnrollURL:       cfg.MFA.EnrollURL,
		PasswordLockout: store.LockoutPolicy{Threshold: lock.PasswordThreshold, Duration: lock.Duration.D(), Max: lock.MaxDuration.D()},
		FactorLockout:   store.LockoutPolicy{Threshold: lock.FactorThreshold, Duration: lock.Duration.D(), Max: lock.MaxDuration.D()},
		SourceThreshold: lock.SourceThreshold,
		SourceWindow:    lock.SourceWindow.D(),
		Policy:          policy,
		Authorization:   authz,
		NAS:             nas,
		Prompts:         prompts(cfg.MFA.Prompts),
		Messages:        cfg.LDAP.Messages,
		Generation:      generation(cfg),
		SharedStore:     cfg.Store.Driver == config.DriverPostgres,
		Observer:        obs,
		AppPasswords:    cfg.MFA.AppPasswords,
		FraudCode:       cfg.MFA.FraudCode.Reveal(),
		FraudWebhook:    cfg.MFA.FraudWebhook,
		Logger:          log.With().Str("component", "engine").Logger(),
	})
}

func deref(b *bool) bool { return b != nil && *b }

func prompts(p config.PromptsConfig) engine.Prompts {
	return engine.Prompts{TOTP: p.TOTP, SMS: p.SMS, Choose: p.Choose, NewPassword: p.NewPassword, Confirm: p.Confirm}
}

// generation fingerprints the parts of the config that State grants refer to by index.
func generation(cfg *config.Config) uint32 {
	h := fnv.New32a()
	fmt.Fprintf(h, "%v|%v", cfg.Policy, cfg.Authorization)
	return h.Sum32()
}

func policyOptions(cfg *config.Config) (engine.Policy, []engine.AuthzRule, error) {
	p := engine.Policy{Default: engine.Action(cfg.Policy.Default)}
	for _, r := range cfg.Policy.Rules {
		rule := engine.Rule{Name: r.Name, NAS: r.Match.NAS, NASIdentifier: r.Match.NASIdentifier, Groups: r.Match.Groups,
			Users: r.Match.Users, Action: engine.Action(r.Action), SessionTimeout: r.SessionTimeout.D()}
		for _, src := range r.Match.Source {
			pfx, err := netip.ParsePrefix(src)
			if err != nil {
				a, aerr := netip.ParseAddr(src)
				if aerr != nil {
					return p, nil, fmt.Errorf("policy rule %s: source %q: %w", r.Name, src, err)
				}
				pfx = netip.PrefixFrom(a, a.BitLen())
			}
			rule.Source = append(rule.Source, pfx.Masked())
		}
		p.Rules = append(p.Rules, rule)
	}
	var authz []engine.AuthzRule
	for _, a := range cfg.Authorization {
		r := engine.AuthzRule{Group: a.Group, NAS: a.NAS}
		names := make([]string, 0, len(a.Attributes))
		for n := range a.Attributes {
			names = append(names, n)
		}
		sort.Strings(names) // a stable order on the wire
		for _, n := range names {
			avp, err := dict.Encode(n, a.Attributes[n])
			if err != nil {
				return p, nil, fmt.Errorf("authorization for group %s: %w", a.Group, err)
			}
			r.Attrs = append(r.Attrs, avp)
		}
		authz = append(authz, r)
	}
	return p, authz, nil
}

// smsOptions builds the SMS factor, or nil when no provider is configured.
func smsOptions(cfg *config.Config) (*engine.SMS, error) {
	c := cfg.SMS
	var sender factors.Sender
	var err error
	switch c.Provider {
	case "", "none":
		return nil, nil
	case "twilio":
		sender, err = factors.NewTwilio(factors.TwilioConfig{BaseURL: c.Twilio.BaseURL, AccountSID: c.Twilio.AccountSID,
			AuthToken: c.Twilio.AuthToken.Reveal(), From: c.Twilio.From, MessagingServiceSID: c.Twilio.MessagingServiceSID,
			Timeout: c.Timeout.D()})
	case "http":
		headers := map[string]string{}
		var secret []string
		for k, v := range c.HTTP.Headers {
			headers[k] = v.Reveal()
			secret = append(secret, k)
		}
		sender, err = factors.NewHTTPSender(factors.HTTPConfig{Method: c.HTTP.Method, URL: c.HTTP.URL, Headers: headers,
			SecretHeaders: secret, Body: c.HTTP.Body, ContentType: c.HTTP.ContentType, SuccessCodes: c.HTTP.SuccessCodes,
			Timeout: c.Timeout.D()})
	case "command":
		sender, err = factors.NewCommandSender(factors.CommandConfig{Argv: c.Command.Argv, Timeout: c.Timeout.D()})
	default:
		return nil, fmt.Errorf("sms: unknown provider %q", c.Provider)
	}
	if err != nil {
		return nil, fmt.Errorf("sms: %w", err)
	}
	msg, err := factors.ParseMessageTemplate(c.Message)
	if err != nil {
		return nil, fmt.Errorf("sms.message: %w", err)
	}
	return &engine.SMS{
		Sender: factors.WithRetry(sender, factors.DefaultAttempts, 500*time.Millisecond),
		// A code cannot outlive the challenge that asks for it: the text says the shorter.
		Code: factors.SMSCode{Length: c.CodeLength, Alphabet: c.CodeAlphabet,
			Lifetime: min(c.CodeLifetime.D(), cfg.MFA.ChallengeTimeout.D()), MaxTries: c.MaxTries},
		DefaultCountry: c.DefaultCountry,
		PerUserLimit:   c.PerUserLimit, PerNASLimit: c.PerNASLimit, Window: c.Window.D(),
		Message: msg, Issuer: cfg.TOTP.Issuer, Keyword: c.Keyword,
	}, nil
}

// normalizer builds the username rules of ldap.username.
func normalizer(un config.UsernameConfig) ldapauth.Normalizer {
	return ldapauth.Normalizer{Lowercase: deref(un.Lowercase), StripDomain: deref(un.StripDomain),
		StripRealm: deref(un.StripRealm), Realms: un.Realms, RealmMap: un.RealmMap}
}
