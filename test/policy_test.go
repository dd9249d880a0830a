package test

import (
	"bytes"
	byteorder "encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

// Policy rules, per-user MFA states and authorization attributes, end to end: the real binary,
// a real slapd (groups through the memberof overlay), a Go RADIUS client that can send from
// other loopback addresses (127.0.0.x) to stand for other NASes.

// nasAt is a NAS sending from its own loopback address with its own secret; its radius.clients
// entry comes from yaml.
type nasAt struct{ name, ip, secret string }

func (a nasAt) yaml(extra ...string) string {
	s := fmt.Sprintf("    - name: %s\n      address: %s/32\n      secret: %s\n      require_message_authenticator: true\n",
		a.name, a.ip, a.secret)
	for _, e := range extra {
		s += "      " + e + "\n"
	}
	return s
}

var (
	legacyWiFi = nasAt{"legacy-wifi", "127.0.0.3", "legacy-wifi-secret-0123"}
	adminVPN   = nasAt{"admin-vpn", "127.0.0.4", "admin-vpn-secret-01234"}
)

// sendFrom performs one Access-Request from a's address with a's secret.
func (n *node) sendFrom(a nasAt, r request) *radius.Packet {
	n.t.Helper()
	p := radius.New(radius.CodeAccessRequest, []byte(a.secret))
	_ = rfc2865.UserName_SetString(p, r.user)
	_ = rfc2865.UserPassword_SetString(p, r.password)
	_ = rfc2865.NASIdentifier_SetString(p, "e2e-vpn")
	if r.state != nil {
		_ = rfc2865.State_Set(p, r.state)
	}
	if r.extra != nil {
		r.extra(p)
	}
	b := encodeWithMA(p)
	raddr, err := net.ResolveUDPAddr("udp", n.addr)
	if err != nil {
		n.t.Fatal(err)
	}
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(a.ip)}, raddr)
	if err != nil {
		n.t.Fatalf("bind %s: %v", a.ip, err)
	}
	defer c.Close()
	if _, err := c.Write(b); err != nil {
		n.t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(8 * time.Second))
	buf := make([]byte, 4096)
	k, err := c.Read(buf)
	if err != nil {
		return nil
	}
	reply := buf[:k]
	if !radius.IsAuthenticResponse(reply, b, []byte(a.secret)) {
		n.t.Fatalf("reply to %s does not authenticate", a.name)
	}
	if !replyMAValid(reply, b, []byte(a.secret)) {
		n.t.Fatalf("reply to %s: Message-Authenticator missing or wrong", a.name)
	}
	pkt, err := radius.Parse(reply, []byte(a.secret))
	if err != nil {
		n.t.Fatalf("parse reply: %v", err)
	}
	return pkt
}

var reqTag atomic.Int64

// tagged gives r a Calling-Station-Id of its own, which its decision line repeats: a line is
// matched to its request even when the log of an earlier request arrives late.
func tagged(r request) (request, string) {
	k := reqTag.Add(1)
	tag := fmt.Sprintf("198.19.%d.%d", (k>>8)&0xff, k&0xff)
	extra := r.extra
	r.extra = func(p *radius.Packet) {
		if extra != nil {
			extra(p)
		}
		_ = rfc2865.CallingStationID_SetString(p, tag)
	}
	return r, tag
}

