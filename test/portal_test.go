package test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/portal"
	"github.com/radmfa/radmfa/store"
)

// The portal in a real browser: headless Chromium (Debian's, never a downloaded one) driven
// over the DevTools protocol, over TLS, against the real slapd and a running radmfa node.
// When the radmfa binary serves the portal itself (the portal section of the configuration),
// the browser talks to the binary, and app passwords, remembered devices and fraud blocks are
// checked with RADIUS sign-ins; otherwise the portal is served by portal.New on httptest over
// the node's own SQLite store, and those are checked in the store. Either way the secret
// enrolled in the browser then signs in to the VPN. Each page is saved as a PNG under
// artifacts/portal/ (test/artifacts is gitignored), at desktop width and at 320 CSS pixels.

const portalArtifacts = "artifacts/portal"

// portalChromium returns Debian's chromium, installing it with scripts/deps.sh if missing.
func portalChromium(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "../scripts/deps.sh", "chromium").CombinedOutput(); err != nil {
		t.Fatalf("install chromium: %v\n%s", err, out)
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found after install: %v", err)
	}
	return p
}

// portalStore opens the node's own database file with its key: the portal and the RADIUS
// engine share one store, as in production.
func portalStore(t *testing.T, n *node) *store.SQLite {
	t.Helper()
	key, err := store.LoadKeyFile(filepath.Join(n.dir, "radmfa.key"), false)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := store.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(context.Background(), filepath.Join(n.dir, "radmfa.db"), keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// portalServer serves the portal over TLS on loopback, signing in against d.
func portalServer(t *testing.T, d *directory, st *store.SQLite, log *bytes.Buffer) *httptest.Server {
	t.Helper()
	dir, err := ldapauth.New(ldapauth.Config{
		URLs: []string{d.URL}, BindDN: d.BindDN, BindPassword: d.BindPassword, BaseDN: d.BaseDN,
		UserFilter: "(&(objectClass=inetOrgPerson)(uid={username}))", GroupMode: "memberof", Timeout: 5 * time.Second,
	}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	p, err := portal.New(portal.Options{
		Directory: dir, Store: st, Issuer: "Example VPN", AdminGroup: "vpn-admins", AllowAppPasswords: true,
		Normalizer: ldapauth.Normalizer{Lowercase: true}, Node: "portal-e2e", Logger: zerolog.New(&portalLogWriter{w: log}),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(p)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// portalWired reports whether the radmfa binary knows the portal section of the
// configuration, by checking a configuration that has one.
func portalWired(t *testing.T, d *directory) bool {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`radius:
  clients:
    - name: local
      address: 127.0.0.1/32
      secret: portal-check-secret
ldap:
  urls: [%q]
  base_dn: %q
  user_filter: "(uid={username})"
store:
  dsn: %s
mfa:
  state_key: %q
portal:
  listen: 127.0.0.1:0
`, d.URL, d.BaseDN, filepath.Join(dir, "radmfa.db"), strings.Repeat("ab", 32))
	path := filepath.Join(dir, "radmfa.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "config", "check", "--config", path).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "portal: line") {
		t.Fatalf("config check: %v\n%s", err, out)
	}
	return err == nil
}

// portalCert writes a self-signed certificate for 127.0.0.1 and its key.
func portalCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "radmfa portal e2e"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "portal.pem"), filepath.Join(dir, "portal-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// portalEnv is the system under test: a radmfa node, the store it uses, and where the
// portal answers.
type portalEnv struct {
	n     *node
	st    *store.SQLite
	base  string
	wired bool          // the binary serves the portal
	log   *bytes.Buffer // the httptest portal's log (unwired)
}

func startPortalEnv(t *testing.T) *portalEnv {
	t.Helper()
	d := startDirectory(t)
	env := &portalEnv{wired: portalWired(t, d), log: &bytes.Buffer{}}
	if !env.wired {
		t.Log("radmfa does not serve the portal yet: serving portal.New on httptest over the node's store")
		env.n = startNode(t, d, nodeConfig{})
		env.st = portalStore(t, env.n)
		env.base = portalServer(t, d, env.st, env.log).URL
		return env
	}
	addr := freeTCPAddr(t)
	cert, key := portalCert(t)
	env.n = startNode(t, d, nodeConfig{
		MFAExtra:    "  app_passwords: true\n",
		ClientExtra: "      remember_devices: 720h\n",
		Extra: fmt.Sprintf("portal:\n  listen: %s\n  cert_file: %s\n  key_file: %s\n  admin_group: vpn-admins\n",
			addr, cert, key),
	})
	env.st = portalStore(t, env.n)
	env.base = "https://" + addr
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	portalWait(t, 15*time.Second, "the portal to answer", func() bool {
		resp, err := client.Get(env.base + "/login")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return env
}

func freeTCPAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// portalLogs is what the portal logged: the node's log when wired.
func (env *portalEnv) portalLogs() string {
	if env.wired {
		return env.n.log.String()
	}
	return env.log.String()
}

// radius sends one Access-Request from station (a Calling-Station-Id; "" keeps the harness's)
// and returns the reply.
func (env *portalEnv) radius(t *testing.T, user, password string, state []byte, station string) *radius.Packet {
	t.Helper()
	r := request{user: user, password: password, state: state}
	if station != "" {
		r.extra = func(p *radius.Packet) { _ = rfc2865.CallingStationID_SetString(p, station) }
	}
	reply := env.n.send(r)
	if reply == nil {
		t.Fatalf("no RADIUS reply for %s\n%s", user, env.n.log)
	}
	return reply
}

type portalLogWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *portalLogWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// portalBrowser is one headless Chromium with a fresh profile.
type portalBrowser struct {
	t    *testing.T
	ctx  context.Context
	base string
	out  *bytes.Buffer // chromium's own output, for failures
}

const (
	portalDesktopWidth, portalDesktopHeight = 1280, 900
	portalNarrowWidth, portalNarrowHeight   = 320, 720
)

func newPortalBrowser(t *testing.T, chromium, base string) *portalBrowser {
	t.Helper()
	out := &bytes.Buffer{}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.IgnoreCertErrors, // httptest's self-signed certificate
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(portalDesktopWidth, portalDesktopHeight),
		chromedp.CombinedOutput(&portalLogWriter{w: out}),
	)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		if t.Failed() {
			t.Logf("chromium output:\n%s", out)
		}
	})
	if err := os.MkdirAll(portalArtifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	b := &portalBrowser{t: t, ctx: ctx, base: base, out: out}
	b.do(chromedp.EmulateViewport(portalDesktopWidth, portalDesktopHeight))
	return b
}

func (b *portalBrowser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v (at %s)", err, b.location())
	}
}

func (b *portalBrowser) location() string {
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return loc
}

func (b *portalBrowser) text(sel chromedp.CSS) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.TextContent(sel))
	if err != nil {
		b.t.Fatalf("browser: text of %s: %v (at %s)", sel, err, b.location())
	}
	return strings.TrimSpace(s)
}

func (b *portalBrowser) eval(js string) bool {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](js))
	if err != nil {
		b.t.Fatalf("browser: %s: %v", js, err)
	}
	return v
}

