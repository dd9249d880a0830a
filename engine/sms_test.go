package engine

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/radmfa/radmfa/factors"
	rad "github.com/radmfa/radmfa/radius"
	"github.com/radmfa/radmfa/store"
)

// carol has no app, only a mobile number in the directory: +1 555 123 0001.
const carolPhone, carolMasked = "+15551230001", "+1******0001"

func TestSMSOnlyUser(t *testing.T) {
	h := newHarness(t, withSMS(nil))
	first := h.do(rq{user: "carol", pass: "carol-pw"})
	first.want(t, radius.CodeAccessChallenge, ReasonChallenge)
	if first.msg() != "Enter the code sent to "+carolMasked+": " {
		t.Errorf("prompt %q", first.msg())
	}
	if first.d.factor() != "sms" || !strings.Contains(first.d.detail(), "text sent to "+carolMasked) {
		t.Errorf("logged %v", first.d)
	}
	m := h.sender.last(t)
	if h.sender.count() != 1 || m.To != carolPhone || m.User != "carol" || len(m.Code) != 6 ||
		m.Body != "Your radmfa code is "+m.Code {
		t.Fatalf("texts %+v", h.sender.sent())
	}
	if strings.Contains(h.log.String(), m.Code) {
		t.Error("the texted code is in the log")
	}
	got := h.do(rq{user: "carol", pass: m.Code, state: first.state()})
	got.want(t, radius.CodeAccessAccept, ReasonMFA)
	if got.d.factor() != "sms" {
		t.Errorf("factor %q", got.d.factor())
	}
	if h.sender.count() != 1 {
		t.Errorf("%d texts", h.sender.count())
	}
}

// TestSMSPhone: the enrolled number overrides the directory's; an unusable number is no factor.
func TestSMSPhone(t *testing.T) {
	tests := []struct {
		name      string
		dirPhone  string
		override  string
		wantTo    string
		reason    string
		noSMSConf bool
	}{
		{name: "directory", dirPhone: "(555) 123-0001", wantTo: carolPhone, reason: ReasonChallenge},
		{name: "enrolled override", dirPhone: "(555) 123-0001", override: "+447700900123", wantTo: "+447700900123", reason: ReasonChallenge},
		{name: "bad override falls back to the directory", dirPhone: "+1 555 123 0001", override: "ext. 42", wantTo: carolPhone, reason: ReasonChallenge},
		{name: "unusable directory number", dirPhone: "call me", reason: ReasonNotEnrolled},
		{name: "no number", reason: ReasonNotEnrolled},
		{name: "SMS not configured", dirPhone: carolPhone, reason: ReasonNotEnrolled, noSMSConf: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []option
			if !tt.noSMSConf {
				opts = append(opts, withSMS(nil))
			}
			h := newHarness(t, opts...)
			h.dir.setPhone("carol", tt.dirPhone)
			if tt.override != "" {
				h.setPhone("carol", tt.override)
			}
			got := h.do(rq{user: "carol", pass: "carol-pw"})
			code := radius.CodeAccessReject
			if tt.reason == ReasonChallenge {
				code = radius.CodeAccessChallenge
			}
			got.want(t, code, tt.reason)
			if tt.wantTo != "" && h.sender.last(t).To != tt.wantTo {
				t.Errorf("text to %q, want %q", h.sender.last(t).To, tt.wantTo)
			}
			if tt.wantTo == "" && h.sender.count() != 0 {
				t.Errorf("texts %+v", h.sender.sent())
			}
		})
	}
}

// TestSMSKeyword: a user with the app and a phone is offered both; the keyword asks for a text.
func TestSMSKeyword(t *testing.T) {
	h := newHarness(t, withSMS(nil))
	h.enrollTOTP("alice")
	h.dir.setPhone("alice", "+1 555 123 0002")

	first := h.do(rq{user: "alice", pass: "alice-pw"})
	first.want(t, radius.CodeAccessChallenge, ReasonChallenge)
	if first.msg() != "Enter your app code, or type sms to receive a text message: " {
		t.Errorf("prompt %q", first.msg())
	}
	if h.sender.count() != 0 {
		t.Fatal("a text went out before the user asked for one")
	}
	second := h.do(rq{user: "alice", pass: " SMS ", state: first.state()})
	second.want(t, radius.CodeAccessChallenge, ReasonChallenge)
	if second.d.factor() != "sms" || second.msg() != "Enter the code sent to +1******0002: " {
		t.Errorf("after the keyword: %v", second)
	}
	if h.sender.count() != 1 {
		t.Fatalf("%d texts", h.sender.count())
	}
	h.do(rq{user: "alice", pass: h.sender.lastCode(t), state: second.state()}).want(t, radius.CodeAccessAccept, ReasonMFA)

	// The app's code answers the same prompt.
	h.clk.Advance(30 * time.Second)
	first = h.do(rq{user: "alice", pass: "alice-pw"})
	h.do(rq{user: "alice", pass: h.code("alice", 0), state: first.state()}).want(t, radius.CodeAccessAccept, ReasonMFA)
}

