package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/radmfa/radmfa/engine"
)

const namespace = "radmfa"

// latencyBuckets span a cached reply (well under a millisecond) to an LDAP failover or an SMS
// provider's retries (tens of seconds).
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Options configure New.
type Options struct {
	Version string   // radmfa_build_info{version}
	NAS     []string // configured client names: their per-NAS series start at 0 (see SetNAS)
}

// Metrics holds radmfa's collectors in a registry of its own.
type Metrics struct {
	reg *prometheus.Registry

	requests       *prometheus.CounterVec
	requestLatency *prometheus.HistogramVec
	stageLatency   *prometheus.HistogramVec
	stageErrors    *prometheus.CounterVec
	smsSent        prometheus.Counter
	smsFailed      prometheus.Counter
	lockouts       prometheus.Counter
	failOpen       *prometheus.CounterVec
	reloads        *prometheus.CounterVec
	reloadOK       prometheus.Gauge
	reloadTime     prometheus.Gauge
	up             *prometheus.GaugeVec
}

var _ engine.Observer = (*Metrics)(nil)

// New returns Metrics with the Go runtime and process collectors and radmfa's own.
func New(opts Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace,
		Name: "requests_total", Help: "Answered requests by NAS, result (accept, reject, challenge) and reason."},
		[]string{"nas", "result", "reason"})
	m.requestLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace,
		Name: "request_duration_seconds", Help: "Time from a request's arrival to its answer, by result.",
		Buckets: latencyBuckets}, []string{"result"})
	m.stageLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace,
		Name: "stage_duration_seconds", Help: "Time spent in one step of a request: primary (password check), lookup (directory search), factor (code check), sms (one text sent).",
		Buckets: latencyBuckets}, []string{"stage"})
	m.stageErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace,
		Name: "stage_errors_total", Help: "Steps that failed for an infrastructure reason (directory or upstream unreachable, SMS provider error); users' wrong passwords are not errors."},
		[]string{"stage"})
	m.smsSent = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace,
		Name: "sms_sent_total", Help: "Text messages the SMS provider accepted."})
	m.smsFailed = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace,
		Name: "sms_failed_total", Help: "Text messages that could not be sent (after retries)."})
	m.lockouts = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace,
		Name: "lockouts_total", Help: "Requests refused because the user is locked out by radmfa (reason locked_out)."})
	m.failOpen = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace,
		Name: "failmode_open_total", Help: "Requests let in on the password alone because the store was unreachable and the NAS has failmode: open."},
		[]string{"nas"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace,
		Name: "reloads_total", Help: "Configuration reloads (SIGHUP) by result (success, failure)."}, []string{"result"})
	m.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace,
		Name: "config_reload_success", Help: "1 when the last configuration reload succeeded (or none was tried), 0 when it was refused."})
	m.reloadTime = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace,
		Name: "config_reload_timestamp_seconds", Help: "When the configuration was last loaded successfully (Unix time)."})
	m.up = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace,
		Name: "up", Help: "1 when the dependency answered its last health check, 0 when it did not."}, []string{"dependency"})
	build := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace,
		Name: "build_info", Help: "Always 1; the version label says which radmfa runs.",
		ConstLabels: prometheus.Labels{"version": opts.Version}})
	build.Set(1)

	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.requestLatency, m.stageLatency, m.stageErrors, m.smsSent, m.smsFailed, m.lockouts,
		m.failOpen, m.reloads, m.reloadOK, m.reloadTime, m.up, build)

	// Series that alerts rate() over exist from the start, at 0.
	for _, s := range stages {
		m.stageErrors.WithLabelValues(s)
	}
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	m.reloadOK.Set(1)
	m.reloadTime.Set(float64(time.Now().Unix()))
	m.SetNAS(opts.NAS)
	return m
}

// SetNAS starts the per-NAS series of these client names at 0, so that an alert on their first
// increase fires. Call it again after a reload; names that left the config keep their series
// until restart.
func (m *Metrics) SetNAS(names []string) {
	for _, n := range names {
		m.failOpen.WithLabelValues(n)
	}
}

// Registry is where every radmfa collector is registered; tests and the HTTP handler gather it.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text (or OpenMetrics) format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:            m.reg, // promhttp_metric_handler_errors_total
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 8,
		Timeout:             10 * time.Second,
	})
}
