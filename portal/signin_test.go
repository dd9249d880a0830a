package portal

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/radmfa/radmfa/store"
)

func TestSignIn(t *testing.T) {
	h := newHarness(t)
	secret := h.enroll("bob")
	tests := []struct {
		name, user, password string
		code                 func() string // nil: no code step expected
		status               int
		location             string
	}{
		{"wrong password", "bob", "nope", nil, http.StatusUnauthorized, ""},
		{"unknown user", "mallory", "x", nil, http.StatusUnauthorized, ""},
		{"empty password", "bob", "", nil, http.StatusBadRequest, ""},
		{"wildcard username", "*", "bob-pass", nil, http.StatusUnauthorized, ""},
		{"wrong code", "bob", "bob-pass", func() string { return "000000" }, http.StatusSeeOther, "/login/code"},
		{"right code", "BOB", "bob-pass", func() string { return h.code(secret, 0) }, http.StatusSeeOther, "/"},
		{"no factor: straight to enrolment", "carol", "carol-pass", nil, http.StatusSeeOther, "/enroll/totp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := h.browser()
			b.get("/login")
			pg := b.post("/login", url.Values{"username": {tc.user}, "password": {tc.password}})
			if tc.code != nil {
				wantStatus(t, pg, http.StatusSeeOther, "/login/code")
				if pg := b.get("/"); pg.location != "/login" {
					t.Fatalf("the overview opened before the code: %d %q", pg.status, pg.location)
				}
				b.get("/login/code")
				pg = b.post("/login/code", url.Values{"code": {tc.code()}})
			}
			wantStatus(t, pg, tc.status, tc.location)
			if tc.status == http.StatusUnauthorized && !strings.Contains(pg.body, "username or password is incorrect") {
				t.Errorf("no generic message:\n%s", excerpt(pg.body))
			}
		})
	}
	h.clock.Add(30 * time.Second) // the code above was spent: use the next step's
	b := h.browser()
	wantStatus(t, b.signIn("bob", "bob-pass", secret), http.StatusSeeOther, "/")
	if pg := b.get("/"); pg.status != http.StatusOK || !strings.Contains(pg.body, "Your sign-in security") {
		t.Fatalf("overview: %d\n%s", pg.status, excerpt(pg.body))
	}
}

func TestCodeReplayRefused(t *testing.T) {
	h := newHarness(t)
	secret := h.enroll("bob")
	wantStatus(t, h.browser().signIn("bob", "bob-pass", secret), http.StatusSeeOther, "/")
	// The same code (same step) again, in another session: refused, as on the VPN.
	b := h.browser()
	b.get("/login")
	b.post("/login", url.Values{"username": {"bob"}, "password": {"bob-pass"}})
	b.get("/login/code")
	wantStatus(t, b.post("/login/code", url.Values{"code": {h.code(secret, 0)}}), http.StatusSeeOther, "/login/code")
	if pg := b.get("/login/code"); !strings.Contains(pg.body, "already used") {
		t.Fatalf("no replay message:\n%s", excerpt(pg.body))
	}
}

func TestWrongCodesEndTheSession(t *testing.T) {
	h := newHarness(t)
	h.enroll("bob")
	b := h.browser()
	b.get("/login")
	b.post("/login", url.Values{"username": {"bob"}, "password": {"bob-pass"}})
	before := h.p.sessions.count()
	var pg page
	for range DefaultCodeTries {
		b.get("/login/code")
		pg = b.post("/login/code", url.Values{"code": {"000000"}})
	}
	wantStatus(t, pg, http.StatusSeeOther, "/login?m=codes")
	if h.p.sessions.count() != before-1 {
		t.Fatalf("sessions %d, want %d: the session was not dropped", h.p.sessions.count(), before-1)
	}
}

func TestCSRFRequired(t *testing.T) {
	h := newHarness(t)
	secret := h.enroll("bob")
	tests := []struct {
		name, path string
		form       url.Values
		signedIn   bool
	}{
		{"sign-in without token", "/login", url.Values{"username": {"bob"}, "password": {"bob-pass"}, "csrf": {""}}, false},
		{"sign-in with a wrong token", "/login", url.Values{"username": {"bob"}, "password": {"bob-pass"}, "csrf": {"forged"}}, false},
		{"report without token", "/report", url.Values{"id": {"1"}, "csrf": {""}}, true},
		{"app password with another session's token", "/app-passwords", url.Values{"name": {"x"}}, true},
		{"sign-out without token", "/logout", url.Values{"csrf": {""}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := h.browser()
			if tc.signedIn {
				h.clock.Add(30 * time.Second)
				wantStatus(t, b.signIn("bob", "bob-pass", secret), http.StatusSeeOther, "/")
				b.get("/")
			} else {
				b.get("/login")
			}
			if _, ok := tc.form["csrf"]; !ok {
				other := h.browser()
				other.get("/login")
				tc.form.Set("csrf", other.csrf)
			}
			pg := b.post(tc.path, tc.form)
			wantStatus(t, pg, http.StatusForbidden, "")
			if !strings.Contains(pg.body, "form has expired") {
				t.Errorf("message:\n%s", excerpt(pg.body))
			}
		})
	}
	// Nothing happened: no app password, bob still signed in where he was.
	if list, _ := h.st.ListAppPasswords(context.Background(), "bob"); len(list) != 0 {
		t.Fatalf("app password created without a token: %v", list)
	}
}

