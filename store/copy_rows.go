package store

import (
	"errors"
	"fmt"
	"sort"
)

// Row-level helpers shared by both backends' Exporter and Importer.

// rowIter is what the export helpers need of a result set: *sql.Rows and pgx.Rows both are.
type rowIter interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// The export queries take no parameters, so one text serves both dialects.
const (
	exportFailures = `SELECT username, kind, count FROM failures`
	exportLockouts = `SELECT username, locked_until, level FROM lockouts`
	exportUsers    = `SELECT ` + userColumns + ` FROM users ORDER BY username`
	exportAudit    = `SELECT ` + auditColumns + ` FROM audit ORDER BY id`
)

// sideState is the failure and lockout state of a snapshot, read before its users stream by
// and matched to them by username.
type sideState struct {
	failures map[string]map[string]int
	lockouts map[string]Lockout
}

func readFailures(rows rowIter, side *sideState) error {
	side.failures = make(map[string]map[string]int)
	for rows.Next() {
		var user, kind string
		var count int
		if err := rows.Scan(&user, &kind, &count); err != nil {
			return err
		}
		if side.failures[user] == nil {
			side.failures[user] = make(map[string]int)
		}
		side.failures[user][kind] = count
	}
	return rows.Err()
}

func readLockouts(rows rowIter, side *sideState) error {
	side.lockouts = make(map[string]Lockout)
	for rows.Next() {
		var user string
		var until int64
		var level int
		if err := rows.Scan(&user, &until, &level); err != nil {
			return err
		}
		side.lockouts[user] = Lockout{Until: fromNanos(until), Level: level}
	}
	return rows.Err()
}

// record builds username's record, taking its failures and lockout out of side.
func (side *sideState) record(username string, u *User) UserRecord {
	r := UserRecord{Username: username, User: u, Failures: side.failures[username]}
	delete(side.failures, username)
	if l, ok := side.lockouts[username]; ok {
		r.Lockout = &l
		delete(side.lockouts, username)
	}
	return r
}

// exportUserRows streams users rows (sealed) as records, then the usernames left in side.
func exportUserRows(rows rowIter, keys *Keyring, side *sideState, fn func(UserRecord) error) error {
	for rows.Next() {
		row, err := scanUserRow(rows)
		if err != nil {
			return unavailable(err)
		}
		u, err := row.open(keys)
		if err != nil {
			return fmt.Errorf("user %q: %w", row.username, err)
		}
		if err := fn(side.record(u.Username, &u)); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return unavailable(err)
	}
	rest := make([]string, 0, len(side.failures)+len(side.lockouts))
	for name := range side.failures {
		rest = append(rest, name)
	}
	for name := range side.lockouts {
		if _, dup := side.failures[name]; !dup {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	for _, name := range rest {
		if err := fn(side.record(name, nil)); err != nil {
			return err
		}
	}
	return nil
}

func exportAuditRows(rows rowIter, fn func(AuditEvent) error) error {
	for rows.Next() {
		ev, err := scanAuditEvent(rows)
		if err != nil {
			return unavailable(err)
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	return unavailable(rows.Err())
}

// sealRecord checks a record for import and seals its secrets with keys (nil when unset).
func sealRecord(keys *Keyring, r UserRecord) (secret, phone []byte, err error) {
	if r.Username == "" {
		return nil, nil, errors.New("record without username")
	}
	u := r.User
	if u == nil {
		return nil, nil, nil
	}
	if u.Username != r.Username {
		return nil, nil, fmt.Errorf("record %q holds user %q", r.Username, u.Username)
	}
	if u.TOTPSecret != nil {
		if secret, err = keys.Encrypt(u.TOTPSecret, fieldAAD(colTOTPSecret, u.Username)); err != nil {
			return nil, nil, err
		}
	}
	if u.Phone != "" {
		if phone, err = keys.Encrypt([]byte(u.Phone), fieldAAD(colPhone, u.Username)); err != nil {
			return nil, nil, err
		}
	}
	return secret, phone, nil
}
