package engine

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/radmfa/radmfa/radius/dict"
	"github.com/radmfa/radmfa/store"
)

// TestPolicyRules: the first matching rule wins; every non-empty matcher must match; the
// default applies when none does.
func TestPolicyRules(t *testing.T) {
	rules := []Rule{
		{Name: "deny-contractors", Groups: []string{"contractors"}, Action: ActionDeny},
		{Name: "lab", NAS: []string{"lab"}, Action: ActionPasswordOnly},
		{Name: "kiosk", NASIdentifier: []string{"kiosk-1", "kiosk-2"}, Action: ActionPasswordOnly},
		{Name: "office", Source: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("2001:db8::/32")},
			Action: ActionPasswordOnly, SessionTimeout: 8 * time.Hour},
		{Name: "service", Users: []string{"svc-backup"}, Action: ActionPasswordOnly},
		{Name: "admins-on-lab2", NAS: []string{"lab2"}, Groups: []string{"vpn-admins"}, Action: ActionPasswordOnly},
		{Name: "admins", Groups: []string{"VPN-Admins"}, Action: ActionRequireMFA, SessionTimeout: time.Hour},
	}
	tests := []struct {
		name    string
		deflt   Action
		r       rq
		code    radius.Code
		reason  string
		rule    string
		timeout uint32 // Session-Timeout on the Accept; 0: none
	}{
		{name: "deny before a later match", r: rq{user: "cora", pass: "cora-pw", nas: "lab"},
			code: radius.CodeAccessReject, reason: ReasonPolicyDeny, rule: "deny-contractors"},
		{name: "NAS", r: rq{user: "alice", pass: "alice-pw", nas: "lab"},
			code: radius.CodeAccessAccept, reason: ReasonPasswordOnly, rule: "lab"},
		{name: "NAS-Identifier", r: rq{user: "alice", pass: "alice-pw", nasID: "kiosk-2"},
			code: radius.CodeAccessAccept, reason: ReasonPasswordOnly, rule: "kiosk"},
		{name: "NAS-Identifier not listed", r: rq{user: "alice", pass: "alice-pw", nasID: "kiosk-3"},
			code: radius.CodeAccessChallenge, reason: ReasonChallenge, rule: "default"},
		{name: "source IPv4", r: rq{user: "alice", pass: "alice-pw", remote: "10.1.200.3:5000"},
			code: radius.CodeAccessAccept, reason: ReasonPasswordOnly, rule: "office", timeout: 8 * 3600},
		{name: "source IPv6", r: rq{user: "alice", pass: "alice-pw", remote: "[2001:db8::7]:5000"},
			code: radius.CodeAccessAccept, reason: ReasonPasswordOnly, rule: "office", timeout: 8 * 3600},
		{name: "source outside", r: rq{user: "alice", pass: "alice-pw", remote: "10.2.0.1:5000"},
			code: radius.CodeAccessChallenge, reason: ReasonChallenge, rule: "default"},
		{name: "user, case-insensitive", r: rq{user: "SVC-Backup", pass: "svc-pw"},
			code: radius.CodeAccessAccept, reason: ReasonPasswordOnly, rule: "service"},
		{name: "all matchers of a rule", r: rq{user: "bob", pass: "bob-pw", nas: "lab2"},
			code: radius.CodeAccessAccept, reason: ReasonPasswordOnly, rule: "admins-on-lab2"},
		{name: "one matcher of a rule is not enough", r: rq{user: "alice", pass: "alice-pw", nas: "lab2"},
			code: radius.CodeAccessChallenge, reason: ReasonChallenge, rule: "default"},
		{name: "group, case-insensitive", r: rq{user: "bob", pass: "bob-pw"},
			code: radius.CodeAccessChallenge, reason: ReasonChallenge, rule: "admins"},
		{name: "default require_mfa", r: rq{user: "alice", pass: "alice-pw"},
			code: radius.CodeAccessChallenge, reason: ReasonChallenge, rule: "default"},
		{name: "default deny", deflt: ActionDeny, r: rq{user: "alice", pass: "alice-pw"},
			code: radius.CodeAccessReject, reason: ReasonPolicyDeny, rule: "default"},
		{name: "default password_only", deflt: ActionPasswordOnly, r: rq{user: "alice", pass: "alice-pw"},
			code: radius.CodeAccessAccept, reason: ReasonPasswordOnly, rule: "default"},
		{name: "deny needs the right password first", r: rq{user: "cora", pass: "wrong"},
			code: radius.CodeAccessReject, reason: ReasonBadPassword, rule: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, withOpts(func(o *Options) {
				o.Policy = Policy{Default: tt.deflt, Rules: rules}
			}))
			h.dir.add("cora", "cora-pw", "contractors")
			h.dir.add("SVC-Backup", "svc-pw", "services")
			for _, u := range []string{"alice", "bob", "cora", "SVC-Backup"} {
				h.enrollTOTP(u)
			}
			got := h.do(tt.r)
			got.want(t, tt.code, tt.reason)
			if got.d.rule() != tt.rule {
				t.Errorf("rule %q, want %q", got.d.rule(), tt.rule)
			}
			if tt.reason == ReasonPolicyDeny && got.msg() != msgFailed {
				t.Errorf("deny Reply-Message %q", got.msg())
			}
			if tt.code == radius.CodeAccessAccept {
				if st := uint32(rfc2865.SessionTimeout_Get(got.p)); st != tt.timeout {
					t.Errorf("Session-Timeout %d, want %d", st, tt.timeout)
				}
			}
			if tt.code == radius.CodeAccessChallenge {
				// The rule travels in the State to the final Accept.
				fin := h.do(rq{user: tt.r.user, pass: h.code(tt.r.user, 0), state: got.state(), nas: tt.r.nas,
					remote: tt.r.remote, nasID: tt.r.nasID})
				fin.want(t, radius.CodeAccessAccept, ReasonMFA)
				if fin.d.rule() != tt.rule {
					t.Errorf("second leg rule %q, want %q", fin.d.rule(), tt.rule)
				}
				want := uint32(0)
				if tt.rule == "admins" {
					want = 3600
				}
				if st := uint32(rfc2865.SessionTimeout_Get(fin.p)); st != want {
					t.Errorf("Session-Timeout %d, want %d", st, want)
				}
			}
		})
	}
}

