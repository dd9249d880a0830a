package test

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/radmfa/radmfa/challenge"
	"github.com/radmfa/radmfa/factors"
)

// The hostile node has a second NAS (to carry a State across NASes), a legacy NAS that may
// omit Message-Authenticator (so unsigned hostile content reaches the engine), and lockout
// thresholds out of reach, so every hostile input goes as deep into the flow as it can instead
// of stopping at a lockout.
const (
	nas2Secret   = "e2e-nas2-secret-0123"
	legacySecret = "e2e-legacy-secret-0123"
	attackerCSID = "198.51.100.66"
)

const hostileClients = `    - name: nas2
      address: 127.0.0.2/32
      secret: ` + nas2Secret + `
      require_message_authenticator: true
    - name: legacy
      address: 127.0.0.4/32
      secret: ` + legacySecret + `
      require_message_authenticator: false
`

const hostileLockout = `  lockout:
    password_threshold: 100000
    factor_threshold: 100000
    source_threshold: 0
`

// peer is one NAS socket: it sends datagrams and collects every reply that comes back.
type peer struct {
	name   string
	secret []byte
	conn   *net.UDPConn
	mu     sync.Mutex
	got    [][]byte
}

func newPeer(t testing.TB, name, local, server, secret string) *peer {
	t.Helper()
	raddr, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(local)}, raddr)
	if err != nil {
		t.Fatalf("bind %s: %v", local, err)
	}
	p := &peer{name: name, secret: []byte(secret), conn: c}
	go func() {
		buf := make([]byte, 8192)
		for {
			n, err := c.Read(buf)
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					continue
				}
				return
			}
			p.mu.Lock()
			p.got = append(p.got, append([]byte(nil), buf[:n]...))
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close() })
	return p
}

func (p *peer) send(t testing.TB, b []byte) {
	t.Helper()
	if _, err := p.conn.Write(b); err != nil {
		t.Fatalf("%s: send: %v", p.name, err)
	}
}

func (p *peer) replies() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.got...)
}

// Expected outcomes of a hostile input. None is ever an Access-Accept.
const (
	expDrop     = "drop"     // no answer at all
	expReject   = "reject"   // Access-Reject
	expNoAccept = "noaccept" // random input: anything but an Accept
	// The password leg passed: only for inputs that carry the right password in a form RADIUS
	// defines as equal to it.
	expChallenge = "challenge"
)

type hostileCase struct {
	name   string
	raw    []byte
	from   *peer
	expect string
	reply  []byte // the matched reply, filled in at the end
}

// pkt builds an Access-Request for user/password with the attacker's Calling-Station-Id.
func pkt(secret, user, password string, extra ...func(*radius.Packet)) *radius.Packet {
	p := radius.New(radius.CodeAccessRequest, []byte(secret))
	if user != "" {
		p.Add(rfc2865.UserName_Type, []byte(user))
	}
	if password != "" {
		_ = rfc2865.UserPassword_SetString(p, password)
	}
	_ = rfc2865.NASIdentifier_SetString(p, "hostile-vpn")
	_ = rfc2865.CallingStationID_SetString(p, attackerCSID)
	for _, f := range extra {
		f(p)
	}
	return p
}

func withState(s []byte) func(*radius.Packet) {
	return func(p *radius.Packet) { p.Add(rfc2865.State_Type, s) }
}

func withAttr(t radius.Type, v []byte) func(*radius.Packet) {
	return func(p *radius.Packet) { p.Add(t, v) }
}

func withVSA(vendor uint32, typ byte, v []byte) func(*radius.Packet) {
	return func(p *radius.Packet) {
		a, _ := radius.NewVendorSpecific(vendor, append([]byte{typ, byte(len(v) + 2)}, v...))
		p.Add(rfc2865.VendorSpecific_Type, a)
	}
}

func plain(p *radius.Packet) []byte {
	b, err := p.Encode()
	if err != nil {
		panic(err)
	}
	return b
}

func setLength(b []byte, n int) []byte {
	b[2], b[3] = byte(n>>8), byte(n)
	return b
}

// attrOffsets lists where each attribute of a well-formed packet starts.
func attrOffsets(b []byte) []int {
	var out []int
	for i := 20; i+2 <= len(b) && b[i+1] >= 2; i += int(b[i+1]) {
		out = append(out, i)
	}
	return out
}