// decisionFor waits for the decision line logged for user with Calling-Station-Id tag.
func (n *node) decisionFor(user, tag string) map[string]any {
	n.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, d := range n.log.decisions(user) {
			if d["calling_station_id"] == tag {
				return d
			}
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("no decision logged for %q from calling station %s; got %v", user, tag, n.log.decisions(user))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// askAs sends r (from a, or the main client when a is nil) and returns the reply and the
// decision radmfa logged for it under the name logged.
func (n *node) askAs(logged string, a *nasAt, r request) (*radius.Packet, map[string]any) {
	n.t.Helper()
	r, tag := tagged(r)
	var reply *radius.Packet
	start := time.Now()
	if a == nil {
		reply = n.send(r)
	} else {
		reply = n.sendFrom(*a, r)
	}
	if reply == nil {
		n.t.Fatalf("no reply for %q from calling station %s within %s", r.user, tag, time.Since(start).Round(time.Millisecond))
	}
	return reply, n.decisionFor(logged, tag)
}

// ask sends r from the main client and returns the reply and its decision.
func (n *node) ask(r request) (*radius.Packet, map[string]any) {
	n.t.Helper()
	return n.askAs(normalised(r.user), nil, r)
}

// askFrom sends r from a and returns the reply and its decision.
func (n *node) askFrom(a nasAt, r request) (*radius.Packet, map[string]any) {
	n.t.Helper()
	return n.askAs(normalised(r.user), &a, r)
}

// wantDecision checks a decision line: its reason, the rule that decided ("" = not checked) and
// that groups are among the logged groups.
func wantDecision(t testing.TB, d map[string]any, reason, rule string, groups ...string) {
	t.Helper()
	if d["reason"] != reason {
		t.Fatalf("decision reason %v, want %q: %v", d["reason"], reason, d)
	}
	if rule != "" && d["rule"] != rule {
		t.Fatalf("decision rule %v, want %q: %v", d["rule"], rule, d)
	}
	var logged []string
	if gs, ok := d["groups"].([]any); ok {
		for _, g := range gs {
			logged = append(logged, fmt.Sprint(g))
		}
	}
	for _, g := range groups {
		if !slices.Contains(logged, g) {
			t.Fatalf("decision groups %v, want %q among them: %v", logged, g, d)
		}
	}
}

// newUserIn adds a fresh directory user in groups (created when missing).
func newUserIn(t testing.TB, d *directory, groups ...string) (string, string) {
	t.Helper()
	u := fmt.Sprintf("p%d-%d", time.Now().UnixNano()%1_000_000, userSeq.Add(1))
	pw := "pw-" + u + "-7"
	d.AddUser(t, u, pw, groups...)
	return u, pw
}

// mfaFlow runs both legs from the main client and returns the final reply and decision.
func (n *node) mfaFlow(user, pw string, secret []byte) (*radius.Packet, map[string]any) {
	n.t.Helper()
	st := firstLeg(n.t, n, user, pw)
	return n.ask(request{user: user, password: code(n.t, secret), state: st})
}

// mustCLI runs a radmfa subcommand that must succeed.
func (n *node) mustCLI(args ...string) string {
	n.t.Helper()
	cmd := exec.Command(binary, append(args, "--config", n.config)...)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0") // no second's sleep at exit
	b, err := cmd.CombinedOutput()
	out := string(b)
	if err != nil {
		n.t.Fatalf("radmfa %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Reply attributes radmfa's dictionary sends, by (vendor, type), decoded here from the wire
// rather than with radmfa's own code.
var replyAttrIDs = map[string]struct {
	vendor uint32
	typ    byte
}{
	"Class":               {0, 25},
	"Filter-Id":           {0, 11},
	"Session-Timeout":     {0, 27},
	"Idle-Timeout":        {0, 28},
	"Cisco-AVPair":        {9, 1},
	"ASA-Group-Policy":    {3076, 25},
	"Fortinet-Group-Name": {12356, 1},
	"PaloAlto-User-Group": {25461, 5},
}

// replyValues returns the values of attribute name in p: text, or the decimal of an integer.
func replyValues(t testing.TB, p *radius.Packet, name string) []string {
	t.Helper()
	id, ok := replyAttrIDs[name]
	if !ok {
		t.Fatalf("replyValues: unknown attribute %s", name)
	}
	decode := func(v []byte) string {
		if name == "Session-Timeout" || name == "Idle-Timeout" {
			if len(v) != 4 {
				t.Fatalf("%s: %d bytes, want 4", name, len(v))
			}
			return strconv.FormatUint(uint64(byteorder.BigEndian.Uint32(v)), 10)
		}
		return string(v)
	}
	var out []string
	for _, a := range p.Attributes {
		switch {
		case id.vendor == 0 && a.Type == radius.Type(id.typ):
			out = append(out, decode(a.Attribute))
		case id.vendor != 0 && a.Type == rfc2865.VendorSpecific_Type:
			v := a.Attribute
			if len(v) < 6 || byteorder.BigEndian.Uint32(v) != id.vendor {
				continue
			}
			// One or more vendor sub-attributes: type, length (including these two bytes), value.
			for sub := v[4:]; len(sub) >= 2; {
				l := int(sub[1])
				if l < 2 || l > len(sub) {
					t.Fatalf("%s: malformed vendor sub-attribute %x", name, v)
				}
				if sub[0] == id.typ {
					out = append(out, decode(sub[2:l]))
				}
				sub = sub[l:]
			}
		}
	}
	return out
}

// wantAttrs checks that p carries exactly these values for each named attribute.
func wantAttrs(t testing.TB, p *radius.Packet, want map[string]string) {
	t.Helper()
	for name, v := range want {
		got := replyValues(t, p, name)
		if v == "" {
			if len(got) != 0 {
				t.Errorf("%s = %q, want none", name, got)
			}
			continue
		}
		if len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want [%q]", name, got, v)
		}
	}
}

func TestPolicyPilotRollout(t *testing.T) {
	t.Parallel()
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true, Extra: `policy:
  default: password_only
  rules:
    - name: mfa-pilot
      match: {groups: [vpn-mfa-pilot]}
      action: require_mfa
`})
	pilot, ppw := newUserIn(t, d, "vpn-mfa-pilot", "vpn-users")
	psecret := n.enroll(pilot)
	other, opw := newUserIn(t, d, "vpn-users")
	n.enroll(other) // enrolled, yet outside the pilot: the policy decides first

	t.Run("pilot member is challenged", func(t *testing.T) {
		reply, dec := n.ask(request{user: pilot, password: ppw})
		wantCode(t, reply, radius.CodeAccessChallenge)
		wantDecision(t, dec, "challenge_sent", "mfa-pilot", "vpn-mfa-pilot", "vpn-users")
		reply, dec = n.ask(request{user: pilot, password: code(t, psecret), state: rfc2865.State_Get(reply)})
		wantCode(t, reply, radius.CodeAccessAccept)
		wantDecision(t, dec, "mfa_ok", "mfa-pilot")
	})
	t.Run("everyone else signs in with the password", func(t *testing.T) {
		reply, dec := n.ask(request{user: other, password: opw})
		wantCode(t, reply, radius.CodeAccessAccept)
		wantDecision(t, dec, "password_only", "default", "vpn-users")
	})
	t.Run("password still checked outside the pilot", func(t *testing.T) {
		reply, dec := n.ask(request{user: other, password: "wrong"})
		wantCode(t, reply, radius.CodeAccessReject)
		wantDecision(t, dec, "bad_password", "")
	})
}

func TestPolicyNASRule(t *testing.T) {
	t.Parallel()
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true, ExtraClients: legacyWiFi.yaml(), Extra: `policy:
  rules:
    - name: legacy-wifi-no-mfa
      match: {nas: [legacy-wifi]}
      action: password_only
`})
	user, pw := newUserIn(t, d)
	n.enroll(user)

	t.Run("legacy NAS: password only", func(t *testing.T) {
		reply, dec := n.askFrom(legacyWiFi, request{user: user, password: pw})
		wantCode(t, reply, radius.CodeAccessAccept)
		wantDecision(t, dec, "password_only", "legacy-wifi-no-mfa")
		if dec["nas"] != "legacy-wifi" || dec["client_ip"] != legacyWiFi.ip {
			t.Fatalf("decision nas %v from %v, want legacy-wifi from %s", dec["nas"], dec["client_ip"], legacyWiFi.ip)
		}
	})
	t.Run("other NAS: challenged", func(t *testing.T) {
		reply, dec := n.ask(request{user: user, password: pw})
		wantCode(t, reply, radius.CodeAccessChallenge)
		wantDecision(t, dec, "challenge_sent", "default")
	})
	t.Run("legacy NAS: wrong password", func(t *testing.T) {
		reply, dec := n.askFrom(legacyWiFi, request{user: user, password: pw + "x"})
		wantCode(t, reply, radius.CodeAccessReject)
		wantDecision(t, dec, "bad_password", "")
	})
}

