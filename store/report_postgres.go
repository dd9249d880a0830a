package store

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// AuditReport returns the events matching f with their Fraud flag, newest first.
func (p *Postgres) AuditReport(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	q, args := auditReportQuery(f, func(n int) string { return "$" + strconv.Itoa(n) })
	ctx, cancel := callCtx(ctx)
	defer cancel()
	rows, err := p.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: audit report: %w", unavailable(err))
	}
	defer rows.Close()
	var evs []AuditEvent
	for rows.Next() {
		ev, err := scanAuditReport(rows)
		if err != nil {
			return nil, fmt.Errorf("store: audit report: %w", unavailable(err))
		}
		evs = append(evs, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: audit report: %w", unavailable(err))
	}
	return evs, nil
}

// AuditSummary counts sign-ins per user per UTC day since since.
func (p *Postgres) AuditSummary(ctx context.Context, since time.Time) ([]SummaryRow, error) {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	rows, err := p.pool.Query(ctx, fmt.Sprintf(summaryQuery, dayNanos, "fraud::integer", "$1"), toNanos(since))
	if err != nil {
		return nil, fmt.Errorf("store: audit summary: %w", unavailable(err))
	}
	defer rows.Close()
	var f summaryFolder
	for rows.Next() {
		var day, count, fraud int64
		var username, result, reason string
		if err := rows.Scan(&day, &username, &result, &reason, &count, &fraud); err != nil {
			return nil, fmt.Errorf("store: audit summary: %w", unavailable(err))
		}
		f.add(day, username, result, reason, int(count), int(fraud))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: audit summary: %w", unavailable(err))
	}
	return f.rows, nil
}
