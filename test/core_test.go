package test

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/radmfa/radmfa/challenge"
)

var userSeq atomic.Int64

// newUser adds a fresh directory user so tests never share a TOTP step.
func newUser(t testing.TB, d *directory) (string, string) {
	t.Helper()
	u := fmt.Sprintf("u%d-%d", time.Now().UnixNano()%1_000_000, userSeq.Add(1))
	pw := "pw-" + u + "-7"
	d.AddUser(t, u, pw)
	return u, pw
}

func wantCode(t testing.TB, p *radius.Packet, want radius.Code) {
	t.Helper()
	if p == nil {
		t.Fatalf("no reply, want %s", want)
		return
	}
	if p.Code != want {
		t.Fatalf("reply %s (%q), want %s", p.Code, rfc2865.ReplyMessage_GetString(p), want)
	}
}

// wantReason waits briefly for the decision log line of user with reason.
func wantReason(t testing.TB, n *node, user, reason string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		for _, d := range n.log.decisions(user) {
			if d["reason"] == reason {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no decision with reason %q for %q; got %v", reason, user, n.log.decisions(user))
}

func TestCoreFlowWithRadclient(t *testing.T) {
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true})
	user, pw := newUser(t, d)
	secret := n.enroll(user)

	out, got := radclient(t, n.addr, n.secret,
		fmt.Sprintf("User-Name = %q", user), fmt.Sprintf("User-Password = %q", pw), "Message-Authenticator = 0x00")
	if got != "Access-Challenge" {
		t.Fatalf("first leg: %q\n%s", got, out)
	}
	state := attrValue(out, "State")
	if !strings.HasPrefix(state, "0x") {
		t.Fatalf("no State in challenge:\n%s", out)
	}
	if msg := attrValue(out, "Reply-Message"); !strings.Contains(msg, "6-digit code") || !strings.HasSuffix(msg, ": ") {
		t.Fatalf("prompt = %q", msg)
	}
	out, got = radclient(t, n.addr, n.secret,
		fmt.Sprintf("User-Name = %q", user), fmt.Sprintf("User-Password = %q", code(t, secret)),
		"State = "+state, "Message-Authenticator = 0x00")
	if got != "Access-Accept" {
		t.Fatalf("second leg: %q\n%s", got, out)
	}
	wantReason(t, n, user, "mfa_ok")
}

