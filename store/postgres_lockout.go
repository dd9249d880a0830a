package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// LockedUntil returns when the user's lockout ends, or the zero time if it already has.
func (p *Postgres) LockedUntil(ctx context.Context, username string, now time.Time) (time.Time, error) {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	var until int64
	err := p.pool.QueryRow(ctx, `SELECT locked_until FROM lockouts WHERE username = $1`, username).Scan(&until)
	if isNoRows(err) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("store: locked until %q: %w", username, unavailable(err))
	}
	if until <= toNanos(now) {
		return time.Time{}, nil
	}
	return fromNanos(until), nil
}

// RecordFailure counts a failure and, at the threshold, locks the user out, in one
// transaction whose row locks serialize every node:
//   - the counting upsert locks the (username, kind) failures row until commit, so concurrent
//     failures of one kind count one after another and exactly one of them reaches the
//     threshold;
//   - the lockouts row is locked by an upsert too (a no-op update when it exists, an insert
//     when not), never by reading it: SELECT … FOR UPDATE locks nothing when the row does not
//     exist yet, and two kinds reaching their thresholds at once would then both start from
//     level 0. The upsert makes the second wait and read the first one's level.
//
// Locks are always taken failures first, then lockouts (as Unlock does), so these
// transactions cannot deadlock each other.
func (p *Postgres) RecordFailure(ctx context.Context, username, kind string, now time.Time, policy LockoutPolicy) (time.Time, error) {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	var until time.Time
	err := p.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var count int
		if err := tx.QueryRow(ctx, `
			INSERT INTO failures (username, kind, count) VALUES ($1, $2, 1)
			ON CONFLICT (username, kind) DO UPDATE SET count = failures.count + 1
			RETURNING count`, username, kind).Scan(&count); err != nil {
			return unavailable(err)
		}
		if policy.Threshold <= 0 || count < policy.Threshold {
			return nil
		}
		var level int
		if err := tx.QueryRow(ctx, `
			INSERT INTO lockouts (username, locked_until, level) VALUES ($1, 0, 0)
			ON CONFLICT (username) DO UPDATE SET level = lockouts.level
			RETURNING level`, username).Scan(&level); err != nil {
			return unavailable(err)
		}
		until = now.Add(lockoutDuration(policy, level)).UTC()
		if _, err := tx.Exec(ctx, `UPDATE lockouts SET locked_until = $2, level = $3 WHERE username = $1`,
			username, toNanos(until), level+1); err != nil {
			return unavailable(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE failures SET count = 0 WHERE username = $1 AND kind = $2`,
			username, kind); err != nil {
			return unavailable(err)
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("store: record failure %q: %w", username, err)
	}
	return until, nil
}

// ResetFailures clears the consecutive-failure count of kind. The lockout level stays, so
// alternating one success with a burst of failures does not reset the backoff.
func (p *Postgres) ResetFailures(ctx context.Context, username, kind string) error {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	// Read first: almost every success has nothing to reset (see SQLite.ResetFailures).
	var n int
	err := p.pool.QueryRow(ctx, `SELECT count FROM failures WHERE username = $1 AND kind = $2`, username, kind).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && n == 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: reset failures %q: %w", username, unavailable(err))
	}
	if _, err := p.pool.Exec(ctx, `DELETE FROM failures WHERE username = $1 AND kind = $2`, username, kind); err != nil {
		return fmt.Errorf("store: reset failures %q: %w", username, unavailable(err))
	}
	return nil
}

// Unlock clears every failure count, the lockout and its backoff level, in one transaction.
func (p *Postgres) Unlock(ctx context.Context, username string) error {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	err := p.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM failures WHERE username = $1`, username); err != nil {
			return unavailable(err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM lockouts WHERE username = $1`, username); err != nil {
			return unavailable(err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: unlock %q: %w", username, err)
	}
	return nil
}