func TestCrossSiteRefused(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.get("/login")
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/login",
		strings.NewReader(url.Values{"username": {"bob"}, "password": {"bob-pass"}, "csrf": {b.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if pg := b.do(req); pg.status != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d, want 403", pg.status)
	}
}

func TestSessionIdleExpiry(t *testing.T) {
	h := newHarness(t)
	secret := h.enroll("bob")
	b := h.browser()
	wantStatus(t, b.signIn("bob", "bob-pass", secret), http.StatusSeeOther, "/")
	// Activity keeps it alive: 14 minutes apart, twice.
	for range 2 {
		h.clock.Add(14 * time.Minute)
		wantStatus(t, b.get("/"), http.StatusOK, "")
	}
	h.clock.Add(DefaultSessionIdle)
	wantStatus(t, b.get("/"), http.StatusSeeOther, "/login?m=expired")
	if pg := b.get("/login?m=expired"); !strings.Contains(pg.body, "without activity") {
		t.Fatalf("no expiry message:\n%s", excerpt(pg.body))
	}
	// The old session is gone for good: a POST with its token is sent to sign in.
	wantStatus(t, b.post("/report", url.Values{"id": {"1"}}), http.StatusSeeOther, "/login")
}

func TestSessionAbsoluteExpiry(t *testing.T) {
	h := newHarness(t)
	secret := h.enroll("bob")
	b := h.browser()
	wantStatus(t, b.signIn("bob", "bob-pass", secret), http.StatusSeeOther, "/")
	for elapsed := time.Duration(0); elapsed < DefaultSessionMax-10*time.Minute; elapsed += 10 * time.Minute {
		h.clock.Add(10 * time.Minute)
		wantStatus(t, b.get("/"), http.StatusOK, "")
	}
	h.clock.Add(10 * time.Minute)
	wantStatus(t, b.get("/"), http.StatusSeeOther, "/login?m=expired")
}

func TestSessionRotatesOnSignIn(t *testing.T) {
	h := newHarness(t)
	secret := h.enroll("bob")
	b := h.browser()
	b.get("/login")
	u, _ := url.Parse(h.srv.URL)
	before := b.c.Jar.Cookies(u)
	wantStatus(t, b.signIn("bob", "bob-pass", secret), http.StatusSeeOther, "/")
	after := b.c.Jar.Cookies(u)
	if len(before) != 1 || len(after) != 1 || before[0].Value == after[0].Value {
		t.Fatalf("session ID kept across sign-in: %v → %v", before, after)
	}
	// The pre-sign-in ID opens nothing.
	old := h.browser()
	old.c.Jar.SetCookies(u, before)
	wantStatus(t, old.get("/"), http.StatusSeeOther, "/login")
}

func TestLoginRateLimit(t *testing.T) {
	t.Run("per username", func(t *testing.T) {
		h := newHarness(t)
		b := h.browser()
		b.get("/login")
		for i := range DefaultUserAttempts {
			if pg := b.post("/login", url.Values{"username": {"bob"}, "password": {"guess"}}); pg.status != http.StatusUnauthorized {
				t.Fatalf("attempt %d: %d", i+1, pg.status)
			}
		}
		binds := h.dir.binds
		// Past the limit even the right password is refused, without asking the directory.
		pg := b.post("/login", url.Values{"username": {"bob"}, "password": {"bob-pass"}})
		wantStatus(t, pg, http.StatusTooManyRequests, "")
		if h.dir.binds != binds {
			t.Error("the directory was asked past the limit")
		}
		// Other users are not affected…
		wantStatus(t, b.post("/login", url.Values{"username": {"carol"}, "password": {"carol-pass"}}), http.StatusSeeOther, "/enroll/totp")
		// …and the window ends.
		h.clock.Add(DefaultAttemptWindow)
		b2 := h.browser()
		b2.get("/login")
		wantStatus(t, b2.post("/login", url.Values{"username": {"bob"}, "password": {"bob-pass"}}), http.StatusSeeOther, "/enroll/totp")
		evs, _ := h.st.QueryAudit(context.Background(), store.AuditFilter{Username: "bob", Result: "reject"})
		if len(evs) == 0 || evs[0].Reason != "rate_limited" {
			t.Errorf("audit: %+v", evs)
		}
	})
	t.Run("per client address", func(t *testing.T) {
		h := newHarness(t, func(o *Options) { o.IPAttempts = 5 })
		b := h.browser()
		b.get("/login")
		for i := range 5 {
			b.post("/login", url.Values{"username": {"user" + string(rune('a'+i))}, "password": {"x"}})
		}
		wantStatus(t, b.post("/login", url.Values{"username": {"carol"}, "password": {"carol-pass"}}), http.StatusTooManyRequests, "")
	})
}

func TestSecurityHeadersAndCookies(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	pg := b.get("/login")
	for name, want := range map[string]string{
		"Content-Security-Policy": "default-src 'self'",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "no-store",
	} {
		if got := pg.header.Get(name); !strings.Contains(got, want) {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if pg.header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over plain HTTP")
	}
	c := pg.header.Get("Set-Cookie")
	for _, want := range []string{"radmfa=", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(c, want) {
			t.Errorf("cookie %q lacks %s", c, want)
		}
	}
	if strings.Contains(c, "Secure") {
		t.Errorf("Secure cookie over plain HTTP: %q", c)
	}
	if id := strings.TrimPrefix(strings.SplitN(c, ";", 2)[0], "radmfa="); len(id) != 43 {
		t.Errorf("session ID %q is not 256 bits in base64url", id)
	}
	if pg := b.get("/static/portal.css"); pg.status != http.StatusOK || !strings.Contains(pg.body, ":focus-visible") {
		t.Errorf("stylesheet: %d", pg.status)
	}
	for _, path := range []string{"/static/", "/static/nope.css", "/nope"} {
		if pg := b.get(path); pg.status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, pg.status)
		}
	}

	// Over TLS: Secure, __Host- prefix, HSTS.
	srv := httptest.NewTLSServer(h.p)
	defer srv.Close()
	client := srv.Client()
	resp, err := client.Get(srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c = resp.Header.Get("Set-Cookie")
	if !strings.HasPrefix(c, "__Host-radmfa=") || !strings.Contains(c, "Secure") || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("TLS: cookie %q, HSTS %q", c, resp.Header.Get("Strict-Transport-Security"))
	}
	_ = tls.VersionTLS12
}

func TestLogsHoldNoSecrets(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.get("/login")
	b.post("/login", url.Values{"username": {"bob"}, "password": {"wrong-horse-battery"}})
	wantStatus(t, b.post("/login", url.Values{"username": {"carol"}, "password": {"carol-pass"}}), http.StatusSeeOther, "/enroll/totp")
	pg := b.get("/enroll/totp")
	key := totpKey(t, pg.body)
	secret := decodeKey(t, key)
	wantStatus(t, b.post("/enroll/totp", url.Values{"code": {h.code(secret, 0)}}), http.StatusSeeOther, "/")
	b.post("/app-passwords", url.Values{"name": {"mail"}})
	app := appPassword(t, b.get("/app-passwords").body)
	logs := h.log.String()
	for _, secretText := range []string{"wrong-horse-battery", "carol-pass", strings.ReplaceAll(key, " ", ""), app, b.csrf} {
		if strings.Contains(logs, secretText) {
			t.Errorf("the log holds %q", secretText)
		}
	}
	u, _ := url.Parse(h.srv.URL)
	if c := b.c.Jar.Cookies(u); len(c) == 1 && strings.Contains(logs, c[0].Value) {
		t.Error("the log holds the session ID")
	}
	if !strings.Contains(logs, `"result":"totp_enrolled"`) {
		t.Errorf("enrolment not logged:\n%s", logs)
	}
}

func TestSharedLockout(t *testing.T) {
	pol := store.LockoutPolicy{Threshold: 3, Duration: time.Minute}
	h := newHarness(t, func(o *Options) { o.PasswordLockout, o.FactorLockout = pol, pol })
	ctx := context.Background()
	h.enroll("bob")
	b := h.browser()
	b.get("/login")
	for range 3 {
		b.post("/login", url.Values{"username": {"bob"}, "password": {"guess"}})
	}
	if until, _ := h.st.LockedUntil(ctx, "bob", h.clock.Now()); until.IsZero() {
		t.Fatal("wrong passwords in the portal did not count toward the lockout")
	}
	binds := h.dir.binds
	wantStatus(t, b.post("/login", url.Values{"username": {"bob"}, "password": {"bob-pass"}}), http.StatusUnauthorized, "")
	if h.dir.binds != binds {
		t.Fatal("a locked account reached the directory")
	}
	// After the lockout, wrong codes count too, and the session ends once locked.
	h.clock.Add(2 * time.Minute)
	b.post("/login", url.Values{"username": {"bob"}, "password": {"bob-pass"}})
	var pg page
	for range 4 {
		b.get("/login/code")
		pg = b.post("/login/code", url.Values{"code": {"000000"}})
	}
	wantStatus(t, pg, http.StatusSeeOther, "/login?m=codes")
	if until, _ := h.st.LockedUntil(ctx, "bob", h.clock.Now()); until.IsZero() {
		t.Fatal("wrong codes in the portal did not count toward the lockout")
	}
}

func TestFullSessionTableKeepsSignedInUsers(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.MaxSessions = 3 })
	secret := h.enroll("bob")
	b := h.browser()
	wantStatus(t, b.signIn("bob", "bob-pass", secret), http.StatusSeeOther, "/")
	for range 10 { // a flood of anonymous sign-in page loads
		wantStatus(t, h.browser().get("/login"), http.StatusOK, "")
	}
	if h.p.sessions.count() > 3 {
		t.Fatalf("%d sessions held, limit 3", h.p.sessions.count())
	}
	wantStatus(t, b.get("/"), http.StatusOK, "")
}
