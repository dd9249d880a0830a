package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/store"
)

// Messages shown on the sign-in form for ?m=…; the parameter only picks one of these.
var loginMessages = map[string]string{
	"expired":   "Your session ended after a period without activity. Sign in again.",
	"signedout": "You are signed out.",
	"codes":     "Too many wrong codes. Sign in again.",
}

type loginView struct {
	Username string
	Info     string
}

// loginPage shows the sign-in form, starting an anonymous session for its CSRF token.
func (p *Portal) loginPage(w http.ResponseWriter, r *http.Request) {
	s, _ := p.session(r)
	if s == nil {
		var err error
		if s, err = p.sessions.create(p.opts.Now()); err != nil {
			p.log.Error().Err(err).Msg("new session")
			p.renderError(w, r, nil, http.StatusServiceUnavailable, "The portal is busy. Try again in a minute.")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.stage {
	case stageIn:
		redirect(w, r, "/")
		return
	case stageFactor:
		redirect(w, r, "/login/code")
		return
	}
	p.setCookie(w, r, s)
	p.render(w, r, s, http.StatusOK, "login", view{Title: "Sign in", Page: loginView{Info: loginMessages[r.URL.Query().Get("m")]}})
}

// login checks the directory password, then asks for the user's second factor, or lets a
// user who has none in to enrol one.
func (p *Portal) login(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	typed := r.PostForm.Get("username")
	password := r.PostForm.Get("password")
	user := p.opts.Normalizer.Normalize(typed)
	fail := func(status int, msg string) {
		p.render(w, r, s, status, "login", view{Title: "Sign in", Error: msg, Page: loginView{Username: typed}})
	}
	if !validUsername(user) || password == "" {
		fail(http.StatusBadRequest, "Enter your username and your password.")
		return
	}
	if ok, err := p.allowAttempt(ctx, user, clientIP(r)); err != nil {
		p.unavailable(w, r, s, "sign-in rate limit", err)
		return
	} else if !ok {
		p.event(r, zerolog.WarnLevel, store.AuditEvent{Username: user, Factor: "password", Result: "reject", Reason: "rate_limited"})
		fail(http.StatusTooManyRequests, fmt.Sprintf("Too many sign-in attempts. Wait %d minutes and try again.",
			int(p.opts.AttemptWindow/time.Minute)))
		return
	}
	// One read for the lockout, the block, the failure count and the record, as on RADIUS.
	acct, err := p.opts.Store.Account(ctx, user, p.opts.Now())
	if err != nil {
		p.unavailable(w, r, s, "read account", err)
		return
	}
	if !acct.LockedUntil.IsZero() {
		// Refused before the bind, like the RADIUS flow: no directory lockout amplification.
		p.event(r, zerolog.WarnLevel, store.AuditEvent{Username: user, Factor: "password", Result: "reject", Reason: "locked_out"})
		fail(http.StatusUnauthorized, "The username or password is incorrect, or the account is locked. Try again later.")
		return
	}
	id, err := p.opts.Directory.Authenticate(ctx, user, password)
	if err != nil {
		reason, msg, status := passwordFailure(err)
		if errors.Is(err, ldapauth.ErrUnavailable) {
			p.log.Error().Err(err).Str("user", user).Msg("directory unavailable")
		}
		if reason == "bad_password" {
			p.countFailure(ctx, user, store.KindPassword, p.opts.PasswordLockout)
		}
		p.event(r, zerolog.WarnLevel, store.AuditEvent{Username: user, Factor: "password", Result: "reject", Reason: reason})
		fail(status, msg)
		return
	}
	if acct.PasswordFailures > 0 {
		p.resetFailures(ctx, user, store.KindPassword)
	}
	if acct.Blocked { // checked after the bind: only the password's owner learns of the block
		p.event(r, zerolog.WarnLevel, store.AuditEvent{Username: user, Factor: "password", Result: "reject", Reason: "blocked"})
		fail(http.StatusForbidden, "Sign-ins to this account are blocked after a report of suspicious activity. "+
			"Contact your administrator.")
		return
	}
	u := acct.User
	if err := p.sessions.rotate(s); err != nil {
		p.unavailable(w, r, s, "rotate session", err)
		return
	}
	p.setCookie(w, r, s)
	s.user, s.identity, s.codeTries = user, id, 0
	s.admin = p.opts.AdminGroup != "" && hasGroup(id.Groups, p.opts.AdminGroup)

	switch phone := p.smsPhone(u, id); {
	case len(u.TOTPSecret) > 0:
		s.stage, s.factor = stageFactor, "totp"
		redirect(w, r, "/login/code")
	case phone != "":
		s.stage, s.factor = stageFactor, "sms"
		if err := p.sendLoginCode(ctx, s, phone); err != nil {
			s.setFlash(err.Error(), true)
		}
		redirect(w, r, "/login/code")
	default:
		s.stage, s.mfa = stageIn, false
		p.event(r, zerolog.InfoLevel, store.AuditEvent{Username: user, Factor: "password", Result: "accept", Reason: "not_enrolled"})
		s.setFlash("Welcome. Set up an authenticator app to protect your account.", false)
		redirect(w, r, "/enroll/totp")
	}
}

// countFailure counts a wrong password or code toward the shared lockout, as the RADIUS flow
// does. A store error is logged: the sign-in is refused anyway.
func (p *Portal) countFailure(ctx context.Context, user, kind string, policy store.LockoutPolicy) {
	if policy.Threshold == 0 {
		return
	}
	until, err := p.opts.Store.RecordFailure(ctx, user, kind, p.opts.Now(), policy)
	if err != nil {
		p.log.Error().Err(err).Str("user", user).Msg("count failure")
		return
	}
	if !until.IsZero() {
		p.log.Warn().Str("user", user).Str("kind", kind).Time("until", until).Msg("locked out")
	}
}

// resetFailures clears the consecutive failures of kind after a success.
func (p *Portal) resetFailures(ctx context.Context, user, kind string) {
	if err := p.opts.Store.ResetFailures(ctx, user, kind); err != nil {
		p.log.Error().Err(err).Str("user", user).Msg("reset failures")
	}
}

// passwordFailure maps a directory error to the audit reason, the message and the status.
func passwordFailure(err error) (reason, msg string, status int) {
	wrong := "The username or password is incorrect."
	switch {
	case errors.Is(err, ldapauth.ErrUnavailable):
		return "directory_unavailable", "The directory cannot be reached. Try again in a minute.", http.StatusServiceUnavailable
	case errors.Is(err, ldapauth.ErrInvalidCredentials), errors.Is(err, ldapauth.ErrEmptyPassword):
		return "bad_password", wrong, http.StatusUnauthorized
	case errors.Is(err, ldapauth.ErrUserNotFound), errors.Is(err, ldapauth.ErrAmbiguousUser):
		return "unknown_user", wrong, http.StatusUnauthorized
	case errors.Is(err, ldapauth.ErrPasswordExpired), errors.Is(err, ldapauth.ErrMustChangePassword):
		return "password_expired", "Your password has expired. Change it, then sign in here.", http.StatusUnauthorized
	default:
		return "account_condition", "This account cannot sign in now. Contact your administrator.", http.StatusUnauthorized
	}
}

// allowAttempt counts a sign-in attempt against the username and the client address, in
// fixed windows in the store (shared by every node), and reports whether both are within
// their limits.
func (p *Portal) allowAttempt(ctx context.Context, user, ip string) (bool, error) {
	now := p.opts.Now()
	win := now.Truncate(p.opts.AttemptWindow)
	exp := win.Add(p.opts.AttemptWindow)
	stamp := strconv.FormatInt(win.Unix(), 10)
	ok := true
	for _, c := range []struct {
		key   string
		limit int
	}{
		{"portal-login-user:" + user + ":" + stamp, p.opts.UserAttempts},
		{"portal-login-ip:" + ip + ":" + stamp, p.opts.IPAttempts},
	} {
		n, err := p.opts.Store.Incr(ctx, c.key, now, exp)
		if err != nil {
			return false, err
		}
		if n > int64(c.limit) {
			ok = false
		}
	}
	return ok, nil
}

type codeView struct {
	Factor string // totp or sms
	Digits int
	Phone  string // masked
}

// codePage asks for the second factor.
func (p *Portal) codePage(w http.ResponseWriter, r *http.Request, s *session) {
	v := codeView{Factor: s.factor, Digits: p.opts.TOTP.Digits}
	if s.factor == "sms" {
		v.Digits = p.opts.SMS.Code.Length
		if v.Digits == 0 {
			v.Digits = factors.DefaultSMSLength
		}
		v.Phone = factors.MaskPhone(p.smsPhone(store.User{}, s.identity))
		if u, err := p.opts.Store.GetUser(r.Context(), s.user); err == nil {
			v.Phone = factors.MaskPhone(p.smsPhone(u, s.identity))
		}
	}
	p.render(w, r, s, http.StatusOK, "code", view{Title: "Verify it's you", Page: v})
}

// code checks the second factor and completes the sign-in.
func (p *Portal) code(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	code := strings.ReplaceAll(strings.TrimSpace(r.PostForm.Get("code")), " ", "")
	s.codeTries++
	if until, err := p.opts.Store.LockedUntil(ctx, s.user, p.opts.Now()); err != nil {
		p.unavailable(w, r, s, "lockout check", err)
		return
	} else if !until.IsZero() {
		p.event(r, zerolog.WarnLevel, store.AuditEvent{Username: s.user, Factor: s.factor, Result: "reject", Reason: "locked_out"})
		p.sessions.drop(s)
		p.clearCookie(w, r)
		redirect(w, r, "/login?m=codes")
		return
	}
	ok, msg, err := p.checkLoginCode(ctx, s, code)
	if err != nil {
		p.unavailable(w, r, s, "check code", err)
		return
	}
	if !ok {
		p.countFailure(ctx, s.user, store.KindFactor, p.opts.FactorLockout)
		p.event(r, zerolog.WarnLevel, store.AuditEvent{Username: s.user, Factor: s.factor, Result: "reject", Reason: "wrong_code"})
		if s.codeTries >= p.opts.CodeTries {
			p.sessions.drop(s)
			p.clearCookie(w, r)
			redirect(w, r, "/login?m=codes")
			return
		}
		s.setFlash(msg, true)
		redirect(w, r, "/login/code")
		return
	}
	if err := p.sessions.rotate(s); err != nil {
		p.unavailable(w, r, s, "rotate session", err)
		return
	}
	p.setCookie(w, r, s)
	p.resetFailures(ctx, s.user, store.KindFactor)
	s.stage, s.mfa, s.smsHash = stageIn, true, nil
	p.event(r, zerolog.InfoLevel, store.AuditEvent{Username: s.user, Factor: s.factor, Result: "accept"})
	redirect(w, r, "/")
}

// checkLoginCode checks a TOTP code (spending its time step, shared with the RADIUS flow) or
// the texted code. It returns the message for a wrong code.
func (p *Portal) checkLoginCode(ctx context.Context, s *session, code string) (bool, string, error) {
	now := p.opts.Now()
	if s.factor == "sms" {
		switch {
		case s.smsHash == nil || p.opts.SMS.Code.Expired(s.smsSent, now):
			return false, "The code has expired. Sign in again to get a new one.", nil
		case !factors.CheckCodeHash(s.smsHash, code, s.user):
			return false, "That code is not right. Check the text message and try again.", nil
		}
		return true, "", nil
	}
	u, err := p.opts.Store.GetUser(ctx, s.user)
	if err != nil {
		return false, "", err
	}
	m, ok := p.opts.TOTP.Check(u.TOTPSecret, code, now, u.TOTPDrift)
	if !ok {
		return false, "That code is not right. Type the code your app shows now.", nil
	}
	fresh, err := p.opts.Store.UseTOTPStep(ctx, s.user, m.Step, m.Drift)
	if err != nil {
		return false, "", err
	}
	if !fresh {
		return false, "That code was already used. Wait for the next code and type it.", nil
	}
	return true, "", nil
}

// logout ends the session.
func (p *Portal) logout(w http.ResponseWriter, r *http.Request, s *session) {
	p.sessions.drop(s)
	p.clearCookie(w, r)
	if s.user != "" {
		p.log.Info().Str("user", s.user).Msg("signed out")
	}
	redirect(w, r, "/login?m=signedout")
}

func validUsername(u string) bool {
	if u == "" || len(u) > 253 || !utf8.ValidString(u) {
		return false
	}
	for _, c := range u {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func hasGroup(groups []string, want string) bool {
	for _, g := range groups {
		if strings.EqualFold(g, want) {
			return true
		}
	}
	return false
}
