package main

import (
	"sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// codePicker chooses which TOTP code to send for a user.
//
// Without replay tracking (FreeRADIUS rlm_totp: no drift window, no single use) it is always
// the current step's code.
//
// With replay tracking (radmfa: skew steps either side of the current step moved by the
// drift it learned from the user's last code, and every step usable once per user, strictly
// increasing) it keeps, per user, the last step sent and the range the server's learned drift
// can be in, and sends the lowest step that is certainly inside the server's window, above
// the last one used, and within skew of the real clock (a phone never runs further off). The
// server's "current step" is uncertain near a step boundary (the request may land after it),
// so the window is computed for both possibilities, margin apart. After a fresh enrolment
// (drift 0, no step used) each user thus has 2*skew+1 codes in the first period and one per
// period after that: with skew 1 and 10 000 users, 30 000 flows before the next step begins.
type codePicker struct {
	digits  otp.Digits
	period  int64
	skew    int64
	replay  bool
	margin  time.Duration
	secrets []string // base32, by user index

	mu sync.Mutex
	st []userSteps
}

type userSteps struct {
	last       int64 // last step sent (0 = none)
	dmin, dmax int64 // what the server's learned drift can be
}

func newCodePicker(secrets []string, skew int, replay bool) *codePicker {
	return &codePicker{
		digits: otp.DigitsSix, period: 30, skew: int64(skew), replay: replay,
		margin: time.Second, secrets: secrets, st: make([]userSteps, len(secrets)),
	}
}

func (p *codePicker) stepAt(t time.Time) int64 { return t.Unix() / p.period }

// window returns the steps that are certainly acceptable for user i at now.
func (p *codePicker) window(i int, now time.Time) (lo, hi int64) {
	cLo, cHi := p.stepAt(now), p.stepAt(now.Add(p.margin))
	u := p.st[i]
	lo = max(u.last+1, cHi+u.dmax-p.skew, cHi-p.skew)
	hi = min(cLo+u.dmin+p.skew, cLo+p.skew)
	return lo, hi
}

// usable reports whether user i has a code available now (used to skip exhausted users
// before spending a first leg on them).
func (p *codePicker) usable(i int, now time.Time) bool {
	if !p.replay {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	lo, hi := p.window(i, now)
	return lo <= hi
}

// pending is a code handed out, to be confirmed by the server's answer.
type pending struct {
	user       int
	step       int64
	dmin, dmax int64
}

// code returns the code to send for user i now, or ok=false when none is certainly accepted.
func (p *codePicker) code(i int, now time.Time) (string, pending, bool) {
	if !p.replay {
		step := p.stepAt(now)
		c, err := hotp.GenerateCodeCustom(p.secrets[i], uint64(step), hotp.ValidateOpts{Digits: p.digits, Algorithm: otp.AlgorithmSHA1})
		return c, pending{user: i, step: step}, err == nil
	}
	p.mu.Lock()
	lo, hi := p.window(i, now)
	if lo > hi {
		p.mu.Unlock()
		return "", pending{}, false
	}
	cLo, cHi := p.stepAt(now), p.stepAt(now.Add(p.margin))
	pd := pending{user: i, step: lo, dmin: lo - cHi, dmax: lo - cLo}
	p.st[i].last = lo // optimistic: a step sent is never sent again
	p.mu.Unlock()
	c, err := hotp.GenerateCodeCustom(p.secrets[i], uint64(lo), hotp.ValidateOpts{Digits: p.digits, Algorithm: otp.AlgorithmSHA1})
	return c, pd, err == nil
}

// done records the server's verdict: on accept the server learned the drift of this code; on
// reject it kept its old one, so widen ours to cover both.
func (p *codePicker) done(pd pending, accepted bool) {
	if !p.replay {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	u := &p.st[pd.user]
	if accepted {
		u.dmin, u.dmax = pd.dmin, pd.dmax
	} else {
		u.dmin, u.dmax = min(u.dmin, pd.dmin), max(u.dmax, pd.dmax)
	}
}
