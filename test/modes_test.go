package test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/test/smstest"
)

// userBinds counts the binds slapd saw as user's entry. At -d 256 slapd logs every BIND request
// ("BIND dn=… method=128") before it answers, and a second line for successful ones only.
func userBinds(d *directory, user string) int {
	re := regexp.MustCompile(`BIND dn="uid=` + regexp.QuoteMeta(user) + `,[^"]*" method=`)
	return len(re.FindAllString(d.Log(), -1))
}

// wantBinds checks how many times user's entry was bound.
func wantBinds(t testing.TB, d *directory, user string, want int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for userBinds(d, user) < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := userBinds(d, user); got != want {
		t.Fatalf("%d binds as %s, want %d", got, user, want)
	}
}

// modeUser is a fresh directory user for a mode table row.
type modeUser struct {
	name, pw string
	secret   []byte // nil: not enrolled
}

// code is the user's current app code.
func (u modeUser) code(t testing.TB) string { return code(t, u.secret) }

// wrong is a code the app does not show around now.
func (u modeUser) wrong(t testing.TB) string { return wrongCode(appCodes(t, u.secret)...) }

// modeCase is one sign-in in a NAS mode.
type modeCase struct {
	name     string
	password string // the user's directory password; "" = newUser's
	enroll   bool
	setup    func(t *testing.T, n *node, u modeUser)
	field    func(t *testing.T, u modeUser) string // what the user types in the password field
	want     radius.Code
	reason   string
	binds    int // binds as the user's entry; -1 = not checked
}

func runModeCases(t *testing.T, d *directory, n *node, tests []modeCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // distinct users; the rows share the node
			var u modeUser
			if tt.password == "" {
				u.name, u.pw = newUser(t, d)
			} else {
				u.name, u.pw = newUserWithPassword(t, d, tt.password), tt.password
			}
			if tt.enroll {
				u.secret = n.enroll(u.name)
			}
			if tt.setup != nil {
				tt.setup(t, n, u)
			}
			reply := n.send(request{user: u.name, password: tt.field(t, u)})
			wantCode(t, reply, tt.want)
			dec := decision(t, n, u.name, tt.reason)
			if tt.want == radius.CodeAccessAccept && tt.reason == "mfa_ok" && dec["leg"] != float64(2) {
				t.Errorf("accept decision %v: want leg 2 (password and code in one request)", dec)
			}
			if tt.binds >= 0 {
				wantBinds(t, d, u.name, tt.binds)
			}
		})
	}
}

func pwAnd(code func(testing.TB, modeUser) string, sep string) func(*testing.T, modeUser) string {
	return func(t *testing.T, u modeUser) string { return u.pw + sep + code(t, u) }
}

var (
	appCode  = func(t testing.TB, u modeUser) string { return u.code(t) }
	badCode  = func(t testing.TB, u modeUser) string { return u.wrong(t) }
	justPW   = func(t *testing.T, u modeUser) string { return u.pw }
	justCode = func(t *testing.T, u modeUser) string { return u.code(t) }
	disable  = func(t *testing.T, n *node, u modeUser) { cliOK(t, n, "user", "state", u.name, "disabled") }
)

