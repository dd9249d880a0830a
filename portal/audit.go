package portal

import (
	"context"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/store"
)

// Audit kinds and results the portal writes. Sign-ins to the portal are kind "portal", not
// "auth": the sign-in report (AuditSummary) counts VPN sign-ins only.
const (
	kindPortal = "portal"
	kindAdmin  = "admin"

	resultFraudReported = "fraud_reported"
)

// auditTimeout bounds an audit write that outlives the request (a client that went away).
const auditTimeout = 5 * time.Second

// event records one portal action in the audit trail and the log. A failed audit write is
// logged, not shown to the user: the action itself already happened.
func (p *Portal) event(r *http.Request, lvl zerolog.Level, ev store.AuditEvent) {
	ev.Time = p.opts.Now()
	ev.Node = p.opts.Node
	ev.ClientIP = clientIP(r)
	if ev.Kind == "" {
		ev.Kind = kindPortal
	}
	l := p.log.WithLevel(lvl).Str("kind", ev.Kind).Str("user", ev.Username).Str("client_ip", ev.ClientIP).
		Str("result", ev.Result)
	if ev.Reason != "" {
		l = l.Str("reason", ev.Reason)
	}
	if ev.Factor != "" {
		l = l.Str("factor", ev.Factor)
	}
	if ev.Detail != "" {
		l = l.Str("detail", ev.Detail)
	}
	l.Msg("portal")
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), auditTimeout)
	defer cancel()
	if err := p.opts.Store.Audit(ctx, ev); err != nil {
		p.log.Error().Err(err).Str("user", ev.Username).Str("result", ev.Result).Msg("audit write failed")
	}
}
