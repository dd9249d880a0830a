package store

import (
	"context"
	"embed"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/postgres/*.sql
var postgresMigrations embed.FS

// pgMigrationLock is the pg_advisory_xact_lock key that serializes migrations and the first
// key check: "radmfa" in ASCII, then a 1. Nodes starting at once queue on it, and the lock
// ends with the transaction, so a crashed node never leaves it held.
const pgMigrationLock int64 = 0x7261646d66610001

// Migrate applies pending migrations and runs the key check, in one transaction holding
// pgMigrationLock: of several nodes starting on a new database one creates the schema and
// seals the key check, and the others wait, then find both done. A failed step leaves the
// schema as it was. It returns the schema version. OpenPostgres calls it; calling it again
// (radmfa store migrate) is harmless.
func (p *Postgres) Migrate(ctx context.Context) (int, error) {
	ms, err := loadMigrations(postgresMigrations, "migrations/postgres")
	if err != nil {
		return 0, err
	}
	var version int
	err = p.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, pgMigrationLock); err != nil {
			return fmt.Errorf("lock: %w", unavailable(err))
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
			version    integer PRIMARY KEY,
			applied_at bigint NOT NULL
		)`); err != nil {
			return fmt.Errorf("create schema_version: %w", unavailable(err))
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", unavailable(err))
		}
		if current > len(ms) {
			return fmt.Errorf("schema version %d is newer than this radmfa knows (%d); upgrade radmfa",
				current, len(ms))
		}
		for _, m := range ms[current:] {
			// No arguments: pgx sends it with the simple protocol, which runs a multi-statement file.
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, unavailable(err))
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)`,
				m.version, toNanos(p.now())); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, unavailable(err))
			}
		}
		version = len(ms)
		return p.checkKey(ctx, tx)
	})
	if err != nil {
		return 0, fmt.Errorf("store: open postgres %s: %w", p.name, err)
	}
	return version, nil
}

// checkKey writes the key check on first open and verifies it on later opens, exactly as
// the SQLite backend does (same plaintext, same associated data).
func (p *Postgres) checkKey(ctx context.Context, tx pgx.Tx) error {
	keys := p.keys.Load()
	aad := fieldAAD("key_check", "")
	var sealed []byte
	err := tx.QueryRow(ctx, `SELECT value FROM meta WHERE key = 'key_check'`).Scan(&sealed)
	if isNoRows(err) {
		ct, err := keys.Encrypt([]byte(keyCheckPlain), aad)
		if err != nil {
			return fmt.Errorf("seal key check: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ('key_check', $1)`, ct); err != nil {
			return fmt.Errorf("write key check: %w", unavailable(err))
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read key check: %w", unavailable(err))
	}
	pt, err := keys.Decrypt(sealed, aad)
	if err != nil || string(pt) != keyCheckPlain {
		return fmt.Errorf("%w: the database was set up with key %s, the keyring holds %s; "+
			"use the key file this database was created with (a lost key cannot be replaced by a new one)",
			ErrWrongKey, sealedKeyID(sealed), strings.Join(keys.IDs(), ", "))
	}
	return nil
}
