package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Encrypted columns; the names double as the associated-data label of their ciphertexts.
const (
	colTOTPSecret = "totp_secret"
	colPhone      = "phone"
)

const userColumns = `username, state, method, totp_secret, totp_last_step, totp_drift, phone, created_at, updated_at`

// userRow is a users row as stored: secrets still sealed.
type userRow struct {
	username, state, method string
	secret, phone           []byte
	lastStep                int64
	drift                   int
	created, updated        int64
}

type scanner interface{ Scan(dest ...any) error }

func scanUserRow(sc scanner) (userRow, error) {
	var r userRow
	err := sc.Scan(&r.username, &r.state, &r.method, &r.secret, &r.lastStep, &r.drift, &r.phone,
		&r.created, &r.updated)
	return r, err
}

// open decrypts the row into a User.
func (r userRow) open(keys *Keyring) (User, error) {
	u := User{
		Username:     r.username,
		State:        State(r.state),
		Method:       r.method,
		TOTPLastStep: r.lastStep,
		TOTPDrift:    r.drift,
		CreatedAt:    fromNanos(r.created),
		UpdatedAt:    fromNanos(r.updated),
	}
	if r.secret != nil {
		pt, err := keys.Decrypt(r.secret, fieldAAD(colTOTPSecret, r.username))
		if err != nil {
			return User{}, fmt.Errorf("%s: %w", colTOTPSecret, err)
		}
		u.TOTPSecret = pt
	}
	if r.phone != nil {
		pt, err := keys.Decrypt(r.phone, fieldAAD(colPhone, r.username))
		if err != nil {
			return User{}, fmt.Errorf("%s: %w", colPhone, err)
		}
		u.Phone = string(pt)
	}
	return u, nil
}

// GetUser returns the user's record, secrets decrypted, or ErrNotFound.
func (s *SQLite) GetUser(ctx context.Context, username string) (User, error) {
	r, err := scanUserRow(s.r.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE username = ?`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("store: get user %q: %w", username, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: get user %q: %w", username, unavailable(err))
	}
	u, err := r.open(s.keys.Load())
	if err != nil {
		return User{}, fmt.Errorf("store: get user %q: %w", username, err)
	}
	return u, nil
}

// ListUsers returns every user with a record, ordered by username. One row that does not
// decrypt fails the whole list rather than hide that user.
func (s *SQLite) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", unavailable(err))
	}
	defer rows.Close()
	keys := s.keys.Load()
	var users []User
	for rows.Next() {
		r, err := scanUserRow(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list users: %w", unavailable(err))
		}
		u, err := r.open(keys)
		if err != nil {
			return nil, fmt.Errorf("store: list users: user %q: %w", r.username, err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list users: %w", unavailable(err))
	}
	return users, nil
}

// EnrollTOTP seals and stores the secret, resetting the replay step and drift. One upsert
// whose update only applies when no secret is stored (or force) makes "already enrolled"
// race-free.
func (s *SQLite) EnrollTOTP(ctx context.Context, username string, secret []byte, force bool) error {
	if username == "" {
		return errors.New("store: enroll totp: empty username")
	}
	if len(secret) == 0 {
		return fmt.Errorf("store: enroll totp %q: empty secret", username)
	}
	ct, err := s.keys.Load().Encrypt(secret, fieldAAD(colTOTPSecret, username))
	if err != nil {
		return fmt.Errorf("store: enroll totp %q: %w", username, err)
	}
	now := toNanos(s.now())
	res, err := s.w.ExecContext(ctx, `
		INSERT INTO users (username, totp_secret, totp_last_step, totp_drift, created_at, updated_at)
		VALUES (?, ?, 0, 0, ?, ?)
		ON CONFLICT (username) DO UPDATE SET
			totp_secret = excluded.totp_secret, totp_last_step = 0, totp_drift = 0,
			updated_at = excluded.updated_at
		WHERE users.totp_secret IS NULL OR ?`,
		username, ct, now, now, force)
	if err != nil {
		return fmt.Errorf("store: enroll totp %q: %w", username, unavailable(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: enroll totp %q: %w", username, unavailable(err))
	}
	if n == 0 {
		return fmt.Errorf("store: enroll totp %q: %w", username, ErrExists)
	}
	return nil
}

// DeleteUser removes the user's MFA record (state, method, secrets). Failure counts and
// lockouts are kept: removing an enrollment must not lift a lockout; Unlock does that.
func (s *SQLite) DeleteUser(ctx context.Context, username string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM users WHERE username = ?`, username)
	if err != nil {
		return fmt.Errorf("store: delete user %q: %w", username, unavailable(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: delete user %q: %w", username, unavailable(err))
	}
	if n == 0 {
		return fmt.Errorf("store: delete user %q: %w", username, ErrNotFound)
	}
	return nil
}

// SetState sets the user's MFA state; only the State constants are accepted.
func (s *SQLite) SetState(ctx context.Context, username string, state State) error {
	switch state {
	case StateDefault, StateDisabled, StateEnabled, StateEnforced:
	default:
		return fmt.Errorf("store: set state %q: unknown state %q", username, state)
	}
	return s.setColumn(ctx, "set state", username, "state", string(state))
}

// SetMethod sets the preferred factor.
func (s *SQLite) SetMethod(ctx context.Context, username, method string) error {
	return s.setColumn(ctx, "set method", username, "method", method)
}

// SetPhone seals and stores the SMS number override; "" clears it.
func (s *SQLite) SetPhone(ctx context.Context, username, phone string) error {
	var value any // NULL clears
	if phone != "" {
		ct, err := s.keys.Load().Encrypt([]byte(phone), fieldAAD(colPhone, username))
		if err != nil {
			return fmt.Errorf("store: set phone %q: %w", username, err)
		}
		value = ct
	}
	return s.setColumn(ctx, "set phone", username, colPhone, value)
}

// setColumn upserts one column of the user's row. column is always a constant from this file,
// never input.
func (s *SQLite) setColumn(ctx context.Context, op, username, column string, value any) error {
	if username == "" {
		return fmt.Errorf("store: %s: empty username", op)
	}
	now := toNanos(s.now())
	_, err := s.w.ExecContext(ctx, `
		INSERT INTO users (username, `+column+`, created_at, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (username) DO UPDATE SET `+column+` = excluded.`+column+`, updated_at = excluded.updated_at`,
		username, value, now, now)
	if err != nil {
		return fmt.Errorf("store: %s %q: %w", op, username, unavailable(err))
	}
	return nil
}

// UseTOTPStep records step as used with a single compare-and-set UPDATE: SQLite (and any SQL
// database) applies it atomically, so of concurrent callers with the same step, on any node,
// exactly one sees a changed row.
func (s *SQLite) UseTOTPStep(ctx context.Context, username string, step int64, drift int) (bool, error) {
	res, err := s.w.ExecContext(ctx,
		`UPDATE users SET totp_last_step = ?, totp_drift = ? WHERE username = ? AND totp_last_step < ?`,
		step, drift, username, step)
	if err != nil {
		return false, fmt.Errorf("store: use totp step %q: %w", username, unavailable(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: use totp step %q: %w", username, unavailable(err))
	}
	if n == 1 {
		return true, nil
	}
	// No row changed: a replay, or no such user. Only the rare failure path pays for telling
	// them apart.
	var one int
	err = s.r.QueryRowContext(ctx, `SELECT 1 FROM users WHERE username = ?`, username).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("store: use totp step %q: %w", username, ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("store: use totp step %q: %w", username, unavailable(err))
	}
	return false, nil
}
