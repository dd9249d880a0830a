package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// snapshot is a read-only transaction that sees one consistent state of every table.
func snapshot() pgx.TxOptions {
	return pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
}

// ExportUsers implements Exporter from one REPEATABLE READ snapshot. It takes no default
// timeout: a large store may take longer than a single call does.
func (p *Postgres) ExportUsers(ctx context.Context, fn func(UserRecord) error) error {
	err := p.inTx(ctx, snapshot(), func(tx pgx.Tx) error {
		var side sideState
		if err := pgEach(ctx, tx, exportFailures, func(r rowIter) error { return unavailable(readFailures(r, &side)) }); err != nil {
			return fmt.Errorf("failures: %w", err)
		}
		if err := pgEach(ctx, tx, exportLockouts, func(r rowIter) error { return unavailable(readLockouts(r, &side)) }); err != nil {
			return fmt.Errorf("lockouts: %w", err)
		}
		keys := p.keys.Load()
		return pgEach(ctx, tx, exportUsers, func(r rowIter) error { return exportUserRows(r, keys, &side, fn) })
	})
	if err != nil {
		return fmt.Errorf("store: export users: %w", err)
	}
	return nil
}

// ExportAudit implements Exporter.
func (p *Postgres) ExportAudit(ctx context.Context, fn func(AuditEvent) error) error {
	err := p.inTx(ctx, snapshot(), func(tx pgx.Tx) error {
		return pgEach(ctx, tx, exportAudit, func(r rowIter) error { return exportAuditRows(r, fn) })
	})
	if err != nil {
		return fmt.Errorf("store: export audit: %w", err)
	}
	return nil
}

func pgEach(ctx context.Context, tx pgx.Tx, query string, fn func(rowIter) error) error {
	rows, err := tx.Query(ctx, query)
	if err != nil {
		return unavailable(err)
	}
	defer rows.Close()
	return fn(rows)
}

// ImportUsers implements Importer: one transaction, sent as one batch, secrets sealed with
// this store's key.
func (p *Postgres) ImportUsers(ctx context.Context, recs []UserRecord) error {
	keys := p.keys.Load()
	var batch pgx.Batch
	for _, r := range recs {
		secret, phone, err := sealRecord(keys, r)
		if err != nil {
			return fmt.Errorf("store: import users: %w", err)
		}
		if u := r.User; u != nil {
			batch.Queue(`INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				u.Username, string(u.State), u.Method, nullable(secret), u.TOTPLastStep, u.TOTPDrift, nullable(phone),
				toNanos(u.CreatedAt), toNanos(u.UpdatedAt))
		}
		for kind, count := range r.Failures {
			batch.Queue(`INSERT INTO failures (username, kind, count) VALUES ($1, $2, $3)`, r.Username, kind, count)
		}
		if l := r.Lockout; l != nil {
			batch.Queue(`INSERT INTO lockouts (username, locked_until, level) VALUES ($1, $2, $3)`,
				r.Username, toNanos(l.Until), l.Level)
		}
	}
	if err := p.sendBatch(ctx, &batch); err != nil {
		return fmt.Errorf("store: import users: %w", err)
	}
	return nil
}

// ImportAudit implements Importer.
func (p *Postgres) ImportAudit(ctx context.Context, evs []AuditEvent) error {
	var batch pgx.Batch
	for _, ev := range evs {
		batch.Queue(`
			INSERT INTO audit (time, node, kind, username, nas, client_ip, calling_station_id, factor, result, reason, detail)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			toNanos(ev.Time), ev.Node, ev.Kind, ev.Username, ev.NAS, ev.ClientIP, ev.CallingStationID,
			ev.Factor, ev.Result, ev.Reason, ev.Detail)
	}
	if err := p.sendBatch(ctx, &batch); err != nil {
		return fmt.Errorf("store: import audit: %w", err)
	}
	return nil
}

// sendBatch runs the batch in one transaction; Close reports the first statement that failed.
func (p *Postgres) sendBatch(ctx context.Context, b *pgx.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	return p.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		return unavailable(tx.SendBatch(ctx, b).Close())
	})
}
