package engine

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/radmfa/radmfa/challenge"
	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/radius/dict"
	"github.com/radmfa/radmfa/store"
	"github.com/radmfa/radmfa/upstream"
)

func TestNewRequires(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name string
		mod  func(o *Options)
	}{
		{"no primary", func(o *Options) { o.Primary = nil }},
		{"no store", func(o *Options) { o.Store = nil }},
		{"no sealer", func(o *Options) { o.Sealer = nil }},
		{"bad prompt", func(o *Options) { o.Prompts.TOTP = "{{.Digits" }},
		{"bad NAS prompt", func(o *Options) { o.NAS = map[string]NAS{"x": {Prompts: Prompts{SMS: "{{"}}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := h.opts
			tt.mod(&o)
			if e, err := New(o); err == nil {
				_ = e.Close(context.Background())
				t.Fatal("New accepted the options")
			}
		})
	}
}

// TestRefusedRequests: what radmfa does not do is refused before the directory is asked.
func TestRefusedRequests(t *testing.T) {
	mschap := func(p *radius.Packet) {
		// MS-CHAP-Challenge (311/11) as a NAS sends it with MS-CHAPv2.
		v, err := radius.NewVendorSpecific(311, append([]byte{11, 18}, make([]byte, 16)...))
		if err != nil {
			t.Fatal(err)
		}
		p.Add(rfc2865.VendorSpecific_Type, v)
	}
	tests := []struct {
		name   string
		r      rq
		reason string
		msg    string
		detail string
	}{
		{name: "CHAP", r: rq{user: "alice", noPass: true, edit: func(p *radius.Packet) {
			must(t, rfc2865.CHAPPassword_Add(p, make([]byte, 17)))
		}}, reason: ReasonUnsupportedAuth, msg: msgUnsupported, detail: "CHAP"},
		{name: "CHAP next to a password", r: rq{user: "alice", pass: "alice-pw", edit: func(p *radius.Packet) {
			must(t, rfc2865.CHAPPassword_Add(p, make([]byte, 17)))
		}}, reason: ReasonUnsupportedAuth, msg: msgUnsupported, detail: "CHAP"},
		{name: "EAP", r: rq{user: "alice", noPass: true, edit: func(p *radius.Packet) {
			must(t, rfc2869.EAPMessage_Set(p, []byte{2, 1, 0, 10, 1, 'a', 'l', 'i', 'c', 'e'}))
		}}, reason: ReasonUnsupportedAuth, msg: msgUnsupported, detail: "EAP"},
		{name: "MS-CHAP", r: rq{user: "alice", noPass: true, edit: mschap},
			reason: ReasonUnsupportedAuth, msg: msgUnsupported, detail: "MS-CHAP"},
		{name: "two User-Passwords", r: rq{user: "alice", pass: "alice-pw", edit: func(p *radius.Packet) {
			must(t, rfc2865.UserPassword_AddString(p, "other"))
		}}, reason: ReasonNoPassword, msg: msgFailed},
		{name: "no User-Password", r: rq{user: "alice", noPass: true}, reason: ReasonNoPassword, msg: msgFailed},
		{name: "no User-Name", r: rq{pass: "alice-pw"}, reason: ReasonNoUsername, msg: msgFailed},
		{name: "two User-Names", r: rq{user: "alice", pass: "alice-pw", edit: func(p *radius.Packet) {
			must(t, rfc2865.UserName_AddString(p, "bob"))
		}}, reason: ReasonNoUsername, msg: msgFailed},
		{name: "control character in User-Name", r: rq{user: "alice\x00admin", pass: "alice-pw"},
			reason: ReasonBadUsername, msg: msgFailed},
		{name: "newline in User-Name", r: rq{user: "alice\nreason=mfa_ok", pass: "alice-pw"},
			reason: ReasonBadUsername, msg: msgFailed},
		{name: "invalid UTF-8 User-Name", r: rq{user: "al\xffice", pass: "alice-pw"},
			reason: ReasonBadUsername, msg: msgFailed},
		{name: "two State attributes", r: rq{user: "alice", pass: "123456", edit: func(p *radius.Packet) {
			must(t, rfc2865.State_Add(p, []byte("one")))
			must(t, rfc2865.State_Add(p, []byte("two")))
		}}, reason: ReasonInvalidState, msg: msgFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.enrollTOTP("alice")
			got := h.do(tt.r)
			got.want(t, radius.CodeAccessReject, tt.reason)
			if got.msg() != tt.msg {
				t.Errorf("Reply-Message %q, want %q", got.msg(), tt.msg)
			}
			if tt.detail != "" && got.d.detail() != tt.detail {
				t.Errorf("detail %q, want %q", got.d.detail(), tt.detail)
			}
			if auth, lookup := h.dir.calls(); auth+lookup != 0 {
				t.Errorf("directory called (%d binds, %d lookups) for a refused request", auth, lookup)
			}
			if tt.reason == ReasonBadUsername && !strings.HasPrefix(got.d.str("user"), `"`) {
				t.Errorf("refused username logged unquoted: %q", got.d.str("user"))
			}
		})
	}
}

