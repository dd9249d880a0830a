package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/radmfa/radmfa/challenge"
	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/store"
)

// Factor identifiers carried in the State token.
const (
	factorTOTP byte = 1
)

// firstLeg checks the password and decides whether a second factor is needed.
func (e *Engine) firstLeg(ctx context.Context, r request) decision {
	now := e.now()
	// A locked account never reaches the directory: no AD lockout amplification.
	if until, err := e.opts.Store.LockedUntil(ctx, r.user, now); err != nil {
		return decision{result: ResultReject, reason: ReasonStoreDown, message: msgUnavailable, err: err, leg: 1}
	} else if !until.IsZero() {
		return decision{result: ResultReject, reason: ReasonLockedOut, message: msgFailed, leg: 1,
			detail: "locked until " + until.UTC().Format("2006-01-02T15:04:05Z")}
	}

	_, err := e.opts.Directory.Authenticate(ctx, r.user, string(r.password))
	if err != nil {
		d := passwordFailure(err)
		d.leg, d.factor, d.err = 1, "password", err
		if d.reason == ReasonBadPassword {
			e.countFailure(ctx, r.user, store.KindPassword, e.opts.PasswordLockout, &d)
		}
		return d
	}
	if err := e.opts.Store.ResetFailures(ctx, r.user, store.KindPassword); err != nil {
		return decision{result: ResultReject, reason: ReasonStoreDown, message: msgUnavailable, err: err, leg: 1}
	}

	u, err := e.opts.Store.GetUser(ctx, r.user)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return decision{result: ResultReject, reason: ReasonStoreDown, message: msgUnavailable, err: err, leg: 1}
	}
	state := u.State
	if state == store.StateDefault {
		state = e.opts.DefaultState
	}
	if state == store.StateDisabled {
		return decision{result: ResultAccept, reason: ReasonPasswordOnly, factor: "password", leg: 1}
	}
	if len(u.TOTPSecret) == 0 {
		if e.opts.AllowUnenrolled {
			return decision{result: ResultAccept, reason: ReasonUnenrolledAllowed, factor: "password", leg: 1}
		}
		msg := msgNotEnrolled
		if e.opts.EnrollURL != "" {
			msg += "; enrol at " + e.opts.EnrollURL
		}
		return decision{result: ResultReject, reason: ReasonNotEnrolled, message: msg, factor: "password", leg: 1}
	}

	st, err := e.opts.Sealer.Seal(challenge.Claims{
		User: r.user, NAS: r.Client.Name, Issued: now, Phase: challenge.PhaseCode, Factor: factorTOTP,
	})
	if err != nil {
		return decision{result: ResultReject, reason: ReasonInternalError, message: msgFailed, err: err, leg: 1}
	}
	return decision{
		result: ResultChallenge, reason: ReasonChallenge, factor: "totp", leg: 1, state: st,
		message: fmt.Sprintf(msgPromptTOTP, e.opts.TOTP.Digits),
	}
}

