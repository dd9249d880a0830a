package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

// opsNode starts a node with the metrics listener on a free port and returns its base URL.
func opsNode(t *testing.T, d *directory, nc nodeConfig) (*node, string) {
	t.Helper()
	port := freeTCPPort(t)
	nc.Extra += fmt.Sprintf("metrics:\n  listen: 127.0.0.1:%d\n", port)
	n := startNode(t, d, nc)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitListener(t, n)
	return n, base
}

// waitListener waits until the node says its metrics listener is up.
func waitListener(t *testing.T, n *node) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(n.log.String(), "metrics and health listener") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("radmfa did not start the metrics listener\n%s", n.log)
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// scrape is one /metrics answer, parsed.
type scrape map[string]*dto.MetricFamily

func scrapeMetrics(t *testing.T, base string) scrape {
	t.Helper()
	code, body := httpGet(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d\n%s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

// value returns the sample of name whose labels include want, and whether there is one.
// Histograms give their sample count.
func (s scrape) value(name string, want map[string]string) (float64, bool) {
	f := s[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

type want struct {
	name   string
	labels map[string]string
	check  func(float64) bool
	expect string
}

func eq(v float64) (func(float64) bool, string) {
	return func(x float64) bool { return x == v }, fmt.Sprintf("= %v", v)
}
func atLeast(v float64) (func(float64) bool, string) {
	return func(x float64) bool { return x >= v }, fmt.Sprintf(">= %v", v)
}

func series(name string, labels map[string]string, cmp func(float64) (func(float64) bool, string), v float64) want {
	c, e := cmp(v)
	return want{name, labels, c, e}
}

func checkSeries(t *testing.T, s scrape, wants []want) {
	t.Helper()
	for _, w := range wants {
		got, ok := s.value(w.name, w.labels)
		if !ok {
			t.Errorf("%s%v: no such series", w.name, w.labels)
			continue
		}
		if !w.check(got) {
			t.Errorf("%s%v = %v, want %s", w.name, w.labels, got, w.expect)
		}
	}
}

type L = map[string]string

func TestMetricsAfterSignIn(t *testing.T) {
	d := startDirectory(t)
	n, base := opsNode(t, d, nodeConfig{RequireMA: true})
	user, pw := newUser(t, d)
	secret := n.enroll(user)

	reply := n.send(request{user: user, password: pw})
	wantCode(t, reply, radius.CodeAccessChallenge)
	st, _ := rfc2865.State_Lookup(reply)
	wantCode(t, n.send(request{user: user, password: code(t, secret), state: st}), radius.CodeAccessAccept)
	wantCode(t, n.send(request{user: user, password: "wrong"}), radius.CodeAccessReject)
	wantReason(t, n, user, "bad_password")

	if code, body := httpGet(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d %s", code, body)
	}
	code, body := httpGet(t, base+"/readyz")
	if code != 200 {
		t.Errorf("/readyz = %d %s", code, body)
	}
	var ready struct {
		Status string
		Checks map[string]struct{ OK bool }
	}
	if err := json.Unmarshal([]byte(body), &ready); err != nil || ready.Status != "ready" ||
		!ready.Checks["ldap"].OK || !ready.Checks["store"].OK {
		t.Errorf("/readyz body (%v):\n%s", err, body)
	}

	s := scrapeMetrics(t, base)
	local := func(result, reason string) L { return L{"nas": "local", "result": result, "reason": reason} }
	checkSeries(t, s, []want{
		series("radmfa_requests_total", local("challenge", "challenge_sent"), eq, 1),
		series("radmfa_requests_total", local("accept", "mfa_ok"), eq, 1),
		series("radmfa_requests_total", local("reject", "bad_password"), eq, 1),
		series("radmfa_request_duration_seconds", L{"result": "accept"}, eq, 1),
		series("radmfa_request_duration_seconds", L{"result": "reject"}, eq, 1),
		series("radmfa_stage_duration_seconds", L{"stage": "primary"}, eq, 2),
		series("radmfa_stage_duration_seconds", L{"stage": "factor"}, eq, 1),
		series("radmfa_stage_duration_seconds", L{"stage": "store"}, eq, 3), // one read per request
		series("radmfa_stage_errors_total", L{"stage": "store"}, eq, 0),
		series("radmfa_stage_errors_total", L{"stage": "primary"}, eq, 0), // a wrong password is no error
		series("radmfa_stage_errors_total", L{"stage": "sms"}, eq, 0),
		series("radmfa_sms_sent_total", nil, eq, 0),
		series("radmfa_sms_failed_total", nil, eq, 0),
		series("radmfa_lockouts_total", nil, eq, 0),
		series("radmfa_failmode_open_total", L{"nas": "local"}, eq, 0),
		series("radmfa_radius_packets_received_total", nil, atLeast, 3),
		series("radmfa_radius_replies_total", nil, atLeast, 3),
		series("radmfa_radius_packets_dropped_total", nil, eq, 0),
		series("radmfa_radius_duplicates_total", nil, eq, 0),
		series("radmfa_radius_panics_total", nil, eq, 0),
		series("radmfa_reloads_total", L{"result": "success"}, eq, 0),
		series("radmfa_config_reload_success", nil, eq, 1),
		series("radmfa_ldap_connections", L{"url": d.URL, "state": "in_use"}, eq, 0),
		series("radmfa_ldap_connections", L{"url": d.URL, "state": "idle"}, atLeast, 1),
		series("radmfa_ldap_pool_size", L{"url": d.URL}, eq, 4),
		series("radmfa_ldap_errors_total", L{"url": d.URL}, eq, 0),
		series("radmfa_up", L{"dependency": "ldap"}, eq, 1),
		series("radmfa_up", L{"dependency": "store"}, eq, 1),
		series("radmfa_build_info", nil, eq, 1),
		series("process_open_fds", nil, atLeast, 1),
	})
	if _, ok := s.value("radmfa_up", L{"dependency": "sms"}); ok {
		t.Error("radmfa_up{dependency=sms} without an SMS provider configured")
	}
	// The latency of the accept is a real duration, not zero or a unit mix-up.
	if h := s["radmfa_request_duration_seconds"]; h != nil {
		for _, m := range h.Metric {
			if sum := m.Histogram.GetSampleSum(); sum <= 0 || sum > 30 {
				t.Errorf("request duration sum = %v s", sum)
			}
		}
	}
}

func TestMetricsReload(t *testing.T) {
	d := startDirectory(t)
	n, base := opsNode(t, d, nodeConfig{RequireMA: true})
	good, err := os.ReadFile(n.config)
	if err != nil {
		t.Fatal(err)
	}
	hup := func(content string, wantResult string, wantSuccess float64) {
		t.Helper()
		if err := os.WriteFile(n.config, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			s := scrapeMetrics(t, base)
			v, _ := s.value("radmfa_reloads_total", L{"result": wantResult})
			if v >= 1 {
				checkSeries(t, s, []want{series("radmfa_config_reload_success", nil, eq, wantSuccess)})
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s reload counted after SIGHUP", wantResult)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	hup(string(good)+"\nbogus_key: 1\n", "failure", 0)
	hup(string(good), "success", 1)
	// The new engine still reports to the same metrics.
	user, pw := newUser(t, d)
	wantCode(t, n.send(request{user: user, password: pw}), radius.CodeAccessReject) // not enrolled
	checkSeries(t, scrapeMetrics(t, base), []want{
		series("radmfa_requests_total", L{"nas": "local", "result": "reject", "reason": "not_enrolled"}, eq, 1),
	})
}

// /readyz turns 503, naming ldap, once the only LDAP URL stops answering; /healthz stays 200.
func TestReadyzWhenDirectoryDies(t *testing.T) {
	d := startDirectory(t)
	p := newTCPProxy(t, strings.TrimPrefix(d.URL, "ldap://"))
	url := "ldap://" + p.addr()
	_, base := opsNode(t, d, nodeConfig{RequireMA: true, LDAPURLs: []string{url}, LDAPTimeout: "1s"})

	if code, body := httpGet(t, base+"/readyz"); code != 200 {
		t.Fatalf("/readyz with the directory up = %d\n%s", code, body)
	}
	p.kill()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := httpGet(t, base+"/readyz")
		if code == http.StatusServiceUnavailable {
			if !strings.Contains(body, `"failing": [`) || !strings.Contains(body, `"ldap"`) || !strings.Contains(body, url) {
				t.Errorf("/readyz 503 body does not name the LDAP URL:\n%s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d 10 s after the directory died\n%s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, _ := httpGet(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d with the directory down, want 200 (the process is fine)", code)
	}
	checkSeries(t, scrapeMetrics(t, base), []want{
		series("radmfa_up", L{"dependency": "ldap"}, eq, 0),
		series("radmfa_up", L{"dependency": "store"}, eq, 1),
		series("radmfa_ldap_errors_total", L{"url": url}, atLeast, 1),
	})
}

// config check --connect reaches each dependency and says which failed.
func TestConfigCheckConnect(t *testing.T) {
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true})
	out, err := exec.Command(binary, "config", "check", "--connect", "--config", n.config).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok   ldap "+d.URL+"\n") || !strings.Contains(string(out), "ok   store sqlite ") {
		t.Errorf("config check --connect: %v\n%s", err, out)
	}

	dead := "ldap://127.0.0.1:" + fmt.Sprint(freeTCPPort(t))
	cfg, _ := os.ReadFile(n.config)
	bad := strings.Replace(string(cfg), fmt.Sprintf("%q", d.URL), fmt.Sprintf("%q\n    - %q", d.URL, dead), 1)
	silent, err := net.ListenPacket("udp", "127.0.0.1:0") // reads and never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	upstream := fmt.Sprintf("\nupstream:\n  timeout: 1s\n  servers:\n    - address: %s\n      secret: %s\n"+
		"    - address: %s\n      secret: never-answers\n    - address: 127.0.0.1:%d\n      secret: nobody-listens\n",
		n.addr, n.secret, silent.LocalAddr(), freeUDPPort(t))
	path := n.dir + "/bad.yaml"
	if err := os.WriteFile(path, []byte(bad+upstream), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(binary, "config", "check", "--connect", "--config", path).CombinedOutput()
	s := string(out)
	for _, line := range []string{
		"ok   ldap " + d.URL + "\n",
		"FAIL ldap " + dead + ": ",
		"ok   upstream " + n.addr + "\n", // radmfa itself answers Status-Server
		"FAIL upstream " + silent.LocalAddr().String() + ": no answer to Status-Server within 1s",
		": refused: nothing listens on that port",
	} {
		if !strings.Contains(s, line) {
			t.Errorf("output lacks %q", line)
		}
	}
	if err == nil || !strings.Contains(s, "3 of 6 dependencies failed") || t.Failed() {
		t.Errorf("exit: %v, want an error counting 3 failures\n%s", err, s)
	}
}

// tcpProxy forwards connections to a target until kill, after which its port refuses them.
type tcpProxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{l: l, target: target}
	go p.serve()
	t.Cleanup(p.kill)
	return p
}

func (p *tcpProxy) addr() string { return p.l.Addr().String() }

func (p *tcpProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(u, c); u.Close() }()
		go func() { _, _ = io.Copy(c, u); c.Close() }()
	}
}

func (p *tcpProxy) kill() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
