package main

import (
	"testing"
	"time"

	"github.com/radmfa/radmfa/bench/internal/benchuser"
	"github.com/radmfa/radmfa/factors"
)

// fakeServer applies radmfa's rule: factors.TOTP.Check around the drift it learned, and a
// step must be above the user's last used one.
type fakeServer struct {
	totp  factors.TOTP
	last  []int64
	drift []int
}

func (s *fakeServer) check(i int, secret []byte, code string, now time.Time) bool {
	m, ok := s.totp.Check(secret, code, now, s.drift[i])
	if !ok || m.Step <= s.last[i] {
		return false
	}
	s.last[i], s.drift[i] = m.Step, m.Drift
	return true
}

func setup(users int) (*codePicker, *fakeServer, [][]byte) {
	secrets := make([]string, users)
	raw := make([][]byte, users)
	for i := range users {
		name := benchuser.Name(i + 1)
		secrets[i] = benchuser.SecretBase32(name)
		raw[i] = benchuser.Secret(name)
	}
	srv := &fakeServer{totp: factors.DefaultTOTP(), last: make([]int64, users), drift: make([]int, users)}
	return newCodePicker(secrets, 1, true), srv, raw
}

// TestCodePickerAcrossBoundaries: with many users, picks happen right before step boundaries
// while users still hold early-step codes, and answers land up to 950 ms later, in the next
// step. The picker's margin must keep every code inside the server's window.
func TestCodePickerAcrossBoundaries(t *testing.T) {
	const users = 1000
	p, srv, raw := setup(users)
	start := time.Unix(1_700_000_020, 0)
	n := 0
	for k := 0; k < 12000; k++ {
		now := start.Add(time.Duration(k) * 23 * time.Millisecond)
		i := k % users
		if !p.usable(i, now) {
			continue
		}
		code, pd, ok := p.code(i, now)
		if !ok {
			t.Fatalf("usable user %d got no code at %v", i, now)
		}
		landed := now.Add(time.Duration(k%20) * 50 * time.Millisecond)
		ok = srv.check(i, raw[i], code, landed)
		p.done(pd, ok)
		if !ok {
			t.Fatalf("user %d: code for step %d picked at %v refused at %v (server last %d drift %d)",
				i, pd.step, now, landed, srv.last[i], srv.drift[i])
		}
		n++
	}
	if n < 5000 {
		t.Errorf("only %d codes accepted", n)
	}
}

// TestCodePickerNeverReplays drives the picker against radmfa's check for several minutes of
// simulated time, with answers landing up to 900 ms after the code was picked (across step
// boundaries too): every code it hands out must be accepted, and after a fresh enrolment each
// user must get 3 codes in the first step and then one per step.
func TestCodePickerNeverReplays(t *testing.T) {
	const users = 3
	p, srv, raw := setup(users)

	start := time.Unix(1_700_000_020, 0) // 10 s into a step
	accepted := make([]int, users)
	firstStep := make([]int, users)
	for k := 0; k < 20000; k++ {
		now := start.Add(time.Duration(k) * 37 * time.Millisecond)
		i := k % users
		if !p.usable(i, now) {
			continue
		}
		code, pd, ok := p.code(i, now)
		if !ok {
			t.Fatalf("usable user %d got no code at %v", i, now)
		}
		landed := now.Add(time.Duration(k%10) * 90 * time.Millisecond)
		ok = srv.check(i, raw[i], code, landed)
		p.done(pd, ok)
		if !ok {
			t.Fatalf("user %d: code for step %d refused at %v (server last %d drift %d)",
				i, pd.step, landed, srv.last[i], srv.drift[i])
		}
		accepted[i]++
		if p.stepAt(now) == p.stepAt(start) {
			firstStep[i]++
		}
	}
	elapsedSteps := int(p.stepAt(start.Add(20000*37*time.Millisecond)) - p.stepAt(start))
	for i := range users {
		if firstStep[i] != 3 {
			t.Errorf("user %d: %d codes in the first step, want 3", i, firstStep[i])
		}
		if accepted[i] < 3+elapsedSteps-1 {
			t.Errorf("user %d: %d codes over %d steps, want at least %d", i, accepted[i], elapsedSteps, 3+elapsedSteps-1)
		}
	}
}
