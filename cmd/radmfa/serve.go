package main

import (
	"context"
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
	"github.com/radmfa/radmfa/radius"
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

	svc, err := buildServices(ctx, cfg, log)
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

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(conn) }()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	for {
		select {
		case <-hup:
			cfg = reload(ctx, *cfgPath, cfg, srv, h, log)
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
func reload(ctx context.Context, path string, old *config.Config, srv *radius.Server, h *swapHandler, log zerolog.Logger) *config.Config {
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
	svc, err := buildServices(ctx, cfg, rlog)
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
