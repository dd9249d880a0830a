package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// migration is one versioned schema step, read from migrations/<dialect>/NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads dir's migrations in version order; versions must run 1, 2, 3… so a
// missing or duplicated file is caught at startup, not half-applied.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration %s: name must be NNNN_description.sql", name)
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("store: read migration %s: %w", name, err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("store: migration %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// keyCheckPlain is sealed with the primary key into meta on first open; decrypting it on later
// opens proves the keyring matches the data before any user is read.
const keyCheckPlain = "radmfa key check v1"

// migrate applies pending migrations and runs the key check, all in one transaction: two
// processes opening a new file at once serialize on BEGIN IMMEDIATE, and a failed step leaves
// the schema as it was.
func (s *SQLite) migrate(ctx context.Context) error {
	ms, err := loadMigrations(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: open sqlite %s: begin: %w", s.path, unavailable(err))
	}
	defer tx.Rollback()

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version    INTEGER PRIMARY KEY NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("store: open sqlite %s: create schema_version: %w", s.path, unavailable(err))
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("store: open sqlite %s: read schema version: %w", s.path, unavailable(err))
	}
	if current > len(ms) {
		return fmt.Errorf("store: open sqlite %s: schema version %d is newer than this radmfa knows (%d); upgrade radmfa",
			s.path, current, len(ms))
	}
	for _, m := range ms[current:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("store: open sqlite %s: migration %s: %w", s.path, m.name, unavailable(err))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`,
			m.version, toNanos(s.now())); err != nil {
			return fmt.Errorf("store: open sqlite %s: migration %s: %w", s.path, m.name, unavailable(err))
		}
	}
	if err := s.checkKey(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: open sqlite %s: commit migrations: %w", s.path, unavailable(err))
	}
	return nil
}

// checkKey writes the key check on first open and verifies it on later opens.
func (s *SQLite) checkKey(ctx context.Context, tx *sql.Tx) error {
	keys := s.keys.Load()
	aad := fieldAAD("key_check", "")
	var sealed []byte
	err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'key_check'`).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		ct, err := keys.Encrypt([]byte(keyCheckPlain), aad)
		if err != nil {
			return fmt.Errorf("store: open sqlite %s: seal key check: %w", s.path, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('key_check', ?)`, ct); err != nil {
			return fmt.Errorf("store: open sqlite %s: write key check: %w", s.path, unavailable(err))
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: open sqlite %s: read key check: %w", s.path, unavailable(err))
	}
	pt, err := keys.Decrypt(sealed, aad)
	if err != nil || string(pt) != keyCheckPlain {
		return fmt.Errorf("store: open sqlite %s: %w: the database was set up with key %s, the keyring holds %s; "+
			"use the key file this database was created with (a lost key cannot be replaced by a new one)",
			s.path, ErrWrongKey, sealedKeyID(sealed), strings.Join(keys.IDs(), ", "))
	}
	return nil
}

// sealedKeyID returns the hex key ID in a ciphertext's header, for error messages.
func sealedKeyID(ct []byte) string {
	if len(ct) < headerSize {
		return "(unreadable)"
	}
	return hex.EncodeToString(ct[1:headerSize])
}
