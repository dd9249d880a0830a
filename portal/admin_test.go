package portal

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/radmfa/radmfa/store"
)

func TestAdminForbiddenForNonAdmins(t *testing.T) {
	h := newHarness(t)
	secret := h.enroll("bob")
	b := h.browser()
	wantStatus(t, b.signIn("bob", "bob-pass", secret), http.StatusSeeOther, "/")
	wantStatus(t, b.get("/admin"), http.StatusForbidden, "")
	b.get("/")
	wantStatus(t, b.post("/admin/unblock", url.Values{"user": {"bob"}}), http.StatusForbidden, "")
	wantStatus(t, b.post("/admin/reset", url.Values{"user": {"alice"}}), http.StatusForbidden, "")
	if pg := b.get("/"); strings.Contains(pg.body, `href="/admin"`) {
		t.Fatal("the menu links to the admin page")
	}
	// Not signed in at all: sent to sign in.
	wantStatus(t, h.browser().get("/admin"), http.StatusSeeOther, "/login")
}

func TestAdminNeedsASecondFactor(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.SMS = nil }) // alice then has no factor at all
	b := h.browser()
	b.get("/login")
	wantStatus(t, b.post("/login", url.Values{"username": {"alice"}, "password": {"alice-pass"}}), http.StatusSeeOther, "/enroll/totp")
	wantStatus(t, b.get("/admin"), http.StatusForbidden, "")
}

