package metrics

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/radmfa/radmfa/engine"
	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/radius"
)

func TestDecision(t *testing.T) {
	m := New(Options{Version: "1.2.3", NAS: []string{"vpn", "ssh"}})
	m.Decision("vpn", engine.ResultChallenge, engine.ReasonChallenge, 3*time.Millisecond)
	m.Decision("vpn", engine.ResultAccept, engine.ReasonMFA, 40*time.Millisecond)
	m.Decision("vpn", engine.ResultReject, engine.ReasonLockedOut, time.Millisecond)
	m.Decision("ssh", engine.ResultAccept, engine.ReasonFailOpen, time.Millisecond)
	m.Decision("ssh", "maybe", "a reason nobody declared", time.Millisecond)

	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"challenge", testutil.ToFloat64(m.requests.WithLabelValues("vpn", "challenge", "challenge_sent")), 1},
		{"accept", testutil.ToFloat64(m.requests.WithLabelValues("vpn", "accept", "mfa_ok")), 1},
		{"unknown result and reason become other", testutil.ToFloat64(m.requests.WithLabelValues("ssh", "other", "other")), 1},
		{"lockouts", testutil.ToFloat64(m.lockouts), 1},
		{"failmode open on ssh", testutil.ToFloat64(m.failOpen.WithLabelValues("ssh")), 1},
		{"failmode open on vpn", testutil.ToFloat64(m.failOpen.WithLabelValues("vpn")), 0},
		{"request series", float64(testutil.CollectAndCount(m.requests)), 5},
		{"failmode series start at 0 for configured NAS", float64(testutil.CollectAndCount(m.failOpen)), 2},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if n := testutil.CollectAndCount(m.requestLatency); n != 4 {
		t.Errorf("latency series = %d, want one per result seen (4)", n)
	}
}

func TestStage(t *testing.T) {
	unavailable := fmt.Errorf("%w: ldap://x: dial: refused", ldapauth.ErrUnavailable)
	tests := []struct {
		name       string
		stage      string
		err        error
		wantErrors float64
	}{
		{"ok", "primary", nil, 0},
		{"wrong password is not an error", "primary", fmt.Errorf("%w: uid=a", ldapauth.ErrInvalidCredentials), 0},
		{"unknown user is not an error", "lookup", ldapauth.ErrUserNotFound, 0},
		{"AD condition is not an error", "primary", ldapauth.ErrAccountDisabled, 0},
		{"directory down", "primary", unavailable, 1},
		{"directory down wrapping a user error", "lookup", fmt.Errorf("%w: %w", unavailable, ldapauth.ErrUserNotFound), 1},
		{"unexpected error", "factor", errors.New("boom"), 1},
		{"sms failure", "sms", errors.New("provider said no"), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(Options{})
			m.Stage(tt.stage, 5*time.Millisecond, tt.err)
			if got := testutil.ToFloat64(m.stageErrors.WithLabelValues(tt.stage)); got != tt.wantErrors {
				t.Errorf("stage errors = %v, want %v", got, tt.wantErrors)
			}
			if n := testutil.CollectAndCount(m.stageLatency); n != 1 {
				t.Errorf("stage latency series = %d, want 1", n)
			}
		})
	}

	m := New(Options{})
	m.Stage("sms", time.Second, nil)
	m.Stage("sms", time.Second, nil)
	m.Stage("sms", time.Second, errors.New("no"))
	m.Stage("teleport", time.Second, nil)
	if s, f := testutil.ToFloat64(m.smsSent), testutil.ToFloat64(m.smsFailed); s != 2 || f != 1 {
		t.Errorf("sms sent, failed = %v, %v, want 2, 1", s, f)
	}
	if n := testutil.CollectAndCount(m.stageErrors); n != len(stages) {
		t.Errorf("stage error series = %d, want the %d stages at 0 from the start, no others", n, len(stages))
	}
	if got := testutil.ToFloat64(m.stageErrors.WithLabelValues("other")); got != 0 {
		t.Errorf("other stage errors = %v", got)
	}
}

