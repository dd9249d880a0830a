package portal

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"text/template"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/store"
)

// Directory is what the portal needs of the directory; ldapauth.Authenticator is one.
type Directory interface {
	Authenticate(ctx context.Context, username, password string) (ldapauth.Identity, error)
	Lookup(ctx context.Context, username string) (ldapauth.Identity, error)
}

// Store is what the portal needs of the store; both backends are one.
type Store interface {
	store.Store
	store.Ephemeral
	store.Portal
}

// SMS lets users register a phone number (verified by a texted code) and receive sign-in
// codes by text when they have no authenticator app.
type SMS struct {
	Sender         factors.Sender
	Code           factors.SMSCode
	DefaultCountry string             // calling code for national numbers ("44")
	Message        *template.Template // factors.ParseMessageTemplate; nil: the default text
	PerUserLimit   int                // texts per user per Window; default 3
	Window         time.Duration      // default 10 minutes
}

// Options configure a Portal. Directory and Store are required.
type Options struct {
	Directory Directory
	Store     Store
	TOTP      factors.TOTP // zero: factors.DefaultTOTP()
	Issuer    string       // shown in the apps and the page titles; default "radmfa"
	SMS       *SMS         // nil: no phone registration, no texted sign-in codes
	// AdminGroup names the directory group whose members see the admin page; "" disables it.
	AdminGroup        string
	AllowAppPasswords bool
	// Normalizer turns typed usernames into the store's names, as the RADIUS engine does.
	Normalizer ldapauth.Normalizer
	// DefaultState is the MFA state of users without their own (mfa.default_state).
	DefaultState store.State
	// PasswordLockout and FactorLockout are the RADIUS flow's lockout policies: wrong
	// passwords and codes typed in the portal count toward the same lockouts. Zero: not counted.
	PasswordLockout store.LockoutPolicy
	FactorLockout   store.LockoutPolicy
	// SecureCookies marks cookies Secure even on plain HTTP requests (TLS ends at a proxy).
	// Requests that arrive over TLS always get Secure cookies.
	SecureCookies bool
	Node          string // audit rows' node name

	// Limits; zero values take the defaults.
	SessionIdle   time.Duration // default 15 minutes
	SessionMax    time.Duration // absolute session lifetime; default 12 hours
	MaxSessions   int           // sessions held at once, signed in or not; default 20000
	UserAttempts  int           // sign-in attempts per username per AttemptWindow; default 10
	IPAttempts    int           // sign-in attempts per client address per AttemptWindow; default 50
	AttemptWindow time.Duration // default 15 minutes
	CodeTries     int           // wrong codes per session before it is dropped; default 5

	Logger zerolog.Logger
	Now    func() time.Time // default time.Now
	Rand   io.Reader        // default crypto/rand
}

// Defaults for the zero Options fields.
const (
	DefaultSessionIdle   = 15 * time.Minute
	DefaultSessionMax    = 12 * time.Hour
	DefaultMaxSessions   = 20000
	DefaultUserAttempts  = 10
	DefaultIPAttempts    = 50
	DefaultAttemptWindow = 15 * time.Minute
	DefaultCodeTries     = 5
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Portal is the portal's http.Handler.
type Portal struct {
	opts     Options
	log      zerolog.Logger
	sessions *sessions
	pages    pages
	handler  http.Handler
}

// New checks opts, fills defaults and builds the handler.
func New(opts Options) (*Portal, error) {
	if opts.Directory == nil || opts.Store == nil {
		return nil, errors.New("portal: directory and store are required")
	}
	if opts.TOTP.Digits == 0 {
		opts.TOTP = factors.DefaultTOTP()
	}
	if opts.Issuer == "" {
		opts.Issuer = "radmfa"
	}
	if opts.DefaultState == store.StateDefault {
		opts.DefaultState = store.StateEnforced
	}
	if opts.SMS != nil {
		sms := *opts.SMS
		if sms.Sender == nil {
			return nil, errors.New("portal: sms without a sender")
		}
		if err := sms.Code.Validate(); err != nil {
			return nil, err
		}
		if sms.PerUserLimit == 0 {
			sms.PerUserLimit = 3
		}
		if sms.Window == 0 {
			sms.Window = 10 * time.Minute
		}
		opts.SMS = &sms
	}
	setDefault(&opts.SessionIdle, DefaultSessionIdle)
	setDefault(&opts.SessionMax, DefaultSessionMax)
	setDefault(&opts.AttemptWindow, DefaultAttemptWindow)
	setDefault(&opts.MaxSessions, DefaultMaxSessions)
	setDefault(&opts.UserAttempts, DefaultUserAttempts)
	setDefault(&opts.IPAttempts, DefaultIPAttempts)
	setDefault(&opts.CodeTries, DefaultCodeTries)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	pg, err := parsePages()
	if err != nil {
		return nil, err
	}
	p := &Portal{
		opts:     opts,
		log:      opts.Logger.With().Str("component", "portal").Logger(),
		sessions: newSessions(opts.SessionIdle, opts.SessionMax, opts.MaxSessions, opts.Rand),
		pages:    pg,
	}
	mux := http.NewServeMux()
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticFiles(static)))
	p.routes(mux)
	// CrossOriginProtection refuses cross-site POSTs from browsers (Sec-Fetch-Site, Origin)
	// before a handler runs: a second line behind the CSRF tokens.
	p.handler = securityHeaders(http.NewCrossOriginProtection().Handler(mux))
	return p, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// ServeHTTP implements http.Handler.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.handler.ServeHTTP(w, r) }

// routes registers every page with the access it needs.
func (p *Portal) routes(mux *http.ServeMux) {
	h := func(pattern string, need access, fn handlerFunc) { mux.Handle(pattern, p.guard(need, fn)) }
	mux.HandleFunc("GET /login", p.loginPage)
	h("POST /login", accessAnon, p.login)
	h("GET /login/code", accessFactor, p.codePage)
	h("POST /login/code", accessFactor, p.code)
	h("POST /logout", accessAny, p.logout)

	h("GET /{$}", accessUser, p.home)
	h("POST /report", accessUser, p.report)
	h("GET /enroll/totp", accessUser, p.totpPage)
	h("POST /enroll/totp", accessUser, p.totpConfirm)
	if p.opts.SMS != nil {
		h("GET /phone", accessUser, p.phonePage)
		h("POST /phone", accessUser, p.phoneSend)
		h("GET /phone/verify", accessUser, p.phoneVerifyPage)
		h("POST /phone/verify", accessUser, p.phoneVerify)
		h("POST /phone/remove", accessMFA, p.phoneRemove)
	}
	if p.opts.AllowAppPasswords {
		h("GET /app-passwords", accessMFA, p.appPasswordsPage)
		h("POST /app-passwords", accessMFA, p.appPasswordCreate)
		h("POST /app-passwords/delete", accessMFA, p.appPasswordDelete)
	}
	h("GET /devices", accessMFA, p.devicesPage)
	h("POST /devices/forget", accessMFA, p.deviceForget)
	h("POST /devices/forget-all", accessMFA, p.devicesForgetAll)
	if p.opts.AdminGroup != "" {
		h("GET /admin", accessAdmin, p.adminPage)
		h("POST /admin/unblock", accessAdmin, p.adminUnblock)
		h("POST /admin/reset", accessAdmin, p.adminReset)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p.renderError(w, r, nil, http.StatusNotFound, "There is no page at this address.")
	})
}
