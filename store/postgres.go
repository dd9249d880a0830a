package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is the shared backend that lets several radmfa nodes act as one: every rule that
// must hold across nodes is a single conditional statement or a transaction with row locks,
// so the database, not a node, decides.
type Postgres struct {
	pool *pgxpool.Pool
	name string                  // host:port/database, for messages (never the password)
	keys atomic.Pointer[Keyring] // swapped by RotateKey
	now  func() time.Time        // created_at/updated_at and default audit time; tests replace it
}

var _ Store = (*Postgres)(nil)

const (
	// pgMaxConns is the pool size unless the DSN sets pool_max_conns: a handful of concurrent
	// authentications per node, each holding a connection for one short statement.
	pgMaxConns = 10
	// pgPingIdle: see ShouldPing in OpenPostgres.
	pgPingIdle = 100 * time.Millisecond
	// pgConnectTimeout applies unless the DSN sets connect_timeout: an unreachable database
	// must fail a login attempt, not stall it behind the TCP handshake's retries.
	pgConnectTimeout = 5 * time.Second
	// pgCallTimeout bounds calls whose context has no deadline, so a server that stops
	// answering fails the call (ErrUnavailable) instead of hanging it.
	pgCallTimeout = 30 * time.Second
)

// OpenPostgres connects to the database named by dsn (a libpq URL or key=value string; pgx's
// pool_* settings are accepted), applies pending migrations and checks that keys decrypts the
// data already stored: a database created with another key gives ErrWrongKey.
func OpenPostgres(ctx context.Context, dsn string, keys *Keyring) (*Postgres, error) {
	if keys == nil {
		return nil, errNoKeyring
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgconn's parse errors print the DSN with its password redacted.
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = pgMaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = pgConnectTimeout
	}
	// Ping a connection that sat idle in the pool for pgPingIdle before using it (pgxpool's
	// default: a second). That keeps statements off connections the server closed after a
	// restart, a failover or pg_terminate_backend: the first call afterwards runs on a fresh
	// connection instead of failing, and a write is not left with an unknown outcome. Under
	// load connections are reused within milliseconds and pay no extra round trip (pinging
	// every time doubled a sign-in's round trips: 9 statements, 18 round trips).
	cfg.ShouldPing = func(_ context.Context, p pgxpool.ShouldPingParams) bool { return p.IdleDuration >= pgPingIdle }
	p := &Postgres{
		name: fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database),
		now:  time.Now,
	}
	p.keys.Store(keys)
	// The pool connects lazily; the migration below is the first real round trip.
	p.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres %s: %w", p.name, unavailable(err))
	}
	if _, err := p.Migrate(ctx); err != nil {
		p.pool.Close()
		return nil, err
	}
	return p, nil
}

// String names the database without credentials.
func (p *Postgres) String() string { return "postgres " + p.name }

// Ping checks the database answers.
func (p *Postgres) Ping(ctx context.Context) error {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	if err := p.pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", unavailable(err))
	}
	return nil
}

// Close closes the pool, waiting for connections in use to be returned.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

// callCtx gives ctx the default call timeout unless it has a deadline already.
func callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, pgCallTimeout)
}

// inTx runs fn in a transaction, committing if it returns nil. Errors from fn are returned
// as they are; begin and commit failures are wrapped as ErrUnavailable.
func (p *Postgres) inTx(ctx context.Context, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	tx, err := p.pool.BeginTx(ctx, opts)
	if err != nil {
		return unavailable(err)
	}
	// After a commit this is a no-op; after a failure it ends the transaction (or, with ctx
	// done, closes the connection so the pool discards it).
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return err
	}
	return unavailable(tx.Commit(ctx))
}

// isNoRows reports whether err is pgx's "no rows in result set".
func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
