package test

// Several radmfa nodes acting as one: real radmfa processes on different loopback ports
// sharing one PostgreSQL database (test/pgtest), one mfa.state_key and one store key file,
// as the README's "Several radmfa nodes" section describes.

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/jackc/pgx/v5"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/store"
	"github.com/radmfa/radmfa/test/ldaptest"
	"github.com/radmfa/radmfa/test/pgtest"
)

// mnStateKey is the mfa.state_key every node of a cluster shares.
var mnStateKey = strings.Repeat("5a", 32)

// mnLockoutThreshold is mfa.lockout.password_threshold on every node.
const mnLockoutThreshold = 4

// mnCluster is what the nodes of one test share: the directory, the database, the store key
// file, and the test's own handle on the store (to enrol users quickly and read their replay
// step).
type mnCluster struct {
	d       *directory
	dsn     string
	keyFile string
	st      *store.Postgres
}

// newPGCluster opens dsn with the key in keyFile ("" = a new key file in a temp directory).
func newMNCluster(t testing.TB, d *directory, dsn, keyFile string) *mnCluster {
	t.Helper()
	if keyFile == "" {
		keyFile = filepath.Join(t.TempDir(), "radmfa.key")
	}
	key, err := store.LoadKeyFile(keyFile, true)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := store.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := store.OpenPostgres(ctx, dsn, kr)
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &mnCluster{d: d, dsn: dsn, keyFile: keyFile, st: st}
}

// pgNodeOpts varies one node's process and config.
type pgNodeOpts struct {
	bin      string // radmfa executable; default the race-built one
	dsn      string // default the cluster's
	logLevel string // default debug
	ldapPool int    // default 4
}

// startPGNode writes a config like startNode's, but with a postgres store, the cluster's key
// file and state key, and the node name name, and starts radmfa with it on a free port.
func startPGNode(t testing.TB, c *mnCluster, name string, o pgNodeOpts) *node {
	t.Helper()
	if o.bin == "" {
		o.bin = binary
	}
	if o.dsn == "" {
		o.dsn = c.dsn
	}
	if o.logLevel == "" {
		o.logLevel = "debug"
	}
	if o.ldapPool == 0 {
		o.ldapPool = 4
	}
	dir := t.TempDir()
	port := freeUDPPort(t)
	cfg := fmt.Sprintf(`node: %s
radius:
  listen: 127.0.0.1:%d
  clients:
    - name: local
      address: 127.0.0.1/32
      secret: %s
      require_message_authenticator: true
ldap:
  urls:
    - %q
  bind_dn: %q
  bind_password: %q
  base_dn: %q
  user_filter: "(&(objectClass=inetOrgPerson)(uid={username}))"
  timeout: 5s
  pool_size: %d
store:
  driver: postgres
  dsn: %q
  key_file: %q
mfa:
  challenge_timeout: 120s
  state_key: %q
  lockout:
    password_threshold: %d
log:
  level: %s
  format: json
`, name, port, testSecret, c.d.URL, c.d.BindDN, c.d.BindPassword, c.d.BaseDN, o.ldapPool,
		o.dsn, c.keyFile, mnStateKey, mnLockoutThreshold, o.logLevel)
	path := filepath.Join(dir, "radmfa.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, dir: dir, config: path, addr: fmt.Sprintf("127.0.0.1:%d", port), secret: testSecret,
		log: &logBuffer{}, done: make(chan struct{}), bin: o.bin}
	n.start()
	t.Cleanup(n.stop)
	return n
}

// kill sends SIGKILL and waits for the process to be gone.
func mnKill(t testing.TB, n *node) {
	t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		t.Fatal("radmfa still running 10s after SIGKILL")
	}
}

// mnUser is a directory user with a TOTP secret in the store.
type mnUser struct {
	name, pw string
	secret   []byte
}

// secretFor is the secret node.enroll gives user.
func mnSecret(user string) []byte {
	secret := []byte("0123456789abcdefghij")[:20]
	sum := md5.Sum([]byte(user))
	copy(secret, sum[:])
	return secret
}

