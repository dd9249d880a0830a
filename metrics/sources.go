package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/radius"
)

// RADIUSStats is what the RADIUS counters are read from: *radius.Server.
type RADIUSStats interface{ Stats() radius.Stats }

// WatchRADIUS exports the server's packet counters, read at each scrape. Call it once.
func (m *Metrics) WatchRADIUS(src RADIUSStats) error {
	counters := []struct {
		name, help string
		get        func(radius.Stats) uint64
	}{
		{"radius_packets_received_total", "UDP datagrams and RadSec packets read.", func(s radius.Stats) uint64 { return s.Received }},
		{"radius_packets_dropped_total", "Packets dropped without an answer (unknown client, bad Message-Authenticator, malformed, overload); the log says why.", func(s radius.Stats) uint64 { return s.Dropped }},
		{"radius_duplicates_total", "Retransmitted requests answered from the reply cache (or ignored while the first is in flight).", func(s radius.Stats) uint64 { return s.Duplicates }},
		{"radius_replies_total", "Replies sent.", func(s radius.Stats) uint64 { return s.Replied }},
		{"radius_panics_total", "Requests whose handler panicked (answered with a reject); any is a bug.", func(s radius.Stats) uint64 { return s.Panics }},
	}
	for _, c := range counters {
		get := c.get
		f := prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: c.name, Help: c.help},
			func() float64 { return float64(get(src.Stats())) })
		if err := m.reg.Register(f); err != nil {
			return fmt.Errorf("metrics: register %s: %w", c.name, err)
		}
	}
	return nil
}

// WatchLDAP exports the connection pools of the directory that src returns at each scrape (the
// current one: a reload builds a new directory, whose error counts start again at 0). src may
// return nil when no directory is configured. Call it once.
func (m *Metrics) WatchLDAP(src func() []ldapauth.PoolStats) error {
	if err := m.reg.Register(&ldapCollector{src: src}); err != nil {
		return fmt.Errorf("metrics: register LDAP pool collector: %w", err)
	}
	return nil
}

var (
	ldapConns = prometheus.NewDesc(namespace+"_ldap_connections",
		"LDAP connections per URL: in_use (handed to a request or being dialled) or idle.", []string{"url", "state"}, nil)
	ldapSize = prometheus.NewDesc(namespace+"_ldap_pool_size",
		"Most LDAP connections open at once per URL (ldap.pool_size).", []string{"url"}, nil)
	ldapErrors = prometheus.NewDesc(namespace+"_ldap_errors_total",
		"Times an LDAP URL failed a request or a health check (network, timeout, service bind); resets on reload.", []string{"url"}, nil)
)

// ldapCollector reads ldapauth pool statistics at scrape time.
type ldapCollector struct{ src func() []ldapauth.PoolStats }

func (c *ldapCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- ldapConns
	ch <- ldapSize
	ch <- ldapErrors
}

func (c *ldapCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.src() {
		ch <- prometheus.MustNewConstMetric(ldapConns, prometheus.GaugeValue, float64(s.InUse), s.URL, "in_use")
		ch <- prometheus.MustNewConstMetric(ldapConns, prometheus.GaugeValue, float64(s.Idle), s.URL, "idle")
		ch <- prometheus.MustNewConstMetric(ldapSize, prometheus.GaugeValue, float64(s.Size), s.URL)
		ch <- prometheus.MustNewConstMetric(ldapErrors, prometheus.CounterValue, float64(s.Errors), s.URL)
	}
}
