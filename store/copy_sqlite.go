package store

import (
	"context"
	"database/sql"
	"fmt"
)

// ExportUsers implements Exporter from one read transaction (a WAL snapshot).
func (s *SQLite) ExportUsers(ctx context.Context, fn func(UserRecord) error) error {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: export users: %w", unavailable(err))
	}
	defer tx.Rollback()
	var side sideState
	if err := sqliteEach(ctx, tx, exportFailures, func(r rowIter) error { return unavailable(readFailures(r, &side)) }); err != nil {
		return fmt.Errorf("store: export failures: %w", err)
	}
	if err := sqliteEach(ctx, tx, exportLockouts, func(r rowIter) error { return unavailable(readLockouts(r, &side)) }); err != nil {
		return fmt.Errorf("store: export lockouts: %w", err)
	}
	keys := s.keys.Load()
	if err := sqliteEach(ctx, tx, exportUsers, func(r rowIter) error { return exportUserRows(r, keys, &side, fn) }); err != nil {
		return fmt.Errorf("store: export users: %w", err)
	}
	return nil
}

// ExportAudit implements Exporter.
func (s *SQLite) ExportAudit(ctx context.Context, fn func(AuditEvent) error) error {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: export audit: %w", unavailable(err))
	}
	defer tx.Rollback()
	if err := sqliteEach(ctx, tx, exportAudit, func(r rowIter) error { return exportAuditRows(r, fn) }); err != nil {
		return fmt.Errorf("store: export audit: %w", err)
	}
	return nil
}

func sqliteEach(ctx context.Context, tx *sql.Tx, query string, fn func(rowIter) error) error {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return unavailable(err)
	}
	defer rows.Close()
	return fn(rows)
}

// ImportUsers implements Importer: one transaction, secrets sealed with this store's key.
func (s *SQLite) ImportUsers(ctx context.Context, recs []UserRecord) error {
	keys := s.keys.Load()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: import users: %w", unavailable(err))
	}
	defer tx.Rollback()
	for _, r := range recs {
		secret, phone, err := sealRecord(keys, r)
		if err != nil {
			return fmt.Errorf("store: import users: %w", err)
		}
		if u := r.User; u != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				u.Username, string(u.State), u.Method, nullable(secret), u.TOTPLastStep, u.TOTPDrift, nullable(phone),
				toNanos(u.CreatedAt), toNanos(u.UpdatedAt)); err != nil {
				return fmt.Errorf("store: import user %q: %w", r.Username, unavailable(err))
			}
		}
		for kind, count := range r.Failures {
			if _, err := tx.ExecContext(ctx, `INSERT INTO failures (username, kind, count) VALUES (?, ?, ?)`,
				r.Username, kind, count); err != nil {
				return fmt.Errorf("store: import failures of %q: %w", r.Username, unavailable(err))
			}
		}
		if l := r.Lockout; l != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO lockouts (username, locked_until, level) VALUES (?, ?, ?)`,
				r.Username, toNanos(l.Until), l.Level); err != nil {
				return fmt.Errorf("store: import lockout of %q: %w", r.Username, unavailable(err))
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: import users: %w", unavailable(err))
	}
	return nil
}

// ImportAudit implements Importer.
func (s *SQLite) ImportAudit(ctx context.Context, evs []AuditEvent) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: import audit: %w", unavailable(err))
	}
	defer tx.Rollback()
	for _, ev := range evs {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO audit (time, node, kind, username, nas, client_ip, calling_station_id, factor, result, reason, detail)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			toNanos(ev.Time), ev.Node, ev.Kind, ev.Username, ev.NAS, ev.ClientIP, ev.CallingStationID,
			ev.Factor, ev.Result, ev.Reason, ev.Detail); err != nil {
			return fmt.Errorf("store: import audit: %w", unavailable(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: import audit: %w", unavailable(err))
	}
	return nil
}