func TestPolicyExemptGroup(t *testing.T) {
	t.Parallel()
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true, Extra: `policy:
  default: require_mfa
  rules:
    - name: exempt
      match: {groups: [mfa-exempt]}
      action: password_only
`})
	exempt, epw := newUserIn(t, d, "mfa-exempt") // not even enrolled
	member, mpw := newUserIn(t, d, "vpn-users")
	n.enroll(member)
	unenrolled, upw := newUserIn(t, d, "vpn-users")

	reply, dec := n.ask(request{user: exempt, password: epw})
	wantCode(t, reply, radius.CodeAccessAccept)
	wantDecision(t, dec, "password_only", "exempt", "mfa-exempt")

	reply, dec = n.ask(request{user: member, password: mpw})
	wantCode(t, reply, radius.CodeAccessChallenge)
	wantDecision(t, dec, "challenge_sent", "default", "vpn-users")

	reply, dec = n.ask(request{user: unenrolled, password: upw})
	wantCode(t, reply, radius.CodeAccessReject)
	wantDecision(t, dec, "not_enrolled", "default")
}

func TestPolicyDenyContractorsOnAdminVPN(t *testing.T) {
	t.Parallel()
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true, ExtraClients: adminVPN.yaml(), Extra: `policy:
  rules:
    - name: contractors-off-admin-vpn
      match: {nas: [admin-vpn], groups: [contractors]}
      action: deny
`})
	contractor, cpw := newUserIn(t, d, "contractors")
	csecret := n.enroll(contractor)
	employee, epw := newUserIn(t, d, "vpn-users")
	n.enroll(employee)

	t.Run("contractor on admin-vpn denied", func(t *testing.T) {
		reply, dec := n.askFrom(adminVPN, request{user: contractor, password: cpw})
		wantCode(t, reply, radius.CodeAccessReject)
		wantDecision(t, dec, "policy_deny", "contractors-off-admin-vpn", "contractors")
		// The NAS sees the same generic reject as for a wrong password.
		if msg := rfc2865.ReplyMessage_GetString(reply); msg != "Authentication failed" {
			t.Fatalf("Reply-Message %q", msg)
		}
	})
	t.Run("contractor with a wrong password on admin-vpn: bad password, not policy", func(t *testing.T) {
		reply, dec := n.askFrom(adminVPN, request{user: contractor, password: "wrong"})
		wantCode(t, reply, radius.CodeAccessReject)
		wantDecision(t, dec, "bad_password", "")
	})
	t.Run("same contractor on another NAS allowed", func(t *testing.T) {
		reply, dec := n.mfaFlow(contractor, cpw, csecret)
		wantCode(t, reply, radius.CodeAccessAccept)
		wantDecision(t, dec, "mfa_ok", "default")
	})
	t.Run("employee on admin-vpn challenged", func(t *testing.T) {
		reply, dec := n.askFrom(adminVPN, request{user: employee, password: epw})
		wantCode(t, reply, radius.CodeAccessChallenge)
		wantDecision(t, dec, "challenge_sent", "default", "vpn-users")
	})
}

