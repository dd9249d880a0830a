// Package store keeps radmfa's durable state: per-user MFA state and enrolled factors (secrets
// encrypted at rest), the last used TOTP step (replay protection), failure counters and lockouts,
// and the audit trail.
//
// Every rule that must hold across nodes (a code is used once, a lockout holds everywhere) is
// enforced by a single atomic statement or transaction in the database, never in a node's memory.
// SQLite (pure Go, embedded) is the default backend; the interface is shaped so a PostgreSQL
// backend can implement it without the engine noticing.
package store
