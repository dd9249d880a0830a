package portal

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/store"
)

// maxAppPasswordName matches the store's limit on names.
const maxAppPasswordName = 64

type appPassView struct {
	List     []store.AppPassword
	New      string // the password just created: shown on this one page view, never again
	NewName  string
	Name     string // the typed name, after an error
	Max      int
	AtLimit  bool
	Examples string
}

func (p *Portal) appPasswordsPage(w http.ResponseWriter, r *http.Request, s *session) {
	v, err := p.appPassView(r, s)
	if err != nil {
		p.unavailable(w, r, s, "list app passwords", err)
		return
	}
	// Shown once: taken out of the session as it is rendered.
	v.New, v.NewName = s.reveal, s.revealName
	s.reveal, s.revealName = "", ""
	p.render(w, r, s, http.StatusOK, "apppass", view{Title: "App passwords", Nav: "apppass", Page: v})
}

func (p *Portal) appPassView(r *http.Request, s *session) (appPassView, error) {
	list, err := p.opts.Store.ListAppPasswords(r.Context(), s.user)
	if err != nil {
		return appPassView{}, err
	}
	return appPassView{List: list, Max: store.MaxAppPasswords, AtLimit: len(list) >= store.MaxAppPasswords}, nil
}

// appPasswordCreate makes a new app password; the page after the redirect shows it once.
func (p *Portal) appPasswordCreate(w http.ResponseWriter, r *http.Request, s *session) {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	if name == "" || utf8.RuneCountInString(name) > maxAppPasswordName || strings.ContainsFunc(name, isControl) {
		v, err := p.appPassView(r, s)
		if err != nil {
			p.unavailable(w, r, s, "list app passwords", err)
			return
		}
		v.Name = name
		p.render(w, r, s, http.StatusBadRequest, "apppass", view{Title: "App passwords", Nav: "apppass", Page: v,
			Error: fmt.Sprintf("Give the app password a name of 1 to %d characters, such as \"Phone mail\".", maxAppPasswordName)})
		return
	}
	pw, err := factors.NewAppPassword(p.opts.Rand)
	if err != nil {
		p.unavailable(w, r, s, "new app password", err)
		return
	}
	hash, err := factors.HashAppPassword(pw)
	if err != nil {
		p.unavailable(w, r, s, "hash app password", err)
		return
	}
	a, err := p.opts.Store.AddAppPassword(r.Context(), s.user, name, hash, store.MaxAppPasswords)
	if errors.Is(err, store.ErrLimit) {
		s.setFlash(fmt.Sprintf("You have %d app passwords, the most allowed. Delete one you no longer use first.",
			store.MaxAppPasswords), true)
		redirect(w, r, "/app-passwords")
		return
	}
	if err != nil {
		p.unavailable(w, r, s, "add app password", err)
		return
	}
	s.reveal, s.revealName = pw, name
	p.event(r, zerolog.InfoLevel, store.AuditEvent{Username: s.user, Factor: "app_password", Result: "app_password_created",
		Detail: fmt.Sprintf("#%d %q", a.ID, name)})
	redirect(w, r, "/app-passwords")
}

func (p *Portal) appPasswordDelete(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := strconv.ParseInt(r.PostForm.Get("id"), 10, 64)
	if err != nil {
		id = 0 // no app password has ID 0: not found below
	}
	err = p.opts.Store.DeleteAppPassword(r.Context(), s.user, id)
	switch {
	case err == nil:
		p.event(r, zerolog.InfoLevel, store.AuditEvent{Username: s.user, Factor: "app_password", Result: "app_password_deleted",
			Detail: fmt.Sprintf("#%d", id)})
		s.setFlash("The app password is deleted. Apps using it can no longer sign in.", false)
	case errors.Is(err, store.ErrNotFound):
		s.setFlash("That app password no longer exists.", true)
	default:
		p.unavailable(w, r, s, "delete app password", err)
		return
	}
	redirect(w, r, "/app-passwords")
}

func isControl(c rune) bool { return c < 0x20 || c == 0x7f }
