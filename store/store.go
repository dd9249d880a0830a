package store

import (
	"context"
	"errors"
	"time"
)

var (
	// ErrNotFound: no such user (or row).
	ErrNotFound = errors.New("store: not found")
	// ErrExists: the user already has that factor enrolled and force was not given.
	ErrExists = errors.New("store: already enrolled")
	// ErrWrongKey: the encryption key does not decrypt the data already in the store.
	ErrWrongKey = errors.New("store: encryption key does not decrypt the stored data")
	// ErrUnavailable: the database cannot be reached or answered with an error.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrDecrypt: a stored secret fails authentication under a key the keyring holds (altered,
	// or copied from another row). Never treat it as "not enrolled".
	ErrDecrypt = errors.New("store: stored value does not decrypt")
)

// State is a user's MFA state, as in the rollout documents.
type State string

const (
	StateDefault  State = ""         // follow the global default
	StateDisabled State = "disabled" // password only
	StateEnabled  State = "enabled"  // asked to register; until registered see mfa.unenrolled
	StateEnforced State = "enforced" // must pass a second factor
)

// User is one user's MFA record. Secret fields are decrypted.
type User struct {
	Username     string
	State        State
	Method       string // preferred factor: "totp", "sms" or "" (no preference)
	TOTPSecret   []byte // raw secret bytes; nil when TOTP is not enrolled
	TOTPLastStep int64  // last accepted TOTP time step (replay protection); 0 = none
	TOTPDrift    int    // learned clock offset in steps
	Phone        string // enrolled SMS number override (E.164); "" = use the directory's
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Enrolled reports whether the user has any second factor registered.
func (u User) Enrolled() bool { return len(u.TOTPSecret) > 0 || u.Phone != "" }

// LockoutPolicy says when consecutive failures lock an account and for how long.
type LockoutPolicy struct {
	Threshold int           // failures that trigger a lockout; 0 disables lockout
	Duration  time.Duration // first lockout; doubled for each further lockout (exponential backoff)
	Max       time.Duration // cap on the doubled duration
}

// Failure kinds, counted separately.
const (
	KindPassword = "password"
	KindFactor   = "factor"
)

// AuditEvent is one authentication decision or admin action.
type AuditEvent struct {
	ID               int64
	Time             time.Time
	Node             string
	Kind             string // "auth", "admin", "portal", "accounting"
	Username         string
	NAS              string // NAS client name
	ClientIP         string
	CallingStationID string
	Factor           string // "password", "totp", "sms", "app_password", ...
	Result           string // "accept", "reject", "challenge", or an admin verb's outcome
	Reason           string
	Detail           string
	// Fraud: the user reported this event as "this wasn't me" (MarkFraud). Only the Portal
	// queries (AuditReport) read it back.
	Fraud bool
}

// AuditFilter selects audit events; zero fields do not filter.
type AuditFilter struct {
	Username string
	Since    time.Time
	Result   string
	Kind     string
	Limit    int // 0 = no limit
}

// Ephemeral holds short-lived keys shared by every node: single-use markers and fixed-window
// counters. Both are one atomic statement, so they hold across nodes.
type Ephemeral interface {
	// Once records key until expires and reports whether this call was the first to do so
	// (a key past its expiry counts as absent).
	Once(ctx context.Context, key string, now, expires time.Time) (bool, error)
	// Incr adds one to key's counter (starting from zero when absent or expired, with the new
	// expiry) and returns the new count.
	Incr(ctx context.Context, key string, now, expires time.Time) (int64, error)
	// Count returns key's live counter (0 when absent or expired) without changing it.
	Count(ctx context.Context, key string, now time.Time) (int64, error)
	// PruneEphemeral deletes expired keys; returns how many.
	PruneEphemeral(ctx context.Context, now time.Time) (int64, error)
}

// Store is the engine's and the CLI's view of durable state.
type Store interface {
	// GetUser returns the user's record or ErrNotFound.
	GetUser(ctx context.Context, username string) (User, error)
	// ListUsers returns every user with a record, ordered by username.
	ListUsers(ctx context.Context) ([]User, error)
	// EnrollTOTP stores a TOTP secret (creating the user's row if needed) and resets the replay
	// step and drift. With force=false it returns ErrExists if a secret is already stored.
	EnrollTOTP(ctx context.Context, username string, secret []byte, force bool) error
	// DeleteUser removes the user's record and everything attached to it; ErrNotFound if none.
	// Failure counts and lockouts are not part of the record and stay (see Unlock).
	DeleteUser(ctx context.Context, username string) error
	// SetState sets the user's MFA state, creating the row if needed.
	SetState(ctx context.Context, username string, state State) error
	// SetMethod sets the preferred factor; SetPhone the SMS number override ("" clears it).
	SetMethod(ctx context.Context, username, method string) error
	SetPhone(ctx context.Context, username, phone string) error
	// UseTOTPStep atomically records step as used if it is greater than the stored last step
	// (compare-and-set) and stores drift. It returns false, nil when the step was already used
	// (a replay) — of all concurrent callers with the same step at most one gets true.
	// ErrNotFound if the user has no record.
	UseTOTPStep(ctx context.Context, username string, step int64, drift int) (bool, error)

	// Account reads, in one statement, what a sign-in needs to know of a user: record,
	// lockout, block and failure counts. A user with no record is not an error (Found false).
	Account(ctx context.Context, username string, now time.Time) (Account, error)

	// LockedUntil returns the time the user's lockout ends (zero if not locked).
	LockedUntil(ctx context.Context, username string, now time.Time) (time.Time, error)
	// RecordFailure atomically counts a failure of kind for the user; when the count reaches
	// policy.Threshold it sets a lockout (Duration doubled per previous lockout, capped at Max),
	// resets the count, and returns the lockout's end. Otherwise it returns the zero time.
	RecordFailure(ctx context.Context, username, kind string, now time.Time, policy LockoutPolicy) (time.Time, error)
	// ResetFailures clears the consecutive-failure count of kind (after a success).
	ResetFailures(ctx context.Context, username, kind string) error
	// Unlock clears every count, lockout and backoff level for the user.
	Unlock(ctx context.Context, username string) error

	// Audit appends an event; QueryAudit returns events matching f, newest first.
	Audit(ctx context.Context, ev AuditEvent) error
	QueryAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
	// PruneAudit deletes events older than before; returns how many.
	PruneAudit(ctx context.Context, before time.Time) (int64, error)

	// Ping checks the database answers.
	Ping(ctx context.Context) error
	Close() error
}

// ErrLimit: the user already has as many of something (app passwords) as allowed.
var ErrLimit = errors.New("store: limit reached")

// MaxAppPasswords is how many app passwords one user may hold, as in the rollout documents.
const MaxAppPasswords = 40

// AppPassword is a password for one app that cannot do MFA (legacy mail clients, some VPN
// clients): it stands in for the directory password and the second factor together.
type AppPassword struct {
	ID         int64
	Username   string
	Name       string // what the user called it ("Phone mail")
	Hash       string // argon2id PHC string (factors.HashAppPassword); never the password
	CreatedAt  time.Time
	LastUsedAt time.Time // zero: never used
}

// Device is a remembered device: MFA is not asked again from it until ExpiresAt.
type Device struct {
	Username  string
	ID        string // DeviceID of the device attribute (Calling-Station-Id): hex SHA-256, never the raw value
	Label     string // shown to the user, e.g. a masked address
	NAS       string // the NAS client it signed in through
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
}

// Block is a user blocked from signing in, by a fraud report or an administrator.
type Block struct {
	Username string
	Reason   string
	Since    time.Time
}

// SummaryRow counts one user's sign-ins (audit kind "auth") on one UTC day.
type SummaryRow struct {
	Day        time.Time // midnight UTC
	Username   string
	Accepts    int
	Rejects    int
	Challenges int
	Fraud      int            // events the user reported as not theirs
	Reasons    map[string]int // by reason, every result; never nil
}

// Portal is what the self-service portal and the admin pages need beyond Store: app
// passwords, remembered devices, fraud blocks and reports. Both backends implement it.
type Portal interface {
	// AddAppPassword stores a new app password hash; ErrLimit when the user already has max.
	// The limit holds against concurrent adds on any node.
	AddAppPassword(ctx context.Context, username, name, hash string, max int) (AppPassword, error)
	// ListAppPasswords returns the user's app passwords, oldest first.
	ListAppPasswords(ctx context.Context, username string) ([]AppPassword, error)
	// DeleteAppPassword deletes one of the user's app passwords; ErrNotFound when the user has
	// no app password with that ID (another user's ID is not found either).
	DeleteAppPassword(ctx context.Context, username string, id int64) error
	// DeleteAppPasswords deletes all the user's app passwords and returns how many.
	DeleteAppPasswords(ctx context.Context, username string) (int, error)
	// TouchAppPassword records a use; ErrNotFound if the ID is gone.
	TouchAppPassword(ctx context.Context, id int64, now time.Time) error

	// RememberDevice inserts or refreshes (label, NAS, last seen, expiry) a device by
	// (Username, ID). ID must be a DeviceID.
	RememberDevice(ctx context.Context, d Device) error
	// DeviceRemembered reports whether the device is remembered for the user and not expired.
	DeviceRemembered(ctx context.Context, username, id string, now time.Time) (bool, error)
	// ListDevices returns the user's devices, expired ones included, most recently seen first.
	ListDevices(ctx context.Context, username string) ([]Device, error)
	// ForgetDevice forgets one device; ErrNotFound if the user has no such device.
	ForgetDevice(ctx context.Context, username, id string) error
	// ForgetDevices forgets all the user's devices and returns how many.
	ForgetDevices(ctx context.Context, username string) (int, error)

	// SetBlocked blocks (with a reason) or unblocks the user. Blocking an already blocked user
	// replaces the reason and time; unblocking a user who is not blocked is not an error.
	SetBlocked(ctx context.Context, username string, blocked bool, reason string, now time.Time) error
	// Blocked reports whether the user is blocked, and why.
	Blocked(ctx context.Context, username string) (bool, string, error)
	// ListBlocked returns every blocked user, most recent first.
	ListBlocked(ctx context.Context) ([]Block, error)
	// MarkFraud flags the audit event as reported fraud. Only the user's own events can be
	// flagged: ErrNotFound when the event does not exist or belongs to someone else.
	MarkFraud(ctx context.Context, auditID int64, username string) error

	// AuditReport is QueryAudit with each event's Fraud flag.
	AuditReport(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
	// AuditSummary counts sign-ins (kind "auth") at or after since, per user per UTC day,
	// ordered by day then username.
	AuditSummary(ctx context.Context, since time.Time) ([]SummaryRow, error)
}
