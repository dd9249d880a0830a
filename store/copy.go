package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sort"
	"time"
)

// UserRecord is everything a store holds under one username, as Copy moves it between
// backends.
type UserRecord struct {
	Username string
	User     *User          // the MFA record, secrets decrypted; nil when only failures or a lockout are stored
	Failures map[string]int // consecutive-failure counts by kind; nil when none
	Lockout  *Lockout       // nil when never locked out (or unlocked since)
}

// Lockout is a stored lockout: when it ends (possibly in the past) and the backoff level,
// the number of lockouts since the last Unlock.
type Lockout struct {
	Until time.Time
	Level int
}

// Exporter reads a store's whole content, for Copy. Both backends implement it; it is not
// part of Store because the engine never needs it.
type Exporter interface {
	// ExportUsers calls fn for every username with an MFA record, failure counts or a
	// lockout, from one consistent snapshot: users with a record first, by username, then
	// the others. Failure counts and lockouts are held in memory meanwhile.
	ExportUsers(ctx context.Context, fn func(UserRecord) error) error
	// ExportAudit calls fn for every audit event in insertion order, from one snapshot.
	ExportAudit(ctx context.Context, fn func(AuditEvent) error) error
}

// Importer writes records read by an Exporter, sealing secrets with its own keyring.
type Importer interface {
	// ImportUsers writes the records in one transaction. A username already stored is an
	// error: importing merges nothing.
	ImportUsers(ctx context.Context, recs []UserRecord) error
	// ImportAudit appends the events in one transaction, in order, keeping their times;
	// they get new IDs.
	ImportAudit(ctx context.Context, evs []AuditEvent) error
}

var (
	_ Exporter = (*SQLite)(nil)
	_ Importer = (*SQLite)(nil)
	_ Exporter = (*Postgres)(nil)
	_ Importer = (*Postgres)(nil)
)

// CopyReport counts what Copy moved and verified.
type CopyReport struct {
	Users   int // usernames: with an MFA record, failure counts or a lockout
	Records int // of those, with an MFA record
	Secrets int // TOTP secrets and phone numbers decrypted from the destination and matched
	Audit   int // audit events

	AppPasswords int // app password hashes
	Devices      int // remembered devices
	Blocks       int // blocked users
}

// copyBatch is how many rows go into one import transaction: large enough that round trips
// do not dominate, small enough to keep memory flat.
const copyBatch = 500

// Copy moves every user (state, method, TOTP secret, last step, drift, phone, timestamps),
// failure count, lockout and audit event from one store to another, which must be empty.
// Secrets are decrypted with from's keyring and sealed with to's, so Copy also moves data to
// a new key. Afterwards it reads the destination back and compares it with the source: the
// same usernames, and for each one the same fields with every secret decrypted by the
// destination's keyring; the same audit events in the same order.
//
// Ephemeral keys (single-use markers, rate-limit windows) are not copied: they live for
// minutes, and the nodes are stopped meanwhile.
//
// Stop the nodes using from first: writes during the copy are not carried over and make the
// verification fail. On failure the destination holds a partial copy; empty it before trying
// again.
func Copy(ctx context.Context, from, to Store) (CopyReport, error) {
	var rep CopyReport
	src, ok := from.(Exporter)
	if !ok {
		return rep, fmt.Errorf("store: copy: source %T cannot export", from)
	}
	dst, ok := to.(Importer)
	if !ok {
		return rep, fmt.Errorf("store: copy: destination %T cannot import", to)
	}
	check, ok := to.(Exporter)
	if !ok {
		return rep, fmt.Errorf("store: copy: destination %T cannot be read back", to)
	}
	if err := checkEmpty(ctx, check); err != nil {
		return rep, err
	}

	users := make(map[string][sha256.Size]byte)
	var batch []UserRecord
	flushUsers := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := dst.ImportUsers(ctx, batch)
		batch = batch[:0]
		return err
	}
	err := src.ExportUsers(ctx, func(r UserRecord) error {
		users[r.Username] = digestUser(r)
		rep.Users++
		if r.User != nil {
			rep.Records++
		}
		if batch = append(batch, r); len(batch) == copyBatch {
			return flushUsers()
		}
		return nil
	})
	if err == nil {
		err = flushUsers()
	}
	if err != nil {
		return rep, fmt.Errorf("store: copy users: %w", err)
	}

	srcAudit := sha256.New()
	var evs []AuditEvent
	flushAudit := func() error {
		if len(evs) == 0 {
			return nil
		}
		err := dst.ImportAudit(ctx, evs)
		evs = evs[:0]
		return err
	}
	err = src.ExportAudit(ctx, func(ev AuditEvent) error {
		hashAudit(srcAudit, ev)
		rep.Audit++
		if evs = append(evs, ev); len(evs) == copyBatch {
			return flushAudit()
		}
		return nil
	})
	if err == nil {
		err = flushAudit()
	}
	if err != nil {
		return rep, fmt.Errorf("store: copy audit: %w", err)
	}

	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
	}
	if err := copyPortal(ctx, from, to, names, &rep); err != nil {
		return rep, err
	}

	secrets, err := verifyUsers(ctx, check, users)
	if err != nil {
		return rep, err
	}
	rep.Secrets = secrets
	if err := verifyAudit(ctx, check, srcAudit.Sum(nil), rep.Audit); err != nil {
		return rep, err
	}
	return rep, nil
}

