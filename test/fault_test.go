package test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/radmfa/radmfa/factors"
)

// waitFor polls cond until it holds or timeout passes, then fails the test naming what.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logLines returns radmfa's log lines containing every one of subs.
func logLines(n *node, subs ...string) []string {
	var out []string
	for _, line := range strings.Split(n.log.String(), "\n") {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok && line != "" {
			out = append(out, line)
		}
	}
	return out
}

// noRaceExitDelay stops the race runtime in radmfa child processes from sleeping a second at
// exit (GORACE atexit_sleep_ms, default 1000): every CLI run would otherwise take over 1 s.
func noRaceExitDelay(t *testing.T) {
	t.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
}

func alive(t testing.TB, n *node) {
	t.Helper()
	select {
	case <-n.done:
		t.Fatalf("radmfa exited: %v", n.exitErr)
	default:
	}
}

// TestFaultDirectoryRestart stops slapd under a running node and starts it again on the same
// port and data: while it is down every first leg is rejected as directory_unavailable within
// the LDAP timeout (and a challenge issued before the outage can still be completed, the code
// needs no directory); once it is back, sign-ins work again without restarting radmfa.
func TestFaultDirectoryRestart(t *testing.T) {
	noRaceExitDelay(t)
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true, LDAPTimeout: "1s"})
	users := goodUsers(t, d, n, 4)
	pid := n.cmd.Process.Pid
	signIn(t, n, users[0])
	pending := firstLeg(t, n, users[3].name, users[3].password)

	d.Stop(t)
	for i := 0; i < 3; i++ {
		start := time.Now()
		wantCode(t, n.send(request{user: users[1].name, password: users[1].password}), radius.CodeAccessReject)
		if el := time.Since(start); el > 4*time.Second {
			t.Fatalf("reject while the directory is down took %s (ldap.timeout 1s)", el)
		}
	}
	wantReason(t, n, users[1].name, "directory_unavailable")
	for _, dd := range n.log.decisions(users[1].name) {
		if dd["reason"] != "directory_unavailable" {
			t.Fatalf("while the directory is down: decision %v", dd)
		}
	}
	wantCode(t, n.send(request{user: users[3].name, password: code(t, users[3].secret), state: pending}), radius.CodeAccessAccept)

	d.Restart(t)
	start := time.Now()
	waitFor(t, 20*time.Second, "a first leg to succeed after slapd came back", func() bool {
		r := n.send(request{user: users[1].name, password: users[1].password, wait: 3 * time.Second})
		return r != nil && r.Code == radius.CodeAccessChallenge
	})
	t.Logf("first challenge %s after slapd answered again", time.Since(start).Round(time.Millisecond))
	signIn(t, n, users[1])
	signIn(t, n, users[2])
	alive(t, n)
	if n.cmd.Process.Pid != pid {
		t.Fatal("radmfa was restarted")
	}
	checkLogClean(t, n)
}

// hangingLDAP returns an ldap:// URL whose server accepts TCP connections and never answers.
func hangingLDAP(t testing.TB) (url string, accepted *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = &atomic.Int64{}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "ldap://" + l.Addr().String(), accepted
}

// TestFaultLDAPBlackholed: the first of two LDAP URLs accepts connections and never answers.
// Every sign-in still succeeds, each leg well within the NAS's patience.
func TestFaultLDAPBlackholed(t *testing.T) {
	noRaceExitDelay(t)
	d := startDirectory(t)
	hole, accepted := hangingLDAP(t)
	const timeout = time.Second
	n := startNode(t, d, nodeConfig{RequireMA: true, LDAPURLs: []string{hole, d.URL}, LDAPTimeout: "1s"})
	users := goodUsers(t, d, n, 6)
	var worst time.Duration
	for _, u := range users {
		start := time.Now()
		st := firstLeg(t, n, u.name, u.password)
		el := time.Since(start)
		worst = max(worst, el)
		// One timeout on the dead server, then the good one.
		if el > 2*timeout+time.Second {
			t.Fatalf("first leg for %s took %s with ldap.timeout %s", u.name, el, timeout)
		}
		wantCode(t, n.send(request{user: u.name, password: code(t, u.secret), state: st}), radius.CodeAccessAccept)
	}
	if accepted.Load() == 0 {
		t.Fatal("radmfa never tried the blackholed URL: the test proved nothing")
	}
	t.Logf("%d sign-ins, slowest first leg %s, %d connections to the blackhole", len(users), worst.Round(time.Millisecond), accepted.Load())
	checkLogClean(t, n)
}