func TestModes(t *testing.T) {
	d := startDirectory(t)

	t.Run("append", func(t *testing.T) {
		n := startNode(t, d, nodeConfig{RequireMA: true, ClientExtra: "      mode: append\n"})
		runModeCases(t, d, n, []modeCase{
			{name: "password and code in one field", enroll: true, field: pwAnd(appCode, ""),
				want: radius.CodeAccessAccept, reason: "mfa_ok", binds: 1},
			{name: "wrong code", enroll: true, field: pwAnd(badCode, ""),
				want: radius.CodeAccessReject, reason: "wrong_code", binds: 1},
			{name: "wrong password, right code", enroll: true,
				field: func(t *testing.T, u modeUser) string { return "not-it" + u.code(t) },
				want:  radius.CodeAccessReject, reason: "bad_password", binds: 1},
			{name: "code missing", enroll: true, field: justPW,
				want: radius.CodeAccessReject, reason: "code_missing", binds: 0},
			{name: "code alone", enroll: true, field: justCode,
				want: radius.CodeAccessReject, reason: "code_missing", binds: 0},
			{name: "password ending in digits, plus the code", password: "horse-staple-123456", enroll: true,
				field: pwAnd(appCode, ""), want: radius.CodeAccessAccept, reason: "mfa_ok", binds: 1},
			{name: "exempt user whose password ends in digits", password: "horse-staple-654321",
				setup: disable, field: justPW, want: radius.CodeAccessAccept, reason: "password_only", binds: 1},
			{name: "exempt user, wrong password", password: "horse-staple-654321",
				setup: disable, field: func(*testing.T, modeUser) string { return "horse-staple-000000" },
				want: radius.CodeAccessReject, reason: "bad_password", binds: 1},
			{name: "not enrolled", field: func(_ *testing.T, u modeUser) string { return u.pw + "123456" },
				want: radius.CodeAccessReject, reason: "not_enrolled", binds: 1},
		})
		t.Run("one round trip, no challenge", func(t *testing.T) {
			user, pw := newUser(t, d)
			secret := n.enroll(user)
			reply := n.send(request{user: user, password: pw + code(t, secret)})
			wantCode(t, reply, radius.CodeAccessAccept)
			wantReason(t, n, user, "mfa_ok")
			if len(n.log.decisions(user)) != 1 {
				t.Fatalf("decisions %v, want exactly one", n.log.decisions(user))
			}
		})
		t.Run("unknown user", func(t *testing.T) {
			wantCode(t, n.send(request{user: "nobody-append", password: "x123456"}), radius.CodeAccessReject)
			wantReason(t, n, "nobody-append", "unknown_user")
		})
	})

	t.Run("append with separator", func(t *testing.T) {
		n := startNode(t, d, nodeConfig{RequireMA: true, ClientExtra: "      mode: append\n      append_separator: \",\"\n"})
		runModeCases(t, d, n, []modeCase{
			{name: "password, comma, code", enroll: true, field: pwAnd(appCode, ","),
				want: radius.CodeAccessAccept, reason: "mfa_ok", binds: 1},
			{name: "comma, wrong code", enroll: true, field: pwAnd(badCode, ","),
				want: radius.CodeAccessReject, reason: "wrong_code", binds: 1},
			{name: "no separator", enroll: true, field: pwAnd(appCode, ""),
				want: radius.CodeAccessReject, reason: "code_missing", binds: 0},
			{name: "password with a comma, comma, code", password: "a,b,c-pass", enroll: true,
				field: pwAnd(appCode, ","), want: radius.CodeAccessAccept, reason: "mfa_ok", binds: 1},
		})
	})

	t.Run("auto", func(t *testing.T) {
		tw := smstest.StartTwilio(t, twilioSID, twilioToken)
		n := startNode(t, d, nodeConfig{RequireMA: true, ClientExtra: "      mode: auto\n", Extra: twilioSMS(tw)})
		runModeCases(t, d, n, []modeCase{
			{name: "password alone gets a challenge", enroll: true, field: justPW,
				want: radius.CodeAccessChallenge, reason: "challenge_sent", binds: 1},
			{name: "password and code in one round trip", enroll: true, field: pwAnd(appCode, ""),
				want: radius.CodeAccessAccept, reason: "mfa_ok", binds: 2},
			{name: "password ending in six digits gets a challenge", password: "horse-staple-123456", enroll: true,
				field: justPW, want: radius.CodeAccessChallenge, reason: "challenge_sent", binds: 1},
			{name: "password ending in six digits, plus the code", password: "horse-staple-123456", enroll: true,
				field: pwAnd(appCode, ""), want: radius.CodeAccessAccept, reason: "mfa_ok", binds: 2},
			{name: "wrong code appended", enroll: true, field: pwAnd(badCode, ""),
				want: radius.CodeAccessReject, reason: "wrong_code", binds: 2},
			{name: "wrong password and code", enroll: true,
				field: func(t *testing.T, u modeUser) string { return "not-it" + u.code(t) },
				want:  radius.CodeAccessReject, reason: "bad_password", binds: 2},
			{name: "exempt user", setup: disable, field: justPW,
				want: radius.CodeAccessAccept, reason: "password_only", binds: 1},
		})
		t.Run("the challenge then takes the code", func(t *testing.T) {
			user, pw := newUser(t, d)
			secret := n.enroll(user)
			st := firstLeg(t, n, user, pw)
			wantCode(t, n.send(request{user: user, password: code(t, secret), state: st}), radius.CodeAccessAccept)
		})
		t.Run("a user without an app gets a text", func(t *testing.T) {
			user, pw, phone := smsUser(t, d)
			st, prompt := challenged(t, n.send(request{user: user, password: pw}))
			if !strings.HasPrefix(prompt, "Enter the code sent to ") {
				t.Fatalf("prompt %q", prompt)
			}
			wantCode(t, n.send(request{user: user, password: textCode(t, tw, phone), state: st}), radius.CodeAccessAccept)
		})
	})

	t.Run("otp_only", func(t *testing.T) {
		n := startNode(t, d, nodeConfig{RequireMA: true, ClientExtra: "      mode: otp_only\n"})
		runModeCases(t, d, n, []modeCase{
			{name: "code alone, no bind", enroll: true, field: justCode,
				want: radius.CodeAccessAccept, reason: "mfa_ok", binds: 0},
			{name: "wrong code", enroll: true, field: func(t *testing.T, u modeUser) string { return u.wrong(t) },
				want: radius.CodeAccessReject, reason: "wrong_code", binds: 0},
			{name: "the password is not a code", enroll: true, field: justPW,
				want: radius.CodeAccessReject, reason: "wrong_code", binds: 0},
			{name: "code with spaces around it", enroll: true,
				field: func(t *testing.T, u modeUser) string { return " " + u.code(t) + " " },
				want:  radius.CodeAccessAccept, reason: "mfa_ok", binds: 0},
			{name: "not enrolled", field: func(*testing.T, modeUser) string { return "123456" },
				want: radius.CodeAccessReject, reason: "not_enrolled", binds: 0},
			{name: "exempt user", setup: disable, field: func(*testing.T, modeUser) string { return "123456" },
				want: radius.CodeAccessAccept, reason: "password_only", binds: 0},
		})
		t.Run("unknown user", func(t *testing.T) {
			wantCode(t, n.send(request{user: "nobody-otp", password: "123456"}), radius.CodeAccessReject)
			wantReason(t, n, "nobody-otp", "unknown_user")
		})
		t.Run("replayed code", func(t *testing.T) {
			user, _ := newUser(t, d)
			c := code(t, n.enroll(user))
			wantCode(t, n.send(request{user: user, password: c}), radius.CodeAccessAccept)
			wantCode(t, n.send(request{user: user, password: c}), radius.CodeAccessReject)
			wantReason(t, n, user, "replayed_code")
		})
	})
}