// TestSMSPreferredWithApp: method sms texts at once; the app's code still answers.
func TestSMSPreferredWithApp(t *testing.T) {
	h := newHarness(t, withSMS(nil))
	h.enrollTOTP("alice")
	h.setMethod("alice", "sms")
	h.dir.setPhone("alice", "+1 555 123 0002")
	first := h.do(rq{user: "alice", pass: "alice-pw"})
	first.want(t, radius.CodeAccessChallenge, ReasonChallenge)
	if h.sender.count() != 1 || first.d.factor() != "sms" {
		t.Fatalf("method sms: %v, %d texts", first, h.sender.count())
	}
	got := h.do(rq{user: "alice", pass: h.code("alice", 0), state: first.state()})
	got.want(t, radius.CodeAccessAccept, ReasonMFA)
	if got.d.factor() != "totp" {
		t.Errorf("factor %q", got.d.factor())
	}
}

// TestSMSCodeUse: a texted code is used once, at most MaxTries wrong answers void it, and it
// dies with its lifetime.
func TestSMSCodeUse(t *testing.T) {
	type answer struct {
		right   bool
		advance time.Duration
		reason  string
	}
	tests := []struct {
		name    string
		answers []answer
	}{
		{"right", []answer{{right: true, reason: ReasonMFA}}},
		{"reused", []answer{{right: true, reason: ReasonMFA}, {right: true, reason: ReasonReplayedCode}}},
		{"wrong then right", []answer{{reason: ReasonWrongCode}, {reason: ReasonWrongCode}, {right: true, reason: ReasonMFA}}},
		{"MaxTries wrong voids", []answer{
			{reason: ReasonWrongCode}, {reason: ReasonWrongCode}, {reason: ReasonSMSCodeVoid},
			{right: true, reason: ReasonSMSCodeVoid},
		}},
		{"expired", []answer{{right: true, advance: time.Minute, reason: ReasonExpiredChallenge}}},
		{"just before expiry", []answer{{right: true, advance: time.Minute - time.Second, reason: ReasonMFA}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, withSMS(func(s *SMS) { s.Code = factors.SMSCode{Lifetime: time.Minute, MaxTries: 3} }),
				withOpts(func(o *Options) { o.FactorLockout.Threshold = 0 }))
			st := h.challenge(rq{user: "carol", pass: "carol-pw"})
			code := h.sender.lastCode(t)
			wrong := "000000"
			if code == wrong {
				wrong = "111111"
			}
			for i, a := range tt.answers {
				h.clk.Advance(a.advance)
				typed := wrong
				if a.right {
					typed = code
				}
				got := h.do(rq{user: "carol", pass: typed, state: st})
				want := radius.CodeAccessReject
				if a.reason == ReasonMFA {
					want = radius.CodeAccessAccept
				}
				if got.code() != want || got.d.reason() != a.reason {
					t.Fatalf("answer %d: %v, want %s", i, got, a.reason)
				}
				if got.d.factor() != "sms" {
					t.Errorf("answer %d: factor %q", i, got.d.factor())
				}
			}
		})
	}
}

// TestSMSWrongCodeCountsOnce: one wrong answer is one factor failure. Engine bug: for a user
// who has the app as well, secondLeg (flow.go) lets a wrong answer to a text challenge fall
// through to checkTOTP after checkSMS has already counted it, so each wrong answer counts twice
// and the factor lockout comes at half its threshold.
func TestSMSWrongCodeCountsOnce(t *testing.T) {
	h := newHarness(t, withSMS(nil), withOpts(func(o *Options) {
		o.FactorLockout = store.LockoutPolicy{Threshold: 3, Duration: time.Minute}
	}))
	h.enrollTOTP("alice")
	h.setMethod("alice", "sms")
	h.dir.setPhone("alice", "+1 555 123 0002")
	st := h.challenge(rq{user: "alice", pass: "alice-pw"})
	for i := range 2 {
		got := h.do(rq{user: "alice", pass: "000000", state: st})
		got.want(t, radius.CodeAccessReject, ReasonWrongCode)
		if !h.lockedUntil("alice").IsZero() {
			t.Fatalf("locked after %d wrong answer(s) with a factor threshold of 3 (%s)", i+1, got.d.detail())
		}
	}
}

