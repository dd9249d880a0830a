package store

import (
	"strings"
	"time"
)

// dayNanos is one day in the stored time unit; AuditSummary buckets by integer division, so
// days are UTC days.
const dayNanos = int64(24 * time.Hour)

// auditWhere builds the WHERE clause of an audit query from f; arg returns the placeholder
// for the n-th argument ("?" or "$n").
func auditWhere(f AuditFilter, arg func(n int) string) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+" "+arg(len(args)))
	}
	if f.Username != "" {
		add("username =", f.Username)
	}
	if !f.Since.IsZero() {
		add("time >=", toNanos(f.Since))
	}
	if f.Result != "" {
		add("result =", f.Result)
	}
	if f.Kind != "" {
		add("kind =", f.Kind)
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// auditReportQuery is QueryAudit's query with the fraud column, newest first.
func auditReportQuery(f AuditFilter, arg func(n int) string) (string, []any) {
	where, args := auditWhere(f, arg)
	q := `SELECT ` + auditColumns + `, fraud FROM audit` + where + ` ORDER BY time DESC, id DESC`
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += " LIMIT " + arg(len(args))
	}
	return q, args
}

func scanAuditReport(sc scanner) (AuditEvent, error) {
	var ev AuditEvent
	var t int64
	err := sc.Scan(&ev.ID, &t, &ev.Node, &ev.Kind, &ev.Username, &ev.NAS, &ev.ClientIP,
		&ev.CallingStationID, &ev.Factor, &ev.Result, &ev.Reason, &ev.Detail, &ev.Fraud)
	ev.Time = fromNanos(t)
	return ev, err
}

// summaryQuery groups sign-ins by UTC day, user, result and reason; summaryFolder folds its
// rows (ordered by day and user) into one SummaryRow per day and user.
const summaryQuery = `
	SELECT time / %d AS day, username, result, reason, COUNT(*), SUM(%s)
	FROM audit WHERE kind = 'auth' AND time >= %s
	GROUP BY day, username, result, reason
	ORDER BY day, username, result, reason`

type summaryFolder struct{ rows []SummaryRow }

func (f *summaryFolder) add(day int64, username, result, reason string, count, fraud int) {
	n := len(f.rows)
	at := time.Unix(0, day*dayNanos).UTC()
	if n == 0 || !f.rows[n-1].Day.Equal(at) || f.rows[n-1].Username != username {
		f.rows = append(f.rows, SummaryRow{Day: at, Username: username, Reasons: map[string]int{}})
		n++
	}
	r := &f.rows[n-1]
	switch result {
	case "accept":
		r.Accepts += count
	case "reject":
		r.Rejects += count
	case "challenge":
		r.Challenges += count
	}
	if reason != "" {
		r.Reasons[reason] += count
	}
	r.Fraud += fraud
}
