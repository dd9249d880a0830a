package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/store"
)

// adminRows caps the audit table; narrow the filter to see further back.
const adminRows = 200

// summaryDays is how far back the sign-in summary goes.
const summaryDays = 7

type option struct {
	Value, Label string
	Selected     bool
}

type adminView struct {
	User      string
	Results   []option
	Sinces    []option
	Events    []store.AuditEvent
	Truncated bool
	Max       int
	Alerts    []store.AuditEvent
	Blocked   []store.Block
	Summary   []summaryLine
	Days      int
}

type summaryLine struct {
	store.SummaryRow
	Top string // reasons, most frequent first
}

var sinceChoices = []struct {
	value, label string
	d            time.Duration
}{
	{"1h", "Last hour", time.Hour},
	{"24h", "Last 24 hours", 24 * time.Hour},
	{"7d", "Last 7 days", 7 * 24 * time.Hour},
	{"30d", "Last 30 days", 30 * 24 * time.Hour},
	{"all", "All time", 0},
}

var resultChoices = []struct{ value, label string }{
	{"", "Any result"}, {"accept", "Accepted"}, {"reject", "Rejected"}, {"challenge", "Challenged"},
}

// adminPage shows alerts, blocked users, the filtered audit trail and the sign-in summary.
func (p *Portal) adminPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	q := r.URL.Query()
	now := p.opts.Now()
	f := store.AuditFilter{Username: strings.TrimSpace(q.Get("user")), Limit: adminRows + 1}
	v := adminView{User: f.Username, Max: adminRows, Days: summaryDays}
	since := q.Get("since")
	if since == "" {
		since = "7d"
	}
	for _, c := range sinceChoices {
		sel := c.value == since
		if sel && c.d > 0 {
			f.Since = now.Add(-c.d)
		}
		v.Sinces = append(v.Sinces, option{c.value, c.label, sel})
	}
	for _, c := range resultChoices {
		sel := c.value == q.Get("result")
		if sel {
			f.Result = c.value
		}
		v.Results = append(v.Results, option{c.value, c.label, sel})
	}
	var err error
	if v.Events, err = p.opts.Store.AuditReport(ctx, f); err != nil {
		p.unavailable(w, r, s, "audit report", err)
		return
	}
	if len(v.Events) > adminRows {
		v.Events, v.Truncated = v.Events[:adminRows], true
	}
	if v.Alerts, err = p.fraudAlerts(ctx, now); err != nil {
		p.unavailable(w, r, s, "fraud alerts", err)
		return
	}
	if v.Blocked, err = p.opts.Store.ListBlocked(ctx); err != nil {
		p.unavailable(w, r, s, "blocked users", err)
		return
	}
	rows, err := p.opts.Store.AuditSummary(ctx, now.UTC().Truncate(24*time.Hour).AddDate(0, 0, 1-summaryDays))
	if err != nil {
		p.unavailable(w, r, s, "audit summary", err)
		return
	}
	for i := len(rows) - 1; i >= 0; i-- { // newest day first
		v.Summary = append(v.Summary, summaryLine{SummaryRow: rows[i], Top: topReasons(rows[i].Reasons)})
	}
	p.render(w, r, s, http.StatusOK, "admin", view{Title: "Administration", Nav: "admin", Page: v})
}

// Fraud alerts: the last alertDays of reports, at most maxAlerts, newest first.
const (
	alertDays = 30
	maxAlerts = 20
	// alertScan bounds how many refused VPN sign-ins are read to find fraud codes typed at
	// the VPN prompt (the audit filter has no reason field).
	alertScan = 2000
)

// fraudAlerts lists the sign-ins users reported as not theirs: "This wasn't me" in the portal,
// and the fraud code typed at the VPN prompt (reason fraud_reported).
func (p *Portal) fraudAlerts(ctx context.Context, now time.Time) ([]store.AuditEvent, error) {
	since := now.Add(-alertDays * 24 * time.Hour)
	alerts, err := p.opts.Store.AuditReport(ctx, store.AuditFilter{Kind: kindPortal, Result: resultFraudReported,
		Since: since, Limit: maxAlerts})
	if err != nil {
		return nil, err
	}
	rejects, err := p.opts.Store.AuditReport(ctx, store.AuditFilter{Kind: "auth", Result: "reject", Since: since, Limit: alertScan})
	if err != nil {
		return nil, err
	}
	for _, ev := range rejects {
		if ev.Reason == resultFraudReported {
			ev.Detail = fmt.Sprintf("typed the fraud code at the VPN prompt (%s from %s)", ev.NAS, orDash(ev.CallingStationID))
			alerts = append(alerts, ev)
		}
	}
	sort.SliceStable(alerts, func(i, j int) bool { return alerts[i].Time.After(alerts[j].Time) })
	return alerts[:min(len(alerts), maxAlerts)], nil
}

// topReasons lists reasons by count, most frequent first: "wrong_code 3, totp 1".
func topReasons(m map[string]int) string {
	type rc struct {
		r string
		n int
	}
	var l []rc
	for r, n := range m {
		l = append(l, rc{r, n})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].n > l[j].n || (l[i].n == l[j].n && l[i].r < l[j].r) })
	parts := make([]string, len(l))
	for i, x := range l {
		parts[i] = fmt.Sprintf("%s %d", x.r, x.n)
	}
	return strings.Join(parts, ", ")
}

// adminUnblock lifts a fraud block.
func (p *Portal) adminUnblock(w http.ResponseWriter, r *http.Request, s *session) {
	user := strings.TrimSpace(r.PostForm.Get("user"))
	if !validUsername(user) {
		s.setFlash("Enter a username.", true)
		redirect(w, r, "/admin")
		return
	}
	if err := p.opts.Store.SetBlocked(r.Context(), user, false, "", p.opts.Now()); err != nil {
		p.unavailable(w, r, s, "unblock", err)
		return
	}
	p.event(r, zerolog.InfoLevel, store.AuditEvent{Kind: kindAdmin, Username: user, Result: "unblock",
		Detail: "by " + s.user + " in the portal"})
	s.setFlash(user+" is unblocked.", false)
	redirect(w, r, "/admin")
}

// adminReset makes the user register again: their factors, app passwords and remembered
// devices are deleted (lockouts and blocks stay; unblock is separate).
func (p *Portal) adminReset(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	user := strings.TrimSpace(r.PostForm.Get("user"))
	if !validUsername(user) {
		s.setFlash("Enter a username.", true)
		redirect(w, r, "/admin")
		return
	}
	err := p.opts.Store.DeleteUser(ctx, user)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		p.unavailable(w, r, s, "reset: delete user", err)
		return
	}
	apps, err := p.opts.Store.DeleteAppPasswords(ctx, user)
	if err != nil {
		p.unavailable(w, r, s, "reset: app passwords", err)
		return
	}
	devs, err := p.opts.Store.ForgetDevices(ctx, user)
	if err != nil {
		p.unavailable(w, r, s, "reset: devices", err)
		return
	}
	detail := fmt.Sprintf("by %s in the portal: factors removed, %d app passwords deleted, %d devices forgotten", s.user, apps, devs)
	p.event(r, zerolog.WarnLevel, store.AuditEvent{Kind: kindAdmin, Username: user, Result: "reset", Detail: detail})
	s.setFlash(fmt.Sprintf("%s is reset: second factors removed, %d app passwords deleted, %d devices forgotten. "+
		"They register again at their next sign-in.", user, apps, devs), false)
	redirect(w, r, "/admin")
}
