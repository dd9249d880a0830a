package portal

import (
	"crypto/subtle"
	"io/fs"
	"net"
	"net/http"
)

// access is what a route needs of the session.
type access int

const (
	accessAny    access = iota // any live session (sign out)
	accessAnon                 // a session that has not signed in (the sign-in form's POST)
	accessFactor               // password right, second factor pending
	accessUser                 // signed in, with or without a second factor
	accessMFA                  // signed in with a second factor proved in this session
	accessAdmin                // accessMFA and a member of the admin group
)

// handlerFunc is a page handler; guard has checked s against the route's access and holds
// s.mu.
type handlerFunc func(w http.ResponseWriter, r *http.Request, s *session)

// maxForm bounds a POST body: the largest form is a few short fields.
const maxForm = 16 << 10

// guard loads the session, checks the CSRF token of POSTs and the route's access, and runs
// fn with the session locked.
func (p *Portal) guard(need access, fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, expired := p.session(r)
		if s == nil {
			msg := ""
			if expired {
				msg = "?m=expired"
			}
			http.Redirect(w, r, "/login"+msg, http.StatusSeeOther)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseForm(); err != nil {
				p.renderError(w, r, s, http.StatusBadRequest, "The form could not be read.")
				return
			}
			if !validCSRF(s, r.PostForm.Get("csrf")) {
				p.log.Warn().Str("user", s.user).Str("client_ip", clientIP(r)).Str("path", r.URL.Path).
					Msg("refused a POST without a valid CSRF token")
				p.renderError(w, r, s, http.StatusForbidden,
					"This form has expired or did not come from this site. Go back, reload the page and try again.")
				return
			}
		}
		switch {
		case need == accessAny:
		case need == accessAnon && s.stage == stageIn:
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		case need == accessAnon:
		case need == accessFactor && s.stage != stageFactor:
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		case need >= accessUser && s.stage != stageIn:
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		case need >= accessMFA && !s.mfa:
			p.renderError(w, r, s, http.StatusForbidden,
				"Set up an authenticator app or a phone first: this page needs a second sign-in method.")
			return
		case need == accessAdmin && !s.admin:
			p.log.Warn().Str("user", s.user).Str("path", r.URL.Path).Msg("non-admin refused the admin page")
			p.renderError(w, r, s, http.StatusForbidden, "Only administrators can open this page.")
			return
		}
		fn(w, r, s)
	})
}

// session returns the request's live session (nil if none); expired reports a cookie whose
// session timed out.
func (p *Portal) session(r *http.Request) (*session, bool) {
	c, err := r.Cookie(p.cookieName(r))
	if err != nil {
		return nil, false
	}
	return p.sessions.get(c.Value, p.opts.Now())
}

func validCSRF(s *session, token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.csrf)) == 1
}

// secure reports whether cookies must be Secure: the request came over TLS, or TLS ends at a
// proxy in front.
func (p *Portal) secure(r *http.Request) bool { return r.TLS != nil || p.opts.SecureCookies }

// cookieName is "__Host-radmfa" over TLS: browsers then refuse the cookie unless it is Secure,
// host-only and for path /, so a sibling subdomain cannot plant or shadow it.
func (p *Portal) cookieName(r *http.Request) string {
	if p.secure(r) {
		return "__Host-radmfa"
	}
	return "radmfa"
}

// setCookie sends the session's (possibly new) ID.
func (p *Portal) setCookie(w http.ResponseWriter, r *http.Request, s *session) {
	http.SetCookie(w, &http.Cookie{
		Name: p.cookieName(r), Value: s.id, Path: "/",
		HttpOnly: true, Secure: p.secure(r), SameSite: http.SameSiteStrictMode,
	})
}

func (p *Portal) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: p.cookieName(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: p.secure(r), SameSite: http.SameSiteStrictMode,
	})
}

// clientIP is the connection's peer address. The portal does not read X-Forwarded-For: a
// proxy in front must be the only thing counted, or its clients could pick their address.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// csp allows only the portal's own stylesheet: no script at all, no inline style, no
// framing, forms posted only to the portal.
const csp = "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// securityHeaders sets the headers every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// staticFiles serves the embedded stylesheet; no directory listings.
func staticFiles(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f, err := fsys.Open(r.URL.Path); err != nil || isDir(f) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

func isDir(f fs.File) bool {
	defer f.Close()
	st, err := f.Stat()
	return err != nil || st.IsDir()
}
