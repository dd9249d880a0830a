package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"layeh.com/radius"

	"github.com/radmfa/radmfa/challenge"
	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/radius/dict"
	"github.com/radmfa/radmfa/store"
)

// Factor identifiers carried in the State token.
const (
	factorTOTP     byte = 1
	factorSMS      byte = 2 // a text was sent; the State holds its code hash
	factorPassword byte = 3 // a password change is under way
)

// State flags.
const (
	flagTOTP byte = 1 << iota // the user has an app enrolled
)

// firstLeg checks the password (or, in otp_only mode, the user's existence) and decides
// whether and how a second factor is asked for.
func (e *Engine) firstLeg(ctx context.Context, r request) decision {
	start := time.Now()
	d := e.firstLegInner(ctx, r)
	switch d.reason {
	case ReasonUnknownUser, ReasonLockedOut, ReasonSourceLimited:
		e.padTiming(ctx, start, e.bindsFor(r))
	}
	return d
}

// bindsFor is how many password binds a known user's wrong answer to this request costs:
// none in otp_only mode, two in auto mode when the field ends in a code, else one.
func (e *Engine) bindsFor(r request) int {
	nas := e.nasFor(r.Client.Name)
	switch nas.Mode {
	case ModeOTPOnly:
		return 0
	case ModeAuto:
		if _, _, ok := splitAppended(string(r.password), e.opts.TOTP.Digits, nas.AppendSeparator); ok {
			return 2
		}
	}
	return 1
}

// authenticate checks a password with the primary factor and learns how long a refused
// bind takes, for padTiming.
func (e *Engine) authenticate(ctx context.Context, user, password string) (ldapauth.Identity, error) {
	start := time.Now()
	id, err := e.opts.Primary.Authenticate(ctx, user, password)
	if errors.Is(err, ldapauth.ErrInvalidCredentials) {
		learn(&e.bindTime, time.Since(start))
	}
	return id, err
}

// sourceKey names the failure counter of the request's Calling-Station-Id in the current
// window, or "" when the limit is off or the NAS sent none.
func (e *Engine) sourceKey(r request) string {
	if e.opts.SourceThreshold <= 0 || e.opts.SourceWindow <= 0 || r.callingID == "" {
		return ""
	}
	w := e.now().Truncate(e.opts.SourceWindow)
	return "src-fail:" + r.callingID + ":" + strconv.FormatInt(w.Unix(), 10)
}

// countSource adds a user failure to the request's source counter.
func (e *Engine) countSource(ctx context.Context, r request, d decision) {
	switch d.reason {
	case ReasonBadPassword, ReasonUnknownUser, ReasonWrongCode, ReasonReplayedCode, ReasonSMSCodeVoid:
	default:
		return
	}
	key := e.sourceKey(r)
	if key == "" {
		return
	}
	exp := e.now().Truncate(e.opts.SourceWindow).Add(e.opts.SourceWindow)
	if _, err := e.opts.Store.Incr(ctx, key, e.now(), exp); err != nil {
		e.log.Warn().Err(err).Msg("engine: count source failure")
	}
}

