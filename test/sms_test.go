package test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/test/ldaptest"
	"github.com/radmfa/radmfa/test/smstest"
)

// The fake Twilio account every SMS test uses. The token is distinctive so a log scan for it
// cannot match anything else.
const (
	twilioSID   = "AC0123456789abcdef0123456789abcdef"
	twilioToken = "tw-auth-token-9c4e1b7d0f"
	twilioFrom  = "+15550001111"
)

var phoneSeq atomic.Int64

// newPhone returns a fresh E.164 number, so every user's texts can be told apart at the fake.
func newPhone() string { return fmt.Sprintf("+1555%07d", 2_000_000+phoneSeq.Add(1)) }

// setMobile writes the directory's mobile attribute of uid (AddUser cannot).
func setMobile(t testing.TB, d *directory, uid, mobile string) {
	t.Helper()
	mod := ldap.NewModifyRequest(ldaptest.UserDN(uid), nil)
	mod.Replace("mobile", []string{mobile})
	if err := d.Admin(t).Modify(mod); err != nil {
		t.Fatalf("set mobile of %s: %v", uid, err)
	}
}

// newUserWithPassword adds a fresh directory user with the given password.
func newUserWithPassword(t testing.TB, d *directory, pw string) string {
	t.Helper()
	u := fmt.Sprintf("u%d-%d", time.Now().UnixNano()%1_000_000, userSeq.Add(1))
	d.AddUser(t, u, pw)
	return u
}

// smsUser adds a directory user with a mobile number and no app.
func smsUser(t testing.TB, d *directory) (user, pw, phone string) {
	t.Helper()
	user, pw = newUser(t, d)
	phone = newPhone()
	setMobile(t, d, user, phone)
	return user, pw, phone
}

// twilioSMS is the top-level sms section for a fake Twilio; extra lines go under sms:.
func twilioSMS(tw *smstest.Twilio, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "sms:\n  provider: twilio\n  twilio:\n    base_url: %q\n    account_sid: %q\n    auth_token: %q\n    from: %q\n  window: 24h\n",
		tw.URL, tw.AccountSID, twilioToken, twilioFrom)
	for _, e := range extra {
		b.WriteString("  " + e + "\n")
	}
	return b.String()
}

var codeRE = regexp.MustCompile(`\b[0-9]{4,10}\b`)

// codeIn returns the code in a message text.
func codeIn(t testing.TB, body string) string {
	t.Helper()
	c := codeRE.FindString(body)
	if c == "" {
		t.Fatalf("no code in message %q", body)
	}
	return c
}

// textCode waits for the next text to phone and returns its code.
func textCode(t testing.TB, tw *smstest.Twilio, phone string) string {
	t.Helper()
	m := tw.WaitMessage(t, phone, 5*time.Second)
	if m.From != twilioFrom {
		t.Errorf("text from %q, want %q", m.From, twilioFrom)
	}
	return codeIn(t, m.Body)
}

// messagesTo counts the texts the fake accepted for phone.
func messagesTo(tw *smstest.Twilio, phone string) int {
	n := 0
	for _, m := range tw.Messages() {
		if m.To == phone {
			n++
		}
	}
	return n
}

// wantMessages checks, after a grace period for a stray late text, how many went to phone.
func wantMessages(t testing.TB, tw *smstest.Twilio, phone string, want int) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	if got := messagesTo(tw, phone); got != want {
		t.Fatalf("%d texts to %s, want %d", got, phone, want)
	}
}

// challenged checks reply is a challenge and returns its State and prompt.
func challenged(t testing.TB, reply *radius.Packet) ([]byte, string) {
	t.Helper()
	wantCode(t, reply, radius.CodeAccessChallenge)
	st := rfc2865.State_Get(reply)
	if len(st) == 0 {
		t.Fatal("challenge without State")
	}
	return st, rfc2865.ReplyMessage_GetString(reply)
}