func TestPolicySourceCIDR(t *testing.T) {
	t.Parallel()
	// One NAS entry for a /29 of gateways; the rule singles out the upper half by source.
	branch := func(ip string) nasAt { return nasAt{"branch", ip, "branch-office-secret-0"} }
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true,
		ExtraClients: "    - name: branch\n      address: 127.0.1.0/29\n      secret: branch-office-secret-0\n",
		Extra: `policy:
  rules:
    - name: branch-upper-half
      match: {source: [127.0.1.4/30]}
      action: password_only
`})
	user, pw := newUserIn(t, d)
	n.enroll(user)

	reply, dec := n.askFrom(branch("127.0.1.5"), request{user: user, password: pw})
	wantCode(t, reply, radius.CodeAccessAccept)
	wantDecision(t, dec, "password_only", "branch-upper-half")
	if dec["nas"] != "branch" || dec["client_ip"] != "127.0.1.5" {
		t.Fatalf("decision nas %v from %v", dec["nas"], dec["client_ip"])
	}

	reply, dec = n.askFrom(branch("127.0.1.2"), request{user: user, password: pw})
	wantCode(t, reply, radius.CodeAccessChallenge)
	wantDecision(t, dec, "challenge_sent", "default")
}

func TestPolicyUsersRule(t *testing.T) {
	t.Parallel()
	d := startDirectory(t)
	svc, spw := newUserIn(t, d)
	n := startNode(t, d, nodeConfig{RequireMA: true, Extra: fmt.Sprintf(`policy:
  rules:
    - name: service-accounts
      match: {users: [%s]}
      action: password_only
`, svc)})
	other, opw := newUserIn(t, d)
	n.enroll(other)

	reply, dec := n.ask(request{user: svc, password: spw})
	wantCode(t, reply, radius.CodeAccessAccept)
	wantDecision(t, dec, "password_only", "service-accounts")

	// Rules see the normalised name, whatever form the NAS sent.
	typed := `EXAMPLE\` + strings.ToUpper(svc)
	reply, dec = n.ask(request{user: typed, password: spw})
	wantCode(t, reply, radius.CodeAccessAccept)
	wantDecision(t, dec, "password_only", "service-accounts")
	if dec["typed_user"] != typed {
		t.Fatalf("typed_user %v, want %q", dec["typed_user"], typed)
	}

	reply, dec = n.ask(request{user: other, password: opw})
	wantCode(t, reply, radius.CodeAccessChallenge)
	wantDecision(t, dec, "challenge_sent", "default")
}

func TestPolicyNASIdentifierRule(t *testing.T) {
	t.Parallel()
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true, Extra: `policy:
  rules:
    - name: old-access-points
      match: {nas_identifier: [legacy-ap]}
      action: password_only
`})
	user, pw := newUserIn(t, d)
	n.enroll(user)
	nasID := func(id string) func(*radius.Packet) {
		return func(p *radius.Packet) { _ = rfc2865.NASIdentifier_SetString(p, id) }
	}

	reply, dec := n.ask(request{user: user, password: pw, extra: nasID("legacy-ap")})
	wantCode(t, reply, radius.CodeAccessAccept)
	wantDecision(t, dec, "password_only", "old-access-points")
	if dec["nas_identifier"] != "legacy-ap" {
		t.Fatalf("nas_identifier %v", dec["nas_identifier"])
	}

	reply, dec = n.ask(request{user: user, password: pw, extra: nasID("legacy-ap-2")})
	wantCode(t, reply, radius.CodeAccessChallenge)
	wantDecision(t, dec, "challenge_sent", "default")
}

func TestPolicyUserStates(t *testing.T) {
	t.Parallel()
	d := startDirectory(t)

	t.Run("unenrolled allow, default enforced", func(t *testing.T) {
		n := startNode(t, d, nodeConfig{RequireMA: true, MFAExtra: "  unenrolled: allow\n"})
		tests := []struct {
			name, state string // "" = none set
			enrolled    bool
			want        radius.Code
			reason      string
		}{
			{"disabled unenrolled", "disabled", false, radius.CodeAccessAccept, "password_only"},
			{"disabled enrolled", "disabled", true, radius.CodeAccessAccept, "password_only"},
			{"enabled unenrolled allowed", "enabled", false, radius.CodeAccessAccept, "not_enrolled_allowed"},
			{"enabled enrolled", "enabled", true, radius.CodeAccessChallenge, "challenge_sent"},
			{"enforced unenrolled rejected despite allow", "enforced", false, radius.CodeAccessReject, "not_enrolled"},
			{"enforced enrolled", "enforced", true, radius.CodeAccessChallenge, "challenge_sent"},
			{"default (enforced) unenrolled", "", false, radius.CodeAccessReject, "not_enrolled"},
			{"back to default (enforced) unenrolled", "default", false, radius.CodeAccessReject, "not_enrolled"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				user, pw := newUserIn(t, d)
				if tt.enrolled {
					n.enroll(user)
				}
				if tt.state == "default" {
					n.mustCLI("user", "state", user, "enabled")
				}
				if tt.state != "" {
					n.mustCLI("user", "state", user, tt.state)
				}
				reply, dec := n.ask(request{user: user, password: pw})
				wantCode(t, reply, tt.want)
				wantDecision(t, dec, tt.reason, "default")
				if tt.state == "disabled" && dec["detail"] != "user MFA state disabled" {
					t.Fatalf("detail %v", dec["detail"])
				}
			})
		}
		t.Run("state disabled still checks the password", func(t *testing.T) {
			user, _ := newUserIn(t, d)
			n.mustCLI("user", "state", user, "disabled")
			reply, dec := n.ask(request{user: user, password: "wrong"})
			wantCode(t, reply, radius.CodeAccessReject)
			wantDecision(t, dec, "bad_password", "")
		})
		t.Run("state set with a typed form of the name applies to the user", func(t *testing.T) {
			// The README: "ALICE", "EXAMPLE\alice" and "alice@example.test" are one user, in
			// the store too. An admin copying the name from a log's typed_user must not create
			// a second, never-used record.
			user, pw := newUserIn(t, d)
			n.mustCLI("user", "state", strings.ToUpper(user), "enabled")
			reply, dec := n.ask(request{user: user, password: pw})
			wantCode(t, reply, radius.CodeAccessAccept)
			wantDecision(t, dec, "not_enrolled_allowed", "default")
		})
	})

	t.Run("unenrolled reject, default enabled", func(t *testing.T) {
		n := startNode(t, d, nodeConfig{RequireMA: true,
			MFAExtra: "  default_state: enabled\n  unenrolled: reject\n  enroll_url: https://mfa.example.test/enroll\n"})
		user, pw := newUserIn(t, d)
		reply, dec := n.ask(request{user: user, password: pw})
		wantCode(t, reply, radius.CodeAccessReject)
		wantDecision(t, dec, "not_enrolled", "default")
		if msg := rfc2865.ReplyMessage_GetString(reply); !strings.Contains(msg, "https://mfa.example.test/enroll") {
			t.Fatalf("Reply-Message %q does not point at the enrolment page", msg)
		}
		secret := n.enroll(user)
		reply, dec = n.mfaFlow(user, pw, secret)
		wantCode(t, reply, radius.CodeAccessAccept)
		wantDecision(t, dec, "mfa_ok", "default")
	})
}

// authzConfig: attributes for vpn-admins everywhere, one more on admin-vpn only, and rules that
// set Session-Timeout.
const authzConfig = `policy:
  rules:
    - name: exempt-1h
      match: {groups: [mfa-exempt]}
      action: password_only
      session_timeout: 1h
    - name: admins-8h
      match: {groups: [vpn-admins]}
      action: require_mfa
      session_timeout: 8h
authorization:
  - group: vpn-admins
    attributes:
      Class: admins
      Filter-Id: full-tunnel
      Fortinet-Group-Name: fgt-admins
      PaloAlto-User-Group: pa-admins
      ASA-Group-Policy: asa-admins
      Cisco-AVPair: "shell:priv-lvl=15"
  - group: vpn-admins
    nas: [admin-vpn]
    attributes:
      Idle-Timeout: "900"
  - group: vpn-users
    attributes:
      Filter-Id: split-tunnel
      Session-Timeout: "3600"
`

func TestPolicyAuthorizationAttributes(t *testing.T) {
	t.Parallel()
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true, ExtraClients: adminVPN.yaml(), Extra: authzConfig})
	admin, apw := newUserIn(t, d, "vpn-admins")
	asecret := n.enroll(admin)
	user, upw := newUserIn(t, d, "vpn-users")
	usecret := n.enroll(user)
	admins := map[string]string{
		"Class": "admins", "Fortinet-Group-Name": "fgt-admins", "PaloAlto-User-Group": "pa-admins",
		"ASA-Group-Policy": "asa-admins", "Cisco-AVPair": "shell:priv-lvl=15",
	}

	t.Run("final Accept after the challenge", func(t *testing.T) {
		reply, dec := n.ask(request{user: admin, password: apw})
		wantCode(t, reply, radius.CodeAccessChallenge)
		wantDecision(t, dec, "challenge_sent", "admins-8h", "vpn-admins")
		// Nothing is granted before the second factor.
		wantAttrs(t, reply, map[string]string{"Class": "", "Filter-Id": "", "Fortinet-Group-Name": "", "Session-Timeout": ""})
		reply, dec = n.ask(request{user: admin, password: code(t, asecret), state: rfc2865.State_Get(reply)})
		wantCode(t, reply, radius.CodeAccessAccept)
		wantDecision(t, dec, "mfa_ok", "admins-8h")
		wantAttrs(t, reply, admins)
		wantAttrs(t, reply, map[string]string{"Filter-Id": "full-tunnel", "Session-Timeout": "28800", "Idle-Timeout": ""})
	})
	t.Run("per-NAS attributes", func(t *testing.T) {
		admin2, pw2 := newUserIn(t, d, "vpn-admins")
		secret2 := n.enroll(admin2)
		reply := n.sendFrom(adminVPN, request{user: admin2, password: pw2})
		wantCode(t, reply, radius.CodeAccessChallenge)
		reply = n.sendFrom(adminVPN, request{user: admin2, password: code(t, secret2), state: rfc2865.State_Get(reply)})
		wantCode(t, reply, radius.CodeAccessAccept)
		wantAttrs(t, reply, admins)
		wantAttrs(t, reply, map[string]string{"Idle-Timeout": "900", "Session-Timeout": "28800"})
	})
	t.Run("other groups get their own attributes only", func(t *testing.T) {
		reply, dec := n.mfaFlow(user, upw, usecret)
		wantCode(t, reply, radius.CodeAccessAccept)
		wantDecision(t, dec, "mfa_ok", "default")
		wantAttrs(t, reply, map[string]string{"Filter-Id": "split-tunnel", "Class": "", "Fortinet-Group-Name": "",
			"PaloAlto-User-Group": "", "ASA-Group-Policy": "", "Cisco-AVPair": "", "Session-Timeout": "3600"})
	})
	t.Run("password_only Accept carries them too", func(t *testing.T) {
		exempt, epw := newUserIn(t, d, "mfa-exempt", "vpn-admins")
		reply, dec := n.ask(request{user: exempt, password: epw})
		wantCode(t, reply, radius.CodeAccessAccept)
		wantDecision(t, dec, "password_only", "exempt-1h", "mfa-exempt", "vpn-admins")
		wantAttrs(t, reply, admins)
		wantAttrs(t, reply, map[string]string{"Filter-Id": "full-tunnel", "Session-Timeout": "3600"})
	})
	t.Run("one Session-Timeout when a rule and an attribute both set it", func(t *testing.T) {
		// RFC 2865 §5.44: at most one Session-Timeout in an Access-Accept. An admin who is
		// also in vpn-users gets the rule's 8h and vpn-users' 3600 s.
		both, pw := newUserIn(t, d, "vpn-admins", "vpn-users")
		secret := n.enroll(both)
		reply, dec := n.mfaFlow(both, pw, secret)
		wantCode(t, reply, radius.CodeAccessAccept)
		wantDecision(t, dec, "mfa_ok", "admins-8h")
		if got := replyValues(t, reply, "Session-Timeout"); len(got) != 1 {
			t.Fatalf("Session-Timeout %q: want exactly one attribute", got)
		}
	})
	t.Run("groups in the final decision log", func(t *testing.T) {
		// The mfa_ok line is the one an auditor reads: it should say which groups (and so which
		// attributes) were granted, as the password_only line does.
		admin3, pw3 := newUserIn(t, d, "vpn-admins")
		secret3 := n.enroll(admin3)
		reply, dec := n.mfaFlow(admin3, pw3, secret3)
		wantCode(t, reply, radius.CodeAccessAccept)
		wantDecision(t, dec, "mfa_ok", "admins-8h")
		wantDecision(t, dec, "mfa_ok", "admins-8h", "vpn-admins")
	})
}

// reloadConfig rewrites the node's config with replace applied, sends SIGHUP and waits until the
// new configuration serves.
func (n *node) reloadConfig(old, new string) {
	n.t.Helper()
	b, err := os.ReadFile(n.config)
	if err != nil {
		n.t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		n.t.Fatalf("config lacks %q", old)
	}
	if err := os.WriteFile(n.config, []byte(strings.Replace(string(b), old, new, 1)), 0o600); err != nil {
		n.t.Fatal(err)
	}
	reloaded := func() int {
		n.log.mu.Lock()
		defer n.log.mu.Unlock()
		k := 0
		for _, l := range n.log.lines {
			if l["message"] == "configuration reloaded" {
				k++
			}
		}
		return k
	}
	before := reloaded()
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		n.t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); reloaded() == before; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			n.t.Fatalf("no reload within 10s\n%s", n.log)
		}
	}
}

func TestPolicyReloadBetweenLegs(t *testing.T) {
	t.Parallel()
	d := startDirectory(t)
	const before = `authorization:
  - group: vpn-users
    attributes: {Class: before-reload}
`
	const after = `policy:
  rules:
    - name: contractors-denied
      match: {groups: [contractors]}
      action: deny
authorization:
  - group: vpn-users
    attributes: {Class: after-reload}
`
	n := startNode(t, d, nodeConfig{RequireMA: true, Extra: before})
	user, upw := newUserIn(t, d, "vpn-users")
	usecret := n.enroll(user)
	contractor, cpw := newUserIn(t, d, "vpn-users", "contractors")
	csecret := n.enroll(contractor)

	ust := firstLeg(t, n, user, upw)
	cst := firstLeg(t, n, contractor, cpw)
	n.reloadConfig(before, after)

	t.Run("attributes of the configuration that sends the Accept", func(t *testing.T) {
		reply, dec := n.ask(request{user: user, password: code(t, usecret), state: ust})
		wantCode(t, reply, radius.CodeAccessAccept)
		wantDecision(t, dec, "mfa_ok", "default")
		wantAttrs(t, reply, map[string]string{"Class": "after-reload"})
	})
	t.Run("a rule that now denies stops the challenge in flight", func(t *testing.T) {
		// The State was sealed under the old configuration; the engine re-decides the rule for
		// the new one (regrant) and must then apply that rule's action too.
		reply, dec := n.ask(request{user: contractor, password: code(t, csecret), state: cst})
		if reply != nil && reply.Code == radius.CodeAccessAccept && dec["rule"] == "contractors-denied" {
			t.Fatalf("Access-Accept logged under rule contractors-denied (action deny): %v", dec)
		}
		wantCode(t, reply, radius.CodeAccessReject)
		wantDecision(t, dec, "policy_deny", "contractors-denied")
	})
}

// configCheck runs `radmfa config check` on text written to a file and returns the output and
// whether it passed.
func configCheck(t *testing.T, text string) (string, bool) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "radmfa.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "config", "check", "--config", path)
	// The race-enabled binary otherwise sleeps a second at exit.
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("run radmfa: %v", err)
		}
	}
	return string(out), err == nil
}

// lineOf returns the 1-based line of text holding marker, which must occur exactly once.
func lineOf(t *testing.T, text, marker string) int {
	t.Helper()
	if strings.Count(text, marker) != 1 {
		t.Fatalf("marker %q occurs %d times", marker, strings.Count(text, marker))
	}
	return strings.Count(text[:strings.Index(text, marker)], "\n") + 1
}

const checkBase = `node: check
radius:
  listen: 127.0.0.1:0
  clients:
    - name: localhost
      address: 127.0.0.1
      secret: check-secret-0123456
    - name: admin-vpn
      address: 127.0.0.4
      secret: check-secret-6543210
ldap:
  urls: [ldap://127.0.0.1:3890]
  base_dn: dc=example,dc=test
store:
  dsn: radmfa.db
`

func TestPolicyConfigCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, policy string
		marker, path string // the offending line holds marker; the error names path
		msg          string
	}{
		{
			name: "unknown action",
			policy: `policy:
  rules:
    - name: ok
      match: {groups: [mfa-exempt]}
      action: password_only
    - name: typo
      match: {groups: [contractors]}
      action: allow   # the typo
`,
			marker: "action: allow", path: "policy.rules[1].action",
			msg: `unsupported value "allow" (want require_mfa, password_only or deny)`,
		},
		{
			name: "unknown match field",
			policy: `policy:
  rules:
    - name: typo
      match:
        group: [contractors]
      action: deny
`,
			marker: "group: [contractors]", path: "policy.rules[0].match.group", msg: "unknown key",
		},
		{
			name: "unknown rule field",
			policy: `policy:
  rules:
    - name: typo
      match: {groups: [contractors]}
      action: deny
      sesion_timeout: 1h
`,
			marker: "sesion_timeout", path: "policy.rules[0].sesion_timeout", msg: "unknown key",
		},
		{
			name: "authorization group field misspelt",
			policy: `authorization:
  - groups: vpn-admins
    attributes: {Class: admins}
`,
			marker: "groups: vpn-admins", path: "authorization[0].groups", msg: "unknown key",
		},
		{
			name: "unknown attribute",
			policy: `authorization:
  - group: vpn-admins
    attributes:
      Fortinet-Group: admins
`,
			marker: "Fortinet-Group: admins", path: "authorization[0].attributes.Fortinet-Group", msg: "unknown attribute",
		},
		{
			name: "rule for a NAS that is not a client",
			policy: `policy:
  rules:
    - name: wifi
      match: {nas: [legacy-wifi]}
      action: password_only
`,
			marker: "nas: [legacy-wifi]", path: "policy.rules[0].match.nas[0]", msg: `no radius client is named "legacy-wifi"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := checkBase + tt.policy
			out, ok := configCheck(t, text)
			if ok {
				t.Fatalf("config check passed:\n%s", out)
			}
			want := fmt.Sprintf("%s: line %d: %s", tt.path, lineOf(t, text, tt.marker), tt.msg)
			if !strings.Contains(out, want) {
				t.Fatalf("output lacks %q:\n%s", want, out)
			}
		})
	}
	t.Run("valid rules pass", func(t *testing.T) {
		out, ok := configCheck(t, checkBase+authzConfig)
		if !ok || !strings.Contains(out, ": ok") {
			t.Fatalf("config check failed:\n%s", out)
		}
	})
}