// acctRequest encodes an Accounting-Request; withMA signs a Message-Authenticator first, with
// the authenticator zeroed, as FreeRADIUS does.
func acctRequest(secret, user string, withMA bool) []byte {
	p := radius.New(radius.CodeAccountingRequest, []byte(secret))
	_ = rfc2865.UserName_SetString(p, user)
	_ = rfc2866.AcctStatusType_Set(p, rfc2866.AcctStatusType_Value_Start)
	_ = rfc2866.AcctSessionID_SetString(p, "hostile-session")
	if withMA {
		_ = rfc2869.MessageAuthenticator_Set(p, make([]byte, 16))
	}
	b, _ := p.MarshalBinary()
	clear(b[4:20])
	if withMA {
		off := maOffset(b)
		b2 := append([]byte(nil), b...)
		copy(b[off:off+16], hmacMD5(p.Secret, b2))
	}
	h := md5.New()
	h.Write(b)
	h.Write(p.Secret)
	copy(b[4:20], h.Sum(nil))
	return b
}

// goodUsers adds n directory users, enrols them (with a secret derived from the name) four
// CLI runs at a time, and returns them with their passwords and TOTP secrets.
type goodUser struct {
	name, password string
	secret         []byte
}

func goodUsers(t testing.TB, d *directory, n *node, count int) []goodUser {
	t.Helper()
	users := make([]goodUser, count)
	for i := range users {
		u, pw := newUser(t, d)
		sum := md5.Sum([]byte("good/" + u))
		users[i] = goodUser{name: u, password: pw, secret: append(sum[:], 1, 2, 3, 4)}
	}
	errs := make(chan error, count)
	sem := make(chan struct{}, 4)
	for _, u := range users {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			out, err := n.cli("user", "enroll", u.name, "--secret", factors.EncodeSecret(u.secret), "--no-qr")
			if err != nil {
				err = fmt.Errorf("enroll %s: %v\n%s", u.name, err, out)
			}
			errs <- err
		}()
	}
	for range users {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	return users
}

// signIn completes password + TOTP for u and returns the raw second-leg request.
func signIn(t testing.TB, n *node, u goodUser) []byte {
	t.Helper()
	st := firstLeg(t, n, u.name, u.password)
	raw, reply := n.sendRaw(request{user: u.name, password: code(t, u.secret), state: st})
	wantCode(t, reply, radius.CodeAccessAccept)
	return raw
}