func TestReload(t *testing.T) {
	m := New(Options{})
	if got := testutil.ToFloat64(m.reloadOK); got != 1 {
		t.Fatalf("config_reload_success before any reload = %v, want 1", got)
	}
	m.Reload(false)
	if got := testutil.ToFloat64(m.reloadOK); got != 0 {
		t.Errorf("after a refused reload: %v, want 0", got)
	}
	m.Reload(true)
	if got := testutil.ToFloat64(m.reloadOK); got != 1 {
		t.Errorf("after a good reload: %v, want 1", got)
	}
	if s, f := testutil.ToFloat64(m.reloads.WithLabelValues("success")), testutil.ToFloat64(m.reloads.WithLabelValues("failure")); s != 1 || f != 1 {
		t.Errorf("reloads success, failure = %v, %v, want 1, 1", s, f)
	}
}

type fakeRADIUS struct{ s radius.Stats }

func (f *fakeRADIUS) Stats() radius.Stats { return f.s }

func TestSources(t *testing.T) {
	m := New(Options{Version: "v9"})
	src := &fakeRADIUS{radius.Stats{Received: 10, Dropped: 2, Duplicates: 1, Replied: 7, Panics: 0}}
	if err := m.WatchRADIUS(src); err != nil {
		t.Fatal(err)
	}
	if err := m.WatchRADIUS(src); err == nil {
		t.Error("second WatchRADIUS: no error")
	}
	pools := []ldapauth.PoolStats{{URL: "ldap://a:389", Size: 8, InUse: 3, Idle: 2, Errors: 4}}
	if err := m.WatchLDAP(func() []ldapauth.PoolStats { return pools }); err != nil {
		t.Fatal(err)
	}
	src.s.Received = 11 // read at scrape time
	want := `
# HELP radmfa_build_info Always 1; the version label says which radmfa runs.
# TYPE radmfa_build_info gauge
radmfa_build_info{version="v9"} 1
# HELP radmfa_ldap_connections LDAP connections per URL: in_use (handed to a request or being dialled) or idle.
# TYPE radmfa_ldap_connections gauge
radmfa_ldap_connections{state="idle",url="ldap://a:389"} 2
radmfa_ldap_connections{state="in_use",url="ldap://a:389"} 3
# HELP radmfa_ldap_errors_total Times an LDAP URL failed a request or a health check (network, timeout, service bind); resets on reload.
# TYPE radmfa_ldap_errors_total counter
radmfa_ldap_errors_total{url="ldap://a:389"} 4
# HELP radmfa_ldap_pool_size Most LDAP connections open at once per URL (ldap.pool_size).
# TYPE radmfa_ldap_pool_size gauge
radmfa_ldap_pool_size{url="ldap://a:389"} 8
# HELP radmfa_radius_packets_dropped_total Packets dropped without an answer (unknown client, bad Message-Authenticator, malformed, overload); the log says why.
# TYPE radmfa_radius_packets_dropped_total counter
radmfa_radius_packets_dropped_total 2
# HELP radmfa_radius_packets_received_total UDP datagrams and RadSec packets read.
# TYPE radmfa_radius_packets_received_total counter
radmfa_radius_packets_received_total 11
# HELP radmfa_radius_panics_total Requests whose handler panicked (answered with a reject); any is a bug.
# TYPE radmfa_radius_panics_total counter
radmfa_radius_panics_total 0
`
	names := []string{"radmfa_build_info", "radmfa_ldap_connections", "radmfa_ldap_errors_total", "radmfa_ldap_pool_size",
		"radmfa_radius_packets_dropped_total", "radmfa_radius_packets_received_total", "radmfa_radius_panics_total"}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}

	pools = nil // no directory configured after a reload
	if n, err := testutil.GatherAndCount(m.Registry(), "radmfa_ldap_connections"); err != nil || n != 0 {
		t.Errorf("LDAP series without a directory = %d, %v; want 0", n, err)
	}
}

// The names, units and help texts follow Prometheus conventions.
func TestLint(t *testing.T) {
	m := New(Options{Version: "v"})
	_ = m.WatchRADIUS(&fakeRADIUS{})
	_ = m.WatchLDAP(func() []ldapauth.PoolStats { return []ldapauth.PoolStats{{URL: "ldap://a"}} })
	m.Decision("vpn", "accept", "mfa_ok", time.Millisecond)
	m.Stage("primary", time.Millisecond, nil)
	m.SetUp("ldap", true)
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "radmfa_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}
