package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Audit appends an event. A zero Time is stamped with the current time.
func (s *SQLite) Audit(ctx context.Context, ev AuditEvent) error {
	if ev.Time.IsZero() {
		ev.Time = s.now()
	}
	_, err := s.w.ExecContext(ctx, `
		INSERT INTO audit (time, node, kind, username, nas, client_ip, calling_station_id, factor, result, reason, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		toNanos(ev.Time), ev.Node, ev.Kind, ev.Username, ev.NAS, ev.ClientIP, ev.CallingStationID,
		ev.Factor, ev.Result, ev.Reason, ev.Detail)
	if err != nil {
		return fmt.Errorf("store: audit: %w", unavailable(err))
	}
	return nil
}

// QueryAudit returns events matching f, newest first (ties in time broken by insertion order).
func (s *SQLite) QueryAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	var where []string
	var args []any
	if f.Username != "" {
		where, args = append(where, "username = ?"), append(args, f.Username)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "time >= ?"), append(args, toNanos(f.Since))
	}
	if f.Result != "" {
		where, args = append(where, "result = ?"), append(args, f.Result)
	}
	if f.Kind != "" {
		where, args = append(where, "kind = ?"), append(args, f.Kind)
	}
	q := `SELECT id, time, node, kind, username, nas, client_ip, calling_station_id, factor, result, reason, detail
		FROM audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY time DESC, id DESC"
	if f.Limit > 0 {
		q, args = q+" LIMIT ?", append(args, f.Limit)
	}

	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: query audit: %w", unavailable(err))
	}
	defer rows.Close()
	var evs []AuditEvent
	for rows.Next() {
		var ev AuditEvent
		var t int64
		if err := rows.Scan(&ev.ID, &t, &ev.Node, &ev.Kind, &ev.Username, &ev.NAS, &ev.ClientIP,
			&ev.CallingStationID, &ev.Factor, &ev.Result, &ev.Reason, &ev.Detail); err != nil {
			return nil, fmt.Errorf("store: query audit: %w", unavailable(err))
		}
		ev.Time = fromNanos(t)
		evs = append(evs, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: query audit: %w", unavailable(err))
	}
	return evs, nil
}

// PruneAudit deletes events older than before and returns how many.
func (s *SQLite) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.pruneChunked(ctx, `DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE time < ? LIMIT ?)`, toNanos(before))
	if err != nil {
		return n, fmt.Errorf("store: prune audit: %w", err)
	}
	return n, nil
}

// pruneChunk bounds one pruning statement: sign-ins read their Account on the write connection
// (see SQLite.Account), so a delete of a whole day's audit rows in one statement would hold
// them up for its duration.
const pruneChunk = 5000

// pruneChunked runs query (whose last two arguments are the bound and the chunk size) until a
// run deletes fewer than pruneChunk rows, and returns the total.
func (s *SQLite) pruneChunked(ctx context.Context, query string, bound int64) (int64, error) {
	var total int64
	for {
		res, err := s.w.ExecContext(ctx, query, bound, pruneChunk)
		if err != nil {
			return total, unavailable(err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, unavailable(err)
		}
		total += n
		if n < pruneChunk {
			return total, nil
		}
	}
}
