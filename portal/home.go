package portal

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/store"
)

// recentSignIns is how many of the user's sign-ins the overview lists.
const recentSignIns = 15

// reportableSignIns is how far back "This wasn't me" finds a sign-in.
const reportableSignIns = 500

type homeView struct {
	State       string // enforced, enabled, disabled
	StateText   string
	TOTP        bool
	Phone       string // masked registered number
	DirPhone    string // masked directory number (used when no number is registered)
	Blocked     bool
	BlockReason string
	SignIns     []store.AuditEvent
}

var stateText = map[store.State]string{
	store.StateEnforced: "Enforced: every VPN sign-in needs your password and a code.",
	store.StateEnabled:  "Enabled: set up a second sign-in method; you will need it once you have one.",
	store.StateDisabled: "Disabled: VPN sign-ins need only your password.",
}

// home shows the user's MFA state, methods and recent sign-ins.
func (p *Portal) home(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	u, err := p.opts.Store.GetUser(ctx, s.user)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		p.unavailable(w, r, s, "read user", err)
		return
	}
	blocked, reason, err := p.opts.Store.Blocked(ctx, s.user)
	if err != nil {
		p.unavailable(w, r, s, "block check", err)
		return
	}
	evs, err := p.opts.Store.AuditReport(ctx, store.AuditFilter{Username: s.user, Kind: "auth", Limit: recentSignIns})
	if err != nil {
		p.unavailable(w, r, s, "recent sign-ins", err)
		return
	}
	state := u.State
	if state == store.StateDefault {
		state = p.opts.DefaultState
	}
	v := homeView{State: string(state), StateText: stateText[state], TOTP: len(u.TOTPSecret) > 0,
		Blocked: blocked, BlockReason: reason, SignIns: evs}
	if u.Phone != "" {
		v.Phone = factors.MaskPhone(u.Phone)
	}
	if ph := p.smsPhone(store.User{}, s.identity); ph != "" {
		v.DirPhone = factors.MaskPhone(ph)
	}
	p.render(w, r, s, http.StatusOK, "home", view{Title: "Your sign-in security", Nav: "home", Page: v})
}

// report handles "This wasn't me": the sign-in is flagged as fraud, the account is blocked
// until an administrator lifts it, and the administrators see an alert.
func (p *Portal) report(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	id, err := strconv.ParseInt(r.PostForm.Get("id"), 10, 64)
	if err != nil {
		p.renderError(w, r, s, http.StatusBadRequest, "That sign-in could not be found.")
		return
	}
	// The overview lists the latest sign-ins; older ones are reported to an administrator.
	evs, err := p.opts.Store.AuditReport(ctx, store.AuditFilter{Username: s.user, Kind: "auth", Limit: reportableSignIns})
	if err != nil {
		p.unavailable(w, r, s, "read sign-in", err)
		return
	}
	var ev *store.AuditEvent
	for i := range evs {
		if evs[i].ID == id {
			ev = &evs[i]
			break
		}
	}
	if ev == nil {
		p.renderError(w, r, s, http.StatusNotFound, "That sign-in could not be found.")
		return
	}
	if err := p.opts.Store.MarkFraud(ctx, id, s.user); errors.Is(err, store.ErrNotFound) {
		p.renderError(w, r, s, http.StatusNotFound, "That sign-in could not be found.")
		return
	} else if err != nil {
		p.unavailable(w, r, s, "mark fraud", err)
		return
	}
	reason := fmt.Sprintf("reported sign-in #%d (%s, %s via %s from %s) as not theirs",
		id, ev.Time.UTC().Format("2006-01-02 15:04 UTC"), ev.Result, ev.NAS, orDash(ev.CallingStationID))
	if err := p.opts.Store.SetBlocked(ctx, s.user, true, reason, p.opts.Now()); err != nil {
		p.unavailable(w, r, s, "block user", err)
		return
	}
	// A device the attacker signed in from may be remembered: every device asks for a code again.
	forgotten, err := p.opts.Store.ForgetDevices(ctx, s.user)
	if err != nil {
		p.log.Error().Err(err).Str("user", s.user).Msg("forget devices after a fraud report")
	}
	p.event(r, zerolog.WarnLevel, store.AuditEvent{Username: s.user, Result: resultFraudReported, Reason: "user_report",
		Detail: fmt.Sprintf("%s; %d remembered devices forgotten", reason, forgotten)})
	s.setFlash("Thank you: the sign-in is reported.", false)
	redirect(w, r, "/")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