// TestMicrosoftAttributesWithPAP: RRAS and NPS add Microsoft attributes (MS-RAS-Vendor,
// MS-RAS-Version) to PAP requests; only MS-CHAP credentials make a request MS-CHAP.
func TestMicrosoftAttributesWithPAP(t *testing.T) {
	h := newHarness(t)
	h.enrollTOTP("alice")
	got := h.do(rq{user: "alice", pass: "alice-pw", edit: func(p *radius.Packet) {
		for _, sub := range [][]byte{{9, 6, 0, 0, 1, 55}, {18, 7, 'M', 'S', 'R', 'A', 'S'}} {
			v, err := radius.NewVendorSpecific(311, sub)
			must(t, err)
			p.Add(rfc2865.VendorSpecific_Type, v)
		}
	}})
	got.want(t, radius.CodeAccessChallenge, ReasonChallenge)
}

func TestAccounting(t *testing.T) {
	h := newHarness(t)
	p := radius.New(radius.CodeAccountingRequest, []byte(testSecret))
	must(t, rfc2865.UserName_SetString(p, "alice"))
	must(t, rfc2866.AcctStatusType_Set(p, rfc2866.AcctStatusType_Value_Start))
	must(t, rfc2866.AcctSessionID_SetString(p, "sess-42"))
	got := h.serve(h.e, p, "", "")
	if got.code() != radius.CodeAccountingResponse {
		t.Fatalf("got %s, want Accounting-Response", got.code())
	}
	if n := len(h.log.decisions(t)); n != 0 {
		t.Errorf("accounting logged %d sign-in decisions", n)
	}
	if auth, lookup := h.dir.calls(); auth+lookup != 0 {
		t.Errorf("accounting reached the directory")
	}
	// The audit row is written off the request path; closing the engine flushes it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := h.db.QueryAudit(ctx, store.AuditFilter{Kind: "accounting"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Username != "alice" || rows[0].NAS != testNAS ||
		rows[0].Reason != ReasonAccounting || !strings.Contains(rows[0].Detail, "sess-42") {
		t.Fatalf("audit rows %+v", rows)
	}
}

func TestNASRateLimit(t *testing.T) {
	h := newHarness(t, withNAS("limited", NAS{RateLimit: 1}))
	h.enrollTOTP("alice")
	h.challenge(rq{user: "alice", pass: "alice-pw", nas: "limited"})
	authBefore, _ := h.dir.calls()
	got := h.do(rq{user: "alice", pass: "alice-pw", nas: "limited"})
	got.want(t, radius.CodeAccessReject, ReasonRateLimited)
	if got.msg() != msgUnavailable {
		t.Errorf("Reply-Message %q", got.msg())
	}
	if auth, _ := h.dir.calls(); auth != authBefore {
		t.Error("a rate-limited request reached the directory")
	}
	// Other NASes have their own budget (none here).
	h.challenge(rq{user: "alice", pass: "alice-pw"})
	h.challenge(rq{user: "alice", pass: "alice-pw"})
}

