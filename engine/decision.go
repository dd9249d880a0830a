package engine

import (
	"time"

	"github.com/radmfa/radmfa/radius/dict"
)

// Reasons name why a decision went the way it did, in logs, audit rows and metrics.
const (
	ReasonChallenge          = "challenge_sent"
	ReasonMFA                = "mfa_ok"
	ReasonPasswordOnly       = "password_only"
	ReasonUnenrolledAllowed  = "not_enrolled_allowed"
	ReasonBadPassword        = "bad_password"
	ReasonUnknownUser        = "unknown_user"
	ReasonAmbiguousUser      = "ambiguous_user"
	ReasonEmptyPassword      = "empty_password"
	ReasonNoUsername         = "no_username"
	ReasonBadUsername        = "bad_username"
	ReasonNoPassword         = "no_password"
	ReasonUnsupportedAuth    = "unsupported_auth_method"
	ReasonDirectoryDown      = "directory_unavailable"
	ReasonStoreDown          = "store_unavailable"
	ReasonLockedOut          = "locked_out"
	ReasonNotEnrolled        = "not_enrolled"
	ReasonWrongCode          = "wrong_code"
	ReasonReplayedCode       = "replayed_code"
	ReasonExpiredChallenge   = "expired_challenge"
	ReasonInvalidState       = "invalid_state"
	ReasonInternalError      = "internal_error"
	ReasonLogonHours         = "logon_hours"
	ReasonWorkstation        = "workstation_not_allowed"
	ReasonPasswordExpired    = "password_expired"
	ReasonAccountDisabled    = "account_disabled"
	ReasonAccountExpired     = "account_expired"
	ReasonMustChangePassword = "must_change_password"
	ReasonAccountLocked      = "directory_account_locked"
	ReasonAccounting         = "accounting"
	ReasonPolicyDeny         = "policy_deny"
	ReasonRateLimited        = "rate_limited"
	ReasonAppPassword        = "app_password"
	ReasonRemembered         = "remembered_device"
	ReasonBlocked            = "blocked"
	ReasonFraud              = "fraud_reported"
	ReasonSourceLimited      = "source_limited"
	ReasonFailOpen           = "failmode_open"
	ReasonCodeMissing        = "code_missing"
	ReasonSMSSent            = "sms_sent"
	ReasonSMSFailed          = "sms_failed"
	ReasonSMSRateLimited     = "sms_rate_limited"
	ReasonSMSCodeVoid        = "sms_code_void"
	ReasonNoPhone            = "no_phone"
	ReasonPasswordChangeAsk  = "password_change_prompt"
	ReasonPasswordMismatch   = "password_mismatch"
	ReasonPasswordChanged    = "password_changed"
	ReasonPasswordChangeFail = "password_change_failed"
)

// Results.
const (
	ResultAccept    = "accept"
	ResultReject    = "reject"
	ResultChallenge = "challenge"
)

// decision is the outcome of one request, before it becomes a packet.
type decision struct {
	result  string
	reason  string
	factor  string // "password", "totp", …
	leg     int    // 1 = password, 2 = code
	message string // Reply-Message for the NAS ("" = none)
	state   []byte // State for a challenge
	detail  string // extra log/audit detail, never a secret
	err     error  // the underlying error, for the log
	start   time.Time
	attrs   []dict.AVP // reply attributes on an Accept
	rule    string     // the policy rule that decided, for the log
	groups  []string   // the user's groups, for the log
}

func reject(reason, message string) decision {
	return decision{result: ResultReject, reason: reason, message: message}
}

// Default Reply-Messages. Password failures all read the same so the NAS (and whoever is
// typing) cannot tell an unknown user from a wrong password or a locked account.
const (
	msgFailed      = "Authentication failed"
	msgUnavailable = "Authentication service unavailable, try again later"
	msgWrongCode   = "Wrong code"
	msgExpired     = "The code entry timed out; sign in again"
	msgNotEnrolled = "Multi-factor authentication is required but no method is registered"
	msgUnsupported = "Only PAP is supported"
	msgPromptTOTP  = "Enter the %d-digit code from your authenticator app: "
)
