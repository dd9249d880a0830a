package portal

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/store"
)

// notice is an error whose text is meant for the user.
type notice string

func (n notice) Error() string { return string(n) }

// sendTimeout bounds one text, retries included.
const sendTimeout = 25 * time.Second

// smsPhone is the number sign-in codes go to, as in the RADIUS flow: the registered number,
// else the directory's; "" without SMS.
func (p *Portal) smsPhone(u store.User, id ldapauth.Identity) string {
	if p.opts.SMS == nil {
		return ""
	}
	for _, raw := range []string{u.Phone, id.Phone} {
		if raw == "" {
			continue
		}
		if ph, err := factors.NormalizePhone(raw, p.opts.SMS.DefaultCountry); err == nil {
			return ph
		}
	}
	return ""
}

// sendCode texts a new code to phone within the user's text limit and returns its hash. The
// returned error is a notice for the user; the cause is logged here.
func (p *Portal) sendCode(ctx context.Context, user, phone string) ([]byte, error) {
	sms := p.opts.SMS
	now := p.opts.Now()
	win := now.Truncate(sms.Window)
	n, err := p.opts.Store.Incr(ctx, "portal-sms:"+user+":"+strconv.FormatInt(win.Unix(), 10), now, win.Add(sms.Window))
	if err != nil {
		p.log.Error().Err(err).Str("user", user).Msg("sms limit")
		return nil, notice("Could not send a text message now. Try again in a minute.")
	}
	if n > int64(sms.PerUserLimit) {
		p.log.Warn().Str("user", user).Msg("sms limit reached")
		return nil, notice("Too many text messages. Wait a few minutes and try again.")
	}
	code, err := sms.Code.NewCode(p.opts.Rand)
	if err != nil {
		p.log.Error().Err(err).Msg("sms code")
		return nil, notice("Could not send a text message now. Try again in a minute.")
	}
	body, err := factors.RenderMessage(sms.Message, factors.MessageData{Issuer: p.opts.Issuer, User: user, Code: code,
		Minutes: sms.Code.Minutes()})
	if err != nil {
		p.log.Error().Err(err).Msg("sms message")
		return nil, notice("Could not send a text message now. Try again in a minute.")
	}
	sctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	if err := sms.Sender.Send(sctx, factors.Message{To: phone, Body: body, User: user, Code: code}); err != nil {
		p.log.Error().Err(err).Str("user", user).Str("provider", sms.Sender.Name()).Msg("sms send failed")
		return nil, notice("Could not send a text message now. Try again in a minute.")
	}
	p.log.Info().Str("user", user).Str("to", factors.MaskPhone(phone)).Msg("sms code sent")
	return factors.HashCode(code, user), nil
}

// sendLoginCode texts the sign-in code of a session waiting for its second factor.
func (p *Portal) sendLoginCode(ctx context.Context, s *session, phone string) error {
	hash, err := p.sendCode(ctx, s.user, phone)
	if err != nil {
		return err
	}
	s.smsHash, s.smsSent = hash, p.opts.Now()
	return nil
}

type phoneView struct {
	Current   string // masked registered number
	Directory string // masked directory number
	Number    string // what was typed, after an error
	Pending   string // masked number awaiting its code
}

func (p *Portal) phonePage(w http.ResponseWriter, r *http.Request, s *session) {
	u, err := p.opts.Store.GetUser(r.Context(), s.user)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		p.unavailable(w, r, s, "read user", err)
		return
	}
	p.render(w, r, s, http.StatusOK, "phone", view{Title: "Phone for text messages", Nav: "phone", Page: p.phoneView(u, s)})
}

func (p *Portal) phoneView(u store.User, s *session) phoneView {
	v := phoneView{}
	if u.Phone != "" {
		v.Current = factors.MaskPhone(u.Phone)
	}
	if ph := p.smsPhone(store.User{}, s.identity); ph != "" {
		v.Directory = factors.MaskPhone(ph)
	}
	return v
}

// phoneSend checks the number and texts it a code; the number is stored only when the code
// comes back (phoneVerify).
func (p *Portal) phoneSend(w http.ResponseWriter, r *http.Request, s *session) {
	if !p.enrolAllowed(w, r, s) {
		return
	}
	raw := strings.TrimSpace(r.PostForm.Get("phone"))
	phone, err := factors.NormalizePhone(raw, p.opts.SMS.DefaultCountry)
	if err != nil {
		u, _ := p.opts.Store.GetUser(r.Context(), s.user)
		v := p.phoneView(u, s)
		v.Number = raw
		p.render(w, r, s, http.StatusBadRequest, "phone", view{Title: "Phone for text messages", Nav: "phone",
			Error: "Enter the number with its country code, for example +44 7700 900123.", Page: v})
		return
	}
	hash, err := p.sendCode(r.Context(), s.user, phone)
	if err != nil {
		s.setFlash(err.Error(), true)
		redirect(w, r, "/phone")
		return
	}
	s.pendingPhone, s.phoneHash, s.phoneSent, s.phoneTries = phone, hash, p.opts.Now(), 0
	redirect(w, r, "/phone/verify")
}

func (p *Portal) phoneVerifyPage(w http.ResponseWriter, r *http.Request, s *session) {
	if s.pendingPhone == "" {
		redirect(w, r, "/phone")
		return
	}
	p.render(w, r, s, http.StatusOK, "phone_verify", view{Title: "Confirm your phone", Nav: "phone",
		Page: phoneView{Pending: factors.MaskPhone(s.pendingPhone)}})
}

// phoneVerify stores the number once its texted code comes back.
func (p *Portal) phoneVerify(w http.ResponseWriter, r *http.Request, s *session) {
	if s.pendingPhone == "" {
		redirect(w, r, "/phone")
		return
	}
	code := strings.ReplaceAll(strings.TrimSpace(r.PostForm.Get("code")), " ", "")
	sms := p.opts.SMS
	switch {
	case sms.Code.Expired(s.phoneSent, p.opts.Now()) || sms.Code.Exhausted(s.phoneTries):
		s.pendingPhone, s.phoneHash = "", nil
		s.setFlash("The code has expired. Enter your number again to get a new one.", true)
		redirect(w, r, "/phone")
		return
	case !factors.CheckCodeHash(s.phoneHash, code, s.user):
		s.phoneTries++
		s.setFlash("That code is not right. Check the text message and try again.", true)
		redirect(w, r, "/phone/verify")
		return
	}
	if !p.enrolAllowed(w, r, s) {
		return
	}
	phone := s.pendingPhone
	if err := p.opts.Store.SetPhone(r.Context(), s.user, phone); err != nil {
		p.unavailable(w, r, s, "set phone", err)
		return
	}
	s.pendingPhone, s.phoneHash, s.mfa = "", nil, true
	p.event(r, zerolog.InfoLevel, store.AuditEvent{Username: s.user, Factor: "sms", Result: "phone_registered",
		Detail: factors.MaskPhone(phone)})
	s.setFlash("Your phone number is saved. Sign-in codes can now be sent to "+factors.MaskPhone(phone)+".", false)
	redirect(w, r, "/")
}

// phoneRemove clears the registered number (the directory's number, if any, is used again).
func (p *Portal) phoneRemove(w http.ResponseWriter, r *http.Request, s *session) {
	if err := p.opts.Store.SetPhone(r.Context(), s.user, ""); err != nil {
		p.unavailable(w, r, s, "clear phone", err)
		return
	}
	p.event(r, zerolog.InfoLevel, store.AuditEvent{Username: s.user, Factor: "sms", Result: "phone_removed"})
	s.setFlash("Your phone number is removed.", false)
	redirect(w, r, "/")
}