// TestHostile sends ≥ 200 malformed and hostile packets to one node, interleaved with good
// sign-ins (one every ten hostile packets), and checks that no hostile input is accepted, that
// every one gets the answer it should (none, or a reject), that the good sign-ins keep working,
// and that the process neither dies nor logs a panic or a data race.
func TestHostile(t *testing.T) {
	noRaceExitDelay(t)
	start := time.Now()
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true, ExtraClients: hostileClients, MFAExtra: hostileLockout})

	victim, vpw := newUser(t, d)
	vsecret := n.enroll(victim)
	victim2, v2pw := newUser(t, d)
	n.enroll(victim2)
	cases := buildHostileCases(t, n, victim, vpw, vsecret, victim2, v2pw)
	good := goodUsers(t, d, n, len(cases)/10+2)
	t.Logf("setup %s: %d hostile inputs, %d good users", time.Since(start).Round(time.Millisecond), len(cases), len(good))
	if len(cases) < 200 {
		t.Fatalf("only %d hostile inputs", len(cases))
	}

	// Interleave: a good sign-in after every ten hostile packets, the hostile ones fired without
	// waiting for their answers.
	var secondLegs [][]byte
	signedIn := 0
	for i, c := range cases {
		c.from.send(t, c.raw)
		if i%10 == 9 {
			secondLegs = append(secondLegs, signIn(t, n, good[signedIn]))
			signedIn++
		}
	}
	// A second leg replayed byte for byte from another socket is a new request whose code has
	// been spent (a retransmit from the same socket would get the cached Accept, as it should).
	main := cases[0].from
	for i, raw := range secondLegs[:3] {
		c := &hostileCase{name: fmt.Sprintf("replayed second leg %d", i), raw: raw, from: main, expect: expReject}
		cases = append(cases, c)
		main.send(t, raw)
	}
	signIn(t, n, good[signedIn])
	signedIn++

	// Wait until every input that should be answered is.
	deadline := time.Now().Add(30 * time.Second)
	for {
		missing := matchReplies(t, cases)
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	accepts, wrong := 0, 0
	for _, c := range cases {
		got := outcome(c.reply)
		if got == radius.CodeAccessAccept.String() {
			accepts++
			t.Errorf("ACCEPTED hostile input %q", c.name)
			continue
		}
		ok := false
		switch c.expect {
		case expDrop:
			ok = c.reply == nil
		case expReject:
			ok = got == radius.CodeAccessReject.String()
		case expChallenge:
			ok = got == radius.CodeAccessChallenge.String()
		case expNoAccept:
			ok = true
		}
		if !ok {
			wrong++
			t.Errorf("hostile input %q: got %s, want %s", c.name, got, c.expect)
		}
	}
	if accepts != 0 {
		t.Fatalf("%d hostile inputs were accepted", accepts)
	}
	// Still serving, still alive, nothing panicked or raced.
	signIn(t, n, good[signedIn])
	signedIn++
	if !n.statusServer(2 * time.Second) {
		t.Fatal("no answer to Status-Server after the hostile run")
	}
	select {
	case <-n.done:
		t.Fatalf("radmfa exited: %v", n.exitErr)
	default:
	}
	checkLogClean(t, n)
	t.Logf("%d hostile inputs (%d answered as expected), %d good sign-ins, 0 accepted, %s",
		len(cases), len(cases)-wrong, signedIn, time.Since(start).Round(time.Millisecond))
}

// outcome names a reply's code, or "drop".
func outcome(reply []byte) string {
	if reply == nil {
		return expDrop
	}
	return radius.Code(reply[0]).String()
}

// matchReplies pairs every reply each peer received with the hostile input it answers
// (same Identifier, Response Authenticator verifies) and returns how many inputs that should
// be answered still are not.
func matchReplies(t *testing.T, cases []*hostileCase) int {
	t.Helper()
	for _, c := range cases {
		c.reply = nil
	}
	byPeer := map[*peer][]*hostileCase{}
	for _, c := range cases {
		byPeer[c.from] = append(byPeer[c.from], c)
	}
	for p, cs := range byPeer {
		for _, r := range p.replies() {
			for _, c := range cs {
				if c.reply == nil && len(c.raw) >= 20 && len(r) >= 20 && r[1] == c.raw[1] &&
					radius.IsAuthenticResponse(r, c.raw, p.secret) {
					c.reply = r
					break
				}
			}
		}
	}
	missing := 0
	for _, c := range cases {
		if c.reply == nil && (c.expect == expReject || c.expect == expChallenge) {
			missing++
		}
	}
	return missing
}

// checkLogClean fails on a recovered or fatal panic or a data race in radmfa's output.
func checkLogClean(t testing.TB, n *node) {
	t.Helper()
	log := n.log.String()
	for _, bad := range []string{"handler panicked", "panic:", "goroutine ", "DATA RACE"} {
		if i := strings.Index(log, bad); i >= 0 {
			lo, hi := max(0, i-300), min(len(log), i+2000)
			t.Errorf("radmfa's log has %q:\n%s", bad, log[lo:hi])
		}
	}
}

