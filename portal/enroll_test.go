package portal

import (
	"bytes"
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/store"
)

var (
	keyPattern = regexp.MustCompile(`id="totp-key">([A-Z2-7 ]+)<`)
	uriPattern = regexp.MustCompile(`id="otpauth-uri">([^<]+)<`)
)

func totpKey(t *testing.T, body string) string {
	t.Helper()
	m := keyPattern.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no key on the page:\n%s", excerpt(body))
	}
	return m[1]
}

func decodeKey(t *testing.T, key string) []byte {
	t.Helper()
	b, err := factors.DecodeSecret(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTOTPStoredOnlyAfterConfirmation(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	b := h.browser()
	b.get("/login")
	wantStatus(t, b.post("/login", url.Values{"username": {"carol"}, "password": {"carol-pass"}}), http.StatusSeeOther, "/enroll/totp")
	pg := b.get("/enroll/totp")
	wantStatus(t, pg, http.StatusOK, "")
	secret := decodeKey(t, totpKey(t, pg.body))

	// The page shows the same secret as a URI and a QR code; reloading keeps it.
	uri := html.UnescapeString(uriPattern.FindStringSubmatch(pg.body)[1])
	if want := h.totp.URI("Example VPN", "carol", secret); uri != want {
		t.Fatalf("URI %q, want %q", uri, want)
	}
	if !strings.Contains(pg.body, "<svg") || !strings.Contains(pg.body, `role="img"`) {
		t.Fatal("no inline SVG QR code")
	}
	if again := decodeKey(t, totpKey(t, b.get("/enroll/totp").body)); !bytes.Equal(again, secret) {
		t.Fatal("a reload drew a new secret")
	}
	if _, err := h.st.GetUser(ctx, "carol"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stored before confirmation: %v", err)
	}

	// A wrong code stores nothing.
	wantStatus(t, b.post("/enroll/totp", url.Values{"code": {"000000"}}), http.StatusSeeOther, "/enroll/totp")
	if _, err := h.st.GetUser(ctx, "carol"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stored after a wrong code: %v", err)
	}
	if pg := b.get("/enroll/totp"); !strings.Contains(pg.body, "does not match") {
		t.Fatalf("no message for the wrong code:\n%s", excerpt(pg.body))
	}

	// The right code stores the secret and spends its step.
	code := h.code(secret, 0)
	wantStatus(t, b.post("/enroll/totp", url.Values{"code": {code}}), http.StatusSeeOther, "/")
	u, err := h.st.GetUser(ctx, "carol")
	if err != nil || !bytes.Equal(u.TOTPSecret, secret) {
		t.Fatalf("after confirmation: %+v, %v", u, err)
	}
	if fresh, _ := h.st.UseTOTPStep(ctx, "carol", h.totp.Step(h.clock.Now()), 0); fresh {
		t.Fatal("the confirming code's step is still usable")
	}
	audit, _ := h.st.QueryAudit(ctx, store.AuditFilter{Username: "carol", Result: "totp_enrolled"})
	if len(audit) != 1 {
		t.Fatalf("audit: %+v", audit)
	}
	// Now the app passwords need no new sign-in (a factor was proved in this session).
	wantStatus(t, b.get("/app-passwords"), http.StatusOK, "")
}

func TestTOTPTooManyWrongCodesDrawsNewKey(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.get("/login")
	b.post("/login", url.Values{"username": {"carol"}, "password": {"carol-pass"}})
	first := totpKey(t, b.get("/enroll/totp").body)
	for range DefaultCodeTries {
		b.post("/enroll/totp", url.Values{"code": {"000000"}})
	}
	if next := totpKey(t, b.get("/enroll/totp").body); next == first {
		t.Fatal("the same key after too many wrong codes")
	}
}

func TestPasswordAloneCannotReplaceAFactor(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	b := h.browser()
	b.get("/login")
	wantStatus(t, b.post("/login", url.Values{"username": {"carol"}, "password": {"carol-pass"}}), http.StatusSeeOther, "/enroll/totp")
	secret := decodeKey(t, totpKey(t, b.get("/enroll/totp").body))
	// Meanwhile an app is enrolled (another session, the CLI): this password-only session
	// must not replace it.
	existing := h.enroll("carol")
	wantStatus(t, b.post("/enroll/totp", url.Values{"code": {h.code(secret, 0)}}), http.StatusForbidden, "")
	if u, _ := h.st.GetUser(ctx, "carol"); !bytes.Equal(u.TOTPSecret, existing) {
		t.Fatal("the factor was replaced")
	}
	// Signed in with the factor, replacing is allowed.
	h.clock.Add(30 * time.Second)
	b2 := h.browser()
	wantStatus(t, b2.signIn("carol", "carol-pass", existing), http.StatusSeeOther, "/")
	pg := b2.get("/enroll/totp")
	if !strings.Contains(pg.body, "replaces it") {
		t.Fatalf("no replacement warning:\n%s", excerpt(pg.body))
	}
	next := decodeKey(t, totpKey(t, pg.body))
	h.clock.Add(30 * time.Second)
	wantStatus(t, b2.post("/enroll/totp", url.Values{"code": {h.code(next, 0)}}), http.StatusSeeOther, "/")
	if u, _ := h.st.GetUser(ctx, "carol"); !bytes.Equal(u.TOTPSecret, next) {
		t.Fatal("not replaced")
	}
}

func TestPhoneStoredOnlyAfterCode(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	secret := h.enroll("bob")
	b := h.browser()
	wantStatus(t, b.signIn("bob", "bob-pass", secret), http.StatusSeeOther, "/")
	b.get("/phone")
	wantStatus(t, b.post("/phone", url.Values{"phone": {"not a number"}}), http.StatusBadRequest, "")
	wantStatus(t, b.post("/phone", url.Values{"phone": {"+44 7700 900123"}}), http.StatusSeeOther, "/phone/verify")
	msg := h.sms.last(t)
	if msg.To != "+447700900123" || !strings.Contains(msg.Body, msg.Code) {
		t.Fatalf("text %+v", msg)
	}
	if u, _ := h.st.GetUser(ctx, "bob"); u.Phone != "" {
		t.Fatal("stored before the code came back")
	}
	b.get("/phone/verify")
	wantStatus(t, b.post("/phone/verify", url.Values{"code": {"999999"}}), http.StatusSeeOther, "/phone/verify")
	if u, _ := h.st.GetUser(ctx, "bob"); u.Phone != "" {
		t.Fatal("stored after a wrong code")
	}
	b.get("/phone/verify")
	wantStatus(t, b.post("/phone/verify", url.Values{"code": {msg.Code}}), http.StatusSeeOther, "/")
	if u, _ := h.st.GetUser(ctx, "bob"); u.Phone != "+447700900123" {
		t.Fatalf("phone %q", u.Phone)
	}
	b.get("/phone")
	wantStatus(t, b.post("/phone/remove", nil), http.StatusSeeOther, "/")
	if u, _ := h.st.GetUser(ctx, "bob"); u.Phone != "" {
		t.Fatal("not removed")
	}
}

func TestSignInBySMS(t *testing.T) {
	h := newHarness(t)
	// alice has no app but a directory number: the code goes by text.
	b := h.browser()
	b.get("/login")
	wantStatus(t, b.post("/login", url.Values{"username": {"alice"}, "password": {"alice-pass"}}), http.StatusSeeOther, "/login/code")
	msg := h.sms.last(t)
	if msg.To != "+15551230001" {
		t.Fatalf("texted %q", msg.To)
	}
	if pg := b.get("/login/code"); !strings.Contains(pg.body, "******0001") {
		t.Fatalf("masked number not shown:\n%s", excerpt(pg.body))
	}
	wantStatus(t, b.post("/login/code", url.Values{"code": {msg.Code}}), http.StatusSeeOther, "/")
	wantStatus(t, b.get("/admin"), http.StatusOK, "")
}

func TestQRSVG(t *testing.T) {
	svg, err := qrSVG("otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP&issuer=Example")
	if err != nil {
		t.Fatal(err)
	}
	s := string(svg)
	if !strings.HasPrefix(s, "<svg") || !strings.Contains(s, `viewBox="0 0 `) || strings.Count(s, "M") < 50 {
		t.Fatalf("svg %.200s", s)
	}
	if strings.Contains(s, "JBSWY3DP") {
		t.Fatal("the secret is in the markup as text")
	}
}