// errStop ends an export early from inside its callback.
var errStop = errors.New("stop")

func checkEmpty(ctx context.Context, to Exporter) error {
	var found string
	err := to.ExportUsers(ctx, func(r UserRecord) error { found = "user " + r.Username; return errStop })
	if err == nil {
		err = to.ExportAudit(ctx, func(AuditEvent) error { found = "audit events"; return errStop })
	}
	if err != nil && !errors.Is(err, errStop) {
		return fmt.Errorf("store: copy: read destination: %w", err)
	}
	if found != "" {
		return fmt.Errorf("store: copy: the destination is not empty (it holds %s); copy into a new database", found)
	}
	return nil
}

// verifyUsers reads every user back from the destination, decrypting with its keyring, and
// checks each against the source's digest. It returns how many secrets it compared.
func verifyUsers(ctx context.Context, to Exporter, want map[string][sha256.Size]byte) (int, error) {
	secrets := 0
	err := to.ExportUsers(ctx, func(r UserRecord) error {
		d, ok := want[r.Username]
		if !ok {
			return fmt.Errorf("user %q is in the destination but not in the source", r.Username)
		}
		if digestUser(r) != d {
			return fmt.Errorf("user %q differs from the source", r.Username)
		}
		delete(want, r.Username)
		if r.User != nil && r.User.TOTPSecret != nil {
			secrets++
		}
		if r.User != nil && r.User.Phone != "" {
			secrets++
		}
		return nil
	})
	if err == nil && len(want) > 0 {
		missing := make([]string, 0, len(want))
		for u := range want {
			missing = append(missing, u)
		}
		sort.Strings(missing)
		err = fmt.Errorf("%d users missing from the destination, first %q", len(missing), missing[0])
	}
	if err != nil {
		return 0, fmt.Errorf("store: copy: verify: %w", err)
	}
	return secrets, nil
}

func verifyAudit(ctx context.Context, to Exporter, want []byte, count int) error {
	h, n := sha256.New(), 0
	err := to.ExportAudit(ctx, func(ev AuditEvent) error {
		hashAudit(h, ev)
		n++
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: copy: verify audit: %w", err)
	}
	if n != count || string(h.Sum(nil)) != string(want) {
		return fmt.Errorf("store: copy: verify audit: the destination's %d events differ from the source's %d", n, count)
	}
	return nil
}

// digestUser hashes every field of a record (secrets decrypted), so records read from two
// stores compare equal exactly when their content is. Strings are length-prefixed, optional
// parts flagged, times unix nanoseconds (the stored form) and failure kinds sorted, so no two
// records share an encoding.
func digestUser(r UserRecord) [sha256.Size]byte {
	h := sha256.New()
	writeStr(h, r.Username)
	writeBool(h, r.User != nil)
	if u := r.User; u != nil {
		writeStr(h, u.Username)
		writeStr(h, string(u.State))
		writeStr(h, u.Method)
		writeBool(h, u.TOTPSecret != nil)
		writeStr(h, string(u.TOTPSecret))
		writeInt(h, u.TOTPLastStep)
		writeInt(h, int64(u.TOTPDrift))
		writeStr(h, u.Phone)
		writeInt(h, toNanos(u.CreatedAt))
		writeInt(h, toNanos(u.UpdatedAt))
	}
	kinds := make([]string, 0, len(r.Failures))
	for k := range r.Failures {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	writeInt(h, int64(len(kinds)))
	for _, k := range kinds {
		writeStr(h, k)
		writeInt(h, int64(r.Failures[k]))
	}
	writeBool(h, r.Lockout != nil)
	if l := r.Lockout; l != nil {
		writeInt(h, toNanos(l.Until))
		writeInt(h, int64(l.Level))
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// hashAudit adds an event to a running hash of the audit trail; IDs are left out (the
// destination numbers events itself), their order is kept.
func hashAudit(h hash.Hash, ev AuditEvent) {
	writeInt(h, toNanos(ev.Time))
	for _, s := range []string{ev.Node, ev.Kind, ev.Username, ev.NAS, ev.ClientIP, ev.CallingStationID,
		ev.Factor, ev.Result, ev.Reason, ev.Detail} {
		writeStr(h, s)
	}
}

func writeStr(h hash.Hash, s string) {
	writeInt(h, int64(len(s)))
	h.Write([]byte(s))
}

func writeBool(h hash.Hash, b bool) {
	if b {
		writeInt(h, 1)
	} else {
		writeInt(h, 0)
	}
}

func writeInt(h hash.Hash, n int64) {
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(n)))
}
