package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AddAppPassword counts and inserts in one transaction holding the user's advisory lock:
// concurrent adds on any node queue, and each sees the others' rows.
func (p *Postgres) AddAppPassword(ctx context.Context, username, name, hash string, max int) (AppPassword, error) {
	if err := checkAppPassword(username, name, hash, max); err != nil {
		return AppPassword{}, err
	}
	now := toNanos(p.now())
	ctx, cancel := callCtx(ctx)
	defer cancel()
	var id int64
	err := p.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, appPasswordLock(username)); err != nil {
			return unavailable(err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM app_passwords WHERE username = $1`, username).Scan(&n); err != nil {
			return unavailable(err)
		}
		if n >= max {
			return fmt.Errorf("%d already: %w", max, ErrLimit)
		}
		return unavailable(tx.QueryRow(ctx, `
			INSERT INTO app_passwords (username, name, hash, created_at, last_used_at)
			VALUES ($1, $2, $3, $4, 0) RETURNING id`, username, name, hash, now).Scan(&id))
	})
	if err != nil {
		return AppPassword{}, fmt.Errorf("store: add app password %q: %w", username, err)
	}
	return AppPassword{ID: id, Username: username, Name: name, Hash: hash, CreatedAt: fromNanos(now)}, nil
}

// ListAppPasswords returns the user's app passwords, oldest first.
func (p *Postgres) ListAppPasswords(ctx context.Context, username string) ([]AppPassword, error) {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	rows, err := p.pool.Query(ctx, `SELECT `+appPasswordColumns+` FROM app_passwords
		WHERE username = $1 ORDER BY created_at, id`, username)
	if err != nil {
		return nil, fmt.Errorf("store: list app passwords %q: %w", username, unavailable(err))
	}
	defer rows.Close()
	var out []AppPassword
	for rows.Next() {
		a, err := scanAppPassword(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list app passwords %q: %w", username, unavailable(err))
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list app passwords %q: %w", username, unavailable(err))
	}
	return out, nil
}

// DeleteAppPassword deletes one of the user's app passwords.
func (p *Postgres) DeleteAppPassword(ctx context.Context, username string, id int64) error {
	n, err := p.execCount(ctx, `DELETE FROM app_passwords WHERE username = $1 AND id = $2`, username, id)
	if err != nil {
		return fmt.Errorf("store: delete app password %q %d: %w", username, id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: delete app password %q %d: %w", username, id, ErrNotFound)
	}
	return nil
}

// DeleteAppPasswords deletes all the user's app passwords.
func (p *Postgres) DeleteAppPasswords(ctx context.Context, username string) (int, error) {
	n, err := p.execCount(ctx, `DELETE FROM app_passwords WHERE username = $1`, username)
	if err != nil {
		return 0, fmt.Errorf("store: delete app passwords %q: %w", username, err)
	}
	return int(n), nil
}

// TouchAppPassword records a use of the app password.
func (p *Postgres) TouchAppPassword(ctx context.Context, id int64, now time.Time) error {
	n, err := p.execCount(ctx, `UPDATE app_passwords SET last_used_at = $1 WHERE id = $2`, toNanos(now), id)
	if err != nil {
		return fmt.Errorf("store: touch app password %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: touch app password %d: %w", id, ErrNotFound)
	}
	return nil
}

// execCount runs a write and returns the rows it changed; errors are ErrUnavailable.
func (p *Postgres) execCount(ctx context.Context, query string, args ...any) (int64, error) {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	tag, err := p.pool.Exec(ctx, query, args...)
	if err != nil {
		return 0, unavailable(err)
	}
	return tag.RowsAffected(), nil
}