// TestFaultReload: SIGHUP with a config that does not validate keeps the running one (and the
// log names the key and its line); SIGHUP with a good changed config (rotated secret, a new
// client) applies to the next request.
func TestFaultReload(t *testing.T) {
	noRaceExitDelay(t)
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true})
	users := goodUsers(t, d, n, 3)
	orig, err := os.ReadFile(n.config)
	if err != nil {
		t.Fatal(err)
	}

	// Broken: an unknown key under the first client.
	lines := strings.Split(string(orig), "\n")
	at := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "      require_message_authenticator:") {
			at = i
			break
		}
	}
	if at < 0 {
		t.Fatalf("no client block in the generated config:\n%s", orig)
	}
	broken := append(append(append([]string(nil), lines[:at+1]...), "      secrte: oops"), lines[at+1:]...)
	badLine := at + 2
	if err := os.WriteFile(n.config, []byte(strings.Join(broken, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	hup(t, n)
	waitFor(t, 10*time.Second, "the refused reload to be logged", func() bool { return len(logLines(n, "reload refused")) > 0 })
	refused := logLines(n, "reload refused")[0]
	t.Logf("refused reload: %s", refused)
	for _, want := range []string{"radius.clients[0].secrte", fmt.Sprintf("line %d", badLine)} {
		if !strings.Contains(refused, want) {
			t.Errorf("refused reload log does not name %q: %s", want, refused)
		}
	}
	signIn(t, n, users[0])

	// Good: a rotated secret and a new client.
	const rotated, nas2 = "e2e-rotated-secret-42", "e2e-new-nas-secret-43"
	good := strings.Replace(string(orig), "secret: "+testSecret+"\n", "secret: "+rotated+"\n", 1)
	good = strings.Replace(good, "\nldap:\n", "\n    - name: newnas\n      address: 127.0.0.2/32\n      secret: "+nas2+"\nldap:\n", 1)
	if err := os.WriteFile(n.config, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	hup(t, n)
	waitFor(t, 10*time.Second, "the reload to be logged", func() bool { return len(logLines(n, "configuration reloaded")) > 0 })
	if r := n.send(request{user: users[1].name, password: users[1].password, wait: time.Second}); r != nil {
		t.Fatalf("the old secret still works after the reload: %s", r.Code)
	}
	n.secret = rotated
	signIn(t, n, users[1])
	p := newPeer(t, "newnas", "127.0.0.2", n.addr, nas2)
	req := encodeWithMA(pkt(nas2, users[2].name, users[2].password))
	p.send(t, req)
	waitFor(t, 8*time.Second, "an answer to the new client", func() bool { return len(p.replies()) > 0 })
	r := p.replies()[0]
	if !radius.IsAuthenticResponse(r, req, []byte(nas2)) || radius.Code(r[0]) != radius.CodeAccessChallenge {
		t.Fatalf("new client got %s (authentic %v)", radius.Code(r[0]), radius.IsAuthenticResponse(r, req, []byte(nas2)))
	}
	alive(t, n)
	checkLogClean(t, n)
}

func hup(t testing.TB, n *node) {
	t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// slowLDAP is a TCP proxy to a directory that holds every chunk of the server's answers for
// delay, so requests stay in flight long enough to signal the process in the middle of them.
func slowLDAP(t testing.TB, target string, delay time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			track(c)
			track(s)
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() {
				buf := make([]byte, 64<<10)
				for {
					k, err := s.Read(buf)
					if k > 0 {
						time.Sleep(delay)
						if _, werr := c.Write(buf[:k]); werr != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "ldap://" + l.Addr().String()
}

// udpRxQueue returns how many bytes wait unread in the receive queue of the loopback UDP
// socket on port (from /proc/net/udp).
func udpRxQueue(port int) (int, bool) {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return 0, false
	}
	local := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 4 && f[1] == local {
			_, rx, _ := strings.Cut(f[4], ":")
			n, err := strconv.ParseInt(rx, 16, 64)
			return int(n), err == nil
		}
	}
	return 0, false
}

// TestFaultSIGTERMInFlight: SIGTERM while a burst of requests is in flight (the directory
// answers slowly). Every request radmfa had read before the signal gets its answer, then the
// process exits 0.
func TestFaultSIGTERMInFlight(t *testing.T) {
	noRaceExitDelay(t)
	d := startDirectory(t)
	slow := slowLDAP(t, strings.TrimPrefix(d.URL, "ldap://"), 100*time.Millisecond)
	n := startNode(t, d, nodeConfig{RequireMA: true, LDAPURLs: []string{slow}, LDAPTimeout: "5s"})
	users := goodUsers(t, d, n, 8)
	port, _ := strconv.Atoi(n.addr[strings.LastIndexByte(n.addr, ':')+1:])

	const burst = 32
	type result struct {
		reply []byte
		at    time.Time
	}
	results := make([]result, burst)
	reqs := make([][]byte, burst)
	var wg sync.WaitGroup
	for i := range burst {
		u := users[i%len(users)]
		reqs[i] = encodeWithMA(pkt(testSecret, u.name, u.password))
		c, err := net.Dial("udp", n.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(reqs[i]); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(40 * time.Second))
			buf := make([]byte, 4096)
			if k, err := c.Read(buf); err == nil {
				results[i] = result{append([]byte(nil), buf[:k]...), time.Now()}
			}
		}()
	}
	// Every datagram read by radmfa (none left in the socket's queue), then the signal.
	waitFor(t, 10*time.Second, "radmfa to read the burst", func() bool {
		q, ok := udpRxQueue(port)
		return ok && q == 0
	})
	termAt := time.Now()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	select {
	case <-n.done:
	case <-time.After(40 * time.Second):
		t.Fatal("radmfa did not exit within 40 s of SIGTERM")
	}
	after, answered := 0, 0
	for i, r := range results {
		if r.reply == nil {
			t.Errorf("request %d got no answer", i)
			continue
		}
		answered++
		if !radius.IsAuthenticResponse(r.reply, reqs[i], []byte(testSecret)) || radius.Code(r.reply[0]) != radius.CodeAccessChallenge {
			t.Errorf("request %d: %s", i, radius.Code(r.reply[0]))
		}
		if r.at.After(termAt) {
			after++
		}
	}
	if after == 0 {
		t.Fatal("every answer came before SIGTERM: nothing was in flight, the test proved nothing")
	}
	if n.exitErr != nil {
		t.Errorf("radmfa exit: %v", n.exitErr)
	}
	if len(logLines(n, `"message":"stopped"`)) == 0 {
		t.Error("no \"stopped\" log line")
	}
	t.Logf("%d/%d answered, %d of them after SIGTERM; exited %s after the signal",
		answered, burst, after, time.Since(termAt).Round(time.Millisecond))
	checkLogClean(t, n)
}

// TestFaultKill9DuringEnrol runs many `radmfa user enroll` at once against the node's store,
// SIGKILLs the server and some of the CLI runs midway, and checks that every enrolment the CLI
// reported as done is there after a restart (user show lists totp, and a TOTP sign-in with the
// reported secret succeeds), and that the killed ones left either nothing or a whole enrolment.
func TestFaultKill9DuringEnrol(t *testing.T) {
	noRaceExitDelay(t)
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true})
	const count = 24
	users := make([]goodUser, count)
	for i := range users {
		u, pw := newUser(t, d)
		sum := bytes.Repeat([]byte{byte(i + 1)}, 20)
		users[i] = goodUser{name: u, password: pw, secret: sum}
	}
	type run struct {
		cmd      *exec.Cmd
		out      bytes.Buffer
		done     chan struct{}
		err      error
		killed   bool
		finished atomic.Bool
	}
	runs := make([]*run, count)
	var finished atomic.Int64
	for i, u := range users {
		r := &run{done: make(chan struct{})}
		r.cmd = exec.Command(binary, "user", "enroll", u.name, "--secret", factors.EncodeSecret(u.secret), "--no-qr", "--config", n.config)
		r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			r.err = r.cmd.Wait()
			r.finished.Store(true)
			finished.Add(1)
			close(r.done)
		}()
		runs[i] = r
	}
	// Kill as soon as the first few are through: the rest are somewhere between start and commit.
	waitFor(t, 60*time.Second, "the first enrolments to finish", func() bool { return finished.Load() >= 3 })
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killedCLI := 0
	for i, r := range runs {
		if i%2 == 0 && !r.finished.Load() {
			r.killed = true
			if r.cmd.Process.Kill() == nil {
				killedCLI++
			}
		}
	}
	<-n.done
	for _, r := range runs {
		select {
		case <-r.done:
		case <-time.After(60 * time.Second):
			t.Fatal("an enrol run did not finish within 60 s")
		}
	}
	n.start()

	reported, absent, whole := 0, 0, 0
	for i, r := range runs {
		u := users[i]
		done := r.err == nil && strings.Contains(r.out.String(), "enrolled "+u.name)
		if !r.killed && !done {
			t.Errorf("%s: enrol run failed without being killed: %v\n%s", u.name, r.err, r.out.String())
		}
		show, serr := n.cli("user", "show", u.name)
		has := serr == nil && strings.Contains(show, "totp")
		switch {
		case done && !has:
			t.Errorf("%s: the CLI reported the enrolment done, but user show says: %v\n%s", u.name, serr, show)
			continue
		case done:
			reported++
		case !has:
			if !strings.Contains(show, "no such user") {
				t.Errorf("%s (killed %v, exit %v): user show failed oddly: %v\n%s", u.name, r.killed, r.err, serr, show)
			}
			absent++
			wantCode(t, n.send(request{user: u.name, password: u.password}), radius.CodeAccessReject)
			continue
		default:
			whole++
		}
		signIn(t, n, u)
	}
	if reported == 0 {
		t.Fatal("no enrolment finished")
	}
	if out, err := n.cli("user", "list"); err != nil {
		t.Fatalf("user list after the kills: %v\n%s", err, out)
	}
	t.Logf("%d enrol runs: %d reported done, all verified; %d CLI runs SIGKILLed mid-way: %d left nothing, %d a whole enrolment they never reported (the others had finished)",
		count, reported, killedCLI, absent, whole)
	checkLogClean(t, n)
}
