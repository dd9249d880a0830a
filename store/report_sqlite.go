package store

import (
	"context"
	"fmt"
	"time"
)

// AuditReport returns the events matching f with their Fraud flag, newest first.
func (s *SQLite) AuditReport(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	q, args := auditReportQuery(f, func(int) string { return "?" })
	rows, err := s.r.QueryContext(ctx, q, args...)
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
func (s *SQLite) AuditSummary(ctx context.Context, since time.Time) ([]SummaryRow, error) {
	rows, err := s.r.QueryContext(ctx, fmt.Sprintf(summaryQuery, dayNanos, "fraud", "?"), toNanos(since))
	if err != nil {
		return nil, fmt.Errorf("store: audit summary: %w", unavailable(err))
	}
	defer rows.Close()
	var f summaryFolder
	for rows.Next() {
		var day int64
		var username, result, reason string
		var count, fraud int
		if err := rows.Scan(&day, &username, &result, &reason, &count, &fraud); err != nil {
			return nil, fmt.Errorf("store: audit summary: %w", unavailable(err))
		}
		f.add(day, username, result, reason, count, fraud)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: audit summary: %w", unavailable(err))
	}
	return f.rows, nil
}
