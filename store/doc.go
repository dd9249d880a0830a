// Package store keeps radmfa's durable state: per-user MFA state and enrolled factors (secrets
// encrypted at rest), the last used TOTP step (replay protection), failure counters and lockouts,
// and the audit trail.
//
// Every rule that must hold across nodes (a code is used once, a lockout holds everywhere) is
// enforced by a single atomic statement or transaction in the database, never in a node's memory.
// SQLite (pure Go, embedded) is the default backend; PostgreSQL (pgx) serves several nodes as
// one, with the same behaviour suite run against both.
//
// Secrets (TOTP secrets, phone overrides) are sealed with AES-256-GCM by a Keyring before they
// are written, bound to their column and username, so a database file alone reveals none of
// them and a value moved to another row fails with ErrDecrypt instead of decrypting. The key
// lives in its own file (LoadKeyFile). A key check sealed into the database on first open makes
// a wrong or re-created key fail the open with ErrWrongKey: users are never mistaken for
// unenrolled. RotateKey re-seals everything under a new key.
//
// Errors: ErrNotFound, ErrExists, ErrWrongKey and ErrDecrypt describe the data; ErrUnavailable
// marks a database that could not answer, so callers can fail closed without counting it against
// the user. Schema changes are numbered migrations under migrations/<dialect>/, applied in one
// transaction on open.
package store