// yamlBlocks returns the ```yaml fenced blocks of a Markdown document.
func yamlBlocks(md string) []string {
	var blocks []string
	var cur *strings.Builder
	for _, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && trimmed == "```yaml":
			cur = &strings.Builder{}
		case cur != nil && trimmed == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	return blocks
}

// mergeYAML lays overlay over base: mappings merge key by key, anything else is replaced.
// Comments are dropped so that the result is plain YAML.
func mergeYAML(base, overlay []byte) ([]byte, error) {
	var b, o yaml.Node
	if err := yaml.Unmarshal(base, &b); err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	if err := yaml.Unmarshal(overlay, &o); err != nil {
		return nil, fmt.Errorf("snippet: %w", err)
	}
	if len(b.Content) != 1 || len(o.Content) != 1 {
		return nil, fmt.Errorf("want one document in each")
	}
	mergeNode(b.Content[0], o.Content[0])
	stripComments(&b)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&b); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

func mergeNode(dst, src *yaml.Node) {
	if dst.Kind != yaml.MappingNode || src.Kind != yaml.MappingNode {
		*dst = *src
		return
	}
	for i := 0; i+1 < len(src.Content); i += 2 {
		k, v := src.Content[i], src.Content[i+1]
		found := false
		for j := 0; j+1 < len(dst.Content); j += 2 {
			if dst.Content[j].Value == k.Value {
				mergeNode(dst.Content[j+1], v)
				found = true
				break
			}
		}
		if !found {
			dst.Content = append(dst.Content, k, v)
		}
	}
}

