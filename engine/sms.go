package engine

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/radmfa/radmfa/challenge"
	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/store"
)

// SMS configures the text-message factor.
type SMS struct {
	Sender         factors.Sender
	Code           factors.SMSCode
	DefaultCountry string
	PerUserLimit   int
	PerNASLimit    int
	Window         time.Duration
	Message        *template.Template // .Code .Minutes .Issuer .User
	Issuer         string
	Keyword        string
}

// smsPhone returns the E.164 number texts go to: the enrolled override, else the directory's.
func (e *Engine) smsPhone(u store.User, id ldapauth.Identity) string {
	if e.opts.SMS == nil {
		return ""
	}
	for _, raw := range []string{u.Phone, id.Phone} {
		if raw == "" {
			continue
		}
		if p, err := factors.NormalizePhone(raw, e.opts.SMS.DefaultCountry); err == nil {
			return p
		}
	}
	return ""
}

func maskPhone(p string) string {
	if p == "" {
		return ""
	}
	return factors.MaskPhone(p)
}

// sendSMS texts a code and answers a challenge for it. It reports whether a challenge came out;
// otherwise the decision is the reject (rate limit, provider down) the caller may fall back from.
func (e *Engine) sendSMS(ctx context.Context, r request, nas nasFlow, g grant, flags byte, base decision) (decision, bool) {
	s := e.opts.SMS
	base.factor = "sms"
	now := e.now()
	// The code and its nonce are derived from the request, so a retransmit answered by another
	// node carries the same code, and the "sent" marker below keeps it to one text.
	seed := e.opts.Sealer.Derive("sms-code", []byte(r.Client.Name), r.Packet.Authenticator[:], []byte(r.user))
	code, err := s.Code.NewCode(bytes.NewReader(seed[:48]))
	if err != nil {
		return withErr(base, ResultReject, ReasonInternalError, msgFailed, err), false
	}
	nonce := seed[48:60]
	sentKey := "sms-sent:" + hex.EncodeToString(nonce)
	first, err := e.opts.Store.Once(ctx, sentKey, now, now.Add(s.Code.Lifetime+time.Minute))
	if err != nil {
		return withErr(base, ResultReject, ReasonStoreDown, msgUnavailable, err), false
	}
	if first {
		if d, ok := e.deliver(ctx, r, g, code, base, now); !ok {
			// A retransmit of this request on another node must answer the same failure,
			// not a challenge for a text that never went out.
			if _, merr := e.opts.Store.Once(ctx, "sms-failed:"+hex.EncodeToString(nonce), now, now.Add(s.Code.Lifetime)); merr != nil {
				e.log.Warn().Err(merr).Msg("engine: mark failed text")
			}
			return d, false
		}
		if _, merr := e.opts.Store.Once(ctx, "sms-ok:"+hex.EncodeToString(nonce), now, now.Add(s.Code.Lifetime)); merr != nil {
			e.log.Warn().Err(merr).Msg("engine: mark sent text")
		}
	}
	if !first && !e.sentElsewhere(ctx, hex.EncodeToString(nonce)) {
		return withErr(base, ResultReject, ReasonSMSFailed, "Could not send a text message, try again later", nil), false
	}
	g.codeHash = factors.HashCode(code, r.user)
	g.nonce = nonce
	d := e.sealChallenge(r, challenge.PhaseChoose, factorSMS, flags, g,
		render(nas.prompts.sms, e.promptData(g)), base, "sms")
	if d.result == ResultChallenge {
		d.detail = strings.TrimSpace(d.detail + " text sent to " + maskPhone(g.phone))
		if !first {
			d.detail += " (retransmit: not sent again)"
		}
	}
	return d, d.result == ResultChallenge
}

// deliver checks the text limits and sends the code.
func (e *Engine) deliver(ctx context.Context, r request, g grant, code string, base decision, now time.Time) (decision, bool) {
	s := e.opts.SMS
	if d, ok := e.smsAllowed(ctx, r, base, now); !ok {
		return d, false
	}
	body, err := renderMessage(s, code, r.user)
	if err != nil {
		return withErr(base, ResultReject, ReasonInternalError, msgFailed, err), false
	}
	sctx, cancel := context.WithTimeout(ctx, 25*time.Second)
	defer cancel()
	if err := s.Sender.Send(sctx, factors.Message{To: g.phone, Body: body, User: r.user, Code: code}); err != nil {
		d := withErr(base, ResultReject, ReasonSMSFailed, "Could not send a text message, try again later", err)
		d.detail = "provider " + s.Sender.Name()
		return d, false
	}
	return decision{}, true
}