// TestFraudReport: "This wasn't me" flags the sign-in, blocks the user, alerts the admins;
// an admin unblocks.
func TestFraudReport(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	bobSecret := h.enroll("bob")
	aliceSecret := h.enroll("alice")
	for _, ev := range []store.AuditEvent{
		{Time: t0.Add(-time.Hour), Kind: "auth", Username: "bob", NAS: "vpn", CallingStationID: "203.0.113.66", Factor: "totp", Result: "accept", Reason: "totp"},
		{Time: t0.Add(-time.Hour), Kind: "auth", Username: "alice", NAS: "vpn", Result: "accept"},
	} {
		if err := h.st.Audit(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	bobs, _ := h.st.QueryAudit(ctx, store.AuditFilter{Username: "bob"})
	alices, _ := h.st.QueryAudit(ctx, store.AuditFilter{Username: "alice"})

	b := h.browser()
	wantStatus(t, b.signIn("bob", "bob-pass", bobSecret), http.StatusSeeOther, "/")
	pg := b.get("/")
	if !strings.Contains(pg.body, "203.0.113.66") || !strings.Contains(pg.body, "This wasn't me") {
		t.Fatalf("sign-in not listed:\n%s", excerpt(pg.body))
	}
	// Someone else's sign-in cannot be reported.
	wantStatus(t, b.post("/report", url.Values{"id": {fmt.Sprint(alices[0].ID)}}), http.StatusNotFound, "")
	b.get("/")
	wantStatus(t, b.post("/report", url.Values{"id": {fmt.Sprint(bobs[0].ID)}}), http.StatusSeeOther, "/")
	pg = b.get("/")
	if !strings.Contains(pg.body, "Sign-ins to your account are blocked") || !strings.Contains(pg.body, "Reported") {
		t.Fatalf("after the report:\n%s", excerpt(pg.body))
	}
	if blocked, reason, _ := h.st.Blocked(ctx, "bob"); !blocked || !strings.Contains(reason, "203.0.113.66") {
		t.Fatalf("blocked %v %q", blocked, reason)
	}
	if evs, _ := h.st.AuditReport(ctx, store.AuditFilter{Username: "bob", Kind: "auth"}); !evs[0].Fraud {
		t.Fatal("not flagged")
	}
	if evs, _ := h.st.AuditReport(ctx, store.AuditFilter{Username: "alice", Kind: "auth"}); evs[0].Fraud {
		t.Fatal("alice's sign-in flagged")
	}

	// A new portal sign-in is refused while blocked.
	h.clock.Add(30 * time.Second)
	b2 := h.browser()
	b2.get("/login")
	pg = b2.post("/login", url.Values{"username": {"bob"}, "password": {"bob-pass"}})
	wantStatus(t, pg, http.StatusForbidden, "")
	if !strings.Contains(pg.body, "blocked") {
		t.Fatalf("message:\n%s", excerpt(pg.body))
	}

	// The admin sees the alert and the block, and unblocks.
	a := h.browser()
	wantStatus(t, a.signIn("alice", "alice-pass", aliceSecret), http.StatusSeeOther, "/")
	pg = a.get("/admin")
	wantStatus(t, pg, http.StatusOK, "")
	for _, want := range []string{"Fraud alerts", "reported sign-in #", "fraud-row", `name="user" value="bob"`} {
		if !strings.Contains(pg.body, want) {
			t.Errorf("admin page lacks %q", want)
		}
	}
	wantStatus(t, a.post("/admin/unblock", url.Values{"user": {"bob"}}), http.StatusSeeOther, "/admin")
	if blocked, _, _ := h.st.Blocked(ctx, "bob"); blocked {
		t.Fatal("still blocked")
	}
	if evs, _ := h.st.QueryAudit(ctx, store.AuditFilter{Kind: "admin", Username: "bob"}); len(evs) != 1 || evs[0].Result != "unblock" ||
		!strings.Contains(evs[0].Detail, "alice") {
		t.Fatalf("admin audit %+v", evs)
	}
}

func TestAdminFilterAndReset(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	aliceSecret := h.enroll("alice")
	h.enroll("bob")
	if _, err := h.st.AddAppPassword(ctx, "bob", "mail", "$argon2id$v=19$m=1,t=1,p=1$x$y", 40); err != nil {
		t.Fatal(err)
	}
	if err := h.st.RememberDevice(ctx, store.Device{Username: "bob", ID: store.DeviceID("a"), ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for i, ev := range []store.AuditEvent{
		{Kind: "auth", Username: "bob", Result: "reject", Reason: "wrong_code", Detail: "old-event"},
		{Kind: "auth", Username: "bob", Result: "accept", Detail: "bob-accept"},
		{Kind: "auth", Username: "dave", Result: "reject", Reason: "bad_password", Detail: "dave-reject"},
	} {
		ev.Time = t0.Add([]time.Duration{-48 * time.Hour, -25 * time.Hour, -time.Hour}[i])
		if err := h.st.Audit(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	a := h.browser()
	wantStatus(t, a.signIn("alice", "alice-pass", aliceSecret), http.StatusSeeOther, "/")
	tests := []struct {
		name, query string
		want, not   []string
	}{
		{"default: 7 days", "", []string{"old-event", "bob-accept", "dave-reject"}, nil},
		{"by user", "?user=bob", []string{"old-event", "bob-accept"}, []string{"dave-reject"}},
		{"by result", "?result=reject", []string{"old-event", "dave-reject"}, []string{"bob-accept"}},
		{"since 24h", "?since=24h", []string{"dave-reject"}, []string{"bob-accept", "old-event"}},
		{"unknown values ignored", "?result=bogus&since=bogus", []string{"old-event", "bob-accept", "dave-reject"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pg := a.get("/admin" + tc.query)
			wantStatus(t, pg, http.StatusOK, "")
			for _, w := range tc.want {
				if !strings.Contains(pg.body, w) {
					t.Errorf("lacks %s", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(pg.body, n) {
					t.Errorf("shows %s", n)
				}
			}
		})
	}
	if pg := a.get("/admin"); !strings.Contains(pg.body, "wrong_code 1") || !strings.Contains(pg.body, "bad_password 1") {
		t.Errorf("summary:\n%s", excerpt(pg.body[strings.Index(pg.body, "summary-h"):]))
	}

	wantStatus(t, a.post("/admin/reset", url.Values{"user": {"bob"}}), http.StatusSeeOther, "/admin")
	if u, err := h.st.GetUser(ctx, "bob"); err == nil {
		t.Fatalf("bob still enrolled: %+v", u)
	}
	if l, _ := h.st.ListAppPasswords(ctx, "bob"); len(l) != 0 {
		t.Fatal("app passwords kept")
	}
	if l, _ := h.st.ListDevices(ctx, "bob"); len(l) != 0 {
		t.Fatal("devices kept")
	}
	if pg := a.get("/admin"); !strings.Contains(pg.body, "bob is reset") {
		t.Fatalf("message:\n%s", excerpt(pg.body))
	}
}

// TestAdminAlertsIncludeTheVPNFraudCode: a fraud code typed at the VPN prompt (the engine's
// audit row, reason fraud_reported) is an alert too.
func TestAdminAlertsIncludeTheVPNFraudCode(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	aliceSecret := h.enroll("alice")
	if err := h.st.Audit(ctx, store.AuditEvent{Time: t0.Add(-time.Hour), Kind: "auth", Username: "bob", NAS: "vpn",
		CallingStationID: "198.51.100.4", Result: "reject", Reason: "fraud_reported"}); err != nil {
		t.Fatal(err)
	}
	a := h.browser()
	wantStatus(t, a.signIn("alice", "alice-pass", aliceSecret), http.StatusSeeOther, "/")
	pg := a.get("/admin")
	if !strings.Contains(pg.body, "typed the fraud code at the VPN prompt (vpn from 198.51.100.4)") {
		t.Fatalf("no alert:\n%s", excerpt(pg.body))
	}
}
