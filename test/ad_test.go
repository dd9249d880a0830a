package test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/radmfa/radmfa/test/adtest"
)

// Active Directory end to end: the real binary against a real Samba AD DC (test/adtest) over
// LDAPS with the DC's CA, with the active_directory presets (sAMAccountName, ad_chain nested
// groups, bind diagnostics decoded into reasons), username normalisation, ldap.messages and the
// in-band password change. The DC's fixture users are only read; tests that change a user make
// their own with NewUser.

// pwChangeVPN is a NAS whose client entry allows the in-band password change; the main client
// does not, so the same users get the plain must-change / expired rejects there.
var pwChangeVPN = nasAt{"pwchange-vpn", "127.0.0.7", "pwchange-vpn-secret-01"}

// adMessages are the ldap.messages of the AD node, by the keys config/example.yaml documents.
var adMessages = map[string]string{
	"bad_password":            "AD: wrong user name or password",
	"account_disabled":        "AD: your account is disabled, call the helpdesk",
	"must_change_password":    "AD: change your password at https://pw.example.test first",
	"password_expired":        "AD: your password has expired, change it at https://pw.example.test",
	"account_locked":          "AD: your account is locked, wait 10 minutes",
	"account_expired":         "AD: your account has expired",
	"logon_hours":             "AD: you may not sign in at this hour",
	"workstation_not_allowed": "AD: you may not sign in from this VPN",
}

