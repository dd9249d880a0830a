// Package metrics counts what radmfa does for Prometheus and answers the operations endpoints:
// /metrics, /healthz (the process is alive) and /readyz (its dependencies answer).
//
// Metrics implements engine.Observer and keeps its own registry: nothing is registered in the
// client library's global one. Every label has a bounded set of values: result and reason are
// closed sets (anything unknown becomes "other"), nas is a configured client name, url a
// configured LDAP URL, stage and dependency fixed names.
package metrics