// TestUserStates: the user's MFA state (or the default) × whether a factor is enrolled ×
// mfa.unenrolled.
func TestUserStates(t *testing.T) {
	tests := []struct {
		name       string
		state      store.State // "": no record of their own
		deflt      store.State // Options.DefaultState
		enrolled   bool
		allow      bool
		enrollURL  string
		code       radius.Code
		reason     string
		msgContain string
	}{
		{name: "disabled, not enrolled", state: store.StateDisabled, code: radius.CodeAccessAccept, reason: ReasonPasswordOnly},
		{name: "disabled, enrolled", state: store.StateDisabled, enrolled: true, code: radius.CodeAccessAccept, reason: ReasonPasswordOnly},
		{name: "enabled, enrolled", state: store.StateEnabled, enrolled: true, code: radius.CodeAccessChallenge, reason: ReasonChallenge},
		{name: "enabled, not enrolled, allow", state: store.StateEnabled, allow: true, code: radius.CodeAccessAccept, reason: ReasonUnenrolledAllowed},
		{name: "enabled, not enrolled, reject", state: store.StateEnabled, code: radius.CodeAccessReject, reason: ReasonNotEnrolled,
			msgContain: msgNotEnrolled},
		{name: "enforced, not enrolled, allow", state: store.StateEnforced, allow: true, code: radius.CodeAccessReject, reason: ReasonNotEnrolled},
		{name: "enforced, enrolled", state: store.StateEnforced, enrolled: true, code: radius.CodeAccessChallenge, reason: ReasonChallenge},
		{name: "enforced, not enrolled, enrol URL", state: store.StateEnforced, enrollURL: "https://mfa.example.test/enrol",
			code: radius.CodeAccessReject, reason: ReasonNotEnrolled, msgContain: "https://mfa.example.test/enrol"},
		{name: "no record, default enforced", code: radius.CodeAccessReject, reason: ReasonNotEnrolled},
		{name: "no record, default enforced, allow", allow: true, code: radius.CodeAccessReject, reason: ReasonNotEnrolled},
		{name: "no record, default enabled, allow", deflt: store.StateEnabled, allow: true, code: radius.CodeAccessAccept, reason: ReasonUnenrolledAllowed},
		{name: "no record, default disabled", deflt: store.StateDisabled, code: radius.CodeAccessAccept, reason: ReasonPasswordOnly},
		{name: "enrolled, state default, default disabled", deflt: store.StateDisabled, enrolled: true, code: radius.CodeAccessAccept, reason: ReasonPasswordOnly},
		{name: "enforced beats default disabled", state: store.StateEnforced, deflt: store.StateDisabled, enrolled: true,
			code: radius.CodeAccessChallenge, reason: ReasonChallenge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, withOpts(func(o *Options) {
				o.DefaultState, o.AllowUnenrolled, o.EnrollURL = tt.deflt, tt.allow, tt.enrollURL
			}))
			if tt.enrolled {
				h.enrollTOTP("alice")
			}
			if tt.state != "" {
				h.setState("alice", tt.state)
			}
			got := h.do(rq{user: "alice", pass: "alice-pw"})
			got.want(t, tt.code, tt.reason)
			if !strings.Contains(got.msg(), tt.msgContain) {
				t.Errorf("Reply-Message %q does not contain %q", got.msg(), tt.msgContain)
			}
		})
	}
}