// startConfiguredNode starts radmfa with the config text mk returns for its port and directory.
func startConfiguredNode(t testing.TB, mk func(port int, dir string) string) *node {
	t.Helper()
	dir := t.TempDir()
	port := freeUDPPort(t)
	path := filepath.Join(dir, "radmfa.yaml")
	if err := os.WriteFile(path, []byte(mk(port, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, dir: dir, config: path, addr: fmt.Sprintf("127.0.0.1:%d", port), secret: testSecret,
		log: &logBuffer{}, done: make(chan struct{})}
	n.start()
	t.Cleanup(n.stop)
	return n
}

// startADNode starts radmfa against dc: members of vpn-users (directly or through nested
// groups) must do MFA, everyone else is denied.
func startADNode(t testing.TB, dc *adtest.DC) *node {
	t.Helper()
	var msgs strings.Builder
	for k, v := range adMessages {
		fmt.Fprintf(&msgs, "    %s: %q\n", k, v)
	}
	return startConfiguredNode(t, func(port int, dir string) string {
		return fmt.Sprintf(`node: ad-%d
radius:
  listen: 127.0.0.1:%d
  clients:
    - name: local
      address: 127.0.0.1/32
      secret: %s
%sldap:
  urls: [%q]
  ca_file: %q
  bind_dn: %q
  bind_password: %q
  base_dn: %q
  active_directory: true
  timeout: 5s
  pool_size: 4
  username:
    lowercase: true
    strip_domain: true
    strip_realm: true
    realms: [example.test]
  messages:
%sstore:
  dsn: %s
  key_file: %s
mfa:
  challenge_timeout: 120s
  state_key: %q
policy:
  default: deny
  rules:
    - name: vpn-users-mfa
      match: {groups: [vpn-users]}
      action: require_mfa
authorization:
  - group: vpn-users
    attributes: {Class: vpn-users}
log:
  level: debug
  format: json
`, port, port, testSecret, pwChangeVPN.yaml("password_change: true"),
			dc.LDAPSURL, dc.CAFile, dc.BindDN, dc.BindPassword, dc.BaseDN, msgs.String(),
			filepath.Join(dir, "radmfa.db"), filepath.Join(dir, "radmfa.key"), strings.Repeat("cd", 32))
	})
}

var adUserSeq atomic.Int64

// newADUser creates a throwaway AD user (deleted by the test's cleanup) in groups.
func newADUser(t testing.TB, dc *adtest.DC, prefix string, groups ...string) adtest.User {
	t.Helper()
	name := fmt.Sprintf("%s%d-%d", prefix, time.Now().UnixNano()%100_000, adUserSeq.Add(1))
	if len(name) > 20 {
		t.Fatalf("AD user name %q longer than 20 characters", name)
	}
	return dc.NewUser(t, name, adtest.UserPassword, groups...)
}

// adBind binds as dn with password on a fresh LDAPS connection and returns the AD sub-code
// ("" for success, "?" for an error without one).
func adBind(t testing.TB, dc *adtest.DC, dn, password string) string {
	t.Helper()
	err := dc.Dial(t, dc.LDAPSURL).Bind(dn, password)
	if err == nil {
		return ""
	}
	if c := adtest.SubCode(err); c != "" {
		return c
	}
	return "?"
}

// mustChangePassword sets pwdLastSet=0: the user must change the password at next logon (773).
func mustChangePassword(t testing.TB, dc *adtest.DC, u adtest.User) {
	t.Helper()
	mod := ldap.NewModifyRequest(u.DN, nil)
	mod.Replace("pwdLastSet", []string{"0"})
	if err := dc.Admin(t).Modify(mod); err != nil {
		t.Fatalf("pwdLastSet=0 for %s: %v", u.Name, err)
	}
	if c := adBind(t, dc, u.DN, u.Password); c != adtest.SubMustChangePassword {
		t.Fatalf("bind after pwdLastSet=0: sub-code %q, want %s", c, adtest.SubMustChangePassword)
	}
}

// expirePassword makes u's password 100 days old (past the domain's 42-day maximum: 532).
// LDAP only accepts 0 and -1 for pwdLastSet, so, as scripts/samba-ad.sh does for frank, the
// DC's own database is written with the control that bypasses the password_hash module.
func expirePassword(t testing.TB, dc *adtest.DC, u adtest.User) {
	t.Helper()
	const script = `import sys, time
import ldb
import samba.dsdb as dsdb
from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB
conf, dn = sys.argv[1], sys.argv[2]
lp = LoadParm()
lp.load(conf)
db = SamDB(url=lp.samdb_url(), session_info=system_session(), lp=lp)
nt = int((time.time() - 100 * 86400) * 10**7) + 116444736000000000
m = ldb.Message(ldb.Dn(db, dn))
m["pwdLastSet"] = ldb.MessageElement(str(nt), ldb.FLAG_MOD_REPLACE, "pwdLastSet")
db.modify(m, controls=["local_oid:%s:0" % dsdb.DSDB_CONTROL_BYPASS_PASSWORD_HASH_OID])
`
	cmd := exec.Command("/usr/bin/python3", "-", filepath.Join(dc.Dir, "etc", "smb.conf"), u.DN)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("backdate pwdLastSet of %s: %v\n%s", u.Name, err, out)
	}
	if c := adBind(t, dc, u.DN, u.Password); c != adtest.SubPasswordExpired {
		t.Fatalf("bind after backdating: sub-code %q, want %s", c, adtest.SubPasswordExpired)
	}
}

func TestADUsernameForms(t *testing.T) {
	t.Parallel()
	dc := adtest.Start(t)
	n := startADNode(t, dc)
	secret := n.enroll("alice") // once, under the normalised name

	forms := []string{"alice", `EXAMPLE\alice`, "alice@example.test", "ALICE", `example\Alice`, "Alice@EXAMPLE.TEST"}
	var state []byte
	for _, typed := range forms {
		t.Run(typed, func(t *testing.T) {
			reply, dec := n.askAs("alice", nil, request{user: typed, password: adtest.UserPassword})
			wantCode(t, reply, radius.CodeAccessChallenge)
			wantDecision(t, dec, "challenge_sent", "vpn-users-mfa", "vpn-users")
			if typed != "alice" && dec["typed_user"] != typed {
				t.Fatalf("typed_user %v, want %q", dec["typed_user"], typed)
			}
			if typed == `EXAMPLE\alice` {
				state = rfc2865.State_Get(reply)
			}
		})
	}
	t.Run("second leg in the domain form", func(t *testing.T) {
		reply, dec := n.askAs("alice", nil, request{user: `EXAMPLE\alice`, password: code(t, secret), state: state})
		wantCode(t, reply, radius.CodeAccessAccept)
		wantDecision(t, dec, "mfa_ok", "vpn-users-mfa")
	})
	t.Run("one store record", func(t *testing.T) {
		out := n.mustCLI("user", "list")
		var users []string
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) > 0 && f[0] != "USER" {
				users = append(users, f[0])
			}
		}
		if len(users) != 1 || users[0] != "alice" {
			t.Fatalf("store users %q, want [alice]:\n%s", users, out)
		}
	})
	t.Run("another realm is not stripped", func(t *testing.T) {
		// realms: [example.test]: alice@elsewhere.test stays as typed and is no one.
		reply, dec := n.askAs("alice@elsewhere.test", nil, request{user: "alice@elsewhere.test", password: adtest.UserPassword})
		wantCode(t, reply, radius.CodeAccessReject)
		wantDecision(t, dec, "unknown_user", "")
	})
}

