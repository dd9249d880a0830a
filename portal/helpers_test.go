package portal

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/store"
)

// The harness: a fake directory, a fake SMS provider, a real SQLite store, an injected clock
// and the portal's log in a buffer, served by httptest and driven by an http.Client with a
// cookie jar, the way a browser without script would.

// t0 is 10 s into a TOTP step, so codes of the current step are unambiguous.
var t0 = time.Unix(1_750_000_020, 0).UTC()

type dirUser struct {
	password string
	groups   []string
	phone    string
}

type fakeDir struct {
	mu    sync.Mutex
	users map[string]dirUser
	binds int
}

func (d *fakeDir) Authenticate(_ context.Context, username, password string) (ldapauth.Identity, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.binds++
	u, ok := d.users[username]
	switch {
	case password == "":
		return ldapauth.Identity{}, ldapauth.ErrEmptyPassword
	case !ok:
		return ldapauth.Identity{}, ldapauth.ErrUserNotFound
	case u.password != password:
		return ldapauth.Identity{}, ldapauth.ErrInvalidCredentials
	}
	return ldapauth.Identity{Username: username, DN: "uid=" + username, DisplayName: strings.ToUpper(username[:1]) + username[1:],
		Groups: u.groups, Phone: u.phone}, nil
}

func (d *fakeDir) Lookup(_ context.Context, username string) (ldapauth.Identity, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[username]
	if !ok {
		return ldapauth.Identity{}, ldapauth.ErrUserNotFound
	}
	return ldapauth.Identity{Username: username, Groups: u.groups, Phone: u.phone}, nil
}

type fakeSender struct {
	mu   sync.Mutex
	msgs []factors.Message
}

func (s *fakeSender) Send(_ context.Context, m factors.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	return nil
}
func (s *fakeSender) Name() string                { return "fake" }
func (s *fakeSender) Check(context.Context) error { return nil }
func (s *fakeSender) last(t *testing.T) factors.Message {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) == 0 {
		t.Fatal("no text message sent")
	}
	return s.msgs[len(s.msgs)-1]
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// syncBuffer is the log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

type harness struct {
	t     *testing.T
	p     *Portal
	srv   *httptest.Server
	st    *store.SQLite
	dir   *fakeDir
	sms   *fakeSender
	clock *clock
	log   *syncBuffer
	totp  factors.TOTP
}

func newHarness(t *testing.T, mod ...func(*Options)) *harness {
	t.Helper()
	keys, err := store.NewKeyring(store.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "radmfa.db"), keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{
		t: t, st: st, clock: &clock{now: t0}, log: &syncBuffer{}, sms: &fakeSender{}, totp: factors.DefaultTOTP(),
		dir: &fakeDir{users: map[string]dirUser{
			"alice": {password: "alice-pass", groups: []string{"vpn-users", "vpn-admins"}, phone: "+15551230001"},
			"bob":   {password: "bob-pass", groups: []string{"vpn-users"}},
			"carol": {password: "carol-pass"},
		}},
	}
	opts := Options{
		Directory: h.dir, Store: st, Issuer: "Example VPN", AdminGroup: "vpn-admins", AllowAppPasswords: true,
		Normalizer: ldapauth.Normalizer{Lowercase: true},
		SMS:        &SMS{Sender: h.sms, Code: factors.DefaultSMSCode()},
		Node:       "test", Logger: zerolog.New(h.log), Now: h.clock.Now,
	}
	for _, m := range mod {
		m(&opts)
	}
	h.p, err = New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(h.p)
	t.Cleanup(h.srv.Close)
	return h
}

// enroll stores a TOTP secret for user directly.
func (h *harness) enroll(user string) []byte {
	h.t.Helper()
	secret := []byte("12345678901234567890")
	if err := h.st.EnrollTOTP(context.Background(), user, secret, true); err != nil {
		h.t.Fatal(err)
	}
	return secret
}

// code is the TOTP code for the clock's current step, offset by steps.
func (h *harness) code(secret []byte, steps int64) string {
	h.t.Helper()
	c, err := h.totp.Code(secret, h.totp.Step(h.clock.Now())+steps)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// browser is a cookie-keeping client that does not follow redirects, so tests see them.
type browser struct {
	h    *harness
	c    *http.Client
	csrf string // from the last page that had a form
}

func (h *harness) browser() *browser {
	h.t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return &browser{h: h, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status   int
	location string
	body     string
	header   http.Header
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) page {
	b.h.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	pg := page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body), header: resp.Header}
	if m := csrfField.FindStringSubmatch(pg.body); m != nil {
		b.csrf = m[1]
	}
	return pg
}

func (b *browser) get(path string) page {
	b.h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.h.srv.URL+path, nil)
	if err != nil {
		b.h.t.Fatal(err)
	}
	return b.do(req)
}

// post sends the form with the current CSRF token (unless the form sets csrf itself).
func (b *browser) post(path string, form url.Values) page {
	b.h.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, b.h.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// signIn signs user in with the password and, when asked, the current TOTP code.
func (b *browser) signIn(user, password string, secret []byte) page {
	b.h.t.Helper()
	b.get("/login")
	pg := b.post("/login", url.Values{"username": {user}, "password": {password}})
	if pg.location == "/login/code" {
		b.get("/login/code")
		pg = b.post("/login/code", url.Values{"code": {b.h.code(secret, 0)}})
	}
	return pg
}

func wantStatus(t *testing.T, pg page, status int, location string) {
	t.Helper()
	if pg.status != status || (location != "" && pg.location != location) {
		t.Fatalf("got %d %q, want %d %q\n%s", pg.status, pg.location, status, location, excerpt(pg.body))
	}
}

func excerpt(body string) string {
	if i := strings.Index(body, "<main"); i >= 0 {
		body = body[i:]
	}
	if len(body) > 1500 {
		body = body[:1500]
	}
	return body
}
