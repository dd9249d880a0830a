package main

import (
	"context"
	"fmt"
	"io"
		"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/challenge"
	"github.com/radmfa/radmfa/config"
	"github.com/radmfa/radmfa/engine"
	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/radius"
	"github.com/radmfa/radmfa/store"
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
		Timeout: c.Timeout.D(), PoolSize: c.PoolSize,
		DisplayNameAttr: c.DisplayNameAttr, MailAttr: c.MailAttr, PhoneAttr: c.PhoneAttr,
		GroupMode: c.GroupMode, GroupBaseDN: c.GroupBaseDN, GroupFilter: c.GroupFilter,
		GroupNameAttr: c.GroupNameAttr, ActiveDirectory: c.ActiveDirectory,
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
	dir    ldapauth.Authenticator
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

func buildServices(ctx context.Context, cfg *config.Config, log zerolog.Logger) (*services, error) {
	s := &services{}
	st, err := openStore(ctx, cfg.Store)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.st = st
	dir, err := ldapauth.New(ldapConfig(cfg.LDAP), log.With().Str("component", "ldap").Logger())
	if err != nil {
		s.close(ctx)
		return nil, fmt.Errorf("ldap: %w", err)
	}
	s.dir = dir
	key, err := stateKey(cfg.MFA)
	if err != nil {
		s.close(ctx)
		return nil, err
	}
	sealer, err := challenge.NewSealer(key, cfg.MFA.ChallengeTimeout.D())
	if err != nil {
		s.close(ctx)
		return nil, err
	}
	lock := cfg.MFA.Lockout
	eng, err := engine.New(engine.Options{
		Node: cfg.Node, Directory: dir, Store: st, Sealer: sealer, TOTP: totpConfig(cfg.TOTP),
		DefaultState:    store.State(cfg.MFA.DefaultState),
		AllowUnenrolled: cfg.MFA.Unenrolled == "allow",
		EnrollURL:       cfg.MFA.EnrollURL,
		PasswordLockout: store.LockoutPolicy{Threshold: lock.PasswordThreshold, Duration: lock.Duration.D(), Max: lock.MaxDuration.D()},
		FactorLockout:   store.LockoutPolicy{Threshold: lock.FactorThreshold, Duration: lock.Duration.D(), Max: lock.MaxDuration.D()},
		Logger:          log.With().Str("component", "engine").Logger(),
	})
	if err != nil {
		s.close(ctx)
		return nil, err
	}
	s.engine = eng
	return s, nil
}

func stderrIsTerminal() bool {
	fi, err := os.Stderr.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
