package metrics

import (
	"errors"
	"time"

	"github.com/radmfa/radmfa/engine"
	"github.com/radmfa/radmfa/ldapauth"
)

// other replaces a label value outside its closed set, so a new engine reason can never
// create unbounded series (it shows up as "other" until added here).
const other = "other"

// stages are the steps engine.Observer times.
var stages = []string{"primary", "lookup", "factor", "sms", "store"}

var results = set(engine.ResultAccept, engine.ResultReject, engine.ResultChallenge)

// reasons is every engine reason; reasons_test.go checks the list against engine/decision.go.
var reasons = set(
	engine.ReasonChallenge, engine.ReasonMFA, engine.ReasonPasswordOnly, engine.ReasonUnenrolledAllowed,
	engine.ReasonBadPassword, engine.ReasonUnknownUser, engine.ReasonAmbiguousUser, engine.ReasonEmptyPassword,
	engine.ReasonNoUsername, engine.ReasonBadUsername, engine.ReasonNoPassword, engine.ReasonUnsupportedAuth,
	engine.ReasonDirectoryDown, engine.ReasonStoreDown, engine.ReasonLockedOut, engine.ReasonNotEnrolled,
	engine.ReasonWrongCode, engine.ReasonReplayedCode, engine.ReasonExpiredChallenge, engine.ReasonInvalidState,
	engine.ReasonInternalError, engine.ReasonLogonHours, engine.ReasonWorkstation, engine.ReasonPasswordExpired,
	engine.ReasonAccountDisabled, engine.ReasonAccountExpired, engine.ReasonMustChangePassword,
	engine.ReasonAccountLocked, engine.ReasonAccounting, engine.ReasonPolicyDeny, engine.ReasonRateLimited,
	engine.ReasonFailOpen, engine.ReasonCodeMissing, engine.ReasonSMSSent, engine.ReasonSMSFailed,
	engine.ReasonSMSRateLimited, engine.ReasonSMSCodeVoid, engine.ReasonNoPhone, engine.ReasonPasswordChangeAsk,
	engine.ReasonPasswordMismatch, engine.ReasonPasswordChanged, engine.ReasonPasswordChangeFail,
	engine.ReasonSourceLimited, engine.ReasonAppPassword, engine.ReasonRemembered, engine.ReasonBlocked,
	engine.ReasonFraud,
)

func set(vals ...string) map[string]bool {
	m := make(map[string]bool, len(vals))
	for _, v := range vals {
		m[v] = true
	}
	return m
}

func closed(v string, allowed map[string]bool) string {
	if allowed[v] {
		return v
	}
	return other
}

// Decision counts one answered request. nas is the client's configured name (the engine never
// passes anything else), so its values are bounded by the configuration.
func (m *Metrics) Decision(nas, result, reason string, took time.Duration) {
	result, reason = closed(result, results), closed(reason, reasons)
	m.requests.WithLabelValues(nas, result, reason).Inc()
	m.requestLatency.WithLabelValues(result).Observe(took.Seconds())
	switch reason {
	case engine.ReasonLockedOut:
		m.lockouts.Inc()
	case engine.ReasonFailOpen:
		m.failOpen.WithLabelValues(nas).Inc()
	}
}

// Stage times one step. For the password check and the directory lookup only infrastructure
// failures count as errors: a wrong password or an unknown user is the step working.
func (m *Metrics) Stage(stage string, took time.Duration, err error) {
	stage = closedStage(stage)
	m.stageLatency.WithLabelValues(stage).Observe(took.Seconds())
	if err != nil && !userError(err) {
		m.stageErrors.WithLabelValues(stage).Inc()
	}
	if stage == "sms" {
		if err == nil {
			m.smsSent.Inc()
		} else {
			m.smsFailed.Inc()
		}
	}
}

func closedStage(s string) string {
	for _, v := range stages {
		if s == v {
			return s
		}
	}
	return other
}

// userErrors are the directory's answers about the user, as opposed to its failures.
var userErrors = []error{
	ldapauth.ErrEmptyPassword, ldapauth.ErrInvalidCredentials, ldapauth.ErrUserNotFound,
	ldapauth.ErrAmbiguousUser, ldapauth.ErrLogonHours, ldapauth.ErrWorkstation,
	ldapauth.ErrPasswordExpired, ldapauth.ErrAccountDisabled, ldapauth.ErrAccountExpired,
	ldapauth.ErrMustChangePassword, ldapauth.ErrAccountLocked, ldapauth.ErrPasswordPolicy,
}

func userError(err error) bool {
	if errors.Is(err, ldapauth.ErrUnavailable) {
		return false
	}
	for _, u := range userErrors {
		if errors.Is(err, u) {
			return true
		}
	}
	return false
}

// Reload records a configuration reload: ok when the new file was applied, false when it was
// refused and the running configuration kept serving.
func (m *Metrics) Reload(ok bool) {
	if ok {
		m.reloads.WithLabelValues("success").Inc()
		m.reloadOK.Set(1)
		m.reloadTime.Set(float64(time.Now().Unix()))
		return
	}
	m.reloads.WithLabelValues("failure").Inc()
	m.reloadOK.Set(0)
}

// SetUp records whether a dependency answered its health check.
func (m *Metrics) SetUp(dependency string, up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.up.WithLabelValues(dependency).Set(v)
}
