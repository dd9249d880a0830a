package store

import (
	"context"
	"fmt"
	"time"
)

var _ Ephemeral = (*Postgres)(nil)

// Once inserts key unless a live row holds it; an expired row is taken over. Concurrent
// callers on any node serialize on the key's row: the losers re-check the condition against
// the winner's committed row and change nothing.
func (p *Postgres) Once(ctx context.Context, key string, now, expires time.Time) (bool, error) {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	tag, err := p.pool.Exec(ctx, `
		INSERT INTO ephemeral (key, count, expires_at) VALUES ($1, 1, $2)
		ON CONFLICT (key) DO UPDATE SET count = 1, expires_at = excluded.expires_at
		WHERE ephemeral.expires_at <= $3`, key, toNanos(expires), toNanos(now))
	if err != nil {
		return false, fmt.Errorf("store: once: %w", unavailable(err))
	}
	return tag.RowsAffected() == 1, nil
}

// Incr counts in a fixed window: an expired counter restarts at one with the new expiry.
func (p *Postgres) Incr(ctx context.Context, key string, now, expires time.Time) (int64, error) {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	var n int64
	err := p.pool.QueryRow(ctx, `
		INSERT INTO ephemeral (key, count, expires_at) VALUES ($1, 1, $2)
		ON CONFLICT (key) DO UPDATE SET
			count = CASE WHEN ephemeral.expires_at <= $3 THEN 1 ELSE ephemeral.count + 1 END,
			expires_at = CASE WHEN ephemeral.expires_at <= $3 THEN excluded.expires_at ELSE ephemeral.expires_at END
		RETURNING count`, key, toNanos(expires), toNanos(now)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: incr: %w", unavailable(err))
	}
	return n, nil
}

// PruneEphemeral deletes dead keys.
func (p *Postgres) PruneEphemeral(ctx context.Context, now time.Time) (int64, error) {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	tag, err := p.pool.Exec(ctx, `DELETE FROM ephemeral WHERE expires_at <= $1`, toNanos(now))
	if err != nil {
		return 0, fmt.Errorf("store: prune ephemeral: %w", unavailable(err))
	}
	return tag.RowsAffected(), nil
}

// Count reads a live counter.
func (p *Postgres) Count(ctx context.Context, key string, now time.Time) (int64, error) {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	var n int64
	err := p.pool.QueryRow(ctx, `SELECT COALESCE(MAX(count), 0) FROM ephemeral WHERE key = $1 AND expires_at > $2`, key, toNanos(now)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count: %w", unavailable(err))
	}
	return n, nil
}
