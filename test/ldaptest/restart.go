package ldaptest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Stop stops slapd and keeps its data directory, so Restart brings the same directory (with
// every entry added since Start) back on the same ports. Fault tests use it for an outage.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("ldaptest: %v", err)
	}
	if out, err := runScript(filepath.Join(root, "scripts", "slapd.sh"), "stop", s.Dir); err != nil {
		t.Fatalf("ldaptest: slapd.sh stop: %v\n%s", err, out)
	}
}

// Restart starts slapd again after Stop: same slapd.conf, data and ports. It returns once
// slapd answers a bind, and fails the test (with slapd's log) if that takes over 15 s. The
// test's cleanup stops it, as it does the slapd Start ran.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatalf("ldaptest: %v", err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("ldaptest: port of %s: %v", s.URL, err)
	}
	if b, err := os.ReadFile(filepath.Join(s.Dir, "slapd.pid")); err == nil && len(b) > 0 {
		t.Fatalf("ldaptest: Restart: slapd still running in %s (pid %s)", s.Dir, b)
	}
	urls := fmt.Sprintf("ldap://127.0.0.1:%d/ ldaps://127.0.0.1:%d/", port, port+1)
	// As scripts/slapd.sh start does: slapd in the foreground, in the background of a shell,
	// its PID where slapd.sh stop looks, and a watcher that stops it if this test process dies.
	script := `/usr/sbin/slapd -d 256 -f "$1/slapd.conf" -h "$2" </dev/null >>"$1/slapd.log" 2>&1 &
pid=$!
echo "$pid" >"$1/slapd.pid"
( while kill -0 "$SLAPD_WATCH_PID" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 1; done
  kill "$pid" 2>/dev/null || true ) </dev/null >/dev/null 2>&1 &`
	cmd := exec.Command("bash", "-c", script, "slapd-restart", s.Dir, urls)
	cmd.Env = append(os.Environ(), "SLAPD_WATCH_PID="+strconv.Itoa(os.Getpid()))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldaptest: restart slapd: %v\n%s", err, out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := s.ping()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ldaptest: slapd did not answer within 15 s of Restart: %v\n%s", err, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ping binds as the rootdn once.
func (s *Server) ping() error {
	c, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetTimeout(time.Second)
	return c.Bind(s.AdminDN, s.AdminPass)
}