// addUsers adds n directory users over one admin connection and enrols each in the store
// directly (what `radmfa user enroll` does, without a process per user).
func mnAddUsers(t testing.TB, c *mnCluster, n int, prefix string) []mnUser {
	t.Helper()
	conn := c.d.Admin(t)
	users := make([]mnUser, n)
	for i := range users {
		u := fmt.Sprintf("%s%d-%d", prefix, time.Now().UnixNano()%1_000_000, userSeq.Add(1))
		users[i] = mnUser{name: u, pw: "pw-" + u + "-7", secret: mnSecret(u)}
		add := ldap.NewAddRequest(ldaptest.UserDN(u), nil)
		add.Attribute("objectClass", []string{"inetOrgPerson"})
		add.Attribute("uid", []string{u})
		add.Attribute("cn", []string{u})
		add.Attribute("sn", []string{u})
		add.Attribute("userPassword", []string{users[i].pw})
		if err := conn.Add(add); err != nil {
			t.Fatalf("add %s: %v", u, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := atomic.Int64{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := c.st.EnrollTOTP(ctx, users[i].name, users[i].secret, true); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("enrol: %v", err)
	}
	return users
}

// mnSend is node.send for any goroutine: every failure is an error, never t.Fatal.
func mnSend(n *node, r request) (*radius.Packet, error) {
	return mnExchange(n, mnEncode(n, r), r.wait)
}

// mnEncode builds the Access-Request node.send would send for r.
func mnEncode(n *node, r request) []byte {
	p := radius.New(radius.CodeAccessRequest, []byte(n.secret))
	_ = rfc2865.UserName_SetString(p, r.user)
	_ = rfc2865.UserPassword_SetString(p, r.password)
	_ = rfc2865.NASIdentifier_SetString(p, "e2e-vpn")
	sum := md5.Sum([]byte(r.user))
	_ = rfc2865.CallingStationID_SetString(p, fmt.Sprintf("198.18.%d.%d", sum[0], sum[1]))
	if r.state != nil {
		_ = rfc2865.State_Set(p, r.state)
	}
	return encodeWithMA(p)
}

// mnExchange sends the encoded request b to n and checks the reply (default wait 10s).
func mnExchange(n *node, b []byte, wait time.Duration) (*radius.Packet, error) {
	secret := []byte(n.secret)
	if wait == 0 {
		wait = 10 * time.Second
	}
	raw, err := exchangeRaw(n.addr, b, wait)
	if err != nil {
		return nil, err
	}
	if !radius.IsAuthenticResponse(raw, b, secret) {
		return nil, errors.New("reply does not authenticate")
	}
	pkt, err := radius.Parse(raw, secret)
	if err != nil {
		return nil, fmt.Errorf("parse reply: %w", err)
	}
	if !replyMAValid(raw, b, secret) {
		return nil, errors.New("reply Message-Authenticator missing or wrong")
	}
	return pkt, nil
}

func mnDescribe(p *radius.Packet) string {
	if p == nil {
		return "no reply"
	}
	return fmt.Sprintf("%s (%q)", p.Code, rfc2865.ReplyMessage_GetString(p))
}

// mnFirstLeg sends the password and wants a challenge; it returns the State.
func mnFirstLeg(n *node, u mnUser, wait time.Duration) ([]byte, error) {
	reply, err := mnSend(n, request{user: u.name, password: u.pw, wait: wait})
	if err != nil {
		return nil, err
	}
	if reply.Code != radius.CodeAccessChallenge {
		return nil, fmt.Errorf("first leg for %s on %s: %s, want Access-Challenge", u.name, n.addr, mnDescribe(reply))
	}
	st := rfc2865.State_Get(reply)
	if len(st) == 0 {
		return nil, errors.New("challenge without State")
	}
	return st, nil
}

// totpCode is code without a testing.TB, for goroutines.
func mnCode(secret []byte, step int64) string {
	c, err := factors.DefaultTOTP().Code(secret, step)
	if err != nil {
		panic(err) // only for a bad digit count, which DefaultTOTP does not have
	}
	return c
}

func mnStep() int64 { return factors.DefaultTOTP().Step(time.Now()) }

// freshCode returns a code for a step the user has not used yet, reading the last used step
// and drift from the store: the current (drift-corrected) step, else the next one while the
// real clock allows it (so drift never walks past one step), else it waits for the clock to
// move to a new step (bounded).
func mnFreshCode(st *store.Postgres, user string, secret []byte) (string, error) {
	deadline := time.Now().Add(45 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		u, err := st.GetUser(ctx, user)
		cancel()
		if err != nil {
			return "", err
		}
		cur := mnStep()
		centre := cur + int64(u.TOTPDrift)
		for _, s := range []int64{centre, centre + 1} {
			if s > u.TOTPLastStep && s <= cur+1 && s >= cur-1 {
				return mnCode(secret, s), nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no unused TOTP step for %s within 45s (last %d, drift %d, now %d)",
				user, u.TOTPLastStep, u.TOTPDrift, cur)
		}
		// Wait for the clock to reach the next step, then look again.
		next := time.Unix((cur+1)*30, 0)
		time.Sleep(time.Until(next) + 50*time.Millisecond)
	}
}

// mnSignIn runs both legs on n with a code freshCode picks, and wants Access-Accept.
func mnSignIn(c *mnCluster, n *node, u mnUser) error {
	st, err := mnFirstLeg(n, u, 0)
	if err != nil {
		return err
	}
	code, err := mnFreshCode(c.st, u.name, u.secret)
	if err != nil {
		return err
	}
	reply, err := mnSend(n, request{user: u.name, password: code, state: st})
	if err != nil {
		return fmt.Errorf("second leg for %s on %s: %w", u.name, n.addr, err)
	}
	if reply.Code != radius.CodeAccessAccept {
		return fmt.Errorf("second leg for %s on %s: %s, want Access-Accept; decisions %v",
			u.name, n.addr, mnDescribe(reply), n.log.decisions(u.name))
	}
	return nil
}

// waitFor polls cond until it holds or timeout passes.
func mnWaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hasReason reports whether n logged a decision for user with reason, waiting up to 5s.
func mnHasReason(n *node, user, reason string) bool {
	return mnWaitFor(5*time.Second, func() bool {
		for _, d := range n.log.decisions(user) {
			if d["reason"] == reason {
				return true
			}
		}
		return false
	})
}

// mnHasReasonNow is mnHasReason without waiting.
func mnHasReasonNow(n *node, user, reason string) bool {
	for _, d := range n.log.decisions(user) {
		if d["reason"] == reason {
			return true
		}
	}
	return false
}

// mnAuditRow is one row of the audit table, read with pgx directly.
type mnAuditRow struct{ node, result, reason, detail string }

func mnAuditRows(t testing.TB, dsn, user string) []mnAuditRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx,
		`SELECT node, result, reason, detail FROM audit WHERE username = $1 AND kind = 'auth' ORDER BY id`, user)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (mnAuditRow, error) {
		var a mnAuditRow
		return a, r.Scan(&a.node, &a.result, &a.reason, &a.detail)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitAudit waits until user has at least n audit rows and returns them.
func mnWaitAudit(t testing.TB, dsn, user string, n int) []mnAuditRow {
	t.Helper()
	var rows []mnAuditRow
	if !mnWaitFor(15*time.Second, func() bool {
		rows = mnAuditRows(t, dsn, user)
		return len(rows) >= n
	}) {
		t.Fatalf("audit rows for %s: %v, want at least %d", user, rows, n)
	}
	return rows
}

// bindLines counts slapd log lines naming user (its binds and searches).
func mnBindLines(d *directory, user string) int {
	return strings.Count(d.Log(), "uid="+user+",") + strings.Count(d.Log(), "(uid="+user+")")
}

func TestMultiNodeShared(t *testing.T) {
	d := startDirectory(t)
	dsn := pgtest.Start(t).NewDatabase(t)
	c := newMNCluster(t, d, dsn, "")
	n1 := startPGNode(t, c, "mn-1", pgNodeOpts{})
	n2 := startPGNode(t, c, "mn-2", pgNodeOpts{})
	n3 := startPGNode(t, c, "mn-3", pgNodeOpts{})
	nodes := map[string]*node{"mn-1": n1, "mn-2": n2, "mn-3": n3}

	var crossUser mnUser
	t.Run("challenge on node 1 answered on node 2, replay refused on node 3", func(t *testing.T) {
		u := mnAddUsers(t, c, 1, "x")[0]
		crossUser = u
		st := firstLeg(t, n1, u.name, u.pw)
		c1 := code(t, u.secret)
		wantCode(t, n2.send(request{user: u.name, password: c1, state: st}), radius.CodeAccessAccept)
		wantReason(t, n2, u.name, "mfa_ok")
		// The same code in a new flow on the third node.
		st3 := firstLeg(t, n3, u.name, u.pw)
		wantCode(t, n3.send(request{user: u.name, password: c1, state: st3}), radius.CodeAccessReject)
		wantReason(t, n3, u.name, "replayed_code")
	})

	t.Run("retransmit of an answered request on another node gets the same answer", func(t *testing.T) {
		u := mnAddUsers(t, c, 1, "rt")[0]
		want := func(n *node, b []byte, code radius.Code) *radius.Packet {
			t.Helper()
			reply, err := mnExchange(n, b, 0)
			if err != nil {
				t.Fatalf("%s: %v", n.addr, err)
			}
			if reply.Code != code {
				t.Fatalf("%s: %s, want %s; decisions %v", n.addr, mnDescribe(reply), code, n.log.decisions(u.name))
			}
			return reply
		}
		// The NAS sends each leg to node 1, "loses" the reply, and retransmits the very same
		// packet to node 2.
		leg1 := mnEncode(n1, request{user: u.name, password: u.pw})
		st := rfc2865.State_Get(want(n1, leg1, radius.CodeAccessChallenge))
		want(n2, leg1, radius.CodeAccessChallenge)
		cd := code(t, u.secret)
		leg2 := mnEncode(n1, request{user: u.name, password: cd, state: st})
		want(n1, leg2, radius.CodeAccessAccept)
		want(n2, leg2, radius.CodeAccessAccept)
		// A new packet with the same State and code is not a retransmit: a replay.
		want(n3, mnEncode(n3, request{user: u.name, password: cd, state: st}), radius.CodeAccessReject)
		wantReason(t, n3, u.name, "replayed_code")
	})

	t.Run("same code on two nodes at once: exactly one accept", func(t *testing.T) {
		const trials = 100
		users := mnAddUsers(t, c, trials, "cc")
		type outcome struct {
			codes [2]radius.Code
			err   error
		}
		results := make([]outcome, trials)
		var next atomic.Int64
		var wg sync.WaitGroup
		pair := [2]*node{n2, n3}
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= trials {
						return
					}
					u := users[i]
					var states [2][]byte
					var errs [2]error
					var legs sync.WaitGroup
					for k := range pair {
						legs.Add(1)
						go func() {
							defer legs.Done()
							states[k], errs[k] = mnFirstLeg(pair[k], u, 0)
						}()
					}
					legs.Wait()
					if err := errors.Join(errs[0], errs[1]); err != nil {
						results[i].err = err
						continue
					}
					cd := mnCode(u.secret, mnStep())
					start := make(chan struct{})
					var replies [2]*radius.Packet
					for k := range pair {
						legs.Add(1)
						go func() {
							defer legs.Done()
							<-start
							replies[k], errs[k] = mnSend(pair[k], request{user: u.name, password: cd, state: states[k]})
						}()
					}
					close(start)
					legs.Wait()
					if err := errors.Join(errs[0], errs[1]); err != nil {
						results[i].err = err
						continue
					}
					results[i].codes = [2]radius.Code{replies[0].Code, replies[1].Code}
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Minute):
			t.Fatal("100 trials did not finish within 5 minutes")
		}
		tally := map[string]int{}
		wins := [2]int{}
		for i, r := range results {
			if r.err != nil {
				t.Errorf("trial %d (%s): %v", i, users[i].name, r.err)
				continue
			}
			tally[fmt.Sprintf("%s/%s", r.codes[0], r.codes[1])]++
			accepts := 0
			for k, code := range r.codes {
				if code == radius.CodeAccessAccept {
					accepts++
					wins[k]++
				}
			}
			if accepts != 1 {
				t.Errorf("trial %d (%s): node 2 %s, node 3 %s: %d accepts, want exactly 1",
					i, users[i].name, r.codes[0], r.codes[1], accepts)
				continue
			}
			loser := pair[0]
			if r.codes[0] == radius.CodeAccessAccept {
				loser = pair[1]
			}
			if !mnHasReason(loser, users[i].name, "replayed_code") {
				t.Errorf("trial %d (%s): the refusing node logged %v, want replayed_code",
					i, users[i].name, loser.log.decisions(users[i].name))
			}
		}
		t.Logf("100 concurrent trials (node 2/node 3): %v; node 2 won %d, node 3 won %d", tally, wins[0], wins[1])
	})

	t.Run("lockout reached through nodes 1 and 2 holds on node 3", func(t *testing.T) {
		u := mnAddUsers(t, c, 1, "lk")[0]
		ctl := mnAddUsers(t, c, 1, "lc")[0]
		for i := range mnLockoutThreshold {
			n := []*node{n1, n2}[i%2]
			wantCode(t, n.send(request{user: u.name, password: "wrong-" + u.pw}), radius.CodeAccessReject)
			wantReason(t, n, u.name, "bad_password")
		}
		// The attempt that reached the threshold says so.
		if !mnWaitFor(5*time.Second, func() bool {
			for _, n := range []*node{n1, n2} {
				for _, dl := range n.log.decisions(u.name) {
					if s, _ := dl["detail"].(string); strings.Contains(s, "lockout started") {
						return true
					}
				}
			}
			return false
		}) {
			t.Fatalf("no decision on nodes 1 and 2 started a lockout: %v %v", n1.log.decisions(u.name), n2.log.decisions(u.name))
		}
		// Every bind the first four attempts made is in slapd's log before counting.
		if !mnWaitFor(10*time.Second, func() bool { return mnBindLines(d, u.name) >= mnLockoutThreshold }) {
			t.Fatalf("slapd logged %d lines for %s, want at least %d", mnBindLines(d, u.name), u.name, mnLockoutThreshold)
		}
		before := mnBindLines(d, u.name)

		// The right password on node 3: refused without asking the directory.
		wantCode(t, n3.send(request{user: u.name, password: u.pw}), radius.CodeAccessReject)
		wantReason(t, n3, u.name, "locked_out")
		for _, dl := range n3.log.decisions(u.name) {
			if dl["reason"] != "locked_out" {
				t.Errorf("node 3 decision %v, want only locked_out", dl)
			}
		}
		// A control sign-in through node 3 afterwards; once its bind is in slapd's log, a bind
		// for the locked user made before it would be too.
		firstLeg(t, n3, ctl.name, ctl.pw)
		if !mnWaitFor(10*time.Second, func() bool { return mnBindLines(d, ctl.name) > 0 }) {
			t.Fatal("the control user's bind never reached slapd's log")
		}
		if after := mnBindLines(d, u.name); after != before {
			t.Fatalf("slapd saw %s %d more times while locked out: the directory was asked", u.name, after-before)
		}
		// The lockout holds on every node, whatever the password.
		for name, n := range nodes {
			wantCode(t, n.send(request{user: u.name, password: u.pw}), radius.CodeAccessReject)
			if !mnHasReason(n, u.name, "locked_out") {
				t.Errorf("%s: no locked_out decision: %v", name, n.log.decisions(u.name))
			}
		}
	})

	t.Run("enrolment on node 1 by the CLI is usable on node 3 at once", func(t *testing.T) {
		user, pw := newUser(t, d)
		secret := n1.enroll(user) // radmfa user enroll … --config (node 1's: the shared database)
		st := firstLeg(t, n3, user, pw)
		wantCode(t, n3.send(request{user: user, password: code(t, secret), state: st}), radius.CodeAccessAccept)
		wantReason(t, n3, user, "mfa_ok")
	})

	t.Run("node identity in decision lines and audit rows", func(t *testing.T) {
		for name, n := range nodes {
			lines := 0
			n.log.mu.Lock()
			for _, m := range n.log.lines {
				if m["message"] != "decision" {
					continue
				}
				lines++
				if m["node"] != name {
					t.Errorf("%s logged a decision with node %v: %v", name, m["node"], m)
				}
			}
			n.log.mu.Unlock()
			if lines == 0 {
				t.Errorf("%s logged no decisions", name)
			}
		}
		if crossUser.name == "" {
			t.Skip("the cross-node flow did not run")
		}
		// Challenge by node 1, accept by node 2, challenge then replay refusal by node 3.
		want := []mnAuditRow{
			{"mn-1", "challenge", "challenge_sent", ""},
			{"mn-2", "accept", "mfa_ok", ""},
			{"mn-3", "challenge", "challenge_sent", ""},
			{"mn-3", "reject", "replayed_code", ""},
		}
		got := mnWaitAudit(t, dsn, crossUser.name, len(want))
		if len(got) != len(want) {
			t.Fatalf("audit rows %v, want %v", got, want)
		}
		for i := range want {
			if got[i].node != want[i].node || got[i].result != want[i].result || got[i].reason != want[i].reason {
				t.Errorf("audit row %d = %+v, want %+v", i, got[i], want[i])
			}
		}
		// An audit CLI, when there is one, shows the node too.
		out, err := exec.Command(binary, "audit", "signins", "--help").CombinedOutput()
		if err != nil || strings.Contains(string(out), "unknown command") {
			t.Logf("no `radmfa audit signins` CLI (%v): checked the audit table with pgx", err)
			return
		}
		out, err = exec.Command(binary, "audit", "signins", "--config", n1.config).CombinedOutput()
		if err != nil {
			t.Errorf("radmfa audit signins: %v\n%s", err, out)
		}
		for _, name := range []string{"mn-1", "mn-2", "mn-3"} {
			if !strings.Contains(string(out), name) {
				t.Errorf("radmfa audit signins does not name node %s:\n%s", name, out)
			}
		}
	})
}

// TestMultiNodeKill kills node 1 with SIGKILL in the middle of a burst of sign-ins. A client
// that gets no answer fails over to node 2 (as a NAS does to its secondary server) and sends
// the request again there; every sign-in must end in an Accept, and every enrolled user must
// still sign in afterwards.
func TestMultiNodeKill(t *testing.T) {
	d := startDirectory(t)
	dsn := pgtest.Start(t).NewDatabase(t)
	c := newMNCluster(t, d, dsn, "")
	n1 := startPGNode(t, c, "mn-1", pgNodeOpts{})
	n2 := startPGNode(t, c, "mn-2", pgNodeOpts{})
	n3 := startPGNode(t, c, "mn-3", pgNodeOpts{})

	users := mnAddUsers(t, c, 60, "kb")
	for range 3 { // and a few through the CLI against node 1's config
		user, pw := newUser(t, d)
		users = append(users, mnUser{name: user, pw: pw, secret: n1.enroll(user)})
	}

	const workers = 8
	const timeout = 5 * time.Second // a NAS's retransmit timeout
	var (
		killNanos atomic.Int64 // when SIGKILL was sent; 0 before
		completed atomic.Int64
		inFlight  atomic.Int64 // requests sent to node 1 before the kill and never answered
		preKill   atomic.Int64 // node 1 timeouts before the kill (a slow machine)
		afterKill atomic.Int64 // requests sent to node 1 after the kill, refused
		restarted atomic.Int64 // second legs whose retry found the step spent by node 1
		mu        sync.Mutex
		failures  []string
		spent     []string // users whose retried second leg was refused as a replay
		retried2  []string // users whose retried second leg was accepted
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	// send sends r to *target; when node 1 does not answer it fails over to node 2 for good
	// and retransmits the very same packet there (same Identifier, authenticator and
	// attributes: every node shares the client's secret).
	send := func(target **node, r request) (*radius.Packet, bool, error) {
		sent := time.Now()
		b := mnEncode(*target, r)
		reply, err := mnExchange(*target, b, timeout)
		if err == nil || *target != n1 {
			return reply, false, err
		}
		k := killNanos.Load()
		switch {
		case k == 0:
			preKill.Add(1)
		case sent.UnixNano() < k:
			inFlight.Add(1)
		default:
			afterKill.Add(1)
		}
		*target = n2
		reply, err = mnExchange(n2, b, 0)
		return reply, true, err
	}
	signIn := func(u mnUser, target *node) *node {
		reply, _, err := send(&target, request{user: u.name, password: u.pw})
		if err != nil || reply.Code != radius.CodeAccessChallenge {
			fail("%s first leg: %s %v", u.name, mnDescribe(reply), err)
			return target
		}
		st := rfc2865.State_Get(reply)
		reply, retried, err := send(&target, request{user: u.name, password: mnCode(u.secret, mnStep()), state: st})
		if err != nil {
			fail("%s second leg: %v", u.name, err)
			return target
		}
		if reply.Code == radius.CodeAccessAccept {
			if retried {
				mu.Lock()
				retried2 = append(retried2, u.name)
				mu.Unlock()
			}
			return target
		}
		// Node 1 may have spent the step before it died: the retry is then a replay, and the
		// user signs in again with the next code.
		if retried && mnHasReason(n2, u.name, "replayed_code") {
			restarted.Add(1)
			mu.Lock()
			spent = append(spent, u.name)
			mu.Unlock()
			if err := mnSignIn(c, n2, u); err != nil {
				fail("%s sign-in after a spent step: %v", u.name, err)
			}
			return target
		}
		fail("%s second leg on %s: %s; decisions %v", u.name, target.addr, mnDescribe(reply), target.log.decisions(u.name))
		return target
	}

	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			target := n1 // a NAS that failed over stays on its secondary
			for i := w; i < len(users); i += workers {
				target = signIn(users[i], target)
				completed.Add(1)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	// Kill node 1 a third of the way through the burst.
	if !mnWaitFor(2*time.Minute, func() bool { return completed.Load() >= int64(len(users)/3) }) {
		t.Fatalf("the burst did not reach a third (%d of %d) within 2 minutes", completed.Load(), len(users))
	}
	killNanos.Store(time.Now().UnixNano())
	mnKill(t, n1)
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		t.Fatal("the burst did not finish within 5 minutes of the kill")
	}
	t.Logf("SIGKILL after %d of %d sign-ins: %d requests in flight on node 1 retried on node 2, "+
		"%d sent after the kill, %d node-1 timeouts before it; %d second legs found the step spent and signed in again",
		len(users)/3, len(users), inFlight.Load(), afterKill.Load(), preKill.Load(), restarted.Load())
	// Retried second legs that node 1 had accepted already (its decision line made it out):
	// node 2 recognised the retransmit and accepted it again.
	again := 0
	for _, u := range retried2 {
		if mnHasReasonNow(n1, u, "mfa_ok") {
			again++
		}
	}
	t.Logf("%d retried second legs accepted on node 2, %d of them accepted by node 1 before it died", len(retried2), again)
	for _, f := range failures {
		t.Error(f)
	}
	if !strings.Contains(fmt.Sprint(n1.exitErr), "killed") {
		t.Errorf("node 1 exit: %v, want killed by SIGKILL", n1.exitErr)
	}
	if inFlight.Load()+afterKill.Load() == 0 {
		t.Error("no request reached node 1 around the kill: the failover was not exercised")
	}
	if inFlight.Load() == 0 {
		t.Log("no request was in flight on node 1 at the moment of the kill (only later ones failed over)")
	}

	// No enrolment was lost: every user signs in again, on nodes 2 and 3.
	var lost []string
	for i, u := range users {
		n := []*node{n2, n3}[i%2]
		if err := mnSignIn(c, n, u); err != nil {
			lost = append(lost, err.Error())
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d of %d users could not sign in after the kill:\n%s", len(lost), len(users), strings.Join(lost, "\n"))
	}

	// The retry of an in-flight second leg must complete with an Accept. When node 1 had
	// already spent the step (UseTOTPStep committed) before SIGKILL, node 2 refuses the
	// identical answer as replayed_code: the user sees "Wrong code" and must sign in again.
	if len(spent) > 0 {
		var evidence []string
		for _, u := range spent {
			var reasons []string
			for _, d := range n1.log.decisions(u) {
				reasons = append(reasons, fmt.Sprint(d["reason"]))
			}
			evidence = append(evidence, fmt.Sprintf("%s (node 1 logged %v before it died)", u, reasons))
		}
		t.Errorf("%d second leg(s) in flight on node 1 at SIGKILL had spent their TOTP step there and "+
			"the byte-identical retransmit on node 2 was refused as replayed_code instead of accepted "+
			"(the step records the packet that spent it, so its retransmit must pass): %s",
			len(spent), strings.Join(evidence, "; "))
	}
}

// TestMultiNodePostgresRestart restarts the database under two running nodes: while it is down
// requests are refused with store_unavailable, and afterwards the same processes serve again.
func TestMultiNodePostgresRestart(t *testing.T) {
	d := startDirectory(t)
	srv := pgtest.StartPrivate(t)
	dsn := srv.NewDatabase(t)
	c := newMNCluster(t, d, dsn, "")
	n1 := startPGNode(t, c, "mn-1", pgNodeOpts{})
	n2 := startPGNode(t, c, "mn-2", pgNodeOpts{})
	users := mnAddUsers(t, c, 5, "pr")

	if err := mnSignIn(c, n1, users[0]); err != nil {
		t.Fatal(err)
	}
	// A sign-in half done when the database goes away.
	pending, err := mnFirstLeg(n2, users[1], 0)
	if err != nil {
		t.Fatal(err)
	}

	srv.Stop(t)
	for i, n := range []*node{n1, n2} {
		u := users[2]
		start := time.Now()
		reply, err := mnSend(n, request{user: u.name, password: u.pw})
		if err != nil {
			t.Fatalf("node %d while the database is down: %v", i+1, err)
		}
		wantCode(t, reply, radius.CodeAccessReject)
		if el := time.Since(start); el > 8*time.Second {
			t.Errorf("node %d took %s to refuse while the database is down", i+1, el)
		}
		wantReason(t, n, u.name, "store_unavailable")
	}
	reply, err := mnSend(n1, request{user: users[1].name, password: code(t, users[1].secret), state: pending})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, reply, radius.CodeAccessReject)
	wantReason(t, n1, users[1].name, "store_unavailable")

	srv.Restart(t)
	// The first request after the restart: the half-done sign-in completes (its step was not
	// spent while the database was down), on the other node.
	reply, err = mnSend(n1, request{user: users[1].name, password: code(t, users[1].secret), state: pending})
	if err != nil {
		t.Fatal(err)
	}
	if reply.Code != radius.CodeAccessAccept {
		t.Fatalf("first request after the restart: %s; decisions %v", mnDescribe(reply), n1.log.decisions(users[1].name))
	}
	for i, n := range []*node{n1, n2, n2} {
		if err := mnSignIn(c, n, users[2+i]); err != nil {
			t.Errorf("sign-in after the restart: %v", err)
		}
	}
	// Both processes are the ones started before the restart.
	for i, n := range []*node{n1, n2} {
		select {
		case <-n.done:
			t.Errorf("node %d exited: %v", i+1, n.exitErr)
		default:
		}
	}
}

// TestMultiNodeStoreCopy moves a SQLite store into PostgreSQL with the radmfa binary; a user
// enrolled (and signed in) on the SQLite node signs in on a Postgres-backed node afterwards,
// and the replay step moved with the secret.
func TestMultiNodeStoreCopy(t *testing.T) {
	d := startDirectory(t)
	old := startNode(t, d, nodeConfig{RequireMA: true, StateKeyHex: mnStateKey})
	alice, alicePW := newUser(t, d)
	aliceSecret := old.enroll(alice)
	bob, bobPW := newUser(t, d)
	bobSecret := old.enroll(bob)
	used := mnStep()
	aliceCode := mnCode(aliceSecret, used)
	st := firstLeg(t, old, alice, alicePW)
	wantCode(t, old.send(request{user: alice, password: aliceCode, state: st}), radius.CodeAccessAccept)
	old.stop()

	dsn := pgtest.Start(t).NewDatabase(t)
	keyFile := filepath.Join(old.dir, "radmfa.key")
	out, err := exec.Command(binary, "store", "copy",
		"--from", "sqlite:"+filepath.Join(old.dir, "radmfa.db"), "--to", "postgres:"+dsn,
		"--key-file", keyFile).CombinedOutput()
	if err != nil {
		t.Fatalf("radmfa store copy: %v\n%s", err, out)
	}
	t.Logf("radmfa store copy: %s", strings.TrimSpace(string(out)))
	if !strings.Contains(string(out), "2 users") {
		t.Errorf("store copy output does not report 2 users:\n%s", out)
	}

	c := newMNCluster(t, d, dsn, keyFile)
	n := startPGNode(t, c, "mn-pg", pgNodeOpts{})
	// The step alice spent on the SQLite node is spent here too.
	if mnStep() <= used+1 {
		st := firstLeg(t, n, alice, alicePW)
		wantCode(t, n.send(request{user: alice, password: aliceCode, state: st}), radius.CodeAccessReject)
		wantReason(t, n, alice, "replayed_code")
	} else {
		t.Logf("more than one TOTP step passed since alice's sign-in; replay check skipped")
	}
	for _, u := range []mnUser{{alice, alicePW, aliceSecret}, {bob, bobPW, bobSecret}} {
		if err := mnSignIn(c, n, u); err != nil {
			t.Errorf("after store copy: %v", err)
		}
	}
}

// TestMultiNodeThroughput measures sign-ins per second with one, two and
// three nodes on one PostgreSQL, with a closed-loop client: 8 workers, 5 seconds per setting,
// each sign-in both legs on one node, nodes taken round-robin by worker. The nodes run a
// binary built without the race detector. It runs only under RADMFA_MEASURE=1 (make
// bench-nodes): figures belong to the bench, not the suite; a failed sign-in still fails it.
func TestMultiNodeThroughput(t *testing.T) {
	if os.Getenv("RADMFA_MEASURE") != "1" {
		t.Skip("a measurement, not a behaviour test: run it with make bench-nodes")
	}
	const (
		workers  = 8
		duration = 5 * time.Second
		pool     = 3000 // users per setting: each signs in once (a TOTP step is single-use)
	)
	bin := filepath.Join(t.TempDir(), "radmfa")
	build := exec.Command("go", "build", "-o", bin, "../cmd/radmfa")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	d := startDirectory(t)
	dsn := pgtest.Start(t).NewDatabase(t)
	c := newMNCluster(t, d, dsn, "")
	var nodes []*node
	for i := 1; i <= 3; i++ {
		nodes = append(nodes, startPGNode(t, c, fmt.Sprintf("mn-%d", i), pgNodeOpts{bin: bin, logLevel: "info", ldapPool: 8}))
	}
	for k := 1; k <= 3; k++ {
		start := time.Now()
		users := mnAddUsers(t, c, pool+2*k, fmt.Sprintf("tp%d-", k))
		setup := time.Since(start)
		// Warm up: one sign-in per node (connections, statement caches).
		for i := range k {
			if err := mnSignIn(c, nodes[i], users[pool+i]); err != nil {
				t.Fatalf("warm-up: %v", err)
			}
		}
		var next, ok, bad atomic.Int64
		var mu sync.Mutex
		var lat []time.Duration
		var firstErr error
		var wg sync.WaitGroup
		begin := time.Now()
		stop := begin.Add(duration)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := nodes[w%k]
				for time.Now().Before(stop) {
					i := int(next.Add(1)) - 1
					if i >= pool {
						return
					}
					u := users[i]
					t0 := time.Now()
					st, err := mnFirstLeg(n, u, 0)
					var reply *radius.Packet
					if err == nil {
						reply, err = mnSend(n, request{user: u.name, password: mnCode(u.secret, mnStep()), state: st})
					}
					if err == nil && reply.Code != radius.CodeAccessAccept {
						err = fmt.Errorf("%s: %s", u.name, mnDescribe(reply))
					}
					if err != nil {
						bad.Add(1)
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						continue
					}
					ok.Add(1)
					mu.Lock()
					lat = append(lat, time.Since(t0))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(begin)
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		pct := func(p float64) time.Duration {
			if len(lat) == 0 {
				return 0
			}
			return lat[int(p*float64(len(lat)-1))]
		}
		exhausted := ""
		if next.Load() >= pool {
			exhausted = " (user pool exhausted before the time limit)"
		}
		t.Logf("throughput %d node(s): %d sign-ins in %s = %.1f sign-ins/s, %d failed; latency p50 %s p95 %s; "+
			"%d workers, setup of %d users %s%s",
			k, ok.Load(), elapsed.Round(time.Millisecond), float64(ok.Load())/elapsed.Seconds(), bad.Load(),
			pct(0.50).Round(time.Millisecond), pct(0.95).Round(time.Millisecond), workers, len(users),
			setup.Round(time.Millisecond), exhausted)
		if firstErr != nil {
			t.Errorf("%d node(s): %d sign-ins failed; first failure: %v", k, bad.Load(), firstErr)
		}
		if ok.Load() == 0 {
			t.Errorf("%d node(s): no sign-in completed", k)
		}
		if la, err := os.ReadFile("/proc/loadavg"); err == nil {
			t.Logf("load average after %d node(s): %s", k, strings.TrimSpace(string(la)))
		}
	}
}

// mnLogEntryStart matches the start of an entry with log_line_prefix '%m [%p] app=%a '.
var mnLogEntryStart = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[\d+\] app=(\S*) (\w+):  (.*)$`)

// logStatements parses a PostgreSQL log written with that prefix into (app, text) statement
// entries: "statement: …" and "execute …: …" lines with their continuation lines joined.
func mnLogStatements(log string) [][2]string {
	var out [][2]string
	cur := -1
	for _, line := range strings.Split(log, "\n") {
		m := mnLogEntryStart.FindStringSubmatch(line)
		if m == nil {
			if cur >= 0 {
				out[cur][1] += " " + strings.TrimSpace(line)
			}
			continue
		}
		cur = -1
		if m[2] != "LOG" {
			continue
		}
		text := m[3]
		switch {
		case strings.HasPrefix(text, "statement: "):
			text = strings.TrimPrefix(text, "statement: ")
		case strings.HasPrefix(text, "execute "):
			if _, after, ok := strings.Cut(text, ": "); ok {
				text = after
			}
		default:
			continue
		}
		out = append(out, [2]string{m[1], strings.TrimSpace(text)})
		cur = len(out) - 1
	}
	return out
}

// TestMultiNodeStatements counts the SQL statements one sign-in costs, with log_statement =
// all on a private cluster (measured, not asserted).
func TestMultiNodeStatements(t *testing.T) {
	d := startDirectory(t)
	srv := pgtest.StartPrivate(t)
	dsn := srv.NewDatabase(t)
	c := newMNCluster(t, d, dsn, "")
	const app = "radmfa-stmt"
	n := startPGNode(t, c, "mn-stmt", pgNodeOpts{dsn: dsn + "&application_name=" + app})
	users := mnAddUsers(t, c, 2, "sq")

	srv.SuperExec(t,
		`ALTER SYSTEM SET log_statement = 'all'`,
		`ALTER SYSTEM SET log_line_prefix = '%m [%p] app=%a '`,
		`SELECT pg_reload_conf()`)
	// Warm-up sign-in: the node's connections have read the new settings and prepared their
	// statements; its audit rows are written.
	if err := mnSignIn(c, n, users[0]); err != nil {
		t.Fatal(err)
	}
	mnWaitAudit(t, dsn, users[0].name, 2)
	if !mnWaitFor(10*time.Second, func() bool {
		for _, s := range mnLogStatements(srv.Log()) {
			if s[0] == app {
				return true
			}
		}
		return false
	}) {
		t.Fatal("no statement of the node's in the server log: log_statement did not take effect")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	probe, err := pgx.Connect(ctx, dsn+"&application_name=radmfa-probe")
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close(ctx)
	mark := func(name string) {
		if _, err := probe.Exec(ctx, "SELECT 'radmfa-mark-"+name+"'"); err != nil {
			t.Fatal(err)
		}
	}
	u := users[1]
	mark("begin")
	st := firstLeg(t, n, u.name, u.pw)
	mnWaitAudit(t, dsn, u.name, 1)
	mark("leg2")
	wantCode(t, n.send(request{user: u.name, password: code(t, u.secret), state: st}), radius.CodeAccessAccept)
	mnWaitAudit(t, dsn, u.name, 2)
	mark("end")

	var legs [2][]string
	leg := -1
	if !mnWaitFor(10*time.Second, func() bool { return strings.Contains(srv.Log(), "radmfa-mark-end") }) {
		t.Fatal("the end marker never reached the server log")
	}
	for _, s := range mnLogStatements(srv.Log()) {
		switch {
		case strings.Contains(s[1], "radmfa-mark-begin"):
			leg = 0
		case strings.Contains(s[1], "radmfa-mark-leg2"):
			leg = 1
		case strings.Contains(s[1], "radmfa-mark-end"):
			leg = -1
		case leg >= 0 && s[0] == app:
			legs[leg] = append(legs[leg], s[1])
		}
	}
	total, pings := 0, 0
	for i, l := range legs {
		p := 0
		var list []string
		for _, s := range l {
			if s == "-- ping" {
				p++
				continue
			}
			if len(s) > 110 {
				s = s[:110] + "…"
			}
			list = append(list, "  "+s)
		}
		t.Logf("leg %d: %d statements + %d pings:\n%s", i+1, len(l)-p, p, strings.Join(list, "\n"))
		total += len(l) - p
		pings += p
	}
	t.Logf("one sign-in (both legs, audit rows included): %d SQL statements + %d pool pings = %d round trips",
		total, pings, total+pings)
	if total == 0 {
		t.Fatal("counted no statements: the log parsing is wrong")
	}
}
