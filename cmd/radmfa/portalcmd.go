package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/config"
	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/portal"
	"github.com/radmfa/radmfa/store"
)

// portalConfig is the portal section of the configuration:
//
//	portal:
//	  listen: ":8443"             # empty: no portal
//	  cert_file: /etc/radmfa/portal.pem
//	  key_file: /etc/radmfa/portal.key
//	  admin_group: vpn-admins     # empty: no admin page
//	  allow_app_passwords: false
type portalConfig struct {
	Listen            string
	CertFile          string
	KeyFile           string
	AdminGroup        string
	AllowAppPasswords bool
}

// Portal HTTP server limits. WriteTimeout covers a page that texts a code (the SMS send is
// bounded at 25 s inside the portal).
const (
	portalReadHeaderTimeout = 10 * time.Second
	portalReadTimeout       = 30 * time.Second
	portalWriteTimeout      = 60 * time.Second
	portalIdleTimeout       = 2 * time.Minute
	portalMaxHeaderBytes    = 64 << 10
)

// startPortal serves the self-service portal on pc.Listen until stop is called. It opens its
// own store handle and directory connections rather than sharing serve's: a reload replaces
// (and closes) those, while the portal keeps serving; portal settings change on restart.
// TLS is used when cert and key are given; plain HTTP is refused on any address but loopback
// (a TLS-terminating proxy on the same host).
func startPortal(ctx context.Context, cfg *config.Config, pc portalConfig, log zerolog.Logger) (stop func(context.Context) error, err error) {
	log = log.With().Str("component", "portal").Logger()
	tlsConfig, err := portalTLS(pc)
	if err != nil {
		return nil, err
	}
	if len(cfg.LDAP.URLs) == 0 {
		return nil, errors.New("portal: the portal signs users in against the directory: configure ldap.urls")
	}
	st, err := openStore(ctx, cfg.Store)
	if err != nil {
		return nil, fmt.Errorf("portal: open store: %w", err)
	}
	ps, ok := st.(portal.Store)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("portal: store %T lacks the portal tables", st)
	}
	dir, err := ldapauth.New(ldapConfig(cfg.LDAP), log.With().Str("component", "ldap").Logger())
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("portal: ldap: %w", err)
	}
	closeAll := func() {
		_ = dir.Close()
		_ = st.Close()
	}
	opts, err := portalOptions(cfg, pc, dir, ps, log)
	if err != nil {
		closeAll()
		return nil, err
	}
	h, err := portal.New(opts)
	if err != nil {
		closeAll()
		return nil, err
	}
	l, err := net.Listen("tcp", pc.Listen)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("portal: listen %s: %w", pc.Listen, err)
	}
	if tlsConfig != nil {
		l = tls.NewListener(l, tlsConfig)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: portalReadHeaderTimeout,
		ReadTimeout:       portalReadTimeout,
		WriteTimeout:      portalWriteTimeout,
		IdleTimeout:       portalIdleTimeout,
		MaxHeaderBytes:    portalMaxHeaderBytes,
		ErrorLog:          stdlog.New(log, "", 0), // TLS handshake failures, malformed requests
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("portal stopped")
		}
	}()
	log.Info().Str("listen", l.Addr().String()).Bool("tls", tlsConfig != nil).
		Bool("app_passwords", pc.AllowAppPasswords).Str("admin_group", pc.AdminGroup).Msg("portal serving")
	return func(ctx context.Context) error {
		err := srv.Shutdown(ctx)
		<-done
		closeAll()
		if err != nil {
			return fmt.Errorf("portal: shutdown: %w", err)
		}
		return nil
	}, nil
}

// portalSettings maps the configuration's portal section; app passwords follow
// mfa.app_passwords, the switch that also lets the VPN accept them.
func portalSettings(cfg *config.Config) portalConfig {
	p := cfg.Portal
	return portalConfig{Listen: p.Listen, CertFile: p.CertFile, KeyFile: p.KeyFile, AdminGroup: p.AdminGroup,
		AllowAppPasswords: cfg.MFA.AppPasswords}
}

// portalOptions maps the configuration onto the portal's options, sharing the engine's
// username rules, TOTP shape, default state and SMS provider.
func portalOptions(cfg *config.Config, pc portalConfig, dir portal.Directory, st portal.Store, log zerolog.Logger) (portal.Options, error) {
	lock := cfg.MFA.Lockout
	opts := portal.Options{
		Directory: dir, Store: st, TOTP: totpConfig(cfg.TOTP), Issuer: cfg.TOTP.Issuer,
		AdminGroup: pc.AdminGroup, AllowAppPasswords: pc.AllowAppPasswords,
		Normalizer:      normalizer(cfg.LDAP.Username),
		DefaultState:    store.State(cfg.MFA.DefaultState),
		PasswordLockout: store.LockoutPolicy{Threshold: lock.PasswordThreshold, Duration: lock.Duration.D(), Max: lock.MaxDuration.D()},
		FactorLockout:   store.LockoutPolicy{Threshold: lock.FactorThreshold, Duration: lock.Duration.D(), Max: lock.MaxDuration.D()},
		Node:            cfg.Node,
		Logger:          log,
	}
	sms, err := smsOptions(cfg)
	if err != nil {
		return opts, fmt.Errorf("portal: %w", err)
	}
	if sms != nil {
		opts.SMS = &portal.SMS{Sender: sms.Sender, Code: sms.Code, DefaultCountry: sms.DefaultCountry,
			Message: sms.Message, PerUserLimit: sms.PerUserLimit, Window: sms.Window}
	}
	return opts, nil
}

// portalTLS loads the certificate, or returns nil for plain HTTP, which only a loopback
// address may serve.
func portalTLS(pc portalConfig) (*tls.Config, error) {
	if pc.Listen == "" {
		return nil, errors.New("portal: no listen address")
	}
	if (pc.CertFile == "") != (pc.KeyFile == "") {
		return nil, errors.New("portal: set both portal.cert_file and portal.key_file, or neither")
	}
	if pc.CertFile == "" {
		if !isLoopbackListen(pc.Listen) {
			return nil, fmt.Errorf("portal: refusing plain HTTP on %s: passwords would cross the network in clear; "+
				"set portal.cert_file and portal.key_file, or listen on 127.0.0.1 behind a TLS proxy", pc.Listen)
		}
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(pc.CertFile, pc.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("portal: load certificate: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// isLoopbackListen reports whether addr only listens on loopback: "127.0.0.1:8080",
// "[::1]:8080", "localhost:8080". An empty host means every interface.
func isLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
