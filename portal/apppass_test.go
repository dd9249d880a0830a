package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/store"
)

var appPasswordPattern = regexp.MustCompile(`id="new-app-password">([a-z ]+)<`)

func appPassword(t *testing.T, body string) string {
	t.Helper()
	m := appPasswordPattern.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no new app password on the page:\n%s", excerpt(body))
	}
	return m[1]
}

func TestAppPasswordShownOnce(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	secret := h.enroll("bob")
	b := h.browser()
	wantStatus(t, b.signIn("bob", "bob-pass", secret), http.StatusSeeOther, "/")
	b.get("/app-passwords")
	wantStatus(t, b.post("/app-passwords", url.Values{"name": {"Phone mail"}}), http.StatusSeeOther, "/app-passwords")
	pg := b.get("/app-passwords")
	pw := appPassword(t, pg.body)
	if again := b.get("/app-passwords"); appPasswordPattern.MatchString(again.body) || strings.Contains(again.body, pw) {
		t.Fatal("the app password was shown twice")
	}
	list, err := h.st.ListAppPasswords(ctx, "bob")
	if err != nil || len(list) != 1 || list[0].Name != "Phone mail" {
		t.Fatalf("stored %+v, %v", list, err)
	}
	if strings.Contains(list[0].Hash, strings.ReplaceAll(pw, " ", "")) || !factors.CheckAppPassword(list[0].Hash, pw) {
		t.Fatalf("stored hash %q does not verify %q", list[0].Hash, pw)
	}

	// Delete: own only.
	wantStatus(t, b.post("/app-passwords/delete", url.Values{"id": {"999"}}), http.StatusSeeOther, "/app-passwords")
	if pg := b.get("/app-passwords"); !strings.Contains(pg.body, "no longer exists") {
		t.Fatalf("no message:\n%s", excerpt(pg.body))
	}
	wantStatus(t, b.post("/app-passwords/delete", url.Values{"id": {fmt.Sprint(list[0].ID)}}), http.StatusSeeOther, "/app-passwords")
	if list, _ := h.st.ListAppPasswords(ctx, "bob"); len(list) != 0 {
		t.Fatalf("not deleted: %+v", list)
	}
}

func TestAppPasswordLimitAndName(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	secret := h.enroll("bob")
	for i := range store.MaxAppPasswords {
		if _, err := h.st.AddAppPassword(ctx, "bob", fmt.Sprint("p", i), "$argon2id$v=19$m=1,t=1,p=1$x$y", store.MaxAppPasswords); err != nil {
			t.Fatal(err)
		}
	}
	b := h.browser()
	wantStatus(t, b.signIn("bob", "bob-pass", secret), http.StatusSeeOther, "/")
	if pg := b.get("/app-passwords"); !strings.Contains(pg.body, "the most allowed") {
		t.Fatalf("limit not shown:\n%s", excerpt(pg.body))
	}
	wantStatus(t, b.post("/app-passwords", url.Values{"name": {"one more"}}), http.StatusSeeOther, "/app-passwords")
	if list, _ := h.st.ListAppPasswords(ctx, "bob"); len(list) != store.MaxAppPasswords {
		t.Fatalf("%d stored", len(list))
	}
	if _, err := h.st.DeleteAppPasswords(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	b.get("/app-passwords")
	for _, name := range []string{"", "   ", strings.Repeat("x", 65), "tab\there"} {
		wantStatus(t, b.post("/app-passwords", url.Values{"name": {name}}), http.StatusBadRequest, "")
	}
}

func TestAppPasswordsNeedASecondFactor(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.get("/login")
	wantStatus(t, b.post("/login", url.Values{"username": {"carol"}, "password": {"carol-pass"}}), http.StatusSeeOther, "/enroll/totp")
	for _, path := range []string{"/app-passwords", "/devices"} {
		wantStatus(t, b.get(path), http.StatusForbidden, "")
	}
	b.get("/enroll/totp")
	wantStatus(t, b.post("/app-passwords", url.Values{"name": {"x"}}), http.StatusForbidden, "")
	if list, _ := h.st.ListAppPasswords(context.Background(), "carol"); len(list) != 0 {
		t.Fatal("created with the password alone")
	}
}

func TestAppPasswordsOff(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.AllowAppPasswords = false })
	secret := h.enroll("bob")
	b := h.browser()
	wantStatus(t, b.signIn("bob", "bob-pass", secret), http.StatusSeeOther, "/")
	wantStatus(t, b.get("/app-passwords"), http.StatusNotFound, "")
	if pg := b.get("/"); strings.Contains(pg.body, "/app-passwords") {
		t.Fatal("the menu links to app passwords")
	}
}

func TestDevices(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	secret := h.enroll("bob")
	for _, v := range []string{"203.0.113.7", "198.51.100.9", "192.0.2.1"} {
		d := store.Device{Username: "bob", ID: store.DeviceID(v), Label: v, NAS: "vpn", LastSeen: t0, ExpiresAt: t0.Add(24 * 3600e9)}
		if err := h.st.RememberDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.st.RememberDevice(ctx, store.Device{Username: "alice", ID: store.DeviceID("x"), ExpiresAt: t0.Add(1e9)}); err != nil {
		t.Fatal(err)
	}
	b := h.browser()
	wantStatus(t, b.signIn("bob", "bob-pass", secret), http.StatusSeeOther, "/")
	pg := b.get("/devices")
	if strings.Count(pg.body, `action="/devices/forget"`) != 3 {
		t.Fatalf("devices listed:\n%s", excerpt(pg.body))
	}
	wantStatus(t, b.post("/devices/forget", url.Values{"id": {store.DeviceID("203.0.113.7")}}), http.StatusSeeOther, "/devices")
	wantStatus(t, b.post("/devices/forget", url.Values{"id": {store.DeviceID("x")}}), http.StatusSeeOther, "/devices") // alice's
	if ok, _ := h.st.DeviceRemembered(ctx, "alice", store.DeviceID("x"), t0); !ok {
		t.Fatal("bob forgot alice's device")
	}
	if list, _ := h.st.ListDevices(ctx, "bob"); len(list) != 2 {
		t.Fatalf("%d left, want 2", len(list))
	}
	b.get("/devices")
	wantStatus(t, b.post("/devices/forget-all", nil), http.StatusSeeOther, "/devices")
	if list, _ := h.st.ListDevices(ctx, "bob"); len(list) != 0 {
		t.Fatalf("%d left", len(list))
	}
	if pg := b.get("/devices"); !strings.Contains(pg.body, "2 devices forgotten") {
		t.Fatalf("message:\n%s", excerpt(pg.body))
	}
	if err := h.st.DeleteUser(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
}