// TestModeAppendUnenrolledAllowed: with mfa.unenrolled allow, a user in state enabled who has
// no factor yet signs in with the password alone (engine.Options.AllowUnenrolled). Append mode
// must not demand a code from them.
func TestModeAppendUnenrolledAllowed(t *testing.T) {
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true, ClientExtra: "      mode: append\n",
		MFAExtra: "  default_state: enabled\n  unenrolled: allow\n"})
	user, pw := newUser(t, d)
	reply := n.send(request{user: user, password: pw})
	wantCode(t, reply, radius.CodeAccessAccept)
	wantReason(t, n, user, "not_enrolled_allowed")
}

func TestPrompts(t *testing.T) {
	d := startDirectory(t)

	t.Run("defaults", func(t *testing.T) {
		tw := smstest.StartTwilio(t, twilioSID, twilioToken)
		n := startNode(t, d, nodeConfig{RequireMA: true, Extra: twilioSMS(tw)})
		user, pw := newUser(t, d)
		n.enroll(user)
		_, prompt := challenged(t, n.send(request{user: user, password: pw}))
		if prompt != "Enter the 6-digit code from your authenticator app: " {
			t.Fatalf("totp prompt %q", prompt)
		}
		both, pw2, phone := smsUser(t, d)
		n.enroll(both)
		st, choose := challenged(t, n.send(request{user: both, password: pw2}))
		_, sms := challenged(t, n.send(request{user: both, password: "sms", state: st}))
		if sms != "Enter the code sent to "+factors.MaskPhone(phone)+": " {
			t.Fatalf("sms prompt %q", sms)
		}
		for _, p := range []string{prompt, choose, sms} {
			// Clients that print the prompt inline (pam_radius) need the trailing ": ".
			if !strings.HasSuffix(p, ": ") {
				t.Errorf("prompt %q does not end with \": \"", p)
			}
		}
	})

	t.Run("per NAS, over the global ones", func(t *testing.T) {
		tw := smstest.StartTwilio(t, twilioSID, twilioToken)
		n := startNode(t, d, nodeConfig{RequireMA: true, Extra: twilioSMS(tw),
			ClientExtra: "      prompts:\n" +
				"        totp: \"Lab VPN token (6 digits): \"\n" +
				"        choose: \"Token, or {{.Keyword}} for a text: \"\n",
			MFAExtra: "  prompts:\n" +
				"    totp: \"Global token: \"\n" +
				"    sms: \"Texted to {{.Phone}}, code: \"\n"})
		tests := []struct {
			name  string
			phone bool
			sms   bool // answer the choice with the keyword
			want  func(phone string) string
		}{
			{"totp from the NAS, verbatim", false, false, func(string) string { return "Lab VPN token (6 digits): " }},
			{"choose from the NAS, rendered", true, false, func(string) string { return "Token, or sms for a text: " }},
			{"sms falls back to the global one", true, true, func(p string) string {
				return "Texted to " + factors.MaskPhone(p) + ", code: "
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var user, pw, phone string
				if tt.phone {
					user, pw, phone = smsUser(t, d)
				} else {
					user, pw = newUser(t, d)
				}
				n.enroll(user)
				reply := n.send(request{user: user, password: pw})
				if tt.sms {
					st, _ := challenged(t, reply)
					reply = n.send(request{user: user, password: "sms", state: st})
				}
				if _, got := challenged(t, reply); got != tt.want(phone) {
					t.Fatalf("Reply-Message %q, want %q", got, tt.want(phone))
				}
			})
		}
	})

	t.Run("radclient shows the NAS prompt", func(t *testing.T) {
		n := startNode(t, d, nodeConfig{RequireMA: true,
			ClientExtra: "      prompts:\n        totp: \"Code for the lab: \"\n"})
		user, pw := newUser(t, d)
		n.enroll(user)
		out, got := radclient(t, n.addr, n.secret,
			fmt.Sprintf("User-Name = %q", user), fmt.Sprintf("User-Password = %q", pw), "Message-Authenticator = 0x00")
		if got != "Access-Challenge" || attrValue(out, "Reply-Message") != "Code for the lab: " {
			t.Fatalf("radclient: %s\n%s", got, out)
		}
	})
}