func stripComments(n *yaml.Node) {
	n.HeadComment, n.LineComment, n.FootComment = "", "", ""
	for _, c := range n.Content {
		stripComments(c)
	}
}

// TestRolloutDocSnippets checks that every YAML snippet of docs/rollout.md, merged into
// config/example.yaml, passes `radmfa config check`.
func TestRolloutDocSnippets(t *testing.T) {
	t.Parallel()
	md, err := os.ReadFile("../docs/rollout.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("../config/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	blocks := yamlBlocks(string(md))
	if len(blocks) < 3 {
		t.Fatalf("docs/rollout.md has %d yaml blocks, want the config of every step", len(blocks))
	}
	for i, b := range blocks {
		t.Run(fmt.Sprintf("block %d", i+1), func(t *testing.T) {
			merged, err := mergeYAML(example, []byte(b))
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			out, ok := configCheck(t, string(merged))
			if !ok {
				t.Fatalf("config check failed for snippet:\n%s\n%s", b, out)
			}
		})
	}
	t.Run("the merge is not a no-op", func(t *testing.T) {
		bad := "policy:\n  default: require-mfa\n"
		merged, err := mergeYAML(example, []byte(bad))
		if err != nil {
			t.Fatal(err)
		}
		if out, ok := configCheck(t, string(merged)); ok || !strings.Contains(out, "policy.default") {
			t.Fatalf("a bad snippet passed:\n%s", out)
		}
	})
}
