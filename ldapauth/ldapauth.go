package ldapauth

import (
	"context"
	"errors"
	"time"
)

// Errors returned by Authenticator methods. Callers test them with errors.Is; the returned
// errors wrap them with context (the URL, the AD sub-code).
var (
	// ErrEmptyPassword: the password was empty; no bind was attempted (an LDAP simple bind with
	// an empty password is an "unauthenticated bind" that many servers report as success).
	ErrEmptyPassword = errors.New("ldapauth: empty password")
	// ErrInvalidCredentials: the directory refused the user's password (AD data 52e).
	ErrInvalidCredentials = errors.New("ldapauth: invalid credentials")
	// ErrUserNotFound: the search found no entry for the username (AD data 525).
	ErrUserNotFound = errors.New("ldapauth: user not found")
	// ErrAmbiguousUser: the search found more than one entry; treated as a failure, never a guess.
	ErrAmbiguousUser = errors.New("ldapauth: more than one entry matches the username")
	// ErrUnavailable: no directory server could answer (all URLs down, timeouts, service
	// account refused). Never a user failure.
	ErrUnavailable = errors.New("ldapauth: directory unavailable")

	// Active Directory account conditions, decoded from the bind diagnostic "data XXX".
	ErrLogonHours         = errors.New("ldapauth: not permitted to log on at this time")          // 530
	ErrWorkstation        = errors.New("ldapauth: not permitted to log on from this workstation") // 531
	ErrPasswordExpired    = errors.New("ldapauth: password expired")                              // 532
	ErrAccountDisabled    = errors.New("ldapauth: account disabled")                              // 533
	ErrAccountExpired     = errors.New("ldapauth: account expired")                               // 701
	ErrMustChangePassword = errors.New("ldapauth: password must be changed")                      // 773
	ErrAccountLocked      = errors.New("ldapauth: account locked out")                            // 775

	// ErrPasswordPolicy: ChangePassword's new password was refused by the directory's password
	// policy (result code 19, constraintViolation): the user should pick another one.
	ErrPasswordPolicy = errors.New("ldapauth: new password rejected by the password policy")
)

// Identity is what the directory says about an authenticated (or looked-up) user.
type Identity struct {
	Username    string   // the username searched for, as passed; the entry's UsernameAttr value when configured
	DN          string   // the entry's distinguished name
	DisplayName string   // displayName / cn
	Mail        string   // mail
	Phone       string   // the configured phone attribute (mobile by default), raw as stored
	Groups      []string // group names (the RDN value, e.g. "vpn-admins"), sorted, deduplicated
	// Class holds Class attributes an upstream RADIUS primary answered with (NPS uses them
	// to tie accounting to the session); relayed on radmfa's Accept. Empty for LDAP.
	Class [][]byte
}

// Authenticator is the primary factor: a password check plus an identity lookup.
type Authenticator interface {
	// Authenticate checks password for username. On success it returns the identity.
	// Errors: ErrEmptyPassword, ErrInvalidCredentials, ErrUserNotFound, ErrAmbiguousUser,
	// ErrUnavailable, or one of the AD account-condition errors.
	Authenticate(ctx context.Context, username, password string) (Identity, error)
	// Lookup finds username without checking a password (OTP-only mode, portal admin checks).
	Lookup(ctx context.Context, username string) (Identity, error)
	// ChangePassword sets a new password for a user whose old one is expired or must change.
	ChangePassword(ctx context.Context, username, oldPassword, newPassword string) error
	// Ping checks that every configured URL answers a service-account bind; one entry per URL,
	// nil for a healthy one.
	Ping(ctx context.Context) map[string]error
	// Close releases pooled connections.
	Close() error
}

// Config configures an LDAP Authenticator.
type Config struct {
	URLs               []string      // ldap:// or ldaps:// URLs, tried in order (failover)
	StartTLS           bool          // upgrade ldap:// connections with StartTLS
	CAFile             string        // PEM CA bundle for ldaps:// and StartTLS; system roots if empty
	InsecureSkipVerify bool          // test setups only
	BindDN             string        // service account; empty means anonymous searches
	BindPassword       string        // service account password (required when BindDN is set)
	BaseDN             string        // user search base
	UserFilter         string        // e.g. (&(objectClass=inetOrgPerson)(uid={username})); {username} is escaped per RFC 4515
	Timeout            time.Duration // per network operation (dial, bind, search); 0 means 5s
	// PoolSize caps the open connections per URL (service searches and user binds share them);
	// a burst waits for a free one. 0 means 8.
	PoolSize int
	// Attributes to fetch in the user search.
	// UsernameAttr (uid, sAMAccountName) is the attribute that holds the name users sign in
	// with; "" derives it from UserFilter when the filter compares exactly one attribute with
	// {username} (UsernameAttrOf). Identity.Username is then the entry's value.
	UsernameAttr string
	// Normalize, when set with a UsernameAttr, must turn the entry's UsernameAttr value into the
	// very name searched for, or the entry is not the user's (ErrUserNotFound, before any bind).
	// Directories match loosely ("ALICE", "alice  ", compatibility characters, combining
	// forms): without this, such a variant reaches alice's entry under a name that is not
	// "alice" in the store, with its own MFA record and lockout counters.
	Normalize       func(string) string
	DisplayNameAttr string // default displayName
	MailAttr        string // default mail
	PhoneAttr       string // default mobile
	// Group membership. GroupMode is "memberof" (read the memberOf attribute of the user
	// entry), "search" (search GroupBaseDN with GroupFilter, {dn} and {username} substituted,
	// escaped; default (|(member={dn})(uniqueMember={dn}))), "ad_chain" (AD nested groups:
	// (member:1.2.840.113556.1.4.1941:={dn}) under GroupBaseDN or BaseDN), or "none"/"" (no
	// groups). The group searches run only after a successful bind.
	GroupMode     string
	GroupBaseDN   string
	GroupFilter   string
	GroupNameAttr string // default cn
	// CacheTTL keeps what the user search found (DN, attributes, groups) for this long, so a
	// sign-in costs one bind; the password bind always reaches the directory. 0: off.
	CacheTTL time.Duration
	// ActiveDirectory enables AD bind-diagnostic decoding and unicodePwd password changes.
	ActiveDirectory bool
}
