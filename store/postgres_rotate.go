package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// RotateKey re-seals every encrypted value (TOTP secrets, phone overrides) and the key check
// with newKeys' primary key, in one transaction: a failure leaves every value as it was. It
// returns how many users rows were rewritten. Values are decrypted with the keys of both
// keyrings; afterwards this Postgres seals with the new key and still reads the old one.
//
// The key check row is locked first, so two rotations run one after the other, and the
// users rows are locked as they are read, so a node enrolling meanwhile waits and then
// overwrites the re-sealed value with its own.
//
// Procedure, as for SQLite: stop the other nodes, rotate, then start every node with the new
// key file. A node still running with only the old key fails reads of re-sealed rows with
// ErrWrongKey, and a node with the old key as primary keeps sealing new values with it.
func (p *Postgres) RotateKey(ctx context.Context, newKeys *Keyring) (int, error) {
	if newKeys == nil {
		return 0, fmt.Errorf("store: rotate key: %w", errNoKeyring)
	}
	read := p.keys.Load().withOlder(newKeys)
	var n int
	err := p.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM meta WHERE key = 'key_check' FOR UPDATE`); err != nil {
			return unavailable(err)
		}
		type sealed struct {
			username      string
			secret, phone []byte
		}
		// Read everything before writing: one connection cannot interleave a result being
		// read with other statements.
		rows, err := tx.Query(ctx, `SELECT username, totp_secret, phone FROM users
			WHERE totp_secret IS NOT NULL OR phone IS NOT NULL FOR UPDATE`)
		if err != nil {
			return unavailable(err)
		}
		all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealed, error) {
			var s sealed
			return s, r.Scan(&s.username, &s.secret, &s.phone)
		})
		if err != nil {
			return unavailable(err)
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
		var batch pgx.Batch
		for _, r := range all {
			secret, err := reseal(r.secret, colTOTPSecret, r.username)
			if err != nil {
				return err
			}
			phone, err := reseal(r.phone, colPhone, r.username)
			if err != nil {
				return err
			}
			// updated_at is left alone: the user's record did not change, only its sealing.
			batch.Queue(`UPDATE users SET totp_secret = $2, phone = $3 WHERE username = $1`,
				r.username, nullable(secret), nullable(phone))
		}
		check, err := newKeys.Encrypt([]byte(keyCheckPlain), fieldAAD("key_check", ""))
		if err != nil {
			return err
		}
		batch.Queue(`UPDATE meta SET value = $1 WHERE key = 'key_check'`, check)
		// One round trip for every row; Close reports the first statement that failed.
		if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
			return unavailable(err)
		}
		n = len(all)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: rotate key: %w", err)
	}
	p.keys.Store(newKeys.withOlder(read))
	return n, nil
}