// padTiming makes a refusal that did not bind take about as long as a known user's wrong
// answer to the same request would have (binds × the learned time of one refused bind), so
// response times do not tell which usernames exist.
func (e *Engine) padTiming(ctx context.Context, start time.Time, binds int) {
	if binds == 0 {
		return
	}
	wait := time.Duration(int64(binds)*e.bindTime.Load()) - time.Since(start)
	if wait <= 0 {
		return
	}
	if wait > 2*time.Second {
		wait = 2 * time.Second
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// learn folds one refused bind's duration into a running average (weight 1/4, so it follows
// the directory's speed within a few requests).
func learn(avg *atomic.Int64, took time.Duration) {
	for {
		old := avg.Load()
		next := old + (int64(took)-old)/4
		if old == 0 {
			next = int64(took)
		}
		if avg.CompareAndSwap(old, next) {
			return
		}
	}
}

func (e *Engine) firstLegInner(ctx context.Context, r request) decision {
	nas := e.nasFor(r.Client.Name)
	if key := e.sourceKey(r); key != "" {
		n, err := e.opts.Store.Count(ctx, key, e.now())
		if err == nil && n >= int64(e.opts.SourceThreshold) {
			return decision{result: ResultReject, reason: ReasonSourceLimited, message: msgFailed, leg: 1,
				detail: "too many failures from calling station " + r.callingID}
		}
	}
	// A locked account never reaches the directory: no AD lockout amplification.
	if d, locked := e.lockedOut(ctx, r, 1); locked {
		if d.reason != ReasonStoreDown || !nas.FailOpen {
			return d
		}
	}
	if d, b := e.blocked(ctx, r, 1); b {
		if d.reason != ReasonStoreDown || !nas.FailOpen {
			return d
		}
	}
	if d, ok := e.appPassword(ctx, r, nas); ok {
		return d
	}
	pw := string(r.password)
	switch nas.Mode {
	case ModeOTPOnly:
		return e.otpOnly(ctx, r, nas)
	case ModeAppend:
		return e.appendMode(ctx, r, nas)
	}
	id, err := e.authenticate(ctx, r.user, pw)
	if err != nil && nas.Mode == ModeAuto && errors.Is(err, ldapauth.ErrInvalidCredentials) {
		// auto: the whole field failed as a password; if it ends in a code, try the rest.
		if pass, code, ok := splitAppended(pw, e.opts.TOTP.Digits, nas.AppendSeparator); ok {
			id2, err2 := e.authenticate(ctx, r.user, pass)
			if err2 == nil {
				return e.afterPassword(ctx, r, nas, id2, code, true)
			}
			if !errors.Is(err2, ldapauth.ErrInvalidCredentials) {
				// The password without the code was right but the account is in trouble
				// (expired, disabled) or the directory failed: that is the answer.
				err, pw = err2, pass
			}
		}
	}
	if err != nil {
		if nas.PasswordChange && e.opts.Directory != nil &&
			(errors.Is(err, ldapauth.ErrPasswordExpired) || errors.Is(err, ldapauth.ErrMustChangePassword)) {
			return e.askNewPassword(ctx, r, nas, pw, err)
		}
		return e.passwordFailed(ctx, r, err)
	}
	return e.afterPassword(ctx, r, nas, id, "", false)
}

// passwordFailed turns a primary-factor error into a reject, counting user failures.
func (e *Engine) passwordFailed(ctx context.Context, r request, err error) decision {
	d := passwordFailure(err)
	d.leg, d.factor, d.err = 1, "password", err
	if d.reason == ReasonBadPassword {
		e.countFailure(ctx, r, store.KindPassword, e.opts.PasswordLockout, &d)
	}
	return d
}

// lockedOut checks the user's lockout; a store failure rejects (never accept when unsure).
func (e *Engine) lockedOut(ctx context.Context, r request, leg int) (decision, bool) {
	a, err := e.account(ctx, r)
	if err != nil {
		return decision{result: ResultReject, reason: ReasonStoreDown, message: msgUnavailable, err: err, leg: leg}, true
	}
	if !a.LockedUntil.IsZero() {
		return decision{result: ResultReject, reason: ReasonLockedOut, message: msgFailed, leg: leg,
			detail: "locked until " + a.LockedUntil.UTC().Format(time.RFC3339)}, true
	}
	return decision{}, false
}

// account reads the user's Account (record, lockout, block, failure counts) once per request,
// in one statement; every later step of the same request reuses it.
func (e *Engine) account(ctx context.Context, r request) (store.Account, error) {
	c := r.acct // set by parse, the one place a request is made
	if !c.loaded {
		start := time.Now()
		c.a, c.err = e.opts.Store.Account(ctx, r.user, e.now())
		c.loaded = true
		e.opts.Observer.Stage("store", time.Since(start), c.err)
	}
	return c.a, c.err
}

// resetFailures clears the user's count of kind when the request's Account shows one: almost
// every success has nothing to reset and then costs no write.
func (e *Engine) resetFailures(ctx context.Context, r request, kind string) error {
	a, err := e.account(ctx, r)
	if err != nil {
		return err
	}
	if a.Failures(kind) == 0 {
		return nil
	}
	return e.opts.Store.ResetFailures(ctx, r.user, kind)
}

// otpOnly serves a NAS that checked the password itself (Cisco ASA secondary authentication):
// the field holds only the code; the user must still exist and pass policy.
func (e *Engine) otpOnly(ctx context.Context, r request, nas nasFlow) decision {
	if e.opts.Directory == nil {
		return decision{result: ResultReject, reason: ReasonInternalError, message: msgFailed, leg: 1,
			detail: "otp_only mode needs a directory to look users up"}
	}
	id, err := e.opts.Directory.Lookup(ctx, r.user)
	if err != nil {
		d := passwordFailure(err)
		d.leg, d.err = 1, err
		return d
	}
	return e.afterPassword(ctx, r, nas, id, strings.TrimSpace(string(r.password)), true)
}

// appendMode: one round trip, "password" + code in one field. The user is looked up first so
// exactly one bind is made: if they must do MFA the trailing digits are the code, otherwise the
// whole field is the password (which keeps passwords ending in digits working).
func (e *Engine) appendMode(ctx context.Context, r request, nas nasFlow) decision {
	pw := string(r.password)
	needs := true
	if e.opts.Directory != nil {
		id, err := e.opts.Directory.Lookup(ctx, r.user)
		if err != nil {
			d := passwordFailure(err)
			d.leg, d.err = 1, err
			return d
		}
		needs = e.mfaRequired(ctx, r, id)
	}
	if !needs {
		id, err := e.authenticate(ctx, r.user, pw)
		if err != nil {
			return e.passwordFailed(ctx, r, err)
		}
		return e.afterPassword(ctx, r, nas, id, "", false)
	}
	pass, code, ok := splitAppended(pw, e.opts.TOTP.Digits, nas.AppendSeparator)
	if !ok {
		return decision{result: ResultReject, reason: ReasonCodeMissing, leg: 1, factor: "password",
			message: "Type your password followed by the code from your app"}
	}
	id, err := e.authenticate(ctx, r.user, pass)
	if err != nil {
		return e.passwordFailed(ctx, r, err)
	}
	return e.afterPassword(ctx, r, nas, id, code, true)
}

// mfaRequired predicts, from policy and the user's record, whether a second factor will be
// asked for; append mode uses it to decide how to read the field. Errors mean "yes".
func (e *Engine) mfaRequired(ctx context.Context, r request, id ldapauth.Identity) bool {
	if _, action := e.opts.Policy.decide(e.subject(r, id)); action != ActionRequireMFA {
		return false
	}
	a, err := e.account(ctx, r)
	if err != nil {
		return true
	}
	u := a.User
	state := e.effectiveState(u)
	if state == store.StateDisabled {
		return false
	}
	// An enabled user who has not registered yet is let in on the password when allowed.
	unenrolled := len(u.TOTPSecret) == 0 && e.smsPhone(u, id) == ""
	return !(unenrolled && state == store.StateEnabled && e.opts.AllowUnenrolled)
}

// splitAppended splits "password" + [sep] + n digits.
func splitAppended(s string, n int, sep string) (pass, code string, ok bool) {
	if len(s) <= n {
		return "", "", false
	}
	code = s[len(s)-n:]
	if !allDigits(code) {
		return "", "", false
	}
	pass = s[:len(s)-n]
	if sep != "" {
		if !strings.HasSuffix(pass, sep) {
			return "", "", false
		}
		pass = strings.TrimSuffix(pass, sep)
	}
	if pass == "" {
		return "", "", false
	}
	return pass, code, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func (e *Engine) subject(r request, id ldapauth.Identity) subject {
	return subject{nas: r.Client.Name, nasID: r.nasID, source: r.Remote.Addr(), user: r.user, groups: id.Groups}
}

func (e *Engine) effectiveState(u store.User) store.State {
	if u.State == store.StateDefault {
		return e.opts.DefaultState
	}
	return u.State
}

// afterPassword runs once the password is verified (or, in otp_only mode, not needed): policy,
// the user's MFA state, then a challenge — or, when the code came with the request (append,
// auto, otp_only), the code check itself.
func (e *Engine) afterPassword(ctx context.Context, r request, nas nasFlow, id ldapauth.Identity, code string, hasCode bool) decision {
	ruleIdx, action := e.opts.Policy.decide(e.subject(r, id))
	g := grant{generation: e.opts.Generation, rule: ruleIdx, authz: authzFor(e.opts.Authorization, r.Client.Name, id.Groups),
		class: packClass(id.Class)}
	base := decision{leg: 1, factor: "password", rule: e.ruleName(ruleIdx), groups: id.Groups}
	if hasCode {
		base.leg = 2
	}
	if err := e.resetFailures(ctx, r, store.KindPassword); err != nil {
		return e.storeDown(nas, action, id, g, base, err)
	}
	switch action {
	case ActionDeny:
		return withErr(base, ResultReject, ReasonPolicyDeny, msgFailed, nil)
	case ActionPasswordOnly:
		return e.accept(base, ReasonPasswordOnly, g)
	}

	a, err := e.account(ctx, r)
	if err != nil {
		return e.storeDown(nas, action, id, g, base, err)
	}
	u := a.User
	state := e.effectiveState(u)
	if state == store.StateDisabled {
		base.detail = "user MFA state disabled"
		return e.accept(base, ReasonPasswordOnly, g)
	}
	phone := e.smsPhone(u, id)
	if len(u.TOTPSecret) == 0 && phone == "" {
		if state == store.StateEnabled && e.opts.AllowUnenrolled {
			return e.accept(base, ReasonUnenrolledAllowed, g)
		}
		msg := msgNotEnrolled
		if e.opts.EnrollURL != "" {
			msg += "; enrol at " + e.opts.EnrollURL
		}
		return withErr(base, ResultReject, ReasonNotEnrolled, msg, nil)
	}
	if hasCode {
		if len(u.TOTPSecret) == 0 {
			base.factor = "totp"
			return withErr(base, ResultReject, ReasonNotEnrolled, "This VPN needs a code from an authenticator app", nil)
		}
		if d, locked := e.lockedOut(ctx, r, 2); locked {
			return d
		}
		return e.checkTOTP(ctx, r, u, code, g, base)
	}
	if e.remembered(ctx, r, nas) {
		base.detail = "device passed MFA recently"
		return e.accept(base, ReasonRemembered, g)
	}
	g.phone = phone
	return e.challenge(ctx, r, nas, u, g, base)
}

// storeDown decides a sign-in whose password is right but whose MFA record cannot be read:
// reject, unless this NAS (and the user's groups) are configured to fail open.
func (e *Engine) storeDown(nas nasFlow, action Action, id ldapauth.Identity, g grant, base decision, err error) decision {
	if action == ActionDeny {
		return withErr(base, ResultReject, ReasonPolicyDeny, msgFailed, nil)
	}
	if !nas.FailOpen || (len(nas.FailOpenGroups) > 0 && !anyGroup(nas.FailOpenGroups, id.Groups)) {
		return withErr(base, ResultReject, ReasonStoreDown, msgUnavailable, err)
	}
	base.err = err
	base.detail = "store unreachable; failmode open for this NAS"
	return e.accept(base, ReasonFailOpen, g)
}

func (e *Engine) ruleName(i int) string {
	if i < 0 || i >= len(e.opts.Policy.Rules) {
		return "default"
	}
	return e.opts.Policy.Rules[i].Name
}

// challenge asks for the second factor: the app, a text, or a choice of both.
func (e *Engine) challenge(ctx context.Context, r request, nas nasFlow, u store.User, g grant, base decision) decision {
	hasTOTP := len(u.TOTPSecret) > 0
	var flags byte
	if hasTOTP {
		flags |= flagTOTP
	}
	if g.phone != "" && (!hasTOTP || u.Method == "sms") {
		d, sent := e.sendSMS(ctx, r, nas, g, flags, base)
		if sent || !hasTOTP {
			return d
		}
		// The text could not go out but the app can still be used.
		base.detail = "sms unavailable (" + d.reason + "); offering the app"
	}
	phase, prompt := challenge.PhaseCode, nas.prompts.totp
	if g.phone != "" {
		phase, prompt = challenge.PhaseChoose, nas.prompts.choose
	}
	return e.sealChallenge(r, phase, factorTOTP, flags, g, render(prompt, e.promptData(g)), base, "totp")
}

func (e *Engine) promptData(g grant) promptData {
	d := promptData{Digits: e.opts.TOTP.Digits, Phone: maskPhone(g.phone)}
	if e.opts.SMS != nil {
		d.Keyword = e.opts.SMS.Keyword
	}
	return d
}

func (e *Engine) sealChallenge(r request, phase challenge.Phase, factor, flags byte, g grant, prompt string, base decision, factorName string) decision {
	if !g.fits() {
		return withErr(base, ResultReject, ReasonInternalError, msgFailed, errGrant)
	}
	st, err := e.opts.Sealer.Seal(challenge.Claims{
		User: r.user, NAS: r.Client.Name, Issued: e.now(), Phase: phase, Factor: factor, Flags: flags,
		Extra: g.encode(),
	})
	if err != nil {
		return withErr(base, ResultReject, ReasonInternalError, msgFailed, err)
	}
	base.result, base.reason, base.state, base.message, base.factor = ResultChallenge, ReasonChallenge, st, prompt, factorName
	return base
}

// accept builds the final Accept with the authorization attributes of the grant.
func (e *Engine) accept(base decision, reason string, g grant) decision {
	base.result, base.reason, base.message = ResultAccept, reason, ""
	base.attrs = e.replyAttrs(g)
	return base
}

func (e *Engine) replyAttrs(g grant) []dict.AVP {
	var out []dict.AVP
	for _, c := range unpackClass(g.class) {
		out = append(out, dict.AVP{Type: 25, Value: c})
	}
	var ruleTimeout time.Duration
	if g.rule >= 0 && g.rule < len(e.opts.Policy.Rules) {
		ruleTimeout = e.opts.Policy.Rules[g.rule].SessionTimeout
	}
	seen := map[radius.Type]bool{}
	for _, i := range g.authz {
		if int(i) >= len(e.opts.Authorization) {
			continue
		}
		for _, a := range e.opts.Authorization[i].Attrs {
			// Single-valued attributes (RFC 2865 allows one Session-Timeout, Idle-Timeout…)
			// come once: the first rule wins, and a policy rule's Session-Timeout wins over all.
			if singleValued(a.Type) && (seen[a.Type] || (a.Type == 27 && ruleTimeout > 0)) {
				continue
			}
			seen[a.Type] = true
			out = append(out, a)
		}
	}
	if ruleTimeout > 0 {
		if a, err := dict.Encode("Session-Timeout", strconv.FormatInt(int64(ruleTimeout/time.Second), 10)); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// singleValued reports standard attributes an Access-Accept carries at most once.
func singleValued(t radius.Type) bool {
	switch t {
	case 6, 7, 8, 9, 12, 27, 28, 29, 85, 88:
		return true
	}
	return false
}

// secondLeg handles the answer to a challenge.
func (e *Engine) secondLeg(ctx context.Context, r request) decision {
	now := e.now()
	claims, err := e.opts.Sealer.Open(r.state, r.user, r.Client.Name, now)
	if err != nil {
		if errors.Is(err, challenge.ErrExpired) {
			return decision{result: ResultReject, reason: ReasonExpiredChallenge, message: msgExpired, err: err, leg: 2}
		}
		return decision{result: ResultReject, reason: ReasonInvalidState, message: msgFailed, err: err, leg: 2}
	}
	g, err := decodeGrant(claims.Extra)
	if err != nil {
		return decision{result: ResultReject, reason: ReasonInvalidState, message: msgFailed, err: err, leg: 2}
	}
	if g.generation != e.opts.Generation {
		// The configuration changed since the first leg: recompute policy and authorization
		// rather than apply rule indices that may now mean something else.
		var d decision
		var ok bool
		if g, d, ok = e.regrant(ctx, r, g); !ok {
			return d
		}
	}
	nas := e.nasFor(r.Client.Name)
	base := decision{leg: 2, rule: e.ruleName(g.rule), groups: e.grantedGroups(g)}
	if claims.Factor == factorPassword {
		return e.passwordChangeLeg(ctx, r, nas, claims, g)
	}
	if d, locked := e.lockedOut(ctx, r, 2); locked {
		return d
	}
	a, err := e.account(ctx, r)
	if err != nil {
		return withErr(base, ResultReject, ReasonStoreDown, msgUnavailable, err)
	}
	u := a.User
	answer := strings.TrimSpace(string(r.password))
	if e.isFraudCode(answer) {
		return e.reportFraud(ctx, r, base)
	}
	if d, b := e.blocked(ctx, r, 2); b {
		return d
	}

	if claims.Phase == challenge.PhaseChoose && e.opts.SMS != nil && g.phone != "" &&
		strings.EqualFold(answer, e.opts.SMS.Keyword) {
		base.factor = "sms"
		return e.sendSMSOnly(ctx, r, nas, g, claims.Flags, base)
	}
	if claims.Factor == factorSMS && g.codeHash != nil {
		// With an app enrolled a wrong SMS answer may be an app code: count the failure once,
		// after both checks, not here.
		d, matched := e.checkSMS(ctx, r, claims, g, answer, base, len(u.TOTPSecret) == 0)
		if matched || len(u.TOTPSecret) == 0 || d.reason == ReasonSMSCodeVoid {
			return d
		}
		// Not the texted code; the user may have typed the app's code instead.
	}
	if len(u.TOTPSecret) == 0 {
		// Reset between the legs: treat as not enrolled, never as a pass.
		base.factor = "totp"
		return withErr(base, ResultReject, ReasonNotEnrolled, msgNotEnrolled, nil)
	}
	return e.checkTOTP(ctx, r, u, answer, g, base)
}

// spendState lets a State end in one Access-Accept (RFC 2865 §5.24: it belongs to one
// exchange). Without it a State that went out in clear would pass again with any later code
// until it expires. A wrong answer does not spend it — the tries a State gets are bounded by
// the factor lockout and the SMS code's tries — but the first Accept does, atomically in the
// store, so every node sees it and of two answers racing on one State one at most is let in.
// A retransmit of the very packet that was accepted on another node is left to the retransmit
// handling.
func (e *Engine) spendState(ctx context.Context, r request, d decision) decision {
	if !r.hasState || d.result != ResultAccept || r.retransmit {
		return d
	}
	sum := sha256.Sum256(r.state)
	first, err := e.opts.Store.Once(ctx, "state:"+hex.EncodeToString(sum[:]), e.now(),
		e.now().Add(e.opts.Sealer.Lifetime()+time.Minute)) // outlives the State, clock skew included
	if err != nil {
		return withErr(d, ResultReject, ReasonStoreDown, msgUnavailable, err)
	}
	if !first {
		d = withErr(d, ResultReject, ReasonInvalidState, msgFailed, nil)
		d.attrs, d.detail = nil, "challenge already answered with an Accept"
	}
	return d
}

// regrant recomputes policy and authorization for a State sealed under another
// configuration. A user the new policy denies, or whose groups cannot be read, is refused:
// never accept when unsure.
func (e *Engine) regrant(ctx context.Context, r request, g grant) (grant, decision, bool) {
	ng := grant{generation: e.opts.Generation, rule: -1, phone: g.phone, codeHash: g.codeHash, nonce: g.nonce,
		secret: g.secret, confirm: g.confirm, class: g.class}
	var id ldapauth.Identity
	if e.opts.Directory != nil {
		found, err := e.opts.Directory.Lookup(ctx, r.user)
		if err != nil {
			d := passwordFailure(err)
			d.leg, d.err = 2, err
			d.detail = "configuration reloaded during the challenge; the user could not be looked up again"
			return g, d, false
		}
		id = found
	}
	rule, action := e.opts.Policy.decide(e.subject(r, id))
	ng.rule = rule
	ng.authz = authzFor(e.opts.Authorization, r.Client.Name, id.Groups)
	if action == ActionDeny {
		return g, decision{result: ResultReject, reason: ReasonPolicyDeny, message: msgFailed, leg: 2,
			rule: e.ruleName(rule), groups: id.Groups}, false
	}
	return ng, decision{}, true
}

// checkTOTP verifies an app code and spends its time step.
func (e *Engine) checkTOTP(ctx context.Context, r request, u store.User, code string, g grant, base decision) decision {
	base.factor = "totp"
	start := time.Now()
	defer func() { e.opts.Observer.Stage("factor", time.Since(start), nil) }()
	m, ok := e.opts.TOTP.Check(u.TOTPSecret, code, e.now(), u.TOTPDrift)
	if !ok {
		d := withErr(base, ResultReject, ReasonWrongCode, msgWrongCode, nil)
		e.countFailure(ctx, r, store.KindFactor, e.opts.FactorLockout, &d)
		return d
	}
	var fresh bool
	var err error
	if sp, ok := e.opts.Store.(store.StepSpender); ok && r.packetID != "" {
		// Several nodes: the step records which request spent it, so this very packet
		// retransmitted to another node after the first one died is still accepted.
		fresh, err = sp.SpendTOTPStep(ctx, r.user, m.Step, m.Drift, r.packetID)
	} else {
		fresh, err = e.opts.Store.UseTOTPStep(ctx, r.user, m.Step, m.Drift)
	}
	if err != nil {
		return withErr(base, ResultReject, ReasonStoreDown, msgUnavailable, err)
	}
	if !fresh && e.acceptedBefore(ctx, r) {
		return e.accept(base, ReasonMFA, g)
	}
	if !fresh {
		d := withErr(base, ResultReject, ReasonReplayedCode, msgWrongCode, nil)
		e.countFailure(ctx, r, store.KindFactor, e.opts.FactorLockout, &d)
		return d
	}
	e.factorOK(ctx, r)
	return e.accept(base, ReasonMFA, g)
}

func (e *Engine) factorOK(ctx context.Context, r request) {
	if err := e.resetFailures(ctx, r, store.KindFactor); err != nil {
		e.log.Warn().Err(err).Str("user", r.user).Msg("engine: reset factor failures")
	}
}

func withErr(d decision, result, reason, msg string, err error) decision {
	d.result, d.reason, d.message, d.err = result, reason, msg, err
	return d
}

// countFailure records a user failure; when it trips the lockout the decision says so.
func (e *Engine) countFailure(ctx context.Context, r request, kind string, p store.LockoutPolicy, d *decision) {
	if r.retransmit {
		d.detail = strings.TrimSpace(d.detail + " retransmit handled by another node: not counted again")
		return
	}
	user := r.user
	until, err := e.opts.Store.RecordFailure(ctx, user, kind, e.now(), p)
	if err != nil {
		e.log.Warn().Err(err).Str("user", user).Str("kind", kind).Msg("engine: record failure")
		return
	}
	if !until.IsZero() {
		d.detail = strings.TrimSpace(d.detail + " lockout started, until " + until.UTC().Format(time.RFC3339))
	}
}

// passwordFailure maps a primary-factor error to a decision. Outages are never user failures.
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

// grantedGroups names the groups whose authorization entries the grant carries: on the second
// leg the State holds those, not the user's whole membership.
func (e *Engine) grantedGroups(g grant) []string {
	var out []string
	for _, i := range g.authz {
		if int(i) < len(e.opts.Authorization) {
			out = append(out, e.opts.Authorization[i].Group)
		}
	}
	return out
}