func TestCoreRejections(t *testing.T) {
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true})
	user, pw := newUser(t, d)
	n.enroll(user)

	tests := []struct {
		name, user, password, reason string
	}{
		{"wrong password", user, "nope", "bad_password"},
		{"unknown user", "nobody-here", "whatever", "unknown_user"},
		{"empty password", user, "", "empty_password"},
		{"star", "*", "x", "unknown_user"},
		{"star with valid password", "*", pw, "unknown_user"},
		{"prefix star", user[:2] + "*", pw, "unknown_user"},
		{"filter break-out", user + ")(uid=*", pw, "unknown_user"},
		{"or injection", "*)(|(uid=*", "x", "unknown_user"},
		{"NUL escape", "x*" + `\00`, pw, "unknown_user"},
		{"escape after a domain", `EXAMPLE\` + user + `\2a`, pw, "unknown_user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply := n.send(request{user: tt.user, password: tt.password})
			wantCode(t, reply, radius.CodeAccessReject)
			wantReason(t, n, normalised(tt.user), tt.reason)
		})
	}
	t.Run("control characters in username", func(t *testing.T) {
		wantCode(t, n.send(request{user: "ali\x00ce", password: pw}), radius.CodeAccessReject)
	})
	t.Run("no username", func(t *testing.T) {
		wantCode(t, n.send(request{user: "\x00nouser", password: pw}), radius.CodeAccessReject)
	})
	t.Run("CHAP refused", func(t *testing.T) {
		reply := n.send(request{user: user, password: pw, extra: func(p *radius.Packet) {
			p.Add(rfc2865.CHAPPassword_Type, make([]byte, 17))
		}})
		wantCode(t, reply, radius.CodeAccessReject)
		wantReason(t, n, user, "unsupported_auth_method")
	})
}

// firstLeg runs the password leg and returns the State.
func firstLeg(t testing.TB, n *node, user, pw string) []byte {
	t.Helper()
	reply := n.send(request{user: user, password: pw})
	wantCode(t, reply, radius.CodeAccessChallenge)
	st := rfc2865.State_Get(reply)
	if len(st) == 0 {
		t.Fatal("challenge without State")
	}
	return st
}

func TestCoreSecondLeg(t *testing.T) {
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true})

	t.Run("accept then replay", func(t *testing.T) {
		user, pw := newUser(t, d)
		secret := n.enroll(user)
		c := code(t, secret)
		wantCode(t, n.send(request{user: user, password: c, state: firstLeg(t, n, user, pw)}), radius.CodeAccessAccept)
		wantCode(t, n.send(request{user: user, password: c, state: firstLeg(t, n, user, pw)}), radius.CodeAccessReject)
		wantReason(t, n, user, "replayed_code")
	})
	t.Run("wrong code", func(t *testing.T) {
		user, pw := newUser(t, d)
		secret := n.enroll(user)
		wrong := fmt.Sprintf("%06d", (atoi(code(t, secret))+1)%1_000_000)
		wantCode(t, n.send(request{user: user, password: wrong, state: firstLeg(t, n, user, pw)}), radius.CodeAccessReject)
		wantReason(t, n, user, "wrong_code")
	})
	t.Run("tampered state", func(t *testing.T) {
		user, pw := newUser(t, d)
		secret := n.enroll(user)
		st := firstLeg(t, n, user, pw)
		st[len(st)-1] ^= 0x40
		wantCode(t, n.send(request{user: user, password: code(t, secret), state: st}), radius.CodeAccessReject)
		wantReason(t, n, user, "invalid_state")
	})
	t.Run("state of another user", func(t *testing.T) {
		alice, apw := newUser(t, d)
		n.enroll(alice)
		mallory, _ := newUser(t, d)
		msecret := n.enroll(mallory)
		st := firstLeg(t, n, alice, apw)
		wantCode(t, n.send(request{user: mallory, password: code(t, msecret), state: st}), radius.CodeAccessReject)
		wantReason(t, n, mallory, "invalid_state")
	})
	t.Run("expired state", func(t *testing.T) {
		user, _ := newUser(t, d)
		secret := n.enroll(user)
		key := make([]byte, 32)
		for i := range key {
			key[i] = 0xab
		}
		s, _ := challenge.NewSealer(key, 2*time.Minute)
		st, _ := s.Seal(challenge.Claims{User: user, NAS: "local", Issued: time.Now().Add(-3 * time.Minute),
			Phase: challenge.PhaseCode, Factor: 1})
		wantCode(t, n.send(request{user: user, password: code(t, secret), state: st}), radius.CodeAccessReject)
		wantReason(t, n, user, "expired_challenge")
	})
	t.Run("not enrolled", func(t *testing.T) {
		user, pw := newUser(t, d)
		reply := n.send(request{user: user, password: pw})
		wantCode(t, reply, radius.CodeAccessReject)
		wantReason(t, n, user, "not_enrolled")
	})
}

// normalised is the name radmfa logs for what a NAS sent, under the default rules.
func normalised(u string) string {
	if i := strings.LastIndexByte(u, '\\'); i >= 0 {
		u = u[i+1:]
	}
	if i := strings.IndexByte(u, '@'); i >= 0 {
		u = u[:i]
	}
	return strings.ToLower(strings.TrimSpace(u))
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestCoreWire(t *testing.T) {
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true})
	user, pw := newUser(t, d)
	n.enroll(user)

	t.Run("missing Message-Authenticator dropped", func(t *testing.T) {
		if reply := n.send(request{user: user, password: pw, noMA: true, wait: time.Second}); reply != nil {
			t.Fatalf("answered with %s", reply.Code)
		}
	})
	t.Run("wrong shared secret dropped", func(t *testing.T) {
		b := encodeWithMA(func() *radius.Packet {
			p := radius.New(radius.CodeAccessRequest, []byte("not-the-secret"))
			_ = rfc2865.UserName_SetString(p, user)
			_ = rfc2865.UserPassword_SetString(p, pw)
			return p
		}())
		if reply, _ := exchangeRaw(n.addr, b, time.Second); reply != nil {
			t.Fatal("answered a request signed with the wrong secret")
		}
	})
	t.Run("unknown client dropped", func(t *testing.T) {
		laddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}
		raddr, _ := net.ResolveUDPAddr("udp", n.addr)
		c, err := net.DialUDP("udp", laddr, raddr)
		if err != nil {
			t.Skipf("cannot bind 127.0.0.2: %v", err)
		}
		defer c.Close()
		p := radius.New(radius.CodeAccessRequest, []byte(n.secret))
		_ = rfc2865.UserName_SetString(p, user)
		_ = rfc2865.UserPassword_SetString(p, pw)
		_, _ = c.Write(encodeWithMA(p))
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(make([]byte, 4096)); err == nil {
			t.Fatal("unknown client was answered")
		}
	})
	t.Run("retransmitted first leg gets the identical challenge", func(t *testing.T) {
		u2, pw2 := newUser(t, d)
		n.enroll(u2)
		p := radius.New(radius.CodeAccessRequest, []byte(n.secret))
		_ = rfc2865.UserName_SetString(p, u2)
		_ = rfc2865.UserPassword_SetString(p, pw2)
		b := encodeWithMA(p)
		// A NAS retransmits from the same socket: same source port, ID and authenticator.
		c, err := net.Dial("udp", n.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		read := func() ([]byte, error) {
			if _, err := c.Write(b); err != nil {
				return nil, err
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 4096)
			k, err := c.Read(buf)
			return buf[:k], err
		}
		r1, err1 := read()
		r2, err2 := read()
		if err1 != nil || err2 != nil || string(r1) != string(r2) {
			t.Fatalf("replies differ or missing: %v %v", err1, err2)
		}
		if got := len(n.log.decisions(u2)); got != 1 {
			t.Fatalf("%d decisions for one retransmitted request, want 1", got)
		}
	})
	t.Run("Status-Server", func(t *testing.T) {
		if !n.statusServer(time.Second) {
			t.Fatal("no answer to Status-Server")
		}
	})
}

func TestCoreLDAPFailover(t *testing.T) {
	d := startDirectory(t)
	dead := fmt.Sprintf("ldap://127.0.0.1:%d", freeTCPPort(t))
	t.Run("first URL down", func(t *testing.T) {
		n := startNode(t, d, nodeConfig{RequireMA: true, LDAPURLs: []string{dead, d.URL}})
		user, pw := newUser(t, d)
		n.enroll(user)
		wantCode(t, n.send(request{user: user, password: pw}), radius.CodeAccessChallenge)
	})
	t.Run("all down rejects within the timeout", func(t *testing.T) {
		n := startNode(t, d, nodeConfig{RequireMA: true, LDAPURLs: []string{dead, blackhole(t)}, LDAPTimeout: "1s"})
		start := time.Now()
		reply := n.send(request{user: "alice", password: "alice-pass"})
		wantCode(t, reply, radius.CodeAccessReject)
		if el := time.Since(start); el > 6*time.Second {
			t.Fatalf("reject took %s", el)
		}
		wantReason(t, n, "alice", "directory_unavailable")
	})
}

func freeTCPPort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// blackhole returns an LDAP URL whose server accepts connections and never answers.
func blackhole(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		for _, c := range conns {
			c.Close()
		}
	})
	return "ldap://" + l.Addr().String()
}

// TestLookalikeUsernames: the directory matches "ｕ１２３" (fullwidth) or "U123 " to the entry
// of u123. Such a name must reach u123's own MFA record, not a fresh one: with unenrolled users
// let in (default_state enabled, unenrolled allow) a fresh record would mean the password alone.
func TestLookalikeUsernames(t *testing.T) {
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true, MFAExtra: "  default_state: enabled\n  unenrolled: allow\n"})
	user, pw := newUser(t, d)
	n.enroll(user)
	fullwidth := strings.Map(func(r rune) rune {
		if r > ' ' && r < 0x7f {
			return r + 0xFEE0
		}
		return r
	}, user)
	for _, name := range []string{user, fullwidth, strings.ToUpper(user), " " + user + " "} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			reply := n.send(request{user: name, password: pw})
			wantCode(t, reply, radius.CodeAccessChallenge)
		})
	}
}