// TestRejectMessages: password failures read the same whatever the cause, Options.Messages
// replaces a reject's Reply-Message by reason, and prompts are left alone.
func TestRejectMessages(t *testing.T) {
	t.Run("generic", func(t *testing.T) {
		h := newHarness(t)
		h.enrollTOTP("alice")
		msgs := map[string]string{}
		for _, r := range []rq{
			{user: "nobody", pass: "x"},
			{user: "alice", pass: "wrong"},
			{user: "alice", pass: "wrong"},
			{user: "alice", pass: "wrong"}, // locks
			{user: "alice", pass: "alice-pw"},
		} {
			got := h.do(r)
			if got.code() != radius.CodeAccessReject {
				t.Fatalf("%+v: %v", r, got)
			}
			msgs[got.d.reason()] = got.msg()
		}
		for _, reason := range []string{ReasonUnknownUser, ReasonBadPassword, ReasonLockedOut} {
			if msgs[reason] != msgFailed {
				t.Errorf("%s: Reply-Message %q, want %q", reason, msgs[reason], msgFailed)
			}
		}
	})
	t.Run("override", func(t *testing.T) {
		h := newHarness(t, withOpts(func(o *Options) {
			o.Messages = map[string]string{
				ReasonBadPassword: "Wrong password or username; call 555-0100",
				ReasonChallenge:   "must not replace a prompt",
				ReasonMFA:         "must not appear on an Accept",
			}
		}))
		h.enrollTOTP("alice")
		got := h.do(rq{user: "alice", pass: "wrong"})
		got.want(t, radius.CodeAccessReject, ReasonBadPassword)
		if got.msg() != "Wrong password or username; call 555-0100" {
			t.Errorf("Reply-Message %q", got.msg())
		}
		// An unknown user must read exactly like a wrong password, override included.
		got = h.do(rq{user: "nobody", pass: "x"})
		if got.msg() != "Wrong password or username; call 555-0100" {
			t.Errorf("unknown user: Reply-Message %q, want the bad_password text", got.msg())
		}
		first := h.do(rq{user: "alice", pass: "alice-pw"})
		first.want(t, radius.CodeAccessChallenge, ReasonChallenge)
		if !strings.Contains(first.msg(), "6-digit code") {
			t.Errorf("prompt replaced: %q", first.msg())
		}
		got = h.do(rq{user: "alice", pass: h.code("alice", 0), state: first.state()})
		got.want(t, radius.CodeAccessAccept, ReasonMFA)
		if got.msg() != "" {
			t.Errorf("Accept carries Reply-Message %q", got.msg())
		}
	})
}

// TestNormalizedUsername: every spelling of a user is one store key: enrolment, lockout,
// State binding and replay protection are shared.
func TestNormalizedUsername(t *testing.T) {
	h := newHarness(t, withOpts(func(o *Options) {
		o.Normalizer = ldapauth.Normalizer{Lowercase: true, StripDomain: true, StripRealm: true}
	}))
	h.enrollTOTP("alice")

	t.Run("challenge across spellings", func(t *testing.T) {
		st := h.challenge(rq{user: `EXAMPLE\Alice`, pass: "alice-pw"})
		if h.dir.authCallsFor("alice") != 1 {
			t.Fatalf("directory saw %v, want the normalised name", h.dir.authBy)
		}
		// The State is bound to the normalised name, so the other spelling answers it.
		got := h.do(rq{user: "alice@x", pass: h.code("alice", 0), state: st})
		got.want(t, radius.CodeAccessAccept, ReasonMFA)
		if got.d.str("user") != "alice" || got.d.str("typed_user") != "alice@x" {
			t.Errorf("logged user %q typed %q", got.d.str("user"), got.d.str("typed_user"))
		}
		// The step is spent for every spelling.
		st = h.challenge(rq{user: "ALICE", pass: "alice-pw"})
		h.do(rq{user: "ALICE", pass: h.code("alice", 0), state: st}).want(t, radius.CodeAccessReject, ReasonReplayedCode)
	})
	t.Run("lockout across spellings", func(t *testing.T) {
		for _, u := range []string{`EXAMPLE\Alice`, "alice@x", "Alice"} {
			h.do(rq{user: u, pass: "wrong"}).want(t, radius.CodeAccessReject, ReasonBadPassword)
		}
		if h.lockedUntil("alice").IsZero() {
			t.Fatal("three failures under three spellings did not lock alice")
		}
		h.do(rq{user: "alice@x", pass: "alice-pw"}).want(t, radius.CodeAccessReject, ReasonLockedOut)
	})
	t.Run("nothing left", func(t *testing.T) {
		h.do(rq{user: "@x", pass: "pw"}).want(t, radius.CodeAccessReject, ReasonBadUsername)
	})
}

