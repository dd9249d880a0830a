package portal

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/store"
)

type totpView struct {
	QR       template.HTML // inline SVG
	URI      string
	Key      string // base32 in groups of four
	Replaces bool   // an app is enrolled already
	Digits   int
}

// mayEnrol reports whether the session may add or replace a factor: with a second factor
// proved, always; otherwise (signed in with the password alone) only while the user has none,
// so a password alone never replaces a factor.
func (p *Portal) mayEnrol(ctx context.Context, s *session) (store.User, bool, error) {
	u, err := p.opts.Store.GetUser(ctx, s.user)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return u, false, err
	}
	return u, s.mfa || (len(u.TOTPSecret) == 0 && p.smsPhone(u, s.identity) == ""), nil
}

// enrolAllowed answers the request itself when mayEnrol says no or fails.
func (p *Portal) enrolAllowed(w http.ResponseWriter, r *http.Request, s *session) bool {
	_, ok, err := p.mayEnrol(r.Context(), s)
	if err != nil {
		p.unavailable(w, r, s, "read user", err)
		return false
	}
	if !ok {
		p.renderError(w, r, s, http.StatusForbidden, "Sign in with your current method to change it.")
	}
	return ok
}

// totpPage shows a new secret as a QR code; it stays in the session until a code confirms it.
func (p *Portal) totpPage(w http.ResponseWriter, r *http.Request, s *session) {
	u, ok, err := p.mayEnrol(r.Context(), s)
	if err != nil {
		p.unavailable(w, r, s, "read user", err)
		return
	}
	if !ok {
		p.renderError(w, r, s, http.StatusForbidden, "Sign in with your current method to change it.")
		return
	}
	if s.pendingSecret == nil {
		secret, err := factors.NewSecret()
		if err != nil {
			p.unavailable(w, r, s, "new secret", err)
			return
		}
		s.pendingSecret, s.enrolTries = secret, 0
	}
	uri := p.opts.TOTP.URI(p.opts.Issuer, s.user, s.pendingSecret)
	qr, err := qrSVG(uri)
	if err != nil {
		p.unavailable(w, r, s, "qr code", err)
		return
	}
	v := totpView{QR: qr, URI: uri, Key: groups(factors.EncodeSecret(s.pendingSecret), 4),
		Replaces: len(u.TOTPSecret) > 0, Digits: p.opts.TOTP.Digits}
	p.render(w, r, s, http.StatusOK, "totp", view{Title: "Set up your authenticator app", Nav: "totp", Page: v})
}

// totpConfirm stores the pending secret once a code from the app matches it, and spends that
// code's time step so it cannot also sign in to the VPN.
func (p *Portal) totpConfirm(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	if s.pendingSecret == nil {
		redirect(w, r, "/enroll/totp")
		return
	}
	if !p.enrolAllowed(w, r, s) {
		return
	}
	code := strings.ReplaceAll(strings.TrimSpace(r.PostForm.Get("code")), " ", "")
	m, ok := p.opts.TOTP.Check(s.pendingSecret, code, p.opts.Now(), 0)
	if !ok {
		s.enrolTries++
		msg := "That code does not match. Check that your phone's clock is right and type the newest code."
		if s.enrolTries >= p.opts.CodeTries {
			s.pendingSecret = nil // start over with a new key
			msg = "Too many codes did not match. Here is a new key: remove the old entry from your app and scan this one."
		}
		p.event(r, zerolog.WarnLevel, store.AuditEvent{Username: s.user, Factor: "totp", Result: "reject", Reason: "enrol_wrong_code"})
		s.setFlash(msg, true)
		redirect(w, r, "/enroll/totp")
		return
	}
	if err := p.opts.Store.EnrollTOTP(ctx, s.user, s.pendingSecret, s.mfa); errors.Is(err, store.ErrExists) {
		s.pendingSecret = nil
		s.setFlash("An authenticator app was added to your account meanwhile. Sign in again to change it.", true)
		redirect(w, r, "/")
		return
	} else if err != nil {
		p.unavailable(w, r, s, "enroll totp", err)
		return
	}
	if _, err := p.opts.Store.UseTOTPStep(ctx, s.user, m.Step, 0); err != nil {
		p.log.Error().Err(err).Str("user", s.user).Msg("spend the confirming code")
	}
	s.pendingSecret, s.mfa = nil, true
	p.event(r, zerolog.InfoLevel, store.AuditEvent{Username: s.user, Factor: "totp", Result: "totp_enrolled"})
	s.setFlash("Your authenticator app is set up. The VPN will ask for its code from now on.", false)
	redirect(w, r, "/")
}

// groups splits s into space-separated groups of n characters.
func groups(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s); i += n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+n, len(s))])
	}
	return b.String()
}