// open loads path and waits for sel.
func (b *portalBrowser) open(path string, sel chromedp.CSS) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base+path), chromedp.WaitVisible(sel))
}

// submit clicks the form's button and waits for sel on the page that follows.
func (b *portalBrowser) submit(button, next chromedp.CSS) {
	b.t.Helper()
	b.do(chromedp.Click(button), chromedp.WaitReady(next))
}

// shot saves the page at desktop width and at 320 px, and checks the narrow page reflows
// without sideways scrolling (wide tables scroll inside their own region).
func (b *portalBrowser) shot(name string) {
	b.t.Helper()
	save := func(file string) {
		buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			b.t.Fatalf("screenshot %s: %v", file, err)
		}
		if err := os.WriteFile(filepath.Join(portalArtifacts, file), buf, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	save(name + ".png")
	b.do(chromedp.EmulateViewport(portalNarrowWidth, portalNarrowHeight))
	save(name + "-320.png")
	if !b.eval(`document.documentElement.scrollWidth <= window.innerWidth`) {
		b.t.Errorf("%s: the page scrolls sideways at %d px", name, portalNarrowWidth)
	}
	b.do(chromedp.EmulateViewport(portalDesktopWidth, portalDesktopHeight))
}

// signIn fills the sign-in form and waits for next.
func (b *portalBrowser) signIn(user, password string, next chromedp.CSS) {
	b.t.Helper()
	b.open("/login", "#username")
	b.do(chromedp.SendKeys(chromedp.CSS("#username"), user), chromedp.SendKeys(chromedp.CSS("#password"), password))
	b.submit(`form[action="/login"] button`, next)
}

func TestPortalBrowser(t *testing.T) {
	chromium := portalChromium(t)
	env := startPortalEnv(t)
	st := env.st
	defer func() {
		if t.Failed() && !env.wired {
			t.Logf("portal log:\n%s", env.log.String())
		}
	}()
	ctx := context.Background()
	b := newPortalBrowser(t, chromium, env.base)
	totp := factors.DefaultTOTP()
	const station, otherStation = "203.0.113.7", "198.51.100.23"

	// Sign in: alice has no factor yet, so she lands on the enrolment page.
	b.open("/login", "#username")
	b.shot("01-sign-in")
	b.signIn("alice", "alice-pass", "#otpauth-uri")
	if loc := b.location(); !strings.HasSuffix(loc, "/enroll/totp") {
		t.Fatalf("after sign-in at %s, want the enrolment page", loc)
	}
	b.shot("02-enrol-app")
	b.do(chromedp.Click(chromedp.CSS("summary")), chromedp.WaitVisible(chromedp.CSS("#otpauth-uri")))
	b.shot("03-enrol-app-key")

	// Read the otpauth URI off the page, as an app would from the QR code.
	uri, err := url.Parse(b.text("#otpauth-uri"))
	if err != nil || uri.Scheme != "otpauth" || uri.Host != "totp" {
		t.Fatalf("otpauth URI %v, %v", uri, err)
	}
	secret, err := factors.DecodeSecret(uri.Query().Get("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if key := strings.ReplaceAll(b.text("#totp-key"), " ", ""); key != uri.Query().Get("secret") {
		t.Fatalf("the key shown %q is not the URI's %q", key, uri.Query().Get("secret"))
	}
	if u, err := st.GetUser(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stored before confirmation: %+v, %v", u, err)
	}
	confirm, err := totp.Code(secret, totp.Step(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#code"), confirm))
	b.submit(`form[action="/enroll/totp"] button`, "#recent-h")
	if u, err := st.GetUser(ctx, "alice"); err != nil || !bytes.Equal(u.TOTPSecret, secret) {
		t.Fatalf("after confirmation: %+v, %v", u, err)
	}

	// The secret works on the VPN: a RADIUS sign-in to the running radmfa binary. The
	// confirming code's step is spent, so the next step's code is used (within the skew).
	reply := env.radius(t, "alice", "alice-pass", nil, station)
	if reply.Code != radius.CodeAccessChallenge {
		t.Fatalf("first leg: %v", reply.Code)
	}
	next, err := totp.Code(secret, totp.Step(time.Now())+1)
	if err != nil {
		t.Fatal(err)
	}
	if reply := env.radius(t, "alice", next, rfc2865.State_Get(reply), station); reply.Code != radius.CodeAccessAccept {
		t.Fatalf("second leg: %v\n%s", reply.Code, env.n.log)
	}
	portalWait(t, 10*time.Second, "the VPN sign-in in the audit trail", func() bool {
		evs, err := st.AuditReport(ctx, store.AuditFilter{Username: "alice", Kind: "auth", Result: "accept", Limit: 1})
		return err == nil && len(evs) == 1
	})
	b.open("/", "#recent-h")
	if !strings.Contains(b.text("table"), "Signed in") {
		t.Fatalf("the overview does not list the VPN sign-in: %q", b.text("main"))
	}
	b.shot("04-overview")

	// An app password: shown once; it verifies against its stored hash and, with the portal
	// in the binary, signs in to the VPN without a code.
	b.open("/app-passwords", "#name")
	b.do(chromedp.SendKeys(chromedp.CSS("#name"), "Mail on my phone"))
	b.submit(`form[action="/app-passwords"] button`, "#new-app-password")
	b.shot("05-app-password")
	pw := b.text("#new-app-password")
	list, err := st.ListAppPasswords(ctx, "alice")
	if err != nil || len(list) != 1 || list[0].Name != "Mail on my phone" {
		t.Fatalf("app passwords %+v, %v", list, err)
	}
	if !factors.CheckAppPassword(list[0].Hash, pw) || factors.CheckAppPassword(list[0].Hash, "abcd efgh ijkl mnop") {
		t.Fatalf("the app password %q does not verify against its hash", pw)
	}
	b.open("/app-passwords", "#name")
	if b.eval(`document.getElementById("new-app-password") !== null`) {
		t.Fatal("the app password is shown a second time")
	}
	if env.wired {
		if reply := env.radius(t, "alice", pw, nil, otherStation); reply.Code != radius.CodeAccessAccept {
			t.Fatalf("VPN sign-in with the app password: %v", reply.Code)
		}
		if reply := env.radius(t, "alice", "abcd efgh ijkl mnop", nil, otherStation); reply.Code != radius.CodeAccessReject {
			t.Fatalf("VPN sign-in with a wrong app password: %v", reply.Code)
		}
	}

	// Remembered devices. With the portal in the binary, the MFA sign-in above remembered
	// its device, which now signs in with the password alone; otherwise they are stored as
	// the engine would.
	if env.wired {
		if reply := env.radius(t, "alice", "alice-pass", nil, station); reply.Code != radius.CodeAccessAccept {
			t.Fatalf("the remembered device was asked for a code: %v", reply.Code)
		}
	} else {
		now := time.Now().UTC()
		if err := st.RememberDevice(ctx, store.Device{Username: "alice", ID: store.DeviceID(station), Label: "203.0.113.*",
			NAS: "local", LastSeen: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	if err := st.RememberDevice(ctx, store.Device{Username: "alice", ID: store.DeviceID(otherStation), Label: "198.51.100.*",
		NAS: "local", LastSeen: now.Add(-time.Hour), ExpiresAt: now.Add(30 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	b.open("/devices", "table")
	if !strings.Contains(b.text("table"), "198.51.100.*") ||
		!b.eval(`document.querySelectorAll('form[action="/devices/forget"]').length === 2`) {
		t.Fatalf("devices page: %q", b.text("main"))
	}
	b.shot("06-devices")
	b.submit(`form[action="/devices/forget"] button`, ".notice-ok") // the most recently seen: station
	if l, _ := st.ListDevices(ctx, "alice"); len(l) != 1 || l[0].ID != store.DeviceID(otherStation) {
		t.Fatalf("after forgetting one: %+v", l)
	}
	if env.wired {
		if reply := env.radius(t, "alice", "alice-pass", nil, station); reply.Code != radius.CodeAccessChallenge {
			t.Fatalf("a forgotten device was let in without a code: %v", reply.Code)
		}
	}
	b.submit(`form[action="/devices/forget-all"] button`, "p.card")
	if l, _ := st.ListDevices(ctx, "alice"); len(l) != 0 {
		t.Fatalf("after forgetting all: %d devices", len(l))
	}
	b.shot("07-devices-forgotten")

	// The admin page (alice is in vpn-admins).
	b.open("/admin", "#audit-h")
	b.shot("08-admin")

	// "This wasn't me" on the latest VPN sign-in: flagged, blocked, and an alert for the admins.
	latest, err := st.AuditReport(ctx, store.AuditFilter{Username: "alice", Kind: "auth", Limit: 1})
	if err != nil || len(latest) != 1 {
		t.Fatalf("latest sign-in: %v, %v", latest, err)
	}
	b.open("/", "#recent-h")
	b.submit(`form[action="/report"] button`, ".badge.fraud")
	b.shot("09-reported")
	if blocked, reason, err := st.Blocked(ctx, "alice"); err != nil || !blocked || reason == "" {
		t.Fatalf("blocked %v %q %v", blocked, reason, err)
	}
	if evs, _ := st.AuditReport(ctx, store.AuditFilter{Username: "alice", Kind: "auth", Limit: 1}); len(evs) != 1 ||
		evs[0].ID != latest[0].ID || !evs[0].Fraud {
		t.Fatalf("the reported sign-in is not flagged: %+v", evs)
	}
	b.open("/admin", "#alerts-h")
	if !strings.Contains(b.text(".alerts"), "reported sign-in #") {
		t.Fatalf("no alert on the admin page: %q", b.text("main"))
	}
	b.shot("10-admin-alert")
	if env.wired {
		if reply := env.radius(t, "alice", "alice-pass", nil, station); reply.Code != radius.CodeAccessReject {
			t.Fatalf("a blocked user's VPN sign-in: %v", reply.Code)
		}
		if reply := env.radius(t, "alice", pw, nil, otherStation); reply.Code != radius.CodeAccessReject {
			t.Fatalf("a blocked user's app password: %v", reply.Code)
		}
	}

	// Signed out, alice cannot sign in to the portal again while blocked.
	b.submit(`form.signout button`, "#username")
	b.signIn("alice", "alice-pass", ".notice-error")
	if msg := b.text(".notice-error"); !strings.Contains(msg, "blocked") {
		t.Fatalf("sign-in while blocked: %q", msg)
	}
	b.shot("11-sign-in-blocked")
	logs := env.portalLogs()
	for _, secretText := range []string{"alice-pass", uri.Query().Get("secret"), strings.ReplaceAll(pw, " ", ""), pw} {
		if strings.Contains(logs, secretText) {
			t.Errorf("the log holds %q", secretText)
		}
	}
}

// portalWait polls cond until it holds or the timeout passes.
func portalWait(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
