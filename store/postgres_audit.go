package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Audit appends an event. A zero Time is stamped with the current time.
func (p *Postgres) Audit(ctx context.Context, ev AuditEvent) error {
	if ev.Time.IsZero() {
		ev.Time = p.now()
	}
	ctx, cancel := callCtx(ctx)
	defer cancel()
	_, err := p.pool.Exec(ctx, `
		INSERT INTO audit (time, node, kind, username, nas, client_ip, calling_station_id, factor, result, reason, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		toNanos(ev.Time), ev.Node, ev.Kind, ev.Username, ev.NAS, ev.ClientIP, ev.CallingStationID,
		ev.Factor, ev.Result, ev.Reason, ev.Detail)
	if err != nil {
		return fmt.Errorf("store: audit: %w", unavailable(err))
	}
	return nil
}

const auditColumns = `id, time, node, kind, username, nas, client_ip, calling_station_id, factor, result, reason, detail`

// QueryAudit returns events matching f, newest first (ties in time broken by id).
func (p *Postgres) QueryAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, cond+" $"+strconv.Itoa(len(args)))
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
	q := `SELECT ` + auditColumns + ` FROM audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY time DESC, id DESC"
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += " LIMIT $" + strconv.Itoa(len(args))
	}

	ctx, cancel := callCtx(ctx)
	defer cancel()
	rows, err := p.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: query audit: %w", unavailable(err))
	}
	defer rows.Close()
	var evs []AuditEvent
	for rows.Next() {
		ev, err := scanAuditEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("store: query audit: %w", unavailable(err))
		}
		evs = append(evs, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: query audit: %w", unavailable(err))
	}
	return evs, nil
}

// scanAuditEvent reads one row of auditColumns.
func scanAuditEvent(sc scanner) (AuditEvent, error) {
	var ev AuditEvent
	var t int64
	err := sc.Scan(&ev.ID, &t, &ev.Node, &ev.Kind, &ev.Username, &ev.NAS, &ev.ClientIP,
		&ev.CallingStationID, &ev.Factor, &ev.Result, &ev.Reason, &ev.Detail)
	ev.Time = fromNanos(t)
	return ev, err
}

// PruneAudit deletes events older than before and returns how many.
func (p *Postgres) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	tag, err := p.pool.Exec(ctx, `DELETE FROM audit WHERE time < $1`, toNanos(before))
	if err != nil {
		return 0, fmt.Errorf("store: prune audit: %w", unavailable(err))
	}
	return tag.RowsAffected(), nil
}