// TestSMSRateLimits: per-user and per-NAS texts per window; a user with the app is offered the
// app instead.
func TestSMSRateLimits(t *testing.T) {
	t.Run("per user", func(t *testing.T) {
		h := newHarness(t, withSMS(func(s *SMS) { s.PerUserLimit = 1 }))
		h.challenge(rq{user: "carol", pass: "carol-pw"})
		got := h.do(rq{user: "carol", pass: "carol-pw"})
		got.want(t, radius.CodeAccessReject, ReasonSMSRateLimited)
		if got.msg() != "Too many text messages; wait a few minutes" || !strings.Contains(got.d.detail(), "per-user") {
			t.Errorf("rate limited: %v", got)
		}
		if h.sender.count() != 1 {
			t.Errorf("%d texts", h.sender.count())
		}
		// Others are not limited by carol's texts.
		h.dir.setPhone("alice", "+1 555 123 0002")
		h.challenge(rq{user: "alice", pass: "alice-pw"})
		// The next window allows one more.
		h.clk.Advance(10 * time.Minute)
		h.challenge(rq{user: "carol", pass: "carol-pw"})
		if h.sender.count() != 3 {
			t.Errorf("%d texts", h.sender.count())
		}
	})
	t.Run("per NAS", func(t *testing.T) {
		h := newHarness(t, withSMS(func(s *SMS) { s.PerNASLimit = 1 }))
		h.dir.setPhone("alice", "+1 555 123 0002")
		h.challenge(rq{user: "carol", pass: "carol-pw"})
		got := h.do(rq{user: "alice", pass: "alice-pw"})
		got.want(t, radius.CodeAccessReject, ReasonSMSRateLimited)
		if !strings.Contains(got.d.detail(), "per-NAS") {
			t.Errorf("detail %q", got.d.detail())
		}
		h.challenge(rq{user: "alice", pass: "alice-pw", nas: "other"})
	})
	t.Run("app offered instead", func(t *testing.T) {
		h := newHarness(t, withSMS(func(s *SMS) { s.PerUserLimit = 1 }))
		h.enrollTOTP("alice")
		h.setMethod("alice", "sms")
		h.dir.setPhone("alice", "+1 555 123 0002")
		h.challenge(rq{user: "alice", pass: "alice-pw"})
		got := h.do(rq{user: "alice", pass: "alice-pw"})
		got.want(t, radius.CodeAccessChallenge, ReasonChallenge)
		if got.d.factor() != "totp" || !strings.Contains(got.d.detail(), ReasonSMSRateLimited) {
			t.Errorf("fallback %v", got)
		}
		h.do(rq{user: "alice", pass: h.code("alice", 0), state: got.state()}).want(t, radius.CodeAccessAccept, ReasonMFA)
	})
}

// TestSMSRetransmit: the same request twice (same Request Authenticator, as a NAS retransmits,
// possibly to another node) sends one text, and both answers carry the same code.
func TestSMSRetransmit(t *testing.T) {
	h := newHarness(t, withSMS(nil))
	p := rq{user: "carol", pass: "carol-pw"}.packet(t)
	a := h.serve(h.e, p, "", "")
	a.want(t, radius.CodeAccessChallenge, ReasonChallenge)
	other := h.variant(func(*Options) {}) // another node: same key, same store
	b := h.serve(other, p, "", "")
	b.want(t, radius.CodeAccessChallenge, ReasonChallenge)
	if h.sender.count() != 1 {
		t.Fatalf("%d texts for one request", h.sender.count())
	}
	if !strings.Contains(b.d.detail(), "not sent again") {
		t.Errorf("retransmit detail %q", b.d.detail())
	}
	code := h.sender.lastCode(t)
	h.do(rq{user: "carol", pass: code, state: b.state()}).want(t, radius.CodeAccessAccept, ReasonMFA)
	// Both States name the same code, which is spent.
	h.do(rq{user: "carol", pass: code, state: a.state()}).want(t, radius.CodeAccessReject, ReasonReplayedCode)

	// A new request is a new code.
	h.challenge(rq{user: "carol", pass: "carol-pw"})
	if h.sender.count() != 2 {
		t.Fatalf("%d texts", h.sender.count())
	}
}