// sentElsewhere waits for the node that is sending this request's text to finish, and
// reports whether the text went out. A node that never finishes (it died mid-send) counts as a
// failure: the user signs in again rather than waiting for a text that may never come.
func (e *Engine) sentElsewhere(ctx context.Context, nonce string) bool {
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if n, err := e.opts.Store.Count(ctx, "sms-ok:"+nonce, e.now()); err == nil && n > 0 {
			return true
		}
		if n, err := e.opts.Store.Count(ctx, "sms-failed:"+nonce, e.now()); err == nil && n > 0 {
			return false
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// sendSMSOnly is sendSMS when the user asked for a text at the prompt: no fallback.
func (e *Engine) sendSMSOnly(ctx context.Context, r request, nas nasFlow, g grant, flags byte, base decision) decision {
	d, _ := e.sendSMS(ctx, r, nas, g, flags, base)
	return d
}

// smsAllowed enforces the per-user and per-NAS text limits (fixed windows in the store, so
// every node counts together).
func (e *Engine) smsAllowed(ctx context.Context, r request, base decision, now time.Time) (decision, bool) {
	s := e.opts.SMS
	win := now.Truncate(s.Window)
	exp := win.Add(s.Window)
	stamp := strconv.FormatInt(win.Unix(), 10)
	for _, lim := range []struct {
		key   string
		limit int
		what  string
	}{
		{"sms-user:" + r.user + ":" + stamp, s.PerUserLimit, "user"},
		{"sms-nas:" + r.Client.Name + ":" + stamp, s.PerNASLimit, "NAS"},
	} {
		n, err := e.opts.Store.Incr(ctx, lim.key, now, exp)
		if err != nil {
			return withErr(base, ResultReject, ReasonStoreDown, msgUnavailable, err), false
		}
		if int(n) > lim.limit {
			d := withErr(base, ResultReject, ReasonSMSRateLimited, "Too many text messages; wait a few minutes", nil)
			d.detail = "per-" + lim.what + " limit reached"
			return d, false
		}
	}
	return decision{}, true
}

func renderMessage(s *SMS, code, user string) (string, error) {
	if s.Message == nil {
		return fmt.Sprintf("Your %s sign-in code is %s.", s.Issuer, code), nil
	}
	var b strings.Builder
	err := s.Message.Execute(&b, struct {
		Code, Issuer, User string
		Minutes            int
	}{code, s.Issuer, user, s.Code.Minutes()})
	return b.String(), err
}

// checkSMS verifies a texted code: within its lifetime, at most MaxTries wrong answers, used
// once. matched reports whether the answer was the texted code.
func (e *Engine) checkSMS(ctx context.Context, r request, claims challenge.Claims, g grant, answer string, base decision, countWrong bool) (decision, bool) {
	s := e.opts.SMS
	base.factor = "sms"
	now := e.now()
	if s == nil {
		return withErr(base, ResultReject, ReasonInvalidState, msgFailed, nil), false
	}
	if s.Code.Expired(claims.Issued, now) {
		return withErr(base, ResultReject, ReasonExpiredChallenge, msgExpired, nil), false
	}
	id := hex.EncodeToString(g.nonce)
	if !factors.CheckCodeHash(g.codeHash, answer, r.user) {
		n, err := e.opts.Store.Incr(ctx, "sms-tries:"+id, now, claims.Issued.Add(s.Code.Lifetime+time.Minute))
		if err != nil {
			return withErr(base, ResultReject, ReasonStoreDown, msgUnavailable, err), false
		}
		d := withErr(base, ResultReject, ReasonWrongCode, msgWrongCode, nil)
		if s.Code.Exhausted(int(n)) {
			d.reason = ReasonSMSCodeVoid
		}
		if countWrong || d.reason == ReasonSMSCodeVoid {
			e.countFailure(ctx, r, store.KindFactor, e.opts.FactorLockout, &d)
		}
		return d, false
	}
	// Too many wrong tries voids the code even if this answer is right.
	if n, err := e.opts.Store.Incr(ctx, "sms-tries:"+id, now, claims.Issued.Add(s.Code.Lifetime+time.Minute)); err != nil {
		return withErr(base, ResultReject, ReasonStoreDown, msgUnavailable, err), true
	} else if s.Code.Exhausted(int(n) - 1) {
		return withErr(base, ResultReject, ReasonSMSCodeVoid, msgWrongCode, nil), true
	}
	first, err := e.opts.Store.Once(ctx, "sms-used:"+id, now, claims.Issued.Add(s.Code.Lifetime+time.Minute))
	if err != nil {
		return withErr(base, ResultReject, ReasonStoreDown, msgUnavailable, err), true
	}
	if !first && e.acceptedBefore(ctx, r) {
		return e.accept(base, ReasonMFA, g), true
	}
	if !first {
		d := withErr(base, ResultReject, ReasonReplayedCode, msgWrongCode, nil)
		e.countFailure(ctx, r, store.KindFactor, e.opts.FactorLockout, &d)
		return d, true
	}
	e.factorOK(ctx, r)
	return e.accept(base, ReasonMFA, g), true
}
