package store

import (
	"context"
	"fmt"
	"time"
)

var _ Ephemeral = (*SQLite)(nil)

// Once inserts key unless a live row holds it; an expired row is taken over.
func (s *SQLite) Once(ctx context.Context, key string, now, expires time.Time) (bool, error) {
	res, err := s.w.ExecContext(ctx, `
		INSERT INTO ephemeral (key, count, expires_at) VALUES (?, 1, ?)
		ON CONFLICT (key) DO UPDATE SET count = 1, expires_at = excluded.expires_at
		WHERE ephemeral.expires_at <= ?`, key, toNanos(expires), toNanos(now))
	if err != nil {
		return false, fmt.Errorf("store: once: %w", unavailable(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: once: %w", unavailable(err))
	}
	return n == 1, nil
}

// Incr counts in a fixed window: an expired counter restarts at one with the new expiry.
func (s *SQLite) Incr(ctx context.Context, key string, now, expires time.Time) (int64, error) {
	var n int64
	err := s.w.QueryRowContext(ctx, `
		INSERT INTO ephemeral (key, count, expires_at) VALUES (?, 1, ?)
		ON CONFLICT (key) DO UPDATE SET
			count = CASE WHEN ephemeral.expires_at <= ? THEN 1 ELSE ephemeral.count + 1 END,
			expires_at = CASE WHEN ephemeral.expires_at <= ? THEN excluded.expires_at ELSE ephemeral.expires_at END
		RETURNING count`, key, toNanos(expires), toNanos(now), toNanos(now)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: incr: %w", unavailable(err))
	}
	return n, nil
}

// PruneEphemeral deletes dead keys.
func (s *SQLite) PruneEphemeral(ctx context.Context, now time.Time) (int64, error) {
	n, err := s.pruneChunked(ctx,
		`DELETE FROM ephemeral WHERE rowid IN (SELECT rowid FROM ephemeral WHERE expires_at <= ? LIMIT ?)`, toNanos(now))
	if err != nil {
		return n, fmt.Errorf("store: prune ephemeral: %w", err)
	}
	return n, nil
}

// Count reads a live counter.
func (s *SQLite) Count(ctx context.Context, key string, now time.Time) (int64, error) {
	var n int64
	err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(count), 0) FROM ephemeral WHERE key = ? AND expires_at > ?`, key, toNanos(now)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count: %w", unavailable(err))
	}
	return n, nil
}
