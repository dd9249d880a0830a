package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AddAppPassword counts and inserts in one statement inside a write (BEGIN IMMEDIATE)
// transaction, so neither this process's writers nor another process on the same file can
// push the user past max.
func (s *SQLite) AddAppPassword(ctx context.Context, username, name, hash string, max int) (AppPassword, error) {
	if err := checkAppPassword(username, name, hash, max); err != nil {
		return AppPassword{}, err
	}
	now := toNanos(s.now())
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return AppPassword{}, fmt.Errorf("store: add app password %q: %w", username, unavailable(err))
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(ctx, `
		INSERT INTO app_passwords (username, name, hash, created_at, last_used_at)
		SELECT ?, ?, ?, ?, 0
		WHERE (SELECT COUNT(*) FROM app_passwords WHERE username = ?) < ?
		RETURNING id`, username, name, hash, now, username, max).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return AppPassword{}, fmt.Errorf("store: add app password %q: %d already: %w", username, max, ErrLimit)
	}
	if err != nil {
		return AppPassword{}, fmt.Errorf("store: add app password %q: %w", username, unavailable(err))
	}
	if err := tx.Commit(); err != nil {
		return AppPassword{}, fmt.Errorf("store: add app password %q: %w", username, unavailable(err))
	}
	return AppPassword{ID: id, Username: username, Name: name, Hash: hash, CreatedAt: fromNanos(now)}, nil
}

// ListAppPasswords returns the user's app passwords, oldest first.
func (s *SQLite) ListAppPasswords(ctx context.Context, username string) ([]AppPassword, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+appPasswordColumns+` FROM app_passwords
		WHERE username = ? ORDER BY created_at, id`, username)
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
func (s *SQLite) DeleteAppPassword(ctx context.Context, username string, id int64) error {
	n, err := s.execCount(ctx, `DELETE FROM app_passwords WHERE username = ? AND id = ?`, username, id)
	if err != nil {
		return fmt.Errorf("store: delete app password %q %d: %w", username, id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: delete app password %q %d: %w", username, id, ErrNotFound)
	}
	return nil
}

// DeleteAppPasswords deletes all the user's app passwords.
func (s *SQLite) DeleteAppPasswords(ctx context.Context, username string) (int, error) {
	n, err := s.execCount(ctx, `DELETE FROM app_passwords WHERE username = ?`, username)
	if err != nil {
		return 0, fmt.Errorf("store: delete app passwords %q: %w", username, err)
	}
	return int(n), nil
}

// TouchAppPassword records a use of the app password.
func (s *SQLite) TouchAppPassword(ctx context.Context, id int64, now time.Time) error {
	n, err := s.execCount(ctx, `UPDATE app_passwords SET last_used_at = ? WHERE id = ?`, toNanos(now), id)
	if err != nil {
		return fmt.Errorf("store: touch app password %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: touch app password %d: %w", id, ErrNotFound)
	}
	return nil
}

// execCount runs a write and returns the rows it changed; errors are ErrUnavailable.
func (s *SQLite) execCount(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := s.w.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, unavailable(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, unavailable(err)
	}
	return n, nil
}
