package metrics

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrNotConfigured is what a Check returns when its dependency is not configured right now (no
// SMS provider, no directory): it has no radmfa_up series and /readyz does not list it.
var ErrNotConfigured = errors.New("metrics: dependency not configured")

// Defaults for health checks.
const (
	CheckTimeout  = 2 * time.Second  // one check's deadline
	CheckCacheFor = 1 * time.Second  // a result is reused this long, so a probe storm costs one check
	CheckInterval = 15 * time.Second // radmfa_up is refreshed this often without any probe
)

// Check is one dependency the health checker probes.
type Check struct {
	Name string // the dependency label: "ldap", "store", "sms"
	Run  func(ctx context.Context) error
	// Optional checks set radmfa_up but never fail /readyz: an SMS provider outage must not take
	// a node out of rotation while its TOTP users still sign in.
	Optional bool
	// Every is how long a result is reused; default CheckCacheFor. A provider API that costs
	// money or rate-limits deserves minutes.
	Every time.Duration
}

// CheckResult is a check's last outcome.
type CheckResult struct {
	Name     string    `json:"-"`
	Skipped  bool      `json:"-"` // ErrNotConfigured
	OK       bool      `json:"ok"`
	Optional bool      `json:"optional,omitempty"`
	Error    string    `json:"error,omitempty"`
	At       time.Time `json:"checked_at"`
}

// checker runs checks in parallel, each at most once per its Every, and publishes radmfa_up.
type checker struct {
	m      *Metrics
	checks []*checkState
}

type checkState struct {
	Check
	mu   sync.Mutex // held while the check runs: concurrent callers wait for its result
	last CheckResult
}

func newChecker(m *Metrics, checks []Check) *checker {
	c := &checker{m: m}
	for _, ch := range checks {
		if ch.Every <= 0 {
			ch.Every = CheckCacheFor
		}
		c.checks = append(c.checks, &checkState{Check: ch})
	}
	return c
}

// run returns every check's result, running those whose last result is older than Every.
func (c *checker) run(ctx context.Context) []CheckResult {
	out := make([]CheckResult, len(c.checks))
	var wg sync.WaitGroup
	for i, s := range c.checks {
		wg.Go(func() { out[i] = s.result(ctx, c.m) })
	}
	wg.Wait()
	return out
}

func (s *checkState) result(ctx context.Context, m *Metrics) CheckResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.last.At.IsZero() && time.Since(s.last.At) < s.Every {
		return s.last
	}
	// The check's own deadline, not the prober's: a result is shared with every later caller.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CheckTimeout)
	defer cancel()
	err := s.runSafe(cctx)
	r := CheckResult{Name: s.Name, OK: err == nil, Optional: s.Optional, At: time.Now()}
	switch {
	case errors.Is(err, ErrNotConfigured):
		r.OK, r.Skipped = true, true
		m.up.DeleteLabelValues(s.Name)
	case err != nil:
		r.Error = err.Error()
		m.SetUp(s.Name, false)
	default:
		m.SetUp(s.Name, true)
	}
	s.last = r
	return r
}

// runSafe returns the check's error, or ctx's when the check does not honour its deadline.
func (s *checkState) runSafe(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
