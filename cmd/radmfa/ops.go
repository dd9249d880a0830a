package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/config"
	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/metrics"
	"github.com/radmfa/radmfa/radius"
)

// smsCheckEvery spaces the SMS provider's credential checks: each is an API call to the
// provider, which may rate-limit or bill it.
const smsCheckEvery = 5 * time.Minute

// ops is serve's operations side: the metrics (the engine's Observer) and the listener for
// /metrics, /healthz and /readyz. newOps comes before buildServices (the engine needs the
// observer); start comes once the RADIUS server exists.
type ops struct {
	m      *metrics.Metrics
	log    zerolog.Logger
	listen string                         // the metrics.listen the listener was started with
	http   *metrics.Server                // nil until start, and without metrics.listen
	sms    atomic.Pointer[factors.Sender] // the configured provider, for its health check; nil: none
}

func newOps(cfg *config.Config, log zerolog.Logger) *ops {
	o := &ops{
		m:   metrics.New(metrics.Options{Version: version, NAS: clientNames(cfg)}),
		log: log.With().Str("component", "metrics").Logger(),
	}
	o.setSMS(cfg)
	return o
}

// start exports the RADIUS and LDAP pool counters and, when addr is set, serves them with the
// health endpoints. The returned stop shuts the listener down (within 5 s).
func (o *ops) start(addr string, srv *radius.Server, h *swapHandler) (stop func(), err error) {
	if err := o.m.WatchRADIUS(srv); err != nil {
		return nil, err
	}
	if err := o.m.WatchLDAP(func() []ldapauth.PoolStats {
		if d := h.p.Load().dir; d != nil {
			return d.Stats()
		}
		return nil
	}); err != nil {
		return nil, err
	}
	o.listen = addr
	if addr == "" {
		return func() {}, nil
	}
	s := metrics.NewServer(addr, o.m, o.checks(h), o.log)
	if err := s.Start(); err != nil {
		return nil, err
	}
	o.http = s
	o.log.Info().Str("listen", s.Addr().String()).Msg("metrics and health listener (/metrics, /healthz, /readyz)")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			o.log.Warn().Err(err).Msg("metrics listener shutdown")
		}
	}, nil
}

// reloaded records a SIGHUP: ok when cfg was applied. The listener itself keeps its address
// until a restart.
func (o *ops) reloaded(cfg *config.Config, ok bool) {
	o.m.Reload(ok)
	if !ok {
		return
	}
	o.m.SetNAS(clientNames(cfg))
	o.setSMS(cfg)
	if cfg.Metrics.Listen != o.listen {
		o.log.Warn().Msg("reload: metrics.listen changes take effect only after a restart")
	}
}

// checks are the dependencies /readyz and radmfa_up report, read from the services in use.
func (o *ops) checks(h *swapHandler) []metrics.Check {
	return []metrics.Check{
		{Name: "ldap", Run: func(ctx context.Context) error { return pingLDAP(ctx, h.p.Load().dir) }},
		{Name: "store", Run: func(ctx context.Context) error { return h.p.Load().st.Ping(ctx) }},
		{Name: "sms", Optional: true, Every: smsCheckEvery, Run: func(ctx context.Context) error {
			if s := o.sms.Load(); s != nil {
				return (*s).Check(ctx)
			}
			return metrics.ErrNotConfigured
		}},
	}
}

// pingLDAP is ready when at least one URL binds as the service account; it names every URL's
// failure when none does. Without a directory (an upstream primary alone) it is not configured.
func pingLDAP(ctx context.Context, d *ldapauth.Directory) error {
	if d == nil {
		return metrics.ErrNotConfigured
	}
	var failed []string
	for url, err := range d.Ping(ctx) {
		if err == nil {
			return nil
		}
		failed = append(failed, fmt.Sprintf("%s: %v", url, err))
	}
	if len(failed) == 0 {
		return errors.New("ldap: no URL configured")
	}
	slices.Sort(failed)
	return fmt.Errorf("ldap: no URL answers: %s", strings.Join(failed, "; "))
}

// setSMS keeps the configured provider for its health check; a config whose SMS section does
// not build was refused by buildServices already.
func (o *ops) setSMS(cfg *config.Config) {
	sms, err := smsOptions(cfg)
	if err != nil || sms == nil {
		o.sms.Store(nil)
		return
	}
	o.sms.Store(&sms.Sender)
}

func clientNames(cfg *config.Config) []string {
	names := make([]string, 0, len(cfg.Radius.Clients))
	for _, c := range cfg.Radius.Clients {
		names = append(names, c.Name)
	}
	return names
}
