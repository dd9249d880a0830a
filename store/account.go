package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Account is everything a sign-in reads about one user before it decides: the MFA record, the
// lockout, a block and the failure counts. It is read in one statement, so a sign-in pays one
// read round trip instead of one per table (four on the first leg before this existed).
type Account struct {
	User             User // zero, with Found false, when the user has no record
	Found            bool
	LockedUntil      time.Time // zero when not locked (or the lockout has ended)
	Blocked          bool
	BlockReason      string
	PasswordFailures int // consecutive failures of KindPassword
	FactorFailures   int // consecutive failures of KindFactor
}

// Failures returns the consecutive-failure count of kind.
func (a Account) Failures(kind string) int {
	if kind == KindPassword {
		return a.PasswordFailures
	}
	return a.FactorFailures
}

// accountQuery reads an Account. $1 is the username; the user columns come through a left
// join so a user without a record still gets the other fields. SQLite and PostgreSQL both
// read "$1" as the first argument wherever it appears.
const accountQuery = `SELECT
	(SELECT locked_until FROM lockouts WHERE username = $1),
	(SELECT reason FROM blocks WHERE username = $1),
	(SELECT count FROM failures WHERE username = $1 AND kind = 'password'),
	(SELECT count FROM failures WHERE username = $1 AND kind = 'factor'),
	u.username, u.state, u.method, u.totp_secret, u.totp_last_step, u.totp_drift, u.phone,
	u.created_at, u.updated_at
FROM (SELECT 1 AS one) AS q LEFT JOIN users u ON u.username = $1`

// scanAccount reads one accountQuery row and decrypts the user's secrets with keys.
func scanAccount(sc scanner, now time.Time, keys *Keyring) (Account, error) {
	var (
		locked, pwFail, factorFail, lastStep, drift, created, updated sql.NullInt64
		reason, username, state, method                               sql.NullString
		secret, phone                                                 []byte
	)
	if err := sc.Scan(&locked, &reason, &pwFail, &factorFail, &username, &state, &method, &secret,
		&lastStep, &drift, &phone, &created, &updated); err != nil {
		return Account{}, unavailable(err)
	}
	a := Account{
		Blocked:          reason.Valid,
		BlockReason:      reason.String,
		PasswordFailures: int(pwFail.Int64),
		FactorFailures:   int(factorFail.Int64),
	}
	if locked.Valid && locked.Int64 > toNanos(now) {
		a.LockedUntil = fromNanos(locked.Int64)
	}
	if !username.Valid {
		return a, nil
	}
	row := userRow{username: username.String, state: state.String, method: method.String, secret: secret,
		lastStep: lastStep.Int64, drift: int(drift.Int64), phone: phone, created: created.Int64, updated: updated.Int64}
	u, err := row.open(keys)
	if err != nil {
		return Account{}, err
	}
	a.User, a.Found = u, true
	return a, nil
}

// Account implements Store. It reads on the write connection, not the reader pool: every commit
// empties the page cache of the other connections, and a sign-in commits something (a spent
// TOTP step, audit rows) far more often than it reads, so a reader re-read its pages from the
// WAL each time while the writer's cache stays warm. bench/run.sh, C=32: radmfa CPU per
// two-leg flow 0.27 -> 0.19 ms, per second leg 0.10 -> 0.076 ms. The write connection is
// held only by short statements and transactions (pruning goes in chunks).
func (s *SQLite) Account(ctx context.Context, username string, now time.Time) (Account, error) {
	a, err := scanAccount(s.w.QueryRowContext(ctx, accountQuery, username), now, s.keys.Load())
	if err != nil {
		return Account{}, fmt.Errorf("store: account %q: %w", username, err)
	}
	return a, nil
}

// Account implements Store.
func (p *Postgres) Account(ctx context.Context, username string, now time.Time) (Account, error) {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	a, err := scanAccount(p.pool.QueryRow(ctx, accountQuery, username), now, p.keys.Load())
	if err != nil {
		return Account{}, fmt.Errorf("store: account %q: %w", username, err)
	}
	return a, nil
}