func TestObserver(t *testing.T) {
	obs := &recordingObserver{}
	h := newHarness(t, withOpts(func(o *Options) { o.Observer = obs }))
	h.enrollTOTP("alice")
	st := h.challenge(rq{user: "alice", pass: "alice-pw"})
	h.do(rq{user: "alice", pass: h.code("alice", 0), state: st}).want(t, radius.CodeAccessAccept, ReasonMFA)
	h.do(rq{user: "nobody", pass: "x"}).want(t, radius.CodeAccessReject, ReasonUnknownUser)
	obs.mu.Lock()
	defer obs.mu.Unlock()
	want := []string{"vpn challenge challenge_sent", "vpn accept mfa_ok", "vpn reject unknown_user"}
	if strings.Join(obs.decisions, "|") != strings.Join(want, "|") {
		t.Errorf("decisions %q, want %q", obs.decisions, want)
	}
	if obs.stages["primary"] != 2 || obs.stages["factor"] != 1 {
		t.Errorf("stages %v", obs.stages)
	}
}

// TestAuditTrail: every answered request leaves one audit row with its reason.
func TestAuditTrail(t *testing.T) {
	h := newHarness(t)
	h.enrollTOTP("alice")
	st := h.challenge(rq{user: "alice", pass: "alice-pw", callerID: "203.0.113.9"})
	h.do(rq{user: "alice", pass: h.code("alice", 0), state: st}).want(t, radius.CodeAccessAccept, ReasonMFA)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := h.db.QueryAudit(ctx, store.AuditFilter{Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d audit rows: %+v", len(rows), rows)
	}
	// Newest first.
	if rows[0].Reason != ReasonMFA || rows[0].Factor != "totp" || rows[1].Reason != ReasonChallenge ||
		rows[1].CallingStationID != "203.0.113.9" || rows[1].ClientIP != "192.0.2.10" {
		t.Errorf("audit rows %+v", rows)
	}
	for _, r := range rows {
		if strings.Contains(r.Detail, "alice-pw") {
			t.Errorf("password in audit detail %q", r.Detail)
		}
	}
}

// TestStateFromAnotherKey: a State sealed with another deployment's key is refused.
func TestStateFromAnotherKey(t *testing.T) {
	h := newHarness(t)
	h.enrollTOTP("alice")
	other, err := challenge.NewSealer(make([]byte, 32), 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	st, err := other.Seal(challenge.Claims{User: "alice", NAS: testNAS, Issued: h.clk.Now(), Phase: challenge.PhaseCode,
		Factor: factorTOTP, Extra: grant{rule: -1}.encode()})
	if err != nil {
		t.Fatal(err)
	}
	h.do(rq{user: "alice", pass: h.code("alice", 0), state: st}).want(t, radius.CodeAccessReject, ReasonInvalidState)
}

// TestSourceLimit: failures from one Calling-Station-Id across usernames (password spraying)
// refuse that address for the rest of the window, before the directory is asked.
func TestSourceLimit(t *testing.T) {
	const caller = "203.0.113.9"
	h := newHarness(t, withOpts(func(o *Options) { o.SourceThreshold, o.SourceWindow = 3, 10*time.Minute }))
	h.enrollTOTP("alice")
	h.enrollTOTP("bob")

	// Sign-ins that work do not count.
	for range 3 {
		st := h.challenge(rq{user: "alice", pass: "alice-pw", callerID: caller})
		h.clk.Advance(30 * time.Second)
		h.do(rq{user: "alice", pass: h.code("alice", 0), state: st, callerID: caller}).want(t, radius.CodeAccessAccept, ReasonMFA)
	}
	h.do(rq{user: "nobody", pass: "x", callerID: caller}).want(t, radius.CodeAccessReject, ReasonUnknownUser)
	h.do(rq{user: "bob", pass: "wrong", callerID: caller}).want(t, radius.CodeAccessReject, ReasonBadPassword)
	st := h.challenge(rq{user: "alice", pass: "alice-pw", callerID: caller})
	h.do(rq{user: "alice", pass: "000000", state: st, callerID: caller}).want(t, radius.CodeAccessReject, ReasonWrongCode)

	auth, _ := h.dir.calls()
	got := h.do(rq{user: "bob", pass: "bob-pw", callerID: caller})
	got.want(t, radius.CodeAccessReject, ReasonSourceLimited)
	if got.msg() != msgFailed {
		t.Errorf("Reply-Message %q", got.msg())
	}
	if a, _ := h.dir.calls(); a != auth {
		t.Error("a refused source reached the directory")
	}
	// Other sources, and requests without a Calling-Station-Id, are not affected.
	h.challenge(rq{user: "bob", pass: "bob-pw", callerID: "203.0.113.10"})
	h.challenge(rq{user: "bob", pass: "bob-pw"})
	// The next window starts afresh.
	h.clk.Advance(10 * time.Minute)
	h.challenge(rq{user: "bob", pass: "bob-pw", callerID: caller})
}

// TestSharedStoreRetransmit: with several nodes on one store, a retransmit that reaches
// another node is answered again but its failure is not counted twice.
func TestSharedStoreRetransmit(t *testing.T) {
	h := newHarness(t, withOpts(func(o *Options) {
		o.SharedStore = true
		o.PasswordLockout.Threshold = 2
		o.SourceThreshold, o.SourceWindow = 2, 10*time.Minute
	}))
	h.enrollTOTP("alice")
	b := h.variant(func(*Options) {})
	p := rq{user: "alice", pass: "wrong", callerID: "203.0.113.9"}.packet(t)
	h.serve(h.e, p, "", "").want(t, radius.CodeAccessReject, ReasonBadPassword)
	got := h.serve(b, p, "", "")
	got.want(t, radius.CodeAccessReject, ReasonBadPassword)
	if !strings.Contains(got.d.detail(), "not counted again") {
		t.Errorf("detail %q", got.d.detail())
	}
	if !h.lockedUntil("alice").IsZero() {
		t.Fatal("one wrong password, sent twice, locked the account")
	}
	// A new request is a new failure.
	h.do(rq{user: "alice", pass: "wrong"}).want(t, radius.CodeAccessReject, ReasonBadPassword)
	if h.lockedUntil("alice").IsZero() {
		t.Fatal("two wrong passwords did not lock the account")
	}
}

// TestSharedStoreRetransmitIsTheSamePacket: only a byte-identical request is a retransmit.
// Engine bug: ServeRADIUS (engine.go, SharedStore) keys the marker on NAS, Request
// Authenticator and User-Name only, so requests that reuse an authenticator with another
// password (another Identifier, so the radius reply cache does not catch them) are all
// "retransmits": none is counted, and whoever holds the NAS secret guesses passwords with no
// lockout and no source limit.
func TestSharedStoreRetransmitIsTheSamePacket(t *testing.T) {
	h := newHarness(t, withOpts(func(o *Options) {
		o.SharedStore = true
		o.PasswordLockout.Threshold = 3
	}))
	h.enrollTOTP("alice")
	auth := bytes.Repeat([]byte{0x42}, 16)
	for i, guess := range []string{"guess-1", "guess-2", "guess-3"} {
		h.do(rq{user: "alice", pass: guess, auth: auth, id: byte(i)}).want(t, radius.CodeAccessReject, ReasonBadPassword)
	}
	if h.lockedUntil("alice").IsZero() {
		t.Fatal("three different wrong passwords under one Request Authenticator did not lock the account")
	}
}

// TestSharedStoreSecondLegRetransmit: the retransmit of an accepted code, answered by another
// node, must not turn into a reject (the NAS retransmitted because the Accept was lost, so the
// reject is what the user gets). Engine bug: the second node runs checkTOTP again and the spent
// step makes it replayed_code; the engine keeps no record of the first answer.
func TestSharedStoreSecondLegRetransmit(t *testing.T) {
	h := newHarness(t, withOpts(func(o *Options) { o.SharedStore = true }))
	h.enrollTOTP("alice")
	b := h.variant(func(*Options) {})
	st := h.challenge(rq{user: "alice", pass: "alice-pw"})
	p := rq{user: "alice", pass: h.code("alice", 0), state: st}.packet(t)
	h.serve(h.e, p, "", "").want(t, radius.CodeAccessAccept, ReasonMFA)
	got := h.serve(b, p, "", "")
	if got.code() != radius.CodeAccessAccept {
		t.Fatalf("retransmit of an accepted answer on another node: %v", got)
	}
}

// upstreamServer is a RADIUS server on loopback that accepts up-pw (with a Class) and rejects
// everything else.
func upstreamServer(t *testing.T) string {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &radius.PacketServer{
		SecretSource: radius.StaticSecretSource([]byte("up-secret")),
		Handler: radius.HandlerFunc(func(w radius.ResponseWriter, r *radius.Request) {
			code := radius.CodeAccessReject
			if rfc2865.UserPassword_GetString(r.Packet) == "up-pw" {
				code = radius.CodeAccessAccept
			}
			resp := r.Response(code)
			if code == radius.CodeAccessAccept {
				_ = rfc2865.Class_AddString(resp, "upstream-class")
			}
			_ = w.Write(resp)
		}),
	}
	go func() { _ = srv.Serve(conn) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return conn.LocalAddr().String()
}

// deadAddr is a loopback UDP port nobody answers on.
func deadAddr(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return addr
}

// TestUpstreamPrimary: the password checked by an upstream RADIUS server, groups from the
// directory when it knows the user.
func TestUpstreamPrimary(t *testing.T) {
	live := upstreamServer(t)
	tests := []struct {
		name   string
		addr   string
		user   string
		pass   string
		code   radius.Code
		reason string
		filter string // Filter-Id from the user's groups on the final Accept
	}{
		{name: "accept, groups from the directory", addr: live, user: "bob", pass: "up-pw",
			code: radius.CodeAccessChallenge, reason: ReasonChallenge, filter: "admins"},
		{name: "unknown to the directory: no groups", addr: live, user: "zoe", pass: "up-pw",
			code: radius.CodeAccessChallenge, reason: ReasonChallenge},
		{name: "upstream rejects", addr: live, user: "bob", pass: "wrong",
			code: radius.CodeAccessReject, reason: ReasonBadPassword},
		{name: "empty password", addr: live, user: "bob", pass: "",
			code: radius.CodeAccessReject, reason: ReasonEmptyPassword},
		{name: "upstream silent", addr: deadAddr(t), user: "bob", pass: "up-pw",
			code: radius.CodeAccessReject, reason: ReasonDirectoryDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			client := upstream.New([]upstream.Server{{Addr: tt.addr, Secret: []byte("up-secret")}}, 300*time.Millisecond, 0, "radmfa")
			e := h.variant(func(o *Options) {
				o.Primary = UpstreamPrimary(client, h.dir)
				o.Authorization = []AuthzRule{{Group: "vpn-admins", Attrs: []dict.AVP{mustAVP(t, "Filter-Id", "admins")}}}
				o.PasswordLockout.Threshold = 1
			})
			h.enrollTOTP(tt.user)
			got := h.doOn(e, rq{user: tt.user, pass: tt.pass})
			got.want(t, tt.code, tt.reason)
			if locked := !h.lockedUntil(tt.user).IsZero(); locked != (tt.reason == ReasonBadPassword) {
				t.Errorf("locked %v", locked)
			}
			if tt.code == radius.CodeAccessChallenge {
				fin := h.doOn(e, rq{user: tt.user, pass: h.code(tt.user, 0), state: got.state()})
				fin.want(t, radius.CodeAccessAccept, ReasonMFA)
				if f := rfc2865.FilterID_GetString(fin.p); f != tt.filter {
					t.Errorf("Filter-Id %q, want %q", f, tt.filter)
				}
			}
		})
	}
}

// TestUpstreamClassRelayed: upstream.Result documents its Class attributes as "relayed on
// radmfa's own Accept". Engine bug: upstreamPrimary.Authenticate (upstream.go) discards the
// Result, and neither the identity nor the grant can carry it, so the Class an upstream
// server (e.g. NPS, for its accounting or VPN group mapping) set never reaches the NAS.
func TestUpstreamClassRelayed(t *testing.T) {
	live := upstreamServer(t)
	for _, mfa := range []bool{false, true} {
		t.Run(fmt.Sprintf("mfa=%v", mfa), func(t *testing.T) {
			h := newHarness(t)
			client := upstream.New([]upstream.Server{{Addr: live, Secret: []byte("up-secret")}}, time.Second, 0, "radmfa")
			e := h.variant(func(o *Options) { o.Primary = UpstreamPrimary(client, h.dir) })
			if mfa {
				h.enrollTOTP("alice")
			} else {
				h.setState("alice", store.StateDisabled)
			}
			got := h.doOn(e, rq{user: "alice", pass: "up-pw"})
			if mfa {
				got = h.doOn(e, rq{user: "alice", pass: h.code("alice", 0), state: got.state()})
			}
			if got.code() != radius.CodeAccessAccept {
				t.Fatalf("%v", got)
			}
			if c := attrStrings(got.p, rfc2865.Class_Type); len(c) != 1 || c[0] != "upstream-class" {
				t.Errorf("Class on the Accept %q, want the upstream server's", c)
			}
		})
	}
}
