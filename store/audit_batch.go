package store

import (
	"context"
	"fmt"
)

// AuditBatcher appends many audit events in one transaction: one commit instead of one per
// sign-in, which is most of what an audit row costs.
type AuditBatcher interface {
	AuditBatch(ctx context.Context, evs []AuditEvent) error
}

var (
	_ AuditBatcher = (*SQLite)(nil)
	_ AuditBatcher = (*Postgres)(nil)
)

const auditInsert = `INSERT INTO audit (time, node, kind, username, nas, client_ip, calling_station_id, factor, result, reason, detail)`

// AuditBatch appends evs in order, all or nothing.
func (s *SQLite) AuditBatch(ctx context.Context, evs []AuditEvent) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: audit batch: %w", unavailable(err))
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, auditInsert+` VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("store: audit batch: %w", unavailable(err))
	}
	defer stmt.Close()
	for _, ev := range evs {
		if ev.Time.IsZero() {
			ev.Time = s.now()
		}
		if _, err := stmt.ExecContext(ctx, toNanos(ev.Time), ev.Node, ev.Kind, ev.Username, ev.NAS, ev.ClientIP,
			ev.CallingStationID, ev.Factor, ev.Result, ev.Reason, ev.Detail); err != nil {
			return fmt.Errorf("store: audit batch: %w", unavailable(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: audit batch: %w", unavailable(err))
	}
	return nil
}

// AuditBatch appends evs in order, all or nothing, in one round trip.
func (p *Postgres) AuditBatch(ctx context.Context, evs []AuditEvent) error {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: audit batch: %w", unavailable(err))
	}
	defer tx.Rollback(ctx)
	for _, ev := range evs {
		if ev.Time.IsZero() {
			ev.Time = p.now()
		}
		if _, err := tx.Exec(ctx, auditInsert+` VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			toNanos(ev.Time), ev.Node, ev.Kind, ev.Username, ev.NAS, ev.ClientIP,
			ev.CallingStationID, ev.Factor, ev.Result, ev.Reason, ev.Detail); err != nil {
			return fmt.Errorf("store: audit batch: %w", unavailable(err))
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: audit batch: %w", unavailable(err))
	}
	return nil
}
