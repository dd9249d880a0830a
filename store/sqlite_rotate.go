package store

import (
	"context"
	"errors"
	"fmt"
)

// RotateKey re-seals every encrypted value (TOTP secrets, phone overrides) and the key check
// with newKeys' primary key, in one transaction: a failure leaves every value as it was. It
// returns how many users rows were rewritten.
//
// Values are decrypted with the keys of both keyrings, so the keyring given to OpenSQLite
// must hold the key the data is sealed with now, and newKeys the one to seal with from now on.
// Afterwards this SQLite seals with the new key and still reads the old one.
//
// Procedure: stop the other nodes (or give them both keys, new as primary), run the rotation,
// then start every node with the new key file; the old key can be dropped once no node still
// runs with it as primary, since such a node would keep sealing new values with it.
func (s *SQLite) RotateKey(ctx context.Context, newKeys *Keyring) (int, error) {
	if newKeys == nil {
		return 0, fmt.Errorf("store: rotate key: %w", errNoKeyring)
	}
	read := s.keys.Load().withOlder(newKeys)

	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: rotate key: %w", unavailable(err))
	}
	defer tx.Rollback()

	type sealed struct {
		username      string
		secret, phone []byte
	}
	rows, err := tx.QueryContext(ctx,
		`SELECT username, totp_secret, phone FROM users WHERE totp_secret IS NOT NULL OR phone IS NOT NULL`)
	if err != nil {
		return 0, fmt.Errorf("store: rotate key: %w", unavailable(err))
	}
	var all []sealed
	for rows.Next() {
		var r sealed
		if err := rows.Scan(&r.username, &r.secret, &r.phone); err != nil {
			rows.Close()
			return 0, fmt.Errorf("store: rotate key: %w", unavailable(err))
		}
		all = append(all, r)
	}
	// Read everything before writing: the one writer connection cannot hold a cursor open
	// across updates on every driver.
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("store: rotate key: %w", unavailable(err))
	}

	reseal := func(ct []byte, field, username string) ([]byte, error) {
		if ct == nil {
			return nil, nil
		}
		aad := fieldAAD(field, username)
		pt, err := read.Decrypt(ct, aad)
		if err != nil {
			return nil, fmt.Errorf("user %q %s: %w", username, field, err)
		}
		return newKeys.Encrypt(pt, aad)
	}
	for _, r := range all {
		secret, err := reseal(r.secret, colTOTPSecret, r.username)
		if err != nil {
			return 0, fmt.Errorf("store: rotate key: %w", err)
		}
		phone, err := reseal(r.phone, colPhone, r.username)
		if err != nil {
			return 0, fmt.Errorf("store: rotate key: %w", err)
		}
		// updated_at is left alone: the user's record did not change, only its sealing.
		if _, err := tx.ExecContext(ctx, `UPDATE users SET totp_secret = ?, phone = ? WHERE username = ?`,
			nullable(secret), nullable(phone), r.username); err != nil {
			return 0, fmt.Errorf("store: rotate key: %w", unavailable(err))
		}
	}

	check, err := newKeys.Encrypt([]byte(keyCheckPlain), fieldAAD("key_check", ""))
	if err != nil {
		return 0, fmt.Errorf("store: rotate key: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = ? WHERE key = 'key_check'`, check); err != nil {
		return 0, fmt.Errorf("store: rotate key: %w", unavailable(err))
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: rotate key: %w", unavailable(err))
	}
	s.keys.Store(newKeys.withOlder(read))
	return len(all), nil
}

// nullable turns a nil slice into SQL NULL; drivers may bind a nil []byte as an empty blob.
func nullable(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}
