package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Server is the operations HTTP listener: /metrics, /healthz and /readyz.
type Server struct {
	addr    string
	m       *Metrics
	checker *checker
	log     zerolog.Logger
	http    *http.Server

	ln     net.Listener
	cancel context.CancelFunc // stops the background health loop
	wg     sync.WaitGroup
}

// NewServer returns a server for addr (host:port) that serves m and runs checks for /readyz;
// Start opens the listener.
func NewServer(addr string, m *Metrics, checks []Check, log zerolog.Logger) *Server {
	s := &Server{addr: addr, m: m, checker: newChecker(m, checks), log: log}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          stdlog.New(log, "metrics: ", 0),
	}
	return s
}

// Start listens on the address (an error when it is taken), then serves and refreshes the
// radmfa_up gauges in the background until Shutdown.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("metrics: listen %s: %w", s.addr, err)
	}
	s.ln = ln
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Go(func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Str("listen", s.addr).Msg("metrics listener stopped")
		}
	})
	s.wg.Go(func() { s.healthLoop(ctx) })
	return nil
}

// Addr is the bound address (useful with port 0); nil before Start.
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Shutdown stops the listener and the health loop, letting requests in flight finish within ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	err := s.http.Shutdown(ctx)
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	if err != nil {
		return fmt.Errorf("metrics: shutdown: %w", err)
	}
	return nil
}

func (s *Server) healthLoop(ctx context.Context) {
	t := time.NewTicker(CheckInterval)
	defer t.Stop()
	for {
		s.checker.run(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// healthz says the process is alive and serving HTTP; it checks nothing else, so an
// orchestrator does not restart radmfa because the directory is down.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// readiness is the /readyz body.
type readiness struct {
	Status  string                 `json:"status"` // "ready" or "not ready"
	Failing []string               `json:"failing,omitempty"`
	Checks  map[string]CheckResult `json:"checks"`
}

// readyz answers 200 when every required dependency answers, else 503 naming those that do not.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	body := readiness{Status: "ready", Checks: map[string]CheckResult{}}
	for _, res := range s.checker.run(r.Context()) {
		if res.Skipped {
			continue
		}
		body.Checks[res.Name] = res
		if !res.OK && !res.Optional {
			body.Failing = append(body.Failing, res.Name)
		}
	}
	code := http.StatusOK
	if len(body.Failing) > 0 {
		body.Status, code = "not ready", http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(body)
}