func TestADNestedGroupPolicy(t *testing.T) {
	t.Parallel()
	dc := adtest.Start(t)
	n := startADNode(t, dc)
	asecret := n.enroll("alice")
	n.enroll("bob")

	t.Run("member through a nested group", func(t *testing.T) {
		// alice is in vpn-admins, which is a member of vpn-users.
		reply, dec := n.ask(request{user: "alice", password: adtest.UserPassword})
		wantCode(t, reply, radius.CodeAccessChallenge)
		wantDecision(t, dec, "challenge_sent", "vpn-users-mfa", "vpn-admins", "vpn-users")
		reply, _ = n.ask(request{user: "alice", password: code(t, asecret), state: rfc2865.State_Get(reply)})
		wantCode(t, reply, radius.CodeAccessAccept)
		wantAttrs(t, reply, map[string]string{"Class": "vpn-users"})
	})
	t.Run("direct member", func(t *testing.T) {
		reply, dec := n.ask(request{user: "bob", password: adtest.UserPassword})
		wantCode(t, reply, radius.CodeAccessChallenge)
		wantDecision(t, dec, "challenge_sent", "vpn-users-mfa", "vpn-users")
	})
	t.Run("no group: the default denies", func(t *testing.T) {
		u := newADUser(t, dc, "nogrp")
		n.enroll(u.Name)
		reply, dec := n.ask(request{user: u.Name, password: u.Password})
		wantCode(t, reply, radius.CodeAccessReject)
		wantDecision(t, dec, "policy_deny", "default")
	})
	t.Run("added to a nested group later", func(t *testing.T) {
		u := newADUser(t, dc, "late", "vpn-admins")
		n.enroll(u.Name)
		reply, dec := n.ask(request{user: u.Name, password: u.Password})
		wantCode(t, reply, radius.CodeAccessChallenge)
		wantDecision(t, dec, "challenge_sent", "vpn-users-mfa", "vpn-admins", "vpn-users")
	})
}

func TestADAccountConditions(t *testing.T) {
	t.Parallel()
	dc := adtest.Start(t)
	n := startADNode(t, dc)
	tests := []struct {
		user, password, reason, messageKey string
	}{
		{"bob", "Wrong-Pass-2024!", "bad_password", "bad_password"},
		{"dave", adtest.UserPassword, "account_disabled", "account_disabled"},
		{"erin", adtest.UserPassword, "must_change_password", "must_change_password"},
		{"frank", adtest.UserPassword, "password_expired", "password_expired"},
		{"gina", adtest.UserPassword, "directory_account_locked", "account_locked"},
		{"hank", adtest.UserPassword, "account_expired", "account_expired"},
		{"ivan", adtest.UserPassword, "logon_hours", "logon_hours"},
		{"judy", adtest.UserPassword, "workstation_not_allowed", "workstation_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.user+" "+tt.reason, func(t *testing.T) {
			reply, dec := n.ask(request{user: tt.user, password: tt.password})
			wantCode(t, reply, radius.CodeAccessReject)
			wantDecision(t, dec, tt.reason, "")
			if msg := rfc2865.ReplyMessage_GetString(reply); msg != adMessages[tt.messageKey] {
				t.Fatalf("Reply-Message %q, want ldap.messages.%s %q", msg, tt.messageKey, adMessages[tt.messageKey])
			}
		})
	}
	t.Run("unknown user reads like a wrong password", func(t *testing.T) {
		// Password failures must all read the same, or the Reply-Message tells which user names
		// exist: with ldap.messages.bad_password set, an unknown user must get that text too.
		reply, dec := n.ask(request{user: "nobody-here", password: "Wrong-Pass-2024!"})
		wantCode(t, reply, radius.CodeAccessReject)
		wantDecision(t, dec, "unknown_user", "")
		if msg := rfc2865.ReplyMessage_GetString(reply); msg != adMessages["bad_password"] {
			t.Fatalf("unknown user: Reply-Message %q; a wrong password gets %q", msg, adMessages["bad_password"])
		}
	})
	t.Run("must change on a NAS without password_change: no prompt", func(t *testing.T) {
		reply, dec := n.ask(request{user: "erin", password: adtest.UserPassword})
		wantCode(t, reply, radius.CodeAccessReject)
		wantDecision(t, dec, "must_change_password", "")
	})
}