// secondLeg checks the code answering a challenge.
func (e *Engine) secondLeg(ctx context.Context, r request) decision {
	now := e.now()
	claims, err := e.opts.Sealer.Open(r.state, r.user, r.Client.Name, now)
	if err != nil {
		if errors.Is(err, challenge.ErrExpired) {
			return decision{result: ResultReject, reason: ReasonExpiredChallenge, message: msgExpired, err: err, leg: 2}
		}
		return decision{result: ResultReject, reason: ReasonInvalidState, message: msgFailed, err: err, leg: 2}
	}
	if claims.Phase != challenge.PhaseCode || claims.Factor != factorTOTP {
		return decision{result: ResultReject, reason: ReasonInvalidState, message: msgFailed, leg: 2,
			detail: "unexpected challenge phase"}
	}
	d := decision{leg: 2, factor: "totp"}
	if until, err := e.opts.Store.LockedUntil(ctx, r.user, now); err != nil {
		return withErr(d, ResultReject, ReasonStoreDown, msgUnavailable, err)
	} else if !until.IsZero() {
		d = withErr(d, ResultReject, ReasonLockedOut, msgFailed, nil)
		d.detail = "locked until " + until.UTC().Format("2006-01-02T15:04:05Z")
		return d
	}
	u, err := e.opts.Store.GetUser(ctx, r.user)
	if errors.Is(err, store.ErrNotFound) || (err == nil && len(u.TOTPSecret) == 0) {
		// Reset between the legs: treat as not enrolled, never as a pass.
		return withErr(d, ResultReject, ReasonNotEnrolled, msgNotEnrolled, nil)
	}
	if err != nil {
		return withErr(d, ResultReject, ReasonStoreDown, msgUnavailable, err)
	}
	code := strings.TrimSpace(string(r.password))
	m, ok := e.opts.TOTP.Check(u.TOTPSecret, code, now, u.TOTPDrift)
	if !ok {
		d = withErr(d, ResultReject, ReasonWrongCode, msgWrongCode, nil)
		e.countFailure(ctx, r.user, store.KindFactor, e.opts.FactorLockout, &d)
		return d
	}
	fresh, err := e.opts.Store.UseTOTPStep(ctx, r.user, m.Step, m.Drift)
	if err != nil {
		return withErr(d, ResultReject, ReasonStoreDown, msgUnavailable, err)
	}
	if !fresh {
		d = withErr(d, ResultReject, ReasonReplayedCode, msgWrongCode, nil)
		e.countFailure(ctx, r.user, store.KindFactor, e.opts.FactorLockout, &d)
		return d
	}
	if err := e.opts.Store.ResetFailures(ctx, r.user, store.KindFactor); err != nil {
		e.log.Warn().Err(err).Str("user", r.user).Msg("engine: reset factor failures")
	}
	return withErr(d, ResultAccept, ReasonMFA, "", nil)
}

func withErr(d decision, result, reason, msg string, err error) decision {
	d.result, d.reason, d.message, d.err = result, reason, msg, err
	return d
}

// countFailure records a user failure; when it trips the lockout the decision says so.
func (e *Engine) countFailure(ctx context.Context, user, kind string, p store.LockoutPolicy, d *decision) {
	until, err := e.opts.Store.RecordFailure(ctx, user, kind, e.now(), p)
	if err != nil {
		e.log.Warn().Err(err).Str("user", user).Str("kind", kind).Msg("engine: record failure")
		return
	}
	if !until.IsZero() {
		d.detail = "lockout started, until " + until.UTC().Format("2006-01-02T15:04:05Z")
	}
}

// passwordFailure maps a directory error to a decision. Outages are never user failures.
func passwordFailure(err error) decision {
	table := []struct {
		err    error
		reason string
		msg    string
	}{
		{ldapauth.ErrEmptyPassword, ReasonEmptyPassword, msgFailed},
		{ldapauth.ErrInvalidCredentials, ReasonBadPassword, msgFailed},
		{ldapauth.ErrUserNotFound, ReasonUnknownUser, msgFailed},
		{ldapauth.ErrAmbiguousUser, ReasonAmbiguousUser, msgFailed},
		{ldapauth.ErrUnavailable, ReasonDirectoryDown, msgUnavailable},
		{ldapauth.ErrLogonHours, ReasonLogonHours, "You may not sign in at this time"},
		{ldapauth.ErrWorkstation, ReasonWorkstation, "You may not sign in from this device"},
		{ldapauth.ErrPasswordExpired, ReasonPasswordExpired, "Your password has expired"},
		{ldapauth.ErrAccountDisabled, ReasonAccountDisabled, "Your account is disabled"},
		{ldapauth.ErrAccountExpired, ReasonAccountExpired, "Your account has expired"},
		{ldapauth.ErrMustChangePassword, ReasonMustChangePassword, "You must change your password"},
		{ldapauth.ErrAccountLocked, ReasonAccountLocked, "Your account is locked"},
	}
	for _, t := range table {
		if errors.Is(err, t.err) {
			return decision{result: ResultReject, reason: t.reason, message: t.msg}
		}
	}
	// Unknown error: never accept when unsure.
	return decision{result: ResultReject, reason: ReasonDirectoryDown, message: msgUnavailable}
}
