package portal

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/store"
)

type devicesView struct {
	List []deviceRow
}

type deviceRow struct {
	store.Device
	Expired bool
}

func (p *Portal) devicesPage(w http.ResponseWriter, r *http.Request, s *session) {
	list, err := p.opts.Store.ListDevices(r.Context(), s.user)
	if err != nil {
		p.unavailable(w, r, s, "list devices", err)
		return
	}
	now := p.opts.Now()
	v := devicesView{}
	for _, d := range list {
		v.List = append(v.List, deviceRow{Device: d, Expired: !d.ExpiresAt.After(now)})
	}
	p.render(w, r, s, http.StatusOK, "devices", view{Title: "Remembered devices", Nav: "devices", Page: v})
}

func (p *Portal) deviceForget(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PostForm.Get("id")
	err := p.opts.Store.ForgetDevice(r.Context(), s.user, id)
	switch {
	case err == nil:
		p.event(r, zerolog.InfoLevel, store.AuditEvent{Username: s.user, Result: "device_forgotten", Detail: shortID(id)})
		s.setFlash("The device is forgotten: it will be asked for a code at its next sign-in.", false)
	case errors.Is(err, store.ErrNotFound):
		s.setFlash("That device is not remembered.", true)
	default:
		p.unavailable(w, r, s, "forget device", err)
		return
	}
	redirect(w, r, "/devices")
}

func (p *Portal) devicesForgetAll(w http.ResponseWriter, r *http.Request, s *session) {
	n, err := p.opts.Store.ForgetDevices(r.Context(), s.user)
	if err != nil {
		p.unavailable(w, r, s, "forget devices", err)
		return
	}
	p.event(r, zerolog.InfoLevel, store.AuditEvent{Username: s.user, Result: "devices_forgotten", Detail: fmt.Sprintf("%d devices", n)})
	s.setFlash(fmt.Sprintf("%d devices forgotten: each will be asked for a code at its next sign-in.", n), false)
	redirect(w, r, "/devices")
}

// shortID is enough of a device ID to tell devices apart in the audit trail.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