func TestADPasswordChange(t *testing.T) {
	t.Parallel()
	dc := adtest.Start(t)
	n := startADNode(t, dc)
	const newPassword = "Fresh-Pass-2025!x"

	for _, kind := range []struct {
		name   string
		prefix string
		setup  func(testing.TB, *adtest.DC, adtest.User)
	}{
		{"must change at next logon", "pwm", mustChangePassword},
		{"expired", "pwx", expirePassword},
	} {
		t.Run(kind.name, func(t *testing.T) {
			u := newADUser(t, dc, kind.prefix, "vpn-users")
			kind.setup(t, dc, u)
			secret := n.enroll(u.Name)

			reply, dec := n.askFrom(pwChangeVPN, request{user: u.Name, password: u.Password})
			wantCode(t, reply, radius.CodeAccessChallenge)
			wantDecision(t, dec, "password_change_prompt", "")
			if msg := rfc2865.ReplyMessage_GetString(reply); !strings.Contains(msg, "new password") {
				t.Fatalf("first prompt %q", msg)
			}
			reply, dec = n.askFrom(pwChangeVPN, request{user: u.Name, password: newPassword, state: rfc2865.State_Get(reply)})
			wantCode(t, reply, radius.CodeAccessChallenge)
			wantDecision(t, dec, "password_change_prompt", "")
			if msg := rfc2865.ReplyMessage_GetString(reply); !strings.Contains(msg, "again") {
				t.Fatalf("confirmation prompt %q", msg)
			}
			reply, dec = n.askFrom(pwChangeVPN, request{user: u.Name, password: newPassword, state: rfc2865.State_Get(reply)})
			wantCode(t, reply, radius.CodeAccessChallenge)
			wantDecision(t, dec, "challenge_sent", "vpn-users-mfa", "vpn-users")
			if msg := rfc2865.ReplyMessage_GetString(reply); !strings.Contains(msg, "6-digit code") {
				t.Fatalf("code prompt %q", msg)
			}

			// Changed in AD for real: the new password binds, the old one no longer does.
			if c := adBind(t, dc, u.DN, newPassword); c != "" {
				t.Fatalf("bind with the new password: sub-code %q", c)
			}
			if c := adBind(t, dc, u.DN, u.Password); c != adtest.SubInvalidCredentials {
				t.Fatalf("bind with the old password: sub-code %q, want %s", c, adtest.SubInvalidCredentials)
			}

			reply, dec = n.askFrom(pwChangeVPN, request{user: u.Name, password: code(t, secret), state: rfc2865.State_Get(reply)})
			wantCode(t, reply, radius.CodeAccessAccept)
			wantDecision(t, dec, "mfa_ok", "vpn-users-mfa")
			wantAttrs(t, reply, map[string]string{"Class": "vpn-users"})

			// The next sign-in is an ordinary one with the new password.
			reply, dec = n.askFrom(pwChangeVPN, request{user: u.Name, password: newPassword})
			wantCode(t, reply, radius.CodeAccessChallenge)
			wantDecision(t, dec, "challenge_sent", "vpn-users-mfa")
		})
	}

	t.Run("confirmation mismatch", func(t *testing.T) {
		u := newADUser(t, dc, "pwd", "vpn-users")
		mustChangePassword(t, dc, u)
		n.enroll(u.Name)
		reply := n.sendFrom(pwChangeVPN, request{user: u.Name, password: u.Password})
		wantCode(t, reply, radius.CodeAccessChallenge)
		reply = n.sendFrom(pwChangeVPN, request{user: u.Name, password: newPassword, state: rfc2865.State_Get(reply)})
		wantCode(t, reply, radius.CodeAccessChallenge)
		reply, dec := n.askFrom(pwChangeVPN, request{user: u.Name, password: newPassword + "y", state: rfc2865.State_Get(reply)})
		wantCode(t, reply, radius.CodeAccessReject)
		wantDecision(t, dec, "password_mismatch", "")
		// Nothing changed in AD.
		if c := adBind(t, dc, u.DN, u.Password); c != adtest.SubMustChangePassword {
			t.Fatalf("bind with the old password: sub-code %q, want %s", c, adtest.SubMustChangePassword)
		}
		if c := adBind(t, dc, u.DN, newPassword); c != adtest.SubInvalidCredentials {
			t.Fatalf("bind with the refused new password: sub-code %q, want %s", c, adtest.SubInvalidCredentials)
		}
	})

	t.Run("new password refused by the domain policy", func(t *testing.T) {
		u := newADUser(t, dc, "pwp", "vpn-users")
		mustChangePassword(t, dc, u)
		n.enroll(u.Name)
		const short = "Ab1!"
		reply := n.sendFrom(pwChangeVPN, request{user: u.Name, password: u.Password})
		wantCode(t, reply, radius.CodeAccessChallenge)
		reply = n.sendFrom(pwChangeVPN, request{user: u.Name, password: short, state: rfc2865.State_Get(reply)})
		wantCode(t, reply, radius.CodeAccessChallenge)
		reply, dec := n.askFrom(pwChangeVPN, request{user: u.Name, password: short, state: rfc2865.State_Get(reply)})
		wantCode(t, reply, radius.CodeAccessReject)
		wantDecision(t, dec, "password_change_failed", "")
		if c := adBind(t, dc, u.DN, u.Password); c != adtest.SubMustChangePassword {
			t.Fatalf("bind with the old password: sub-code %q, want %s", c, adtest.SubMustChangePassword)
		}
	})

	t.Run("wrong old password is not offered a change", func(t *testing.T) {
		u := newADUser(t, dc, "pwo", "vpn-users")
		mustChangePassword(t, dc, u)
		reply, dec := n.askFrom(pwChangeVPN, request{user: u.Name, password: "Not-The-Pass-1!"})
		wantCode(t, reply, radius.CodeAccessReject)
		wantDecision(t, dec, "bad_password", "")
	})
}

