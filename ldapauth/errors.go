package ldapauth

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// unavailableError says that one URL could not serve a request. It matches ErrUnavailable and
// the underlying cause with errors.Is / errors.As.
type unavailableError struct {
	url  string
	step string // what failed: dial, service bind, search, ...
	err  error
	// stale: the failure happened on a connection reused from the pool, which the server
	// may have dropped while idle; one retry on a fresh connection is worth it.
	stale bool
	// final: the request may already have taken effect (a password change), so it is never
	// repeated on another URL.
	final bool
}

func (e *unavailableError) Error() string   { return ErrUnavailable.Error() + ": " + e.detail() }
func (e *unavailableError) detail() string  { return e.url + ": " + e.step + ": " + e.err.Error() }
func (e *unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.err} }

// isServerResult reports whether err is a result sent by the server (as opposed to a
// network failure, timeout or client-side error, after which the connection is unusable).
func isServerResult(err error) bool {
	var le *ldap.Error
	return errors.As(err, &le) && le.ResultCode < ldap.ErrorNetwork
}

// resultCode returns the LDAP result code of err, or 0 when err is not an LDAP result.
func resultCode(err error) uint16 {
	var le *ldap.Error
	if errors.As(err, &le) && le.ResultCode < ldap.ErrorNetwork {
		return le.ResultCode
	}
	return 0
}

// userBindError turns a refused user bind (result code 49) into the package's user errors;
// it returns nil for any other error, which the caller treats as the directory's fault.
func userBindError(dn string, activeDirectory bool, err error) error {
	var le *ldap.Error
	if !errors.As(err, &le) || le.ResultCode != ldap.LDAPResultInvalidCredentials {
		return nil
	}
	if activeDirectory && le.Err != nil {
		if code := adSubCode(le.Err.Error()); code != "" {
			if cond := adCondition(code); cond != nil {
				return fmt.Errorf("%w: %s (AD data %s)", cond, dn, code)
			}
			return fmt.Errorf("%w: %s (AD data %s)", ErrInvalidCredentials, dn, code)
		}
	}
	return fmt.Errorf("%w: %s", ErrInvalidCredentials, dn)
}

// adCondition maps an Active Directory bind sub-code (the hex "data XXX" of the diagnostic
// message) to the matching error, or nil for a code it does not know.
func adCondition(code string) error {
	switch code {
	case "52e":
		return ErrInvalidCredentials
	case "525":
		return ErrUserNotFound
	case "530":
		return ErrLogonHours
	case "531":
		return ErrWorkstation
	case "532":
		return ErrPasswordExpired
	case "533":
		return ErrAccountDisabled
	case "701":
		return ErrAccountExpired
	case "773":
		return ErrMustChangePassword
	case "775":
		return ErrAccountLocked
	}
	return nil
}

// adSubCode extracts the lower-case hex sub-code from an AD bind diagnostic such as
// "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 533, v1db1".
// It returns "" when the message has none.
func adSubCode(diag string) string {
	lower := strings.ToLower(diag)
	for from := 0; ; {
		i := strings.Index(lower[from:], "data ")
		if i < 0 {
			return ""
		}
		i += from
		from = i + len("data ")
		// "data" must be a word of its own (not the tail of e.g. "metadata").
		if i > 0 && lower[i-1] != ' ' && lower[i-1] != ',' {
			continue
		}
		end := from
		for end < len(lower) && isHex(lower[end]) {
			end++
		}
		if n := end - from; n > 0 && n <= 8 {
			return lower[from:end]
		}
	}
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }
