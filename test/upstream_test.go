package test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

// primary: radius end to end: radmfa forwards the password to a real FreeRADIUS
// (scripts/freeradius-upstream.sh) and takes groups from slapd; failover between upstream
// servers and the all-down reject.

// upstreamUsers is the FreeRADIUS users file: passwords that differ from slapd's demo ones (so a
// pass proves the upstream checked it), and carl and dora, whom slapd does not know; alice's and
// dora's Accepts carry a Class.
const upstreamUsers = `alice	Cleartext-Password := "alice-upstream-pass"
	Class := "upstream-alice"

bob	Cleartext-Password := "bob-upstream-pass"

carl	Cleartext-Password := "carl-upstream-pass"

dora	Cleartext-Password := "dora-upstream-pass"
	Class := "upstream-dora"
`

const upstreamSecret = "upstream-secret-0123456"

// startUpstream runs FreeRADIUS with upstreamUsers on a free loopback port and returns its
// address; it is stopped by the test's cleanup.
func startUpstream(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "scripts", "freeradius-upstream.sh")
	dir := t.TempDir()
	users := filepath.Join(dir, "users.in")
	if err := os.WriteFile(users, []byte(upstreamUsers), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // may apt-get install
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
		cmd.Env = append(os.Environ(), "FR_WATCH_PID="+strconv.Itoa(os.Getpid()))
		return cmd.CombinedOutput()
	}
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ { // the free port may be taken before FreeRADIUS binds it
		port := freeUDPPort(t)
		out, err := run("start", dir, strconv.Itoa(port), upstreamSecret, users)
		if err != nil {
			lastErr = fmt.Errorf("start (attempt %d, port %d): %v\n%s", attempt, port, err, out)
			_, _ = run("stop", dir)
			continue
		}
		t.Cleanup(func() {
			if out, err := run("stop", dir); err != nil {
				t.Errorf("freeradius-upstream.sh stop: %v\n%s", err, out)
			}
		})
		return fmt.Sprintf("127.0.0.1:%d", port)
	}
	t.Fatalf("freeradius-upstream.sh: %v", lastErr)
	return ""
}

// deadUDP returns an address where a UDP socket takes requests and never answers.
func deadUDP(t testing.TB) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.LocalAddr().String()
}

// upstreamConfig is the top-level YAML for primary: radius with servers, in order.
func upstreamConfig(timeout string, retries int, servers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "primary: radius\nupstream:\n  timeout: %s\n  retries: %d\n  servers:\n", timeout, retries)
	for _, s := range servers {
		fmt.Fprintf(&b, "    - address: %s\n      secret: %s\n", s, upstreamSecret)
	}
	b.WriteString("authorization:\n  - group: vpn-admins\n    attributes: {Filter-Id: admins-from-ldap}\n")
	return b.String()
}

func TestUpstreamPrimary(t *testing.T) {
	up := startUpstream(t)
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true, Extra: upstreamConfig("2s", 1, up)})
	alice := n.enroll("alice")
	carl := n.enroll("carl")

	t.Run("upstream password, then the code", func(t *testing.T) {
		reply, dec := n.ask(request{user: "alice", password: "alice-upstream-pass"})
		wantCode(t, reply, radius.CodeAccessChallenge)
		// Groups come from the directory after the upstream Accept.
		wantDecision(t, dec, "challenge_sent", "default", "vpn-admins", "vpn-users")
		reply, dec = n.ask(request{user: "alice", password: code(t, alice), state: rfc2865.State_Get(reply)})
		wantCode(t, reply, radius.CodeAccessAccept)
		wantDecision(t, dec, "mfa_ok", "default")
		wantAttrs(t, reply, map[string]string{"Filter-Id": "admins-from-ldap"})
	})
	t.Run("wrong password", func(t *testing.T) {
		reply, dec := n.ask(request{user: "alice", password: "not-it"})
		wantCode(t, reply, radius.CodeAccessReject)
		wantDecision(t, dec, "bad_password", "")
	})
	t.Run("the directory's password is not the one checked", func(t *testing.T) {
		reply, dec := n.ask(request{user: "alice", password: "alice-pass"})
		wantCode(t, reply, radius.CodeAccessReject)
		wantDecision(t, dec, "bad_password", "")
	})
	t.Run("unknown upstream user", func(t *testing.T) {
		reply, dec := n.ask(request{user: "carol", password: "carol-pass"})
		wantCode(t, reply, radius.CodeAccessReject)
		wantDecision(t, dec, "bad_password", "")
	})
	t.Run("empty password", func(t *testing.T) {
		reply, dec := n.ask(request{user: "alice", password: ""})
		wantCode(t, reply, radius.CodeAccessReject)
		wantDecision(t, dec, "empty_password", "")
	})
	t.Run("user the directory does not know", func(t *testing.T) {
		reply, dec := n.ask(request{user: "carl", password: "carl-upstream-pass"})
		wantCode(t, reply, radius.CodeAccessChallenge)
		wantDecision(t, dec, "challenge_sent", "default")
		reply, _ = n.ask(request{user: "carl", password: code(t, carl), state: rfc2865.State_Get(reply)})
		wantCode(t, reply, radius.CodeAccessAccept)
		wantAttrs(t, reply, map[string]string{"Filter-Id": ""})
	})
	t.Run("upstream Class relayed on the final Accept", func(t *testing.T) {
		// upstream.Result.Class: "Class attributes, relayed on radmfa's own Accept" — the NAS
		// keeps the Class the existing server (NPS) sets for accounting and policy.
		dora := n.enroll("dora")
		st := firstLeg(t, n, "dora", "dora-upstream-pass")
		reply := n.send(request{user: "dora", password: code(t, dora), state: st})
		wantCode(t, reply, radius.CodeAccessAccept)
		wantAttrs(t, reply, map[string]string{"Class": "upstream-dora"})
	})
}

func TestUpstreamFailover(t *testing.T) {
	up := startUpstream(t)
	d := startDirectory(t)
	dead := deadUDP(t)
	// The dead server is listed first; a closed port (ICMP port unreachable) second.
	closed := fmt.Sprintf("127.0.0.1:%d", freeUDPPort(t))
	n := startNode(t, d, nodeConfig{RequireMA: true, Extra: upstreamConfig("3s", 0, dead, closed, up)})
	n.enroll("bob")

	start := time.Now()
	reply, dec := n.ask(request{user: "bob", password: "bob-upstream-pass"})
	wantCode(t, reply, radius.CodeAccessChallenge)
	wantDecision(t, dec, "challenge_sent", "default", "vpn-users")
	el := time.Since(start)
	t.Logf("first request, dead servers tried: %s", el.Round(time.Millisecond))
	if el > 6*time.Second {
		t.Fatalf("first request took %s with one dead server at a 3s timeout", el)
	}

	// The dead servers are now skipped for a while: no second wait for their timeout.
	start = time.Now()
	reply, dec = n.ask(request{user: "bob", password: "bob-upstream-pass"})
	wantCode(t, reply, radius.CodeAccessChallenge)
	wantDecision(t, dec, "challenge_sent", "default")
	el = time.Since(start)
	t.Logf("second request, dead servers skipped: %s", el.Round(time.Millisecond))
	if el > 2*time.Second {
		t.Fatalf("second request took %s: the dead server was tried again", el)
	}
	reply, dec = n.ask(request{user: "bob", password: "wrong"})
	wantCode(t, reply, radius.CodeAccessReject)
	wantDecision(t, dec, "bad_password", "")
}

func TestUpstreamAllDown(t *testing.T) {
	d := startDirectory(t)
	closed := fmt.Sprintf("127.0.0.1:%d", freeUDPPort(t))
	// Worst case: 2 servers x (1 + 1 retry) x 1 s.
	n := startNode(t, d, nodeConfig{RequireMA: true, Extra: upstreamConfig("1s", 1, deadUDP(t), closed)})
	n.enroll("alice")

	start := time.Now()
	reply, dec := n.ask(request{user: "alice", password: "alice-upstream-pass"})
	el := time.Since(start)
	wantCode(t, reply, radius.CodeAccessReject)
	wantDecision(t, dec, "directory_unavailable", "")
	t.Logf("all upstream servers down: reject after %s", el.Round(time.Millisecond))
	if el > 5*time.Second {
		t.Fatalf("reject took %s, want within the upstream timeouts (about 2s)", el)
	}
	if msg := rfc2865.ReplyMessage_GetString(reply); !strings.Contains(msg, "unavailable") {
		t.Fatalf("Reply-Message %q", msg)
	}
	// An outage is not the user's failure: the lockout counter did not move.
	if out := n.mustCLI("user", "show", "alice"); strings.Contains(out, "locked") {
		t.Fatalf("user locked after an outage:\n%s", out)
	}
}