func TestSMSSenderFails(t *testing.T) {
	t.Run("SMS only", func(t *testing.T) {
		h := newHarness(t, withSMS(nil))
		h.sender.setFail(errTest)
		got := h.do(rq{user: "carol", pass: "carol-pw"})
		got.want(t, radius.CodeAccessReject, ReasonSMSFailed)
		if got.msg() != "Could not send a text message, try again later" || got.d.detail() != "provider fake" {
			t.Errorf("%v", got)
		}
		if got.d.str("error") == "" {
			t.Error("provider error not logged")
		}
	})
	t.Run("falls back to the app", func(t *testing.T) {
		h := newHarness(t, withSMS(nil))
		h.enrollTOTP("alice")
		h.setMethod("alice", "sms")
		h.dir.setPhone("alice", "+1 555 123 0002")
		h.sender.setFail(errTest)
		got := h.do(rq{user: "alice", pass: "alice-pw"})
		got.want(t, radius.CodeAccessChallenge, ReasonChallenge)
		if got.d.factor() != "totp" || !strings.Contains(got.d.detail(), "sms unavailable (sms_failed)") ||
			!strings.Contains(got.msg(), "app code") {
			t.Errorf("fallback %v", got)
		}
		h.do(rq{user: "alice", pass: h.code("alice", 0), state: got.state()}).want(t, radius.CodeAccessAccept, ReasonMFA)
	})
}

// TestSMSRetransmitAfterFailure: a retransmit of a request whose text did not go out (the
// provider failed, or a limit refused it) must not be answered with a challenge for that code.
// Engine bug: sendSMS (sms.go) records the "sms-sent" marker before the limits and the send and
// keeps it when they fail, so the retransmit (on another node, past its reply cache) finds the
// marker, skips sending and answers "Enter the code sent to …" for a text that never left.
func TestSMSRetransmitAfterFailure(t *testing.T) {
	tests := []struct {
		name  string
		setup func(h *harness)
		first string // reason of the first answer
	}{
		{"provider down", func(h *harness) { h.sender.setFail(errTest) }, ReasonSMSFailed},
		{"rate limited", func(h *harness) {
			h.opts.SMS.PerUserLimit = 0 // every text is over the limit
		}, ReasonSMSRateLimited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, withSMS(nil))
			tt.setup(h)
			e := h.variant(func(*Options) {})
			p := rq{user: "carol", pass: "carol-pw"}.packet(t)
			h.serve(e, p, "", "").want(t, radius.CodeAccessReject, tt.first)
			h.sender.setFail(nil)
			other := h.variant(func(*Options) {})
			got := h.serve(other, p, "", "")
			if got.code() == radius.CodeAccessChallenge && h.sender.count() == 0 {
				t.Fatalf("retransmit answered %v, but no text was sent", got)
			}
		})
	}
}

// TestSMSRetransmitDuringSend: while the first node is still sending a text (a slow provider
// with retries), a retransmit reaching another node must answer what the send comes to: a
// challenge if the text went out, the failure if it did not — never "Enter the code sent to …"
// for a text that never leaves. (Found as a bug: sendSMS set "sms-sent" before delivering and
// "sms-failed" only after, so in between the retransmit answered a challenge.)
func TestSMSRetransmitDuringSend(t *testing.T) {
	for _, fail := range []bool{true, false} {
		t.Run(fmt.Sprintf("send fails=%v", fail), func(t *testing.T) {
			h := newHarness(t, withSMS(nil))
			h.sender.gate, h.sender.entered = make(chan struct{}), make(chan struct{}, 1)
			a := h.variant(func(*Options) {})
			b := h.variant(func(*Options) {})
			wire := mustEncode(t, rq{user: "carol", pass: "carol-pw"}.packet(t))
			serve := func(e *Engine, out chan<- *radius.Packet) {
				parsed, err := radius.Parse(wire, []byte(testSecret))
				if err != nil {
					t.Error(err)
					out <- nil
					return
				}
				out <- e.ServeRADIUS(h.ctx, &rad.Request{Packet: parsed,
					Client: &rad.Client{Name: testNAS, Secret: []byte(testSecret)}, Remote: netip.MustParseAddrPort(testRemote)})
			}
			fromA, fromB := make(chan *radius.Packet, 1), make(chan *radius.Packet, 1)
			go serve(a, fromA)
			<-h.sender.entered // node a is sending
			go serve(b, fromB)
			time.Sleep(100 * time.Millisecond) // the retransmit reaches node b meanwhile
			if fail {
				h.sender.setFail(errTest)
			}
			close(h.sender.gate)
			first, retransmit := <-fromA, <-fromB
			want := radius.CodeAccessChallenge
			if fail {
				want = radius.CodeAccessReject
			}
			if first == nil || first.Code != want {
				t.Fatalf("first node answered %v, want %s", first, want)
			}
			if retransmit == nil {
				t.Fatal("no answer to the retransmit")
			}
			if retransmit.Code != want {
				t.Fatalf("retransmit on another node answered %s (%q), want %s", retransmit.Code,
					rfc2865.ReplyMessage_GetString(retransmit), want)
			}
			if n := h.sender.count(); n != map[bool]int{true: 0, false: 1}[fail] {
				t.Errorf("%d texts", n)
			}
		})
	}
}
