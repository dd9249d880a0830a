package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxCachedStmts bounds the statement cache of one pool. The store's queries are a fixed set
// (a few dozen, counting the filter combinations of audit queries); past the bound a query runs
// unprepared rather than growing the cache.
const maxCachedStmts = 128

// stmtDB is a *sql.DB whose Exec, Query and QueryRow prepare each distinct query once and reuse
// it. modernc.org/sqlite parses and plans every statement text it is handed; the bench profile
// showed that parsing alone costing about a fifth of the server's CPU per sign-in. database/sql
// keeps a prepared statement per connection of the pool, so the cache serves every connection.
type stmtDB struct {
	*sql.DB
	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
}

func newStmtDB(db *sql.DB) *stmtDB {
	return &stmtDB{DB: db, stmts: make(map[string]*sql.Stmt)}
}

// stmt returns the prepared form of query, or nil when the cache is full.
func (d *stmtDB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	d.mu.RLock()
	st, ok := d.stmts[query]
	d.mu.RUnlock()
	if ok {
		return st, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if st, ok := d.stmts[query]; ok {
		return st, nil
	}
	if len(d.stmts) >= maxCachedStmts {
		return nil, nil
	}
	st, err := d.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	d.stmts[query] = st
	return st, nil
}

// ExecContext is sql.DB.ExecContext through the statement cache.
func (d *stmtDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := d.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return d.DB.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

// QueryContext is sql.DB.QueryContext through the statement cache.
func (d *stmtDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := d.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return d.DB.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext is sql.DB.QueryRowContext through the statement cache. A query that cannot
// be prepared runs unprepared, so its *sql.Row carries the same error.
func (d *stmtDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := d.stmt(ctx, query)
	if err != nil || st == nil {
		return d.DB.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// Close closes the cached statements, then the pool.
func (d *stmtDB) Close() error {
	d.mu.Lock()
	var errs []error
	for q, st := range d.stmts {
		errs = append(errs, st.Close())
		delete(d.stmts, q)
	}
	d.mu.Unlock()
	return errors.Join(append(errs, d.DB.Close())...)
}
