package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

// flipCheck fails while fail is set and counts its runs.
type flipCheck struct {
	fail atomic.Bool
	runs atomic.Int32
	wait time.Duration
}

func (f *flipCheck) run(ctx context.Context) error {
	f.runs.Add(1)
	if f.wait > 0 {
		select {
		case <-time.After(f.wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.fail.Load() {
		return errors.New("no answer from ldap://dir:389")
	}
	return nil
}

func startServer(t *testing.T, m *Metrics, checks []Check) string {
	t.Helper()
	s := NewServer("127.0.0.1:0", m, checks, zerolog.New(zerolog.NewTestWriter(t)))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return "http://" + s.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestServer(t *testing.T) {
	m := New(Options{Version: "test"})
	ldap, store, sms := &flipCheck{}, &flipCheck{}, &flipCheck{}
	sms.fail.Store(true)
	base := startServer(t, m, []Check{
		{Name: "ldap", Run: ldap.run},
		{Name: "store", Run: store.run},
		{Name: "sms", Run: sms.run, Optional: true, Every: time.Hour},
	})

	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	code, body := get(t, base+"/readyz")
	if code != 200 {
		t.Errorf("/readyz = %d %s, want 200 (a failing optional check does not count)", code, body)
	}
	var r readiness
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("/readyz body: %v\n%s", err, body)
	}
	if r.Status != "ready" || !r.Checks["ldap"].OK || r.Checks["sms"].OK || !r.Checks["sms"].Optional {
		t.Errorf("/readyz body = %+v", r)
	}

	ldap.fail.Store(true)
	time.Sleep(CheckCacheFor + 100*time.Millisecond)
	code, body = get(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"failing": [`) ||
		!strings.Contains(body, `"ldap"`) || !strings.Contains(body, "no answer from ldap://dir:389") {
		t.Errorf("/readyz with LDAP down = %d\n%s", code, body)
	}
	if got := testutil.ToFloat64(m.up.WithLabelValues("ldap")); got != 0 {
		t.Errorf("radmfa_up{dependency=ldap} = %v, want 0", got)
	}
	if got := testutil.ToFloat64(m.up.WithLabelValues("store")); got != 1 {
		t.Errorf("radmfa_up{dependency=store} = %v, want 1", got)
	}
	if runs := sms.runs.Load(); runs != 1 {
		t.Errorf("sms check ran %d times within its Every, want 1", runs)
	}

	code, body = get(t, base+"/metrics")
	if code != 200 || !strings.Contains(body, `radmfa_build_info{version="test"} 1`) ||
		!strings.Contains(body, `radmfa_up{dependency="ldap"} 0`) || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics = %d\n%s", code, body)
	}
	if code, _ := get(t, base+"/"); code != 404 {
		t.Errorf("/ = %d, want 404", code)
	}
}

// A probe storm runs each check once per CheckCacheFor, and a hung dependency answers within
// CheckTimeout.
func TestReadyzCachesAndTimesOut(t *testing.T) {
	m := New(Options{})
	slow := &flipCheck{wait: time.Minute}
	base := startServer(t, m, []Check{{Name: "ldap", Run: slow.run}})

	start := time.Now()
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Go(func() { codes[i], _ = get(t, base+"/readyz") })
	}
	wg.Wait()
	if took := time.Since(start); took > CheckTimeout+time.Second {
		t.Errorf("20 probes of a hung dependency took %v, want about CheckTimeout (%v)", took, CheckTimeout)
	}
	for i, c := range codes {
		if c != http.StatusServiceUnavailable {
			t.Errorf("probe %d: %d, want 503", i, c)
		}
	}
	// The health loop's first run and the probes share results: at most two runs.
	if runs := slow.runs.Load(); runs > 2 {
		t.Errorf("check ran %d times for 20 concurrent probes, want at most 2", runs)
	}
}

func TestStartFailsOnTakenAddress(t *testing.T) {
	m := New(Options{})
	s1 := NewServer("127.0.0.1:0", m, nil, zerolog.Nop())
	if err := s1.Start(); err != nil {
		t.Fatal(err)
	}
	defer s1.Shutdown(context.Background())
	s2 := NewServer(s1.Addr().String(), m, nil, zerolog.Nop())
	if err := s2.Start(); err == nil || !strings.Contains(err.Error(), "metrics: listen") {
		t.Errorf("second Start on %s: %v, want a listen error", s1.Addr(), err)
	}
	if err := s2.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown of a server that never started: %v", err)
	}
}

func TestNotConfiguredCheck(t *testing.T) {
	m := New(Options{})
	var configured atomic.Bool
	base := startServer(t, m, []Check{{Name: "sms", Optional: true, Run: func(context.Context) error {
		if configured.Load() {
			return nil
		}
		return ErrNotConfigured
	}}})
	code, body := get(t, base+"/readyz")
	if code != 200 || strings.Contains(body, "sms") {
		t.Errorf("/readyz = %d\n%s\nwant 200 without sms", code, body)
	}
	if n := testutil.CollectAndCount(m.up); n != 0 {
		t.Errorf("radmfa_up series = %d, want none for a dependency not configured", n)
	}
	configured.Store(true)
	time.Sleep(CheckCacheFor + 100*time.Millisecond)
	if code, body := get(t, base+"/readyz"); code != 200 || !strings.Contains(body, `"sms"`) {
		t.Errorf("/readyz = %d\n%s\nwant sms listed", code, body)
	}
	if got := testutil.ToFloat64(m.up.WithLabelValues("sms")); got != 1 {
		t.Errorf("radmfa_up{dependency=sms} = %v, want 1", got)
	}
}
