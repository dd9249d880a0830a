package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"reflect"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	layeh "layeh.com/radius"

	"github.com/radmfa/radmfa/config"
	"github.com/radmfa/radmfa/engine"
	"github.com/radmfa/radmfa/radius"
	"github.com/radmfa/radmfa/store"
)

// swapHandler lets a reload replace the engine between two requests.
type swapHandler struct{ p atomic.Pointer[services] }

func (h *swapHandler) ServeRADIUS(ctx context.Context, r *radius.Request) *layeh.Packet {
	return h.p.Load().engine.ServeRADIUS(ctx, r)
}

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs, cfgPath := newFlags("serve")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr).With().Str("node", cfg.Node).Logger()

	ops := newOps(cfg, log)
	svc, err := buildServices(ctx, cfg, log, ops.m)
	if err != nil {
		return err
	}
	h := &swapHandler{}
	h.p.Store(svc)
	clients, err := radiusClients(cfg.Radius.Clients)
	if err != nil {
		svc.close(ctx)
		return err
	}
	srv := radius.NewServer(clients, radius.Options{
		Handler:         h,
		Logger:          log.With().Str("component", "radius").Logger(),
		DuplicateWindow: cfg.Radius.DuplicateWindow.D(),
		MaxInFlight:     cfg.Radius.MaxInFlight,
	})
	conn, err := net.ListenPacket("udp", cfg.Radius.Listen)
	if err != nil {
		svc.close(ctx)
		return fmt.Errorf("listen %s: %w", cfg.Radius.Listen, err)
	}
	log.Info().Str("listen", conn.LocalAddr().String()).Int("clients", len(cfg.Radius.Clients)).
		Str("version", version).Msg("radmfa serving")

	errc := make(chan error, 3)
	go func() { errc <- srv.Serve(conn) }()
	closeExtra, err := extraListeners(cfg, srv, errc, log)
	if err != nil {
		_ = srv.Shutdown(context.Background())
		svc.close(ctx)
		return err
	}
	defer closeExtra()
	stopOps, err := ops.start(cfg.Metrics.Listen, srv, h)
	if err != nil {
		_ = srv.Shutdown(context.Background())
		svc.close(ctx)
		return err
	}
	defer stopOps()
	if cfg.Portal.Listen != "" {
		stopPortal, err := startPortal(ctx, cfg, portalSettings(cfg), log)
		if err != nil {
			_ = srv.Shutdown(context.Background())
			svc.close(ctx)
			return err
		}
		defer func() {
			pctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := stopPortal(pctx); err != nil {
				log.Warn().Err(err).Msg("portal shutdown")
			}
		}()
	}

	go housekeeping(ctx, h, cfg.Audit.Retention.D(), log)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	for {
		select {
		case <-hup:
			next := reload(ctx, *cfgPath, cfg, srv, h, log, ops.m)
			ops.reloaded(next, next != cfg)
			cfg = next
		case err := <-errc:
			h.p.Load().close(context.Background())
			return err
		case <-ctx.Done():
			log.Info().Msg("shutting down: finishing requests in flight")
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := srv.Shutdown(sctx)
			h.p.Load().close(sctx)
			cancel()
			<-errc
			if err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			log.Info().Msg("stopped")
			return nil
		}
	}
}

// reload applies a changed config file. A file that does not validate is refused with the same
// errors as config check, and the running config keeps serving.
func reload(ctx context.Context, path string, old *config.Config, srv *radius.Server, h *swapHandler, log zerolog.Logger, obs engine.Observer) *config.Config {
	cfg, err := config.Load(path)
	if err != nil {
		log.Error().Str("config", path).Str("errors", err.Error()).Msg("reload refused; keeping the running configuration")
		return old
	}
	clients, err := radiusClients(cfg.Radius.Clients)
	if err != nil {
		log.Error().Err(err).Msg("reload refused; keeping the running configuration")
		return old
	}
	if cfg.Radius.Listen != old.Radius.Listen || !reflect.DeepEqual(cfg.Store, old.Store) {
		log.Warn().Msg("reload: radius.listen and store changes take effect only after a restart")
		cfg.Radius.Listen, cfg.Store = old.Radius.Listen, old.Store
	}
	rlog := newLogger(cfg.Log, os.Stderr).With().Str("node", cfg.Node).Logger()
	svc, err := buildServices(ctx, cfg, rlog, obs)
	if err != nil {
		log.Error().Err(err).Msg("reload refused; keeping the running configuration")
		return old
	}
	prev := h.p.Swap(svc)
	srv.SetClients(clients)
	// Let requests still using the old engine finish before closing its connections.
	go func() {
		time.Sleep(35 * time.Second)
		prev.close(context.Background())
	}()
	rlog.Info().Int("clients", len(cfg.Radius.Clients)).Msg("configuration reloaded")
	return cfg
}

// extraListeners starts the accounting (UDP) and RadSec (TLS) listeners when configured. The
// returned function closes them.
func extraListeners(cfg *config.Config, srv *radius.Server, errc chan<- error, log zerolog.Logger) (func(), error) {
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	if a := cfg.Radius.AccountingListen; a != "" {
		conn, err := net.ListenPacket("udp", a)
		if err != nil {
			return closeAll, fmt.Errorf("listen accounting %s: %w", a, err)
		}
		log.Info().Str("listen", conn.LocalAddr().String()).Msg("accounting listener")
		go func() { errc <- srv.ServeAccounting(conn) }()
	}
	if rs := cfg.Radius.RadSec; rs.Listen != "" {
		tc, err := radius.TLSConfig(rs.CertFile, rs.KeyFile, rs.CAFile)
		if err != nil {
			closeAll()
			return func() {}, err
		}
		l, err := tls.Listen("tcp", rs.Listen, tc)
		if err != nil {
			closeAll()
			return func() {}, fmt.Errorf("listen radsec %s: %w", rs.Listen, err)
		}
		closers = append(closers, func() { l.Close() })
		log.Info().Str("listen", l.Addr().String()).Msg("radsec listener (RFC 6614)")
		go func() {
			if err := srv.ServeTLS(l); err != nil && !errors.Is(err, radius.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	return closeAll, nil
}

// housekeeping deletes expired single-use keys and counters, and audit rows past the
// retention, once at start and then hourly.
func housekeeping(ctx context.Context, h *swapHandler, retention time.Duration, log zerolog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		st := h.p.Load().st
		now := time.Now()
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		if e, ok := st.(store.Ephemeral); ok {
			if _, err := e.PruneEphemeral(pctx, now); err != nil {
				log.Warn().Err(err).Msg("housekeeping: prune expired keys")
			}
		}
		if retention > 0 {
			if n, err := st.PruneAudit(pctx, now.Add(-retention)); err != nil {
				log.Warn().Err(err).Msg("housekeeping: prune audit rows")
			} else if n > 0 {
				log.Info().Int64("rows", n).Dur("retention", retention).Msg("housekeeping: audit rows past retention deleted")
			}
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
