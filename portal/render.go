package portal

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"
)

// pageNames are the templates under templates/, each rendered inside base.html.
var pageNames = []string{"login", "code", "home", "totp", "phone", "phone_verify", "apppass", "devices", "admin", "error"}

// pages maps a page name to its parsed template set.
type pages map[string]*template.Template

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2 Jan 2006, 15:04 UTC")
	},
	"day":    func(t time.Time) string { return t.UTC().Format("Mon 2 Jan 2006") },
	"stamp":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
	"result": resultLabel,
	"reason": reasonLabel,
	"method": methodLabel,
}

// methodLabel words a sign-in's factor for its user.
func methodLabel(f string) string {
	switch f {
	case "totp":
		return "authenticator app"
	case "sms":
		return "text message"
	case "app_password":
		return "app password"
	}
	return f
}

// resultLabel words a sign-in's result for its user.
func resultLabel(r string) string {
	switch r {
	case "accept":
		return "Signed in"
	case "reject":
		return "Refused"
	case "challenge":
		return "Code asked"
	}
	return r
}

// reasons words the engine's decision reasons users meet most; others are shown with spaces.
var reasons = map[string]string{
	"challenge_sent":       "password right",
	"mfa_ok":               "code accepted",
	"password_only":        "password only",
	"not_enrolled_allowed": "password only, no second factor yet",
	"bad_password":         "wrong password",
	"wrong_code":           "wrong code",
	"replayed_code":        "code already used",
	"expired_challenge":    "code typed too late",
	"locked_out":           "account locked",
	"not_enrolled":         "no second factor set up",
	"sms_sent":             "code texted",
	"failmode_open":        "let in without a code (outage)",
}

func reasonLabel(r string) string {
	if l, ok := reasons[r]; ok {
		return l
	}
	return strings.ReplaceAll(r, "_", " ")
}

func parsePages() (pages, error) {
	pg := pages{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/base.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("portal: template %s: %w", name, err)
		}
		pg[name] = t
	}
	return pg, nil
}

// view is what every page gets; Page holds the page's own data.
type view struct {
	Title      string
	Issuer     string
	Nav        string // the current section, for aria-current
	CSRF       string
	SignedIn   bool
	MFA        bool
	User       string
	Name       string // display name
	Admin      bool
	SMS        bool // phone registration is available
	AppPass    bool // app passwords are available
	Flash      string
	FlashError bool
	Error      string // a problem with the form just sent
	Page       any
}

// render writes the page with status. The session's flash is shown and cleared.
func (p *Portal) render(w http.ResponseWriter, r *http.Request, s *session, status int, name string, v view) {
	v.Issuer = p.opts.Issuer
	v.SMS = p.opts.SMS != nil
	v.AppPass = p.opts.AllowAppPasswords
	if s != nil {
		v.CSRF = s.csrf
		if s.stage == stageIn {
			v.SignedIn, v.MFA, v.User, v.Admin = true, s.mfa, s.user, s.admin
			v.Name = s.identity.DisplayName
			if v.Name == "" {
				v.Name = s.user
			}
		}
		if s.flash != "" {
			v.Flash, v.FlashError = s.flash, s.flashError
			s.flash, s.flashError = "", false
		}
	}
	var buf bytes.Buffer
	if err := p.pages[name].ExecuteTemplate(&buf, "base", v); err != nil {
		p.log.Error().Err(err).Str("page", name).Msg("render")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderError shows a short message with a status code.
func (p *Portal) renderError(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	p.render(w, r, s, status, "error", view{Title: http.StatusText(status), Page: msg})
}

// unavailable answers when the store or the directory cannot be reached.
func (p *Portal) unavailable(w http.ResponseWriter, r *http.Request, s *session, what string, err error) {
	p.log.Error().Err(err).Str("user", userOf(s)).Str("path", r.URL.Path).Msg(what)
	p.renderError(w, r, s, http.StatusServiceUnavailable, "Something went wrong on our side. Try again in a minute.")
}

func userOf(s *session) string {
	if s == nil {
		return ""
	}
	return s.user
}

// redirect sends the browser to path with a 303 (a POST's result is fetched with GET).
func redirect(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, path, http.StatusSeeOther)
}
