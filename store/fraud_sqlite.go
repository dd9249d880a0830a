package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SetBlocked blocks the user (replacing an earlier reason) or lifts the block.
func (s *SQLite) SetBlocked(ctx context.Context, username string, blocked bool, reason string, now time.Time) error {
	reason, err := checkBlock(username, reason)
	if err != nil {
		return err
	}
	if !blocked {
		if _, err := s.execCount(ctx, `DELETE FROM blocks WHERE username = ?`, username); err != nil {
			return fmt.Errorf("store: unblock %q: %w", username, err)
		}
		return nil
	}
	_, err = s.w.ExecContext(ctx, `
		INSERT INTO blocks (username, reason, blocked_at) VALUES (?, ?, ?)
		ON CONFLICT (username) DO UPDATE SET reason = excluded.reason, blocked_at = excluded.blocked_at`,
		username, reason, toNanos(now))
	if err != nil {
		return fmt.Errorf("store: block %q: %w", username, unavailable(err))
	}
	return nil
}

// Blocked reports whether the user is blocked, and why.
func (s *SQLite) Blocked(ctx context.Context, username string) (bool, string, error) {
	var reason string
	err := s.r.QueryRowContext(ctx, `SELECT reason FROM blocks WHERE username = ?`, username).Scan(&reason)
	if errors.Is(err, sql.ErrNoRows) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("store: blocked %q: %w", username, unavailable(err))
	}
	return true, reason, nil
}

// ListBlocked returns every blocked user, most recent first.
func (s *SQLite) ListBlocked(ctx context.Context) ([]Block, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT username, reason, blocked_at FROM blocks ORDER BY blocked_at DESC, username`)
	if err != nil {
		return nil, fmt.Errorf("store: list blocked: %w", unavailable(err))
	}
	defer rows.Close()
	var out []Block
	for rows.Next() {
		var b Block
		var since int64
		if err := rows.Scan(&b.Username, &b.Reason, &since); err != nil {
			return nil, fmt.Errorf("store: list blocked: %w", unavailable(err))
		}
		b.Since = fromNanos(since)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list blocked: %w", unavailable(err))
	}
	return out, nil
}

// MarkFraud flags the user's own audit event as reported fraud.
func (s *SQLite) MarkFraud(ctx context.Context, auditID int64, username string) error {
	if err := checkMarkFraud(auditID, username); err != nil {
		return err
	}
	n, err := s.execCount(ctx, `UPDATE audit SET fraud = 1 WHERE id = ? AND username = ?`, auditID, username)
	if err != nil {
		return fmt.Errorf("store: mark fraud %d %q: %w", auditID, username, err)
	}
	if n == 0 {
		return fmt.Errorf("store: mark fraud %d %q: %w", auditID, username, ErrNotFound)
	}
	return nil
}
