package store

import (
	"context"
	"errors"
	"fmt"
)

// The users methods mirror sqlite_users.go statement for statement (same rows, same sealing,
// same errors); only the placeholders and the driver differ.

// GetUser returns the user's record, secrets decrypted, or ErrNotFound.
func (p *Postgres) GetUser(ctx context.Context, username string) (User, error) {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	r, err := scanUserRow(p.pool.QueryRow(ctx,
		`SELECT `+userColumns+` FROM users WHERE username = $1`, username))
	if isNoRows(err) {
		return User{}, fmt.Errorf("store: get user %q: %w", username, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: get user %q: %w", username, unavailable(err))
	}
	u, err := r.open(p.keys.Load())
	if err != nil {
		return User{}, fmt.Errorf("store: get user %q: %w", username, err)
	}
	return u, nil
}

// ListUsers returns every user with a record, ordered by username (bytewise: the column's
// collation is "C"). One row that does not decrypt fails the whole list rather than hide
// that user.
func (p *Postgres) ListUsers(ctx context.Context) ([]User, error) {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	rows, err := p.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", unavailable(err))
	}
	defer rows.Close()
	keys := p.keys.Load()
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

// EnrollTOTP seals and stores the secret, resetting the replay step and drift. The upsert's
// update applies only when no secret is stored (or force); a concurrent enrolment on another
// node waits for the row lock and then re-checks that condition, so exactly one wins.
func (p *Postgres) EnrollTOTP(ctx context.Context, username string, secret []byte, force bool) error {
	if username == "" {
		return errors.New("store: enroll totp: empty username")
	}
	if len(secret) == 0 {
		return fmt.Errorf("store: enroll totp %q: empty secret", username)
	}
	ct, err := p.keys.Load().Encrypt(secret, fieldAAD(colTOTPSecret, username))
	if err != nil {
		return fmt.Errorf("store: enroll totp %q: %w", username, err)
	}
	ctx, cancel := callCtx(ctx)
	defer cancel()
	tag, err := p.pool.Exec(ctx, `
		INSERT INTO users (username, totp_secret, totp_last_step, totp_drift, created_at, updated_at)
		VALUES ($1, $2, 0, 0, $3, $3)
		ON CONFLICT (username) DO UPDATE SET
			totp_secret = excluded.totp_secret, totp_last_step = 0, totp_drift = 0,
			updated_at = excluded.updated_at
		WHERE users.totp_secret IS NULL OR $4::boolean`,
		username, ct, toNanos(p.now()), force)
	if err != nil {
		return fmt.Errorf("store: enroll totp %q: %w", username, unavailable(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: enroll totp %q: %w", username, ErrExists)
	}
	return nil
}

// DeleteUser removes the user's MFA record (state, method, secrets). Failure counts and
// lockouts are kept: removing an enrollment must not lift a lockout; Unlock does that.
func (p *Postgres) DeleteUser(ctx context.Context, username string) error {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	tag, err := p.pool.Exec(ctx, `DELETE FROM users WHERE username = $1`, username)
	if err != nil {
		return fmt.Errorf("store: delete user %q: %w", username, unavailable(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: delete user %q: %w", username, ErrNotFound)
	}
	return nil
}

// SetState sets the user's MFA state; only the State constants are accepted.
func (p *Postgres) SetState(ctx context.Context, username string, state State) error {
	switch state {
	case StateDefault, StateDisabled, StateEnabled, StateEnforced:
	default:
		return fmt.Errorf("store: set state %q: unknown state %q", username, state)
	}
	return p.setColumn(ctx, "set state", username, "state", string(state))
}

// SetMethod sets the preferred factor.
func (p *Postgres) SetMethod(ctx context.Context, username, method string) error {
	return p.setColumn(ctx, "set method", username, "method", method)
}

// SetPhone seals and stores the SMS number override; "" clears it.
func (p *Postgres) SetPhone(ctx context.Context, username, phone string) error {
	var value any // nil is NULL: clears
	if phone != "" {
		ct, err := p.keys.Load().Encrypt([]byte(phone), fieldAAD(colPhone, username))
		if err != nil {
			return fmt.Errorf("store: set phone %q: %w", username, err)
		}
		value = ct
	}
	return p.setColumn(ctx, "set phone", username, colPhone, value)
}

// setColumn upserts one column of the user's row. column is always a constant from this
// package, never input.
func (p *Postgres) setColumn(ctx context.Context, op, username, column string, value any) error {
	if username == "" {
		return fmt.Errorf("store: %s: empty username", op)
	}
	ctx, cancel := callCtx(ctx)
	defer cancel()
	_, err := p.pool.Exec(ctx, `
		INSERT INTO users (username, `+column+`, created_at, updated_at) VALUES ($1, $2, $3, $3)
		ON CONFLICT (username) DO UPDATE SET `+column+` = excluded.`+column+`, updated_at = excluded.updated_at`,
		username, value, toNanos(p.now()))
	if err != nil {
		return fmt.Errorf("store: %s %q: %w", op, username, unavailable(err))
	}
	return nil
}

// UseTOTPStep records step as used with one compare-and-set UPDATE. Under READ COMMITTED a
// concurrent UPDATE of the row, from any node, waits for the first to commit and then
// re-evaluates "totp_last_step < step" against the committed row, so exactly one caller with
// a given step changes it.
func (p *Postgres) UseTOTPStep(ctx context.Context, username string, step int64, drift int) (bool, error) {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	tag, err := p.pool.Exec(ctx,
		`UPDATE users SET totp_last_step = $1, totp_drift = $2 WHERE username = $3 AND totp_last_step < $1`,
		step, drift, username)
	if err != nil {
		return false, fmt.Errorf("store: use totp step %q: %w", username, unavailable(err))
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	// No row changed: a replay, or no such user. Only the rare failure path pays for telling
	// them apart.
	var one int
	err = p.pool.QueryRow(ctx, `SELECT 1 FROM users WHERE username = $1`, username).Scan(&one)
	if isNoRows(err) {
		return false, fmt.Errorf("store: use totp step %q: %w", username, ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("store: use totp step %q: %w", username, unavailable(err))
	}
	return false, nil
}
