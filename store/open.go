package store

import (
	"context"
	"fmt"
)

// Open opens the backend named by driver: "sqlite" (dsn is a file path) or "postgres" (dsn
// is a libpq URL or key=value string).
func Open(ctx context.Context, driver, dsn string, keys *Keyring) (Store, error) {
	switch driver {
	case "sqlite", "sqlite3":
		s, err := OpenSQLite(ctx, dsn, keys)
		if err != nil {
			return nil, err // not s: a nil *SQLite in a Store would not compare equal to nil
		}
		return s, nil
	case "postgres", "postgresql":
		s, err := OpenPostgres(ctx, dsn, keys)
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, fmt.Errorf("store: unknown driver %q (want \"sqlite\" or \"postgres\")", driver)
	}
}

// unavailableError marks a database failure: it matches ErrUnavailable with errors.Is while
// printing, and unwrapping to, the driver's own error (which may be a context error).
type unavailableError struct{ err error }

func (e *unavailableError) Error() string        { return e.err.Error() }
func (e *unavailableError) Unwrap() error        { return e.err }
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

// unavailable wraps a driver or I/O error as ErrUnavailable; nil stays nil.
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	return &unavailableError{err: err}
}