// TestAuthorizationAttributes: members of an authorization rule's group get its attributes on
// the final Accept — after a challenge, and on a password-only Accept — standard and vendor
// ones, only on the listed NASes, with the policy rule's Session-Timeout.
func TestAuthorizationAttributes(t *testing.T) {
	authz := []AuthzRule{
		{Group: "VPN-Admins", Attrs: []dict.AVP{
			mustAVP(t, "Filter-Id", "admins"),
			mustAVP(t, "ASA-Group-Policy", "GP-Admins"),
			mustAVP(t, "Fortinet-Group-Name", "fgt-admins"),
		}},
		{Group: "vpn-admins", NAS: []string{"other"}, Attrs: []dict.AVP{mustAVP(t, "Class", "only-on-other")}},
		{Group: "staff", Attrs: []dict.AVP{mustAVP(t, "Framed-Pool", "staff-pool"), mustAVP(t, "Idle-Timeout", "600")}},
	}
	policy := Policy{Rules: []Rule{
		{Name: "admins", Groups: []string{"vpn-admins"}, Action: ActionRequireMFA, SessionTimeout: time.Hour},
		{Name: "staff-lab", NAS: []string{"lab"}, Action: ActionPasswordOnly, SessionTimeout: 90 * time.Minute},
	}}
	type want struct {
		filter  string
		pool    string
		idle    uint32
		class   []string
		timeout uint32
		vsas    []vsa
	}
	admin := []vsa{{vendor: dict.VendorASA, typ: 25, value: "GP-Admins"}, {vendor: dict.VendorFortinet, typ: 1, value: "fgt-admins"}}
	tests := []struct {
		name      string
		user      string
		nas       string
		challenge bool
		w         want
	}{
		{name: "admin after a challenge", user: "bob", challenge: true,
			w: want{filter: "admins", pool: "staff-pool", idle: 600, timeout: 3600, vsas: admin}},
		{name: "admin on another NAS", user: "bob", nas: "other", challenge: true,
			w: want{filter: "admins", pool: "staff-pool", idle: 600, class: []string{"only-on-other"}, timeout: 3600, vsas: admin}},
		{name: "staff after a challenge", user: "alice", challenge: true, w: want{pool: "staff-pool", idle: 600}},
		{name: "staff, password only", user: "alice", nas: "lab", w: want{pool: "staff-pool", idle: 600, timeout: 5400}},
		{name: "no group", user: "zed", challenge: true, w: want{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, withOpts(func(o *Options) { o.Authorization, o.Policy = authz, policy }))
			h.dir.add("zed", "zed-pw")
			h.enrollTOTP(tt.user)
			got := h.do(rq{user: tt.user, pass: tt.user + "-pw", nas: tt.nas})
			if tt.challenge {
				got.want(t, radius.CodeAccessChallenge, ReasonChallenge)
				if len(got.p.Attributes) != 2 { // State and Reply-Message only
					t.Errorf("challenge carries %d attributes", len(got.p.Attributes))
				}
				got = h.do(rq{user: tt.user, pass: h.code(tt.user, 0), state: got.state(), nas: tt.nas})
				got.want(t, radius.CodeAccessAccept, ReasonMFA)
			} else {
				got.want(t, radius.CodeAccessAccept, ReasonPasswordOnly)
			}
			if f := rfc2865.FilterID_GetString(got.p); f != tt.w.filter {
				t.Errorf("Filter-Id %q, want %q", f, tt.w.filter)
			}
			if p := attrStrings(got.p, 88); strings.Join(p, ",") != tt.w.pool {
				t.Errorf("Framed-Pool %q, want %q", p, tt.w.pool)
			}
			if i := uint32(rfc2865.IdleTimeout_Get(got.p)); i != tt.w.idle {
				t.Errorf("Idle-Timeout %d, want %d", i, tt.w.idle)
			}
			if c := attrStrings(got.p, rfc2865.Class_Type); strings.Join(c, ",") != strings.Join(tt.w.class, ",") {
				t.Errorf("Class %q, want %q", c, tt.w.class)
			}
			if st := uint32(rfc2865.SessionTimeout_Get(got.p)); st != tt.w.timeout {
				t.Errorf("Session-Timeout %d, want %d", st, tt.w.timeout)
			}
			v := vsas(t, got.p)
			if len(v) != len(tt.w.vsas) {
				t.Fatalf("VSAs %+v, want %+v", v, tt.w.vsas)
			}
			for i := range v {
				if v[i] != tt.w.vsas[i] {
					t.Errorf("VSA %d: %+v, want %+v", i, v[i], tt.w.vsas[i])
				}
			}
		})
	}
}

// TestRejectCarriesNoAuthorization: attributes belong on an Accept only.
func TestRejectCarriesNoAuthorization(t *testing.T) {
	h := newHarness(t, withOpts(func(o *Options) {
		o.Authorization = []AuthzRule{{Group: "vpn-admins", Attrs: []dict.AVP{mustAVP(t, "Filter-Id", "admins")}}}
	}))
	h.enrollTOTP("bob")
	st := h.challenge(rq{user: "bob", pass: "bob-pw"})
	got := h.do(rq{user: "bob", pass: "000000", state: st})
	got.want(t, radius.CodeAccessReject, ReasonWrongCode)
	if len(got.p.Attributes) != 1 {
		t.Errorf("reject carries %d attributes, want only Reply-Message", len(got.p.Attributes))
	}
}