// psoDN is the fine-grained password policy scripts/samba-ad.sh creates for gina: lockout after
// 3 bad passwords. Samba counts bad passwords (badPwdCount) only for users under a lockout
// threshold, so a user whose count is watched is put under it.
const psoDN = "CN=radmfa-lockout,CN=Password Settings Container,CN=System," + adtest.BaseDN

func applyLockoutPSO(t testing.TB, dc *adtest.DC, u adtest.User) {
	t.Helper()
	c := dc.Admin(t)
	mod := ldap.NewModifyRequest(psoDN, nil)
	mod.Add("msDS-PSOAppliesTo", []string{u.DN})
	if err := c.Modify(mod); err != nil {
		t.Fatalf("apply %s to %s: %v", psoDN, u.Name, err)
	}
	t.Cleanup(func() {
		mod := ldap.NewModifyRequest(psoDN, nil)
		mod.Delete("msDS-PSOAppliesTo", []string{u.DN})
		_ = c.Modify(mod) // gone already if the user was deleted first
	})
}

func badPwdCount(t testing.TB, dc *adtest.DC, u adtest.User) int {
	t.Helper()
	res, err := dc.Admin(t).Search(ldap.NewSearchRequest(u.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, 10, false, "(objectClass=*)", []string{"badPwdCount"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read badPwdCount of %s: %v", u.Name, err)
	}
	v := res.Entries[0].GetAttributeValue("badPwdCount")
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("badPwdCount %q: %v", v, err)
	}
	return n
}

func TestADSecondFactorCostsNoBadPasswordCount(t *testing.T) {
	t.Parallel()
	dc := adtest.Start(t)
	n := startADNode(t, dc)
	u := newADUser(t, dc, "bpc", "vpn-users")
	applyLockoutPSO(t, dc, u)
	secret := n.enroll(u.Name)

	reply, dec := n.ask(request{user: u.Name, password: u.Password})
	wantCode(t, reply, radius.CodeAccessChallenge)
	wantDecision(t, dec, "challenge_sent", "vpn-users-mfa")
	before := badPwdCount(t, dc, u)

	wrong := fmt.Sprintf("%06d", (atoi(code(t, secret))+500_000)%1_000_000)
	reply, dec = n.ask(request{user: u.Name, password: wrong, state: rfc2865.State_Get(reply)})
	wantCode(t, reply, radius.CodeAccessReject)
	wantDecision(t, dec, "wrong_code", "")
	if after := badPwdCount(t, dc, u); after != before {
		t.Fatalf("badPwdCount %d after a wrong code, %d before: the second factor reached AD", after, before)
	}

	// The counter is live for this user: a wrong password does count.
	reply, dec = n.ask(request{user: u.Name, password: "Wrong-Pass-2024!"})
	wantCode(t, reply, radius.CodeAccessReject)
	wantDecision(t, dec, "bad_password", "")
	if got := badPwdCount(t, dc, u); got != before+1 {
		t.Fatalf("badPwdCount %d after a wrong password, want %d (is the PSO applied?)", got, before+1)
	}
}
