package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"
)

// lockoutDuration is policy.Duration doubled once per earlier lockout, capped at policy.Max
// (no cap when Max is 0) and at the largest Duration instead of overflowing.
func lockoutDuration(p LockoutPolicy, level int) time.Duration {
	d := p.Duration
	for i := 0; i < level && d > 0; i++ {
		if p.Max > 0 && d >= p.Max {
			break
		}
		if d > math.MaxInt64/2 {
			d = math.MaxInt64
			break
		}
		d *= 2
	}
	if p.Max > 0 && d > p.Max {
		d = p.Max
	}
	return d
}

// LockedUntil returns when the user's lockout ends, or the zero time if it already has.
func (s *SQLite) LockedUntil(ctx context.Context, username string, now time.Time) (time.Time, error) {
	var until int64
	err := s.r.QueryRowContext(ctx, `SELECT locked_until FROM lockouts WHERE username = ?`, username).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
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
// transaction: the write lock taken by BEGIN IMMEDIATE makes count, compare and lock atomic
// against every other writer of the file.
func (s *SQLite) RecordFailure(ctx context.Context, username, kind string, now time.Time, policy LockoutPolicy) (time.Time, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: record failure %q: %w", username, unavailable(err))
	}
	defer tx.Rollback()

	var count int
	err = tx.QueryRowContext(ctx, `
		INSERT INTO failures (username, kind, count) VALUES (?, ?, 1)
		ON CONFLICT (username, kind) DO UPDATE SET count = failures.count + 1
		RETURNING count`, username, kind).Scan(&count)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: record failure %q: %w", username, unavailable(err))
	}
	var until time.Time
	if policy.Threshold > 0 && count >= policy.Threshold {
		var level int
		err := tx.QueryRowContext(ctx, `SELECT level FROM lockouts WHERE username = ?`, username).Scan(&level)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return time.Time{}, fmt.Errorf("store: record failure %q: %w", username, unavailable(err))
		}
		until = now.Add(lockoutDuration(policy, level)).UTC()
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO lockouts (username, locked_until, level) VALUES (?, ?, ?)
			ON CONFLICT (username) DO UPDATE SET locked_until = excluded.locked_until, level = excluded.level`,
			username, toNanos(until), level+1); err != nil {
			return time.Time{}, fmt.Errorf("store: record failure %q: %w", username, unavailable(err))
		}
		if _, err := tx.ExecContext(ctx, `UPDATE failures SET count = 0 WHERE username = ? AND kind = ?`,
			username, kind); err != nil {
			return time.Time{}, fmt.Errorf("store: record failure %q: %w", username, unavailable(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return time.Time{}, fmt.Errorf("store: record failure %q: %w", username, unavailable(err))
	}
	return until, nil
}

// ResetFailures clears the consecutive-failure count of kind. The lockout level stays, so
// alternating one success with a burst of failures does not reset the backoff.
//
// Almost every success has nothing to reset, so the count is read first and the write (which
// takes the database's write lock) is skipped when it is zero. A failure recorded between the
// read and the skip is indistinguishable from one recorded just after a reset.
func (s *SQLite) ResetFailures(ctx context.Context, username, kind string) error {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count FROM failures WHERE username = ? AND kind = ?`, username, kind).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && n == 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: reset failures %q: %w", username, unavailable(err))
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM failures WHERE username = ? AND kind = ?`, username, kind); err != nil {
		return fmt.Errorf("store: reset failures %q: %w", username, unavailable(err))
	}
	return nil
}

// Unlock clears every failure count, the lockout and its backoff level.
func (s *SQLite) Unlock(ctx context.Context, username string) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: unlock %q: %w", username, unavailable(err))
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM failures WHERE username = ?`, username); err != nil {
		return fmt.Errorf("store: unlock %q: %w", username, unavailable(err))
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM lockouts WHERE username = ?`, username); err != nil {
		return fmt.Errorf("store: unlock %q: %w", username, unavailable(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: unlock %q: %w", username, unavailable(err))
	}
	return nil
}