func buildHostileCases(t *testing.T, n *node, victim, vpw string, vsecret []byte, victim2, v2pw string) []*hostileCase {
	main := newPeer(t, "main", "127.0.0.1", n.addr, testSecret)
	nas2 := newPeer(t, "nas2", "127.0.0.2", n.addr, nas2Secret)
	legacy := newPeer(t, "legacy", "127.0.0.4", n.addr, legacySecret)
	stranger := newPeer(t, "stranger", "127.0.0.3", n.addr, testSecret)
	var cases []*hostileCase
	add := func(name string, from *peer, expect string, raw []byte) {
		cases = append(cases, &hostileCase{name: name, raw: raw, from: from, expect: expect})
	}
	rng := rand.New(rand.NewPCG(2026, 7))
	randBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	}
	vcode := func() string { return code(t, vsecret) }
	state := firstLeg(t, n, victim, vpw)    // the victim's real State
	state2 := firstLeg(t, n, victim2, v2pw) // another user's real State

	// --- The wire: lengths and attribute framing. ---
	base := encodeWithMA(pkt(testSecret, victim, "not-the-password"))
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), base...)) }
	for k := 0; k < 20; k++ {
		add(fmt.Sprintf("truncated header, %d bytes", k), main, expDrop, append([]byte(nil), base[:k]...))
	}
	for k := 21; k < len(base); k += 7 {
		add(fmt.Sprintf("truncated body, %d of %d bytes", k, len(base)), main, expDrop, append([]byte(nil), base[:k]...))
	}
	for _, l := range []int{0, 1, 19, 20, len(base) - 1, len(base) - 2, len(base) + 1, len(base) + 100, 4096, 4097, 65535} {
		add(fmt.Sprintf("length field %d for %d bytes", l, len(base)), main, expDrop, mut(func(b []byte) []byte { return setLength(b, l) }))
	}
	for _, off := range attrOffsets(base) {
		for _, l := range []byte{0, 1, 255} {
			add(fmt.Sprintf("attribute at %d with length %d", off, l), main, expDrop, mut(func(b []byte) []byte { b[off+1] = l; return b }))
		}
	}
	for _, size := range []int{4097, 5000, 9000} {
		b := append(append([]byte(nil), base...), make([]byte, size-len(base))...)
		add(fmt.Sprintf("%d-byte datagram", size), main, expDrop, setLength(b, size))
	}
	add("near-4096-byte request with 15 Proxy-States", main, expNoAccept, func() []byte {
		p := pkt(testSecret, victim, "not-the-password")
		for i := 0; i < 14; i++ {
			p.Add(rfc2865.ProxyState_Type, bytes.Repeat([]byte{byte('a' + i)}, 253))
		}
		b := encodeWithMA(p)
		if pad := 4096 - len(b); pad >= 3 {
			p.Add(rfc2865.ProxyState_Type, bytes.Repeat([]byte{'z'}, min(pad-2, 253)))
			b = encodeWithMA(p)
		}
		return b
	}())
	for i := 0; i < 40; i++ {
		add(fmt.Sprintf("random bytes %d", i), main, expNoAccept, randBytes(int(rng.UintN(600))))
	}
	for i := 0; i < 10; i++ {
		b := randBytes(20 + int(rng.UintN(200)))
		b[0], b[1] = 1, byte(i)
		add(fmt.Sprintf("random Access-Request body %d", i), main, expNoAccept, setLength(b, len(b)))
	}
	for i := 0; i < 5; i++ {
		b := randBytes(20 + int(rng.UintN(200)))
		b[0] = 1
		add(fmt.Sprintf("random unsigned Access-Request from the legacy NAS %d", i), legacy, expNoAccept, setLength(b, len(b)))
	}

	// --- Signed requests carrying hostile content to the engine. ---
	signed := func(name, expect string, p *radius.Packet) { add(name, main, expect, encodeWithMA(p)) }
	signed("two User-Names, the victim's twice", expReject, pkt(testSecret, victim, vpw, withAttr(rfc2865.UserName_Type, []byte(victim))))
	signed("two User-Names, victim then another", expReject, pkt(testSecret, victim, vpw, withAttr(rfc2865.UserName_Type, []byte(victim2))))
	signed("two User-Names, another then victim", expReject, pkt(testSecret, victim2, vpw, withAttr(rfc2865.UserName_Type, []byte(victim))))
	twoPasswords := func(a, b string) *radius.Packet {
		p := pkt(testSecret, victim, a)
		_ = rfc2865.UserPassword_AddString(p, b)
		return p
	}
	signed("two User-Passwords, both right", expReject, twoPasswords(vpw, vpw))
	signed("two User-Passwords, right then wrong", expReject, twoPasswords(vpw, "wrong"))
	signed("two User-Passwords, wrong then right", expReject, twoPasswords("wrong", vpw))
	signed("two States, both the real one", expReject, pkt(testSecret, victim, vcode(), withState(state), withState(state)))
	signed("two States, real then forged", expReject, pkt(testSecret, victim, vcode(), withState(state), withState(randBytes(48))))
	for _, u := range []string{victim + "\x00", "\x00" + victim, victim[:2] + "\n" + victim[2:], victim + "\r", victim + "\t",
		"\x1b[2J" + victim, victim[:2] + "\x7f" + victim[2:], victim + "\x00\x00\x00admin", "\x01", " \x00"} {
		signed(fmt.Sprintf("control characters in username %q", u), expReject, pkt(testSecret, u, vpw))
	}
	for _, u := range []string{strings.Repeat("a", 253), strings.Repeat("é", 126) + "a", strings.Repeat("*", 253),
		"\xff\xfe" + victim, victim + "\xc3", strings.Repeat("x", 200) + "@" + strings.Repeat("r", 52)} {
		signed(fmt.Sprintf("long or invalid username (%d bytes)", len(u)), expReject, pkt(testSecret, u, vpw))
	}
	for _, u := range []string{"*", victim[:2] + "*", victim + "*", "*" + victim[2:], victim + ")", victim + ")(uid=*",
		"*)(uid=*", victim + ")(|(uid=*))", "(uid=" + victim + ")", victim + `\2a`, `\5c` + victim, victim + `\00`,
		victim[:2] + "*" + victim[3:], "(|(uid=*))", victim + ")(objectClass=*", ")(&", victim + "))(&(uid=x", "*)(|(objectClass=*",
		victim + "\\", "\\"} {
		signed(fmt.Sprintf("LDAP filter metacharacters %q with the victim's password", u), expReject, pkt(testSecret, u, vpw))
	}
	signed("empty password", expReject, pkt(testSecret, victim, "", func(p *radius.Packet) { _ = rfc2865.UserPassword_SetString(p, "") }))
	signed("empty User-Password attribute", expReject, pkt(testSecret, victim, "", withAttr(rfc2865.UserPassword_Type, nil)))
	signed("no password at all", expReject, pkt(testSecret, victim, ""))
	signed("no User-Name", expReject, pkt(testSecret, "", vpw))
	signed("empty User-Name attribute", expReject, pkt(testSecret, "", vpw, withAttr(rfc2865.UserName_Type, nil)))
	signed("128-byte password", expReject, pkt(testSecret, victim, strings.Repeat("p", 128)))
	signed("User-Password of 144 bytes", expReject, pkt(testSecret, victim, "", withAttr(rfc2865.UserPassword_Type, randBytes(144))))
	signed("User-Password of 17 bytes", expReject, pkt(testSecret, victim, "", withAttr(rfc2865.UserPassword_Type, randBytes(17))))
	signed("User-Password of 253 bytes", expReject, pkt(testSecret, victim, "", withAttr(rfc2865.UserPassword_Type, randBytes(253))))
	signed("password with a NUL inside", expReject, pkt(testSecret, victim, vpw[:3]+"\x00"+vpw[3:]))
	// User-Password is NUL-padded (RFC 2865 §5.2): the first NUL ends it, here as in FreeRADIUS
	// (layeh's radius.UserPassword cuts there), so this is the right password and gets the
	// challenge, never more.
	signed("password then NUL then more", expChallenge, pkt(testSecret, victim, vpw+"\x00x"))
	for _, size := range []int{1, 16, 28, 29, 64, 128, 253} {
		signed(fmt.Sprintf("forged State of %d bytes with the right code", size), expReject,
			pkt(testSecret, victim, vcode(), withState(randBytes(size))))
	}
	for _, tamper := range []struct {
		name string
		f    func([]byte) []byte
	}{
		{"first byte flipped", func(s []byte) []byte { s[0] ^= 1; return s }},
		{"second byte flipped", func(s []byte) []byte { s[1] ^= 0x80; return s }},
		{"middle byte flipped", func(s []byte) []byte { s[len(s)/2] ^= 4; return s }},
		{"last byte flipped", func(s []byte) []byte { s[len(s)-1] ^= 0x40; return s }},
		{"one byte short", func(s []byte) []byte { return s[:len(s)-1] }},
		{"one byte more", func(s []byte) []byte { return append(s, 0) }},
		{"doubled", func(s []byte) []byte { return append(s, s...)[:min(253, 2*len(s))] }},
	} {
		st := tamper.f(append([]byte(nil), state...))
		signed("State "+tamper.name+", right code", expReject, pkt(testSecret, victim, vcode(), withState(st)))
	}
	add("State from another NAS, right code", nas2, expReject, encodeWithMA(pkt(nas2Secret, victim, vcode(), withState(state))))
	add("State from another NAS, right password", nas2, expReject, encodeWithMA(pkt(nas2Secret, victim, vpw, withState(state))))
	signed("another user's State, right code", expReject, pkt(testSecret, victim, vcode(), withState(state2)))
	signed("another user's State, its owner's password", expReject, pkt(testSecret, victim, v2pw, withState(state2)))
	sealer, _ := challenge.NewSealer(bytes.Repeat([]byte{0xab}, 32), 2*time.Minute) // the harness's state key
	expired, _ := sealer.Seal(challenge.Claims{User: victim, NAS: "local", Issued: time.Now().Add(-5 * time.Minute),
		Phase: challenge.PhaseCode, Factor: 1})
	signed("expired State, right code", expReject, pkt(testSecret, victim, vcode(), withState(expired)))
	for _, c := range []string{"000000", "12345", "1234567", "abcdef", " ", "123456\x00", "99999999", "-12345", "+12345"} {
		if c == vcode() {
			continue
		}
		signed(fmt.Sprintf("real State, wrong code %q", c), expReject, pkt(testSecret, victim, c, withState(state)))
	}
	signed("real State, no password", expReject, pkt(testSecret, victim, "", withState(state)))
	for i, s := range []string{"wrong-secret", testSecret + "x", ""} {
		p := pkt(s+"-", victim, vpw)
		add(fmt.Sprintf("signed with the wrong secret %d", i), main, expDrop, encodeWithMA(p))
	}
	add("nas2 request signed with the main secret", nas2, expDrop, encodeWithMA(pkt(testSecret, victim, vpw)))
	add("no Message-Authenticator, require-MA client", main, expDrop, plain(pkt(testSecret, victim, vpw)))
	add("no Message-Authenticator with a State, require-MA client", main, expDrop, plain(pkt(testSecret, victim, vcode(), withState(state))))
	add("no Message-Authenticator, EAP, require-MA client", main, expDrop, plain(pkt(testSecret, victim, "", withAttr(rfc2869.EAPMessage_Type, []byte{2, 1, 0, 5, 1}))))
	add("no Message-Authenticator, legacy client, wrong password", legacy, expReject, plain(pkt(legacySecret, victim, "nope")))
	add("no Message-Authenticator, legacy client, metacharacters", legacy, expReject, plain(pkt(legacySecret, "*)(uid=*", vpw)))
	add("no Message-Authenticator, legacy client, forged State", legacy, expReject, plain(pkt(legacySecret, victim, vcode(), withState(randBytes(40)))))
	add("no Message-Authenticator, legacy client, EAP (RFC 3579)", legacy, expDrop, plain(pkt(legacySecret, victim, "", withAttr(rfc2869.EAPMessage_Type, []byte{2, 1, 0, 5, 1}))))
	signed("CHAP", expReject, pkt(testSecret, victim, "", withAttr(rfc2865.CHAPPassword_Type, append([]byte{1}, randBytes(16)...)), withAttr(60, randBytes(16))))
	signed("CHAP and a right PAP password", expReject, pkt(testSecret, victim, vpw, withAttr(rfc2865.CHAPPassword_Type, append([]byte{1}, randBytes(16)...))))
	signed("MS-CHAPv1", expReject, pkt(testSecret, victim, "", withVSA(311, 11, randBytes(8)), withVSA(311, 1, randBytes(50))))
	signed("MS-CHAPv2", expReject, pkt(testSecret, victim, "", withVSA(311, 11, randBytes(16)), withVSA(311, 25, randBytes(50))))
	signed("MS-CHAPv2 and a right PAP password", expReject, pkt(testSecret, victim, vpw, withVSA(311, 25, randBytes(50))))
	signed("EAP-Identity", expReject, pkt(testSecret, victim, "", withAttr(rfc2869.EAPMessage_Type, append([]byte{2, 1, 0, byte(5 + len(victim)), 1}, victim...))))
	signed("EAP with a bad EAP length and a right password", expReject, pkt(testSecret, victim, vpw, withAttr(rfc2869.EAPMessage_Type, []byte{2, 1, 0xff, 0xff})))
	signed("Vendor-Specific shorter than a vendor id", expReject, pkt(testSecret, victim, "nope", withAttr(rfc2865.VendorSpecific_Type, []byte{0, 0})))
	signed("Vendor-Specific vendor 0 with garbage", expReject, pkt(testSecret, victim, "nope", withAttr(rfc2865.VendorSpecific_Type, randBytes(40))))
	signed("unknown and extended attribute types", expReject, pkt(testSecret, victim, "nope",
		withAttr(0, randBytes(10)), withAttr(241, randBytes(30)), withAttr(255, randBytes(3)), withAttr(200, nil)))
	signed("three Proxy-States", expReject, pkt(testSecret, victim, "nope", withAttr(rfc2865.ProxyState_Type, []byte("p1")),
		withAttr(rfc2865.ProxyState_Type, []byte("p2")), withAttr(rfc2865.ProxyState_Type, randBytes(200))))
	add("Message-Authenticator of 0 bytes", main, expDrop, plain(pkt(testSecret, victim, vpw, withAttr(rfc2869.MessageAuthenticator_Type, nil))))
	add("Message-Authenticator of 8 bytes", main, expDrop, plain(pkt(testSecret, victim, vpw, withAttr(rfc2869.MessageAuthenticator_Type, randBytes(8)))))
	add("two Message-Authenticators", main, expDrop, func() []byte {
		b := encodeWithMA(pkt(testSecret, victim, vpw))
		b = append(b, 80, 18)
		b = append(b, b[maOffset(b):maOffset(b)+16]...)
		return setLength(b, len(b))
	}())
	// Accounting belongs on the accounting port (RFC 2866 §3): dropped on the auth port.
	add("Accounting-Request on the auth port", main, expDrop, acctRequest(testSecret, victim, false))
	add("Accounting-Request with Message-Authenticator on the auth port", main, expDrop, acctRequest(testSecret, victim, true))
	add("Accounting-Request with a hostile username", main, expDrop, acctRequest(testSecret, "*)(uid=*\x00\n", false))
	add("Accounting-Request with a bad authenticator", main, expDrop, func() []byte {
		b := acctRequest(testSecret, victim, false)
		b[4] ^= 1
		return b
	}())
	add("Accounting-Request signed with the wrong secret", main, expDrop, acctRequest("wrong-secret", victim, false))
	add("Status-Server without Message-Authenticator", main, expDrop, plain(radius.New(radius.CodeStatusServer, []byte(testSecret))))
	add("Status-Server without Message-Authenticator, legacy client", legacy, expDrop, plain(radius.New(radius.CodeStatusServer, []byte(legacySecret))))
	add("Status-Server with a wrong Message-Authenticator", main, expDrop, func() []byte {
		b := encodeWithMA(radius.New(radius.CodeStatusServer, []byte(testSecret)))
		b[len(b)-1] ^= 1
		return b
	}())
	for _, c := range []radius.Code{radius.CodeAccessAccept, radius.CodeAccessReject, radius.CodeAccessChallenge,
		radius.CodeAccountingResponse, radius.CodeCoARequest, radius.CodeDisconnectRequest, radius.CodeStatusClient, 0, 255} {
		p := pkt(testSecret, victim, vpw)
		b := encodeWithMA(p)
		b[0] = byte(c)
		add(fmt.Sprintf("code %d sent to the server", c), main, expDrop, b)
	}
	add("unknown client", stranger, expDrop, encodeWithMA(pkt(testSecret, victim, vpw)))
	add("unknown client, Status-Server", stranger, expDrop, encodeWithMA(radius.New(radius.CodeStatusServer, []byte(testSecret))))
	return cases
}

func hmacMD5(key, b []byte) []byte {
	m := hmac.New(md5.New, key)
	m.Write(b)
	return m.Sum(nil)
}

// procStatus returns a field of /proc/PID/status in kB (VmRSS, VmHWM).
func procStatusKB(pid int, field string) (int, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}