// decision waits for user's latest decision line with reason and returns it.
func decision(t testing.TB, n *node, user, reason string) map[string]any {
	t.Helper()
	wantReason(t, n, user, reason)
	ds := n.log.decisions(user)
	for i := len(ds) - 1; i >= 0; i-- {
		if ds[i]["reason"] == reason {
			return ds[i]
		}
	}
	return nil
}

// reasons lists user's decision reasons in order.
func reasons(n *node, user string) []string {
	var out []string
	for _, d := range n.log.decisions(user) {
		out = append(out, fmt.Sprint(d["reason"]))
	}
	return out
}

// appCodes are the app's codes around now, which a "wrong" code must avoid.
func appCodes(t testing.TB, secret []byte) []string {
	t.Helper()
	totp := factors.DefaultTOTP()
	cur := totp.Step(time.Now())
	var out []string
	for s := cur - 2; s <= cur+2; s++ {
		c, err := totp.Code(secret, s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// wrongCode returns a 6-digit code that is none of avoid.
func wrongCode(avoid ...string) string {
	for i := 13579; ; i += 7919 {
		c := fmt.Sprintf("%06d", i%1_000_000)
		clash := false
		for _, a := range avoid {
			clash = clash || a == c
		}
		if !clash {
			return c
		}
	}
}

// cliOK runs a radmfa subcommand that must succeed.
func cliOK(t testing.TB, n *node, args ...string) string {
	t.Helper()
	out, err := n.cli(args...)
	if err != nil {
		t.Fatalf("radmfa %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// secretsSeen collects what must never be logged: passwords, codes, full phone numbers.
type secretsSeen struct {
	mu   sync.Mutex
	list []string
}

func (s *secretsSeen) add(v ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, v...)
}

// wantNotLogged fails for every value of s (and extra) found in the node's log. Numbers must
// stand alone to count, so a code does not match inside a longer number such as a duration.
func wantNotLogged(t testing.TB, n *node, s *secretsSeen, extra ...string) {
	t.Helper()
	log := n.log.String()
	if log == "" {
		t.Fatal("empty log")
	}
	s.mu.Lock()
	vals := append(append([]string(nil), s.list...), extra...)
	s.mu.Unlock()
	for _, v := range vals {
		re := regexp.MustCompile(`(^|[^0-9.])` + regexp.QuoteMeta(v) + `($|[^0-9])`)
		if loc := re.FindStringIndex(log); loc != nil {
			from, to := max(loc[0]-120, 0), min(loc[1]+120, len(log))
			t.Errorf("%q is in the log: …%s…", v, log[from:to])
		}
	}
}

func TestSMS(t *testing.T) {
	d := startDirectory(t)
	tw := smstest.StartTwilio(t, twilioSID, twilioToken)
	n := startNode(t, d, nodeConfig{RequireMA: true,
		Extra: twilioSMS(tw, "per_user_limit: 3", `default_country: "1"`)})
	var seen secretsSeen

	// A second node with the shortest challenge_timeout (10s) takes the first leg now; the
	// last subtest answers it once the timeout has passed, so the wait overlaps the others.
	// (sms.code_lifetime is at least 30s, too long to wait for; challenge_timeout bounds it.)
	expTw := smstest.StartTwilio(t, twilioSID, twilioToken)
	expNode := startNode(t, d, nodeConfig{RequireMA: true, ChallengeTTL: "10s", Extra: twilioSMS(expTw)})
	expUser, expPW, expPhone := smsUser(t, d)
	expState, _ := challenged(t, expNode.send(request{user: expUser, password: expPW}))
	expIssued := time.Now()
	expCode := textCode(t, expTw, expPhone)

	t.Run("text, then the code accepts", func(t *testing.T) {
		user, pw, phone := smsUser(t, d)
		st, prompt := challenged(t, n.send(request{user: user, password: pw}))
		if want := "Enter the code sent to " + factors.MaskPhone(phone) + ": "; prompt != want {
			t.Fatalf("prompt %q, want %q", prompt, want)
		}
		m := tw.WaitMessage(t, phone, 5*time.Second)
		c := codeIn(t, m.Body)
		if len(c) != 6 || !strings.Contains(m.Body, "expires in") {
			t.Fatalf("message %q", m.Body)
		}
		seen.add(pw, c, phone)
		dec := decision(t, n, user, "challenge_sent")
		if dec["factor"] != "sms" || !strings.Contains(fmt.Sprint(dec["detail"]), factors.MaskPhone(phone)) {
			t.Fatalf("challenge decision %v", dec)
		}
		wantCode(t, n.send(request{user: user, password: c, state: st}), radius.CodeAccessAccept)
		if dec := decision(t, n, user, "mfa_ok"); dec["factor"] != "sms" || dec["leg"] != float64(2) {
			t.Fatalf("accept decision %v", dec)
		}
		wantMessages(t, tw, phone, 1)
	})

	t.Run("wrong code rejects", func(t *testing.T) {
		user, pw, phone := smsUser(t, d)
		st, _ := challenged(t, n.send(request{user: user, password: pw}))
		c := textCode(t, tw, phone)
		seen.add(pw, c, phone)
		reply := n.send(request{user: user, password: wrongCode(c), state: st})
		wantCode(t, reply, radius.CodeAccessReject)
		wantReason(t, n, user, "wrong_code")
	})

	t.Run("a code is used once", func(t *testing.T) {
		user, pw, phone := smsUser(t, d)
		st, _ := challenged(t, n.send(request{user: user, password: pw}))
		c := textCode(t, tw, phone)
		seen.add(pw, c, phone)
		wantCode(t, n.send(request{user: user, password: c, state: st}), radius.CodeAccessAccept)
		// The same State and code again, as a new packet (not a retransmit).
		wantCode(t, n.send(request{user: user, password: c, state: st}), radius.CodeAccessReject)
		wantReason(t, n, user, "replayed_code")
		// A new sign-in gets a new code; the old one does not open it.
		st2, _ := challenged(t, n.send(request{user: user, password: pw}))
		c2 := textCode(t, tw, phone)
		seen.add(c2)
		if c2 == c {
			t.Skip("the new code equals the old one (one chance in a million)")
		}
		wantCode(t, n.send(request{user: user, password: c, state: st2}), radius.CodeAccessReject)
		wantReason(t, n, user, "wrong_code")
	})

	t.Run("wrong answers use up the code", func(t *testing.T) {
		// sms.max_tries defaults to 3: the third wrong answer voids the code, and the right
		// code no longer opens the same State.
		user, pw, phone := smsUser(t, d)
		st, _ := challenged(t, n.send(request{user: user, password: pw}))
		c := textCode(t, tw, phone)
		seen.add(pw, c, phone)
		for i := range 3 {
			wantCode(t, n.send(request{user: user, password: wrongCode(c, fmt.Sprint(i)), state: st}), radius.CodeAccessReject)
		}
		wantCode(t, n.send(request{user: user, password: c, state: st}), radius.CodeAccessReject)
		want := []string{"challenge_sent", "wrong_code", "wrong_code", "sms_code_void", "sms_code_void"}
		deadline := time.Now().Add(3 * time.Second)
		for fmt.Sprint(reasons(n, user)) != fmt.Sprint(want) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if got := reasons(n, user); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("reasons %v, want %v", got, want)
		}
	})

	t.Run("national number in the directory", func(t *testing.T) {
		// sms.default_country "1": "(555) 201-7788" is +15552017788.
		user, pw := newUser(t, d)
		national := fmt.Sprintf("(555) 3%02d-%04d", phoneSeq.Add(1)%100, phoneSeq.Add(1)%10000)
		setMobile(t, d, user, national)
		want, err := factors.NormalizePhone(national, "1")
		if err != nil {
			t.Fatal(err)
		}
		seen.add(pw, want)
		st, _ := challenged(t, n.send(request{user: user, password: pw}))
		c := textCode(t, tw, want)
		seen.add(c)
		wantCode(t, n.send(request{user: user, password: c, state: st}), radius.CodeAccessAccept)
	})

	t.Run("user phone overrides the directory", func(t *testing.T) {
		user, pw, dirPhone := smsUser(t, d)
		own := newPhone()
		seen.add(pw, dirPhone, own)
		// Written as people do; stored in E.164.
		typed := "+1 (" + own[2:5] + ") " + own[5:8] + "-" + own[8:]
		if out := cliOK(t, n, "user", "phone", user, typed); !strings.Contains(out, own) {
			t.Fatalf("user phone printed %q, want the E.164 form %s", out, own)
		}
		st, _ := challenged(t, n.send(request{user: user, password: pw}))
		c := textCode(t, tw, own)
		seen.add(c)
		wantCode(t, n.send(request{user: user, password: c, state: st}), radius.CodeAccessAccept)
		wantMessages(t, tw, dirPhone, 0)

		cliOK(t, n, "user", "phone", user, "none")
		challenged(t, n.send(request{user: user, password: pw}))
		seen.add(textCode(t, tw, dirPhone))
		wantMessages(t, tw, own, 1)
	})

	t.Run("user phone refuses bad numbers", func(t *testing.T) {
		tests := []struct{ name, number string }{
			{"letters", "+1555CALLNOW"},
			{"too short", "+1234"},
			{"country code 0", "+0123456789"},
			{"extension", "+15552017788 x12"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				out, err := n.cli("user", "phone", "someone", tt.number)
				if err == nil || !strings.Contains(out, "invalid phone number") {
					t.Fatalf("err %v, output %q; want an invalid phone number error", err, out)
				}
				if strings.Contains(out, tt.number) {
					t.Fatalf("the error repeats the number: %q", out)
				}
			})
		}
	})

	t.Run("app and phone: choose sms, then the texted code", func(t *testing.T) {
		user, pw, phone := smsUser(t, d)
		n.enroll(user)
		seen.add(pw, phone)
		st, prompt := challenged(t, n.send(request{user: user, password: pw}))
		if want := "Enter your app code, or type sms to receive a text message: "; prompt != want {
			t.Fatalf("prompt %q, want %q", prompt, want)
		}
		wantMessages(t, tw, phone, 0)
		st2, prompt := challenged(t, n.send(request{user: user, password: "sms", state: st}))
		if !strings.HasPrefix(prompt, "Enter the code sent to "+factors.MaskPhone(phone)) {
			t.Fatalf("prompt after sms %q", prompt)
		}
		c := textCode(t, tw, phone)
		seen.add(c)
		wantCode(t, n.send(request{user: user, password: c, state: st2}), radius.CodeAccessAccept)
		if dec := decision(t, n, user, "mfa_ok"); dec["factor"] != "sms" {
			t.Fatalf("accept decision %v", dec)
		}
	})

	t.Run("app and phone: the app code at the choice prompt", func(t *testing.T) {
		user, pw, phone := smsUser(t, d)
		secret := n.enroll(user)
		seen.add(pw, phone)
		st, _ := challenged(t, n.send(request{user: user, password: pw}))
		wantCode(t, n.send(request{user: user, password: code(t, secret), state: st}), radius.CodeAccessAccept)
		if dec := decision(t, n, user, "mfa_ok"); dec["factor"] != "totp" {
			t.Fatalf("accept decision %v", dec)
		}
		wantMessages(t, tw, phone, 0)
	})

	t.Run("app and phone: the app code at the text prompt", func(t *testing.T) {
		user, pw, phone := smsUser(t, d)
		secret := n.enroll(user)
		seen.add(pw, phone)
		st, _ := challenged(t, n.send(request{user: user, password: pw}))
		st2, _ := challenged(t, n.send(request{user: user, password: "SMS", state: st}))
		seen.add(textCode(t, tw, phone))
		wantCode(t, n.send(request{user: user, password: code(t, secret), state: st2}), radius.CodeAccessAccept)
		if dec := decision(t, n, user, "mfa_ok"); dec["factor"] != "totp" {
			t.Fatalf("accept decision %v", dec)
		}
	})

	t.Run("method sms texts at once", func(t *testing.T) {
		user, pw, phone := smsUser(t, d)
		n.enroll(user)
		seen.add(pw, phone)
		if out := cliOK(t, n, "user", "method", user, "sms"); !strings.Contains(out, "sms") {
			t.Fatalf("user method printed %q", out)
		}
		if out := cliOK(t, n, "user", "show", user); !strings.Contains(out, "default:  sms") {
			t.Fatalf("user show:\n%s", out)
		}
		st, prompt := challenged(t, n.send(request{user: user, password: pw}))
		if !strings.HasPrefix(prompt, "Enter the code sent to ") {
			t.Fatalf("prompt %q, want the text prompt", prompt)
		}
		c := textCode(t, tw, phone)
		seen.add(c)
		wantCode(t, n.send(request{user: user, password: c, state: st}), radius.CodeAccessAccept)

		cliOK(t, n, "user", "method", user, "none")
		if _, prompt := challenged(t, n.send(request{user: user, password: pw})); !strings.Contains(prompt, "type sms") {
			t.Fatalf("prompt after method none %q, want the choice", prompt)
		}
		wantMessages(t, tw, phone, 1)
	})

	t.Run("user method refuses unknown methods", func(t *testing.T) {
		out, err := n.cli("user", "method", "someone", "email")
		if err == nil || !strings.Contains(out, "totp, sms or none") {
			t.Fatalf("err %v, output %q", err, out)
		}
	})

	t.Run("rate limit", func(t *testing.T) {
		// per_user_limit: 3 in the window: the fourth sign-in gets no text.
		user, pw, phone := smsUser(t, d)
		seen.add(pw, phone)
		for range 3 {
			challenged(t, n.send(request{user: user, password: pw}))
			seen.add(textCode(t, tw, phone))
		}
		reply := n.send(request{user: user, password: pw})
		wantCode(t, reply, radius.CodeAccessReject)
		if msg := rfc2865.ReplyMessage_GetString(reply); !strings.Contains(msg, "Too many text messages") {
			t.Fatalf("Reply-Message %q", msg)
		}
		wantReason(t, n, user, "sms_rate_limited")
		wantMessages(t, tw, phone, 3)
		// Another user is not affected.
		u2, pw2, phone2 := smsUser(t, d)
		seen.add(pw2, phone2)
		challenged(t, n.send(request{user: u2, password: pw2}))
		seen.add(textCode(t, tw, phone2))
	})

	t.Run("retransmit sends one text", func(t *testing.T) {
		user, pw, phone := smsUser(t, d)
		seen.add(pw, phone)
		b := accessRequest(n, user, pw, nil)
		c, err := net.Dial("udp", n.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		r1 := roundTrip(t, c, b)
		r2 := roundTrip(t, c, b)
		if string(r1) != string(r2) {
			t.Fatal("the retransmit got a different reply")
		}
		code := textCode(t, tw, phone)
		seen.add(code)
		wantMessages(t, tw, phone, 1)
		if got := len(n.log.decisions(user)); got != 1 {
			t.Fatalf("%d decisions for one retransmitted request, want 1", got)
		}
		// The same packet from another socket (another node, or a NAS that retransmits from a
		// new port) misses the reply cache but still sends no second text.
		c2, err := net.Dial("udp", n.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		st2, _ := challenged(t, parseReply(t, n, roundTrip(t, c2, b), b))
		wantMessages(t, tw, phone, 1)
		if dec := decision(t, n, user, "challenge_sent"); !strings.Contains(fmt.Sprint(dec["detail"]), "not sent again") {
			t.Fatalf("second decision %v", dec)
		}
		// Its State expects the one code that was sent.
		wantCode(t, n.send(request{user: user, password: code, state: st2}), radius.CodeAccessAccept)
	})

	t.Run("provider down: sms-only user rejected", func(t *testing.T) {
		user, pw, phone := smsUser(t, d)
		seen.add(pw, phone)
		before := tw.Requests()
		tw.FailNext(2, 500) // the first try and its one retry
		reply := n.send(request{user: user, password: pw})
		wantCode(t, reply, radius.CodeAccessReject)
		if msg := rfc2865.ReplyMessage_GetString(reply); !strings.Contains(msg, "Could not send a text message") {
			t.Fatalf("Reply-Message %q", msg)
		}
		dec := decision(t, n, user, "sms_failed")
		if !strings.Contains(fmt.Sprint(dec["error"]), "500") {
			t.Fatalf("decision %v: want the provider's status in the error", dec)
		}
		if got := tw.Requests() - before; got != 2 {
			t.Fatalf("%d requests reached the provider, want 2 (one retry)", got)
		}
		wantMessages(t, tw, phone, 0)
		// The provider is back: the next sign-in works.
		st, _ := challenged(t, n.send(request{user: user, password: pw}))
		c := textCode(t, tw, phone)
		seen.add(c)
		wantCode(t, n.send(request{user: user, password: c, state: st}), radius.CodeAccessAccept)
	})

	t.Run("provider down: app user offered the app", func(t *testing.T) {
		user, pw, phone := smsUser(t, d)
		secret := n.enroll(user)
		cliOK(t, n, "user", "method", user, "sms")
		seen.add(pw, phone)
		tw.FailNext(2, 503)
		st, prompt := challenged(t, n.send(request{user: user, password: pw}))
		if !strings.Contains(prompt, "app code") {
			t.Fatalf("prompt %q, want the app offered", prompt)
		}
		dec := decision(t, n, user, "challenge_sent")
		if !strings.Contains(fmt.Sprint(dec["detail"]), "sms unavailable") {
			t.Fatalf("decision %v", dec)
		}
		wantCode(t, n.send(request{user: user, password: code(t, secret), state: st}), radius.CodeAccessAccept)
		wantMessages(t, tw, phone, 0)
	})

	t.Run("a failed text is not passed off as sent", func(t *testing.T) {
		// The provider fails the text; the same request then arrives from another socket (a
		// NAS retrying from a new port, or another radmfa node): it must not be answered with
		// a challenge for a code that never went out.
		user, pw, phone := smsUser(t, d)
		seen.add(pw, phone)
		b := accessRequest(n, user, pw, nil)
		tw.FailNext(2, 500)
		c1, err := net.Dial("udp", n.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c1.Close()
		wantCode(t, parseReply(t, n, roundTrip(t, c1, b), b), radius.CodeAccessReject)
		wantReason(t, n, user, "sms_failed")
		c2, err := net.Dial("udp", n.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		reply := parseReply(t, n, roundTrip(t, c2, b), b)
		if reply.Code == radius.CodeAccessChallenge {
			time.Sleep(time.Second)
			if messagesTo(tw, phone) == 0 {
				t.Fatalf("challenged for a text that was never sent; decisions %v", n.log.decisions(user))
			}
			seen.add(textCode(t, tw, phone))
		}
	})

	t.Run("the text does not outlive the challenge", func(t *testing.T) {
		// mfa.challenge_timeout is 120s here and sms.code_lifetime the default 5m: the State
		// dies after 2 minutes, so the text must not promise 5.
		user, pw, phone := smsUser(t, d)
		seen.add(pw, phone)
		challenged(t, n.send(request{user: user, password: pw}))
		m := tw.WaitMessage(t, phone, 5*time.Second)
		seen.add(codeIn(t, m.Body))
		if strings.Contains(m.Body, "5 minutes") {
			t.Fatalf("text %q promises more than the 2-minute challenge_timeout", m.Body)
		}
	})

	t.Run("the code expires with the challenge", func(t *testing.T) {
		time.Sleep(time.Until(expIssued.Add(10*time.Second + 500*time.Millisecond)))
		reply := expNode.send(request{user: expUser, password: expCode, state: expState})
		wantCode(t, reply, radius.CodeAccessReject)
		wantReason(t, expNode, expUser, "expired_challenge")
	})

	t.Run("nothing secret in the log", func(t *testing.T) {
		wantNotLogged(t, n, &seen, twilioToken)
	})
}

// accessRequest encodes a first- or second-leg Access-Request for n.
func accessRequest(n *node, user, pw string, state []byte) []byte {
	p := radius.New(radius.CodeAccessRequest, []byte(n.secret))
	_ = rfc2865.UserName_SetString(p, user)
	_ = rfc2865.UserPassword_SetString(p, pw)
	if state != nil {
		_ = rfc2865.State_Set(p, state)
	}
	return encodeWithMA(p)
}

// roundTrip writes b on c and reads one reply, waiting at most 8 seconds.
func roundTrip(t testing.TB, c net.Conn, b []byte) []byte {
	t.Helper()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(8 * time.Second))
	buf := make([]byte, 4096)
	k, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	return buf[:k]
}

// parseReply checks a raw reply to req and parses it.
func parseReply(t testing.TB, n *node, reply, req []byte) *radius.Packet {
	t.Helper()
	if !radius.IsAuthenticResponse(reply, req, []byte(n.secret)) || !replyMAValid(reply, req, []byte(n.secret)) {
		t.Fatal("reply does not authenticate")
	}
	p, err := radius.Parse(reply, []byte(n.secret))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSMSProviders(t *testing.T) {
	d := startDirectory(t)

	t.Run("twilio slower than sms.timeout", func(t *testing.T) {
		tw := smstest.StartTwilio(t, twilioSID, twilioToken)
		tw.SetDelay(30 * time.Second)
		n := startNode(t, d, nodeConfig{RequireMA: true, Extra: twilioSMS(tw, "timeout: 1s")})
		user, pw, _ := smsUser(t, d)
		start := time.Now()
		reply := n.send(request{user: user, password: pw, wait: 15 * time.Second})
		el := time.Since(start)
		wantCode(t, reply, radius.CodeAccessReject)
		wantReason(t, n, user, "sms_failed")
		// Two tries of 1s and the 0.5s pause between them, plus slack for the race detector.
		if el > 6*time.Second {
			t.Fatalf("reject took %s with sms.timeout 1s", el)
		}
		if len(tw.Messages()) != 0 {
			t.Fatal("a message was recorded")
		}
	})

	// The generic HTTP gateway, with the body template of config/example.yaml (its json helper
	// quotes the values) and with a plain one.
	for _, tt := range []struct{ name, body string }{
		{"generic http, json helper", `'{"to": {{json .Phone}}, "text": {{json .Message}}}'`},
		{"generic http, plain template", `'{"to": "{{.Phone}}", "text": "{{.Message}}"}'`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sink := smstest.StartHTTPSink(t)
			const bearer = "gw-api-key-3a7f19c2e8"
			extra := fmt.Sprintf(`sms:
  provider: http
  http:
    url: %q
    headers:
      Authorization: "Bearer %s"
    body: %s
  window: 24h
`, sink.URL+"/v1/send?user={{.User}}", bearer, tt.body)
			n := startNode(t, d, nodeConfig{RequireMA: true, Extra: extra})
			user, pw, phone := smsUser(t, d)
			st, _ := challenged(t, n.send(request{user: user, password: pw}))
			reqs := sink.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests at the gateway, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != "POST" || r.Path != "/v1/send" || r.Query.Get("user") != user ||
				r.Header.Get("Authorization") != "Bearer "+bearer || r.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("request %s %s?%s headers %v", r.Method, r.Path, r.Query.Encode(), r.Header)
			}
			var body struct{ To, Text string }
			if err := json.Unmarshal(r.Body, &body); err != nil || body.To != phone {
				t.Fatalf("body %s: %v", r.Body, err)
			}
			c := codeIn(t, body.Text)
			wantCode(t, n.send(request{user: user, password: c, state: st}), radius.CodeAccessAccept)
			seen := &secretsSeen{}
			seen.add(pw, c, phone)
			wantNotLogged(t, n, seen, bearer)
		})
	}

	t.Run("command", func(t *testing.T) {
		dir := t.TempDir()
		out := filepath.Join(dir, "sent.txt")
		script := filepath.Join(dir, "send-sms.sh")
		err := os.WriteFile(script, []byte(`#!/bin/sh
{
  printf 'to=%s user=%s code=%s\n' "$RADMFA_SMS_TO" "$RADMFA_SMS_USER" "$RADMFA_SMS_CODE"
  cat
  printf '\n.\n'
} >> "$1"
`), 0o755)
		if err != nil {
			t.Fatal(err)
		}
		extra := fmt.Sprintf("sms:\n  provider: command\n  command:\n    argv: [%q, %q]\n  window: 24h\n", script, out)
		n := startNode(t, d, nodeConfig{RequireMA: true, Extra: extra})
		user, pw, phone := smsUser(t, d)
		st, _ := challenged(t, n.send(request{user: user, password: pw}))
		b, err := os.ReadFile(out) // the send finished before the challenge was answered
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`to=(\S+) user=(\S+) code=(\d+)\n(.*)\n`).FindStringSubmatch(string(b))
		if m == nil || m[1] != phone || m[2] != user || !strings.Contains(m[4], m[3]) {
			t.Fatalf("the script got:\n%s", b)
		}
		wantCode(t, n.send(request{user: user, password: m[3], state: st}), radius.CodeAccessAccept)
	})
}

// TestSMSWrongCodeCountsOnce: one wrong answer is one failure towards mfa.lockout, whichever
// prompt it was typed at. With factor_threshold 2, a single wrong answer must not lock anyone.
func TestSMSWrongCodeCountsOnce(t *testing.T) {
	d := startDirectory(t)
	tw := smstest.StartTwilio(t, twilioSID, twilioToken)
	n := startNode(t, d, nodeConfig{RequireMA: true, Extra: twilioSMS(tw),
		MFAExtra: "  lockout:\n    factor_threshold: 2\n"})
	tests := []struct {
		name       string
		app, phone bool
		method     string
	}{
		{"app only", true, false, ""},
		{"phone only", false, true, ""},
		{"app and phone, text prompt", true, true, "sms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, pw := newUser(t, d)
			var avoid []string
			if tt.app {
				avoid = appCodes(t, n.enroll(user))
			}
			phone := ""
			if tt.phone {
				phone = newPhone()
				setMobile(t, d, user, phone)
			}
			if tt.method != "" {
				cliOK(t, n, "user", "method", user, tt.method)
			}
			st, _ := challenged(t, n.send(request{user: user, password: pw}))
			if phone != "" {
				avoid = append(avoid, textCode(t, tw, phone))
			}
			wantCode(t, n.send(request{user: user, password: wrongCode(avoid...), state: st}), radius.CodeAccessReject)
			wantReason(t, n, user, "wrong_code")
			// One failure of two allowed: the next sign-in is challenged, not locked out.
			reply := n.send(request{user: user, password: pw})
			deadline := time.Now().Add(3 * time.Second)
			for len(reasons(n, user)) < 3 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if reply == nil || reply.Code != radius.CodeAccessChallenge {
				t.Fatalf("after one wrong code the next sign-in got reasons %v: one wrong code counted as two failures",
					reasons(n, user))
			}
		})
	}
}
