package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"modernc.org/sqlite" // also registers the pure-Go "sqlite" driver
	sqlitelib "modernc.org/sqlite/lib"
)

// SQLite is the embedded single-file backend.
//
// Writes go through one connection: SQLite allows one writer at a time anyway, and queuing in
// database/sql is cheaper than SQLITE_BUSY retries. Reads use a separate pool of query-only
// connections that WAL lets run alongside the writer. Other processes on the same file (the
// CLI next to a running server) are serialized by SQLite's file locks and busy_timeout.
type SQLite struct {
	path string
	w    *stmtDB
	r    *stmtDB
	keys atomic.Pointer[Keyring] // swapped by RotateKey
	now  func() time.Time        // created_at/updated_at and default audit time; tests replace it
}

var _ Store = (*SQLite)(nil)

const (
	sqliteBusyTimeout = 10 * time.Second
	sqliteReadConns   = 4
	sqliteMmapSize    = 1 << 30 // address space, not memory: the kernel's page cache backs it
)

// sqliteDSN builds a modernc.org/sqlite DSN. synchronous=NORMAL: in WAL mode every commit is
// in the WAL file when Commit returns, so it survives the process being killed (kill -9); only
// an OS crash or power loss can lose the last commits, and FULL's fsync per commit would
// cost every authentication a disk flush to close that window.
func sqliteDSN(path string, write bool) string {
	q := []string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()),
		"_pragma=foreign_keys(1)",
		"_pragma=synchronous(NORMAL)",
	}
	if write {
		// BEGIN IMMEDIATE takes the write lock up front: a deferred transaction that reads and
		// then writes can fail with SQLITE_BUSY_SNAPSHOT, which busy_timeout does not retry.
		// journal_mode is not set here but by enableWAL, which can retry.
		q = append(q, "_txlock=immediate")
	} else {
		// Readers map the file instead of copying pages into each connection's own cache: every
		// commit invalidates those caches, and with a million users the reads went to pread.
		q = append(q, "_pragma=query_only(1)", fmt.Sprintf("_pragma=mmap_size(%d)", sqliteMmapSize))
	}
	return path + "?" + strings.Join(q, "&")
}

// OpenSQLite opens (creating if needed) the database file at path, applies pending migrations
// and checks that keys decrypts the data already stored. A database created with another key
// gives ErrWrongKey: its users must never be mistaken for unenrolled ones.
func OpenSQLite(ctx context.Context, path string, keys *Keyring) (*SQLite, error) {
	if keys == nil {
		return nil, errNoKeyring
	}
	if path == "" || strings.Contains(path, "?") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, fmt.Errorf("store: open sqlite %q: want a plain file path", path)
	}
	if err := createPrivateFile(path); err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, unavailable(err))
	}
	s := &SQLite{path: path, now: time.Now}
	s.keys.Store(keys)

	w, err := sql.Open("sqlite", sqliteDSN(path, true))
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, unavailable(err))
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s.w = newStmtDB(w)
	if err := s.enableWAL(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open sqlite %s: enable WAL: %w", path, unavailable(err))
	}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}

	r, err := sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, unavailable(err))
	}
	r.SetMaxOpenConns(sqliteReadConns)
	r.SetMaxIdleConns(sqliteReadConns)
	s.r = newStmtDB(r)
	if err := r.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, unavailable(err))
	}
	return s, nil
}

// enableWAL switches the file to WAL mode, which is persistent. Changing the journal mode
// needs an exclusive lock, and SQLite answers SQLITE_BUSY at once, without its busy handler,
// while another connection is opening the same new file; so retry here for the busy timeout.
func (s *SQLite) enableWAL(ctx context.Context) error {
	deadline := time.Now().Add(sqliteBusyTimeout)
	for {
		var mode string
		err := s.w.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode)
		if err == nil {
			if !strings.EqualFold(mode, "wal") {
				return fmt.Errorf("journal mode is %q", mode)
			}
			return nil
		}
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqlitelib.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// createPrivateFile creates an empty database file with mode 0600 if there is none, so the
// audit trail and sealed secrets are not world-readable; SQLite gives its -wal and -shm files
// the database file's mode.
func createPrivateFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// Ping checks both connection pools answer.
func (s *SQLite) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", unavailable(err))
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", unavailable(err))
	}
	return nil
}

// Close closes both pools. The WAL is checkpointed by SQLite when the last connection closes.
func (s *SQLite) Close() error {
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close: %w", unavailable(err))
	}
	return nil
}

// toNanos and fromNanos convert times to the stored form, unix nanoseconds, with 0 for the
// zero time (whose UnixNano is undefined).
func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
