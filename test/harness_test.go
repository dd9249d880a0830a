package test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/test/adtest"
	"github.com/radmfa/radmfa/test/ldaptest"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
)

// binary is the radmfa executable built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "radmfa-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "radmfa")
	build := exec.Command("go", "build", "-race", "-o", binary, "../cmd/radmfa")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build radmfa:", err)
		os.Exit(1)
	}
	// adtest.Run stops the shared Samba DC after the last test that used it.
	code := adtest.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// raceEnv is the environment for the race-built binary without the race runtime's 1 s sleep
// at exit, which would add a second to every CLI call.
func raceEnv() []string {
	return append(os.Environ(), "GORACE=atexit_sleep_ms=0")
}

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// logBuffer collects radmfa's JSON log lines.
type logBuffer struct {
	mu    sync.Mutex
	lines []map[string]any
	raw   bytes.Buffer
}

func (l *logBuffer) consume(r *bufio.Scanner) {
	for r.Scan() {
		line := r.Bytes()
		l.mu.Lock()
		l.raw.Write(line)
		l.raw.WriteByte('\n')
		var m map[string]any
		if json.Unmarshal(line, &m) == nil {
			l.lines = append(l.lines, m)
		}
		l.mu.Unlock()
	}
}

// decisions returns the decision lines logged for user.
func (l *logBuffer) decisions(user string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, m := range l.lines {
		if m["message"] == "decision" && m["user"] == user {
			out = append(out, m)
		}
	}
	return out
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.raw.String()
}

// node is one running radmfa process.
type node struct {
	t       testing.TB
	dir     string
	config  string
	addr    string
	secret  string
	cmd     *exec.Cmd
	log     *logBuffer
	done    chan struct{}
	exitErr error
	bin     string // executable; "" is the race build made by TestMain
}

// nodeConfig is what a test varies in the generated config.
type nodeConfig struct {
	LDAPURLs     []string
	LDAPTimeout  string
	ExtraClients string // YAML list items appended under radius.clients
	RequireMA    bool
	ChallengeTTL string
	StateKeyHex  string
	Extra        string // YAML appended at the top level
	MFAExtra     string // YAML appended under mfa:
	ClientExtra  string // YAML appended to the main client
}

const testSecret = "e2e-shared-secret"

// startNode writes a config for the directory d and starts radmfa on a free port.
func startNode(t testing.TB, d *directory, nc nodeConfig) *node {
	t.Helper()
	dir := t.TempDir()
	port := freeUDPPort(t)
	if nc.LDAPURLs == nil {
		nc.LDAPURLs = []string{d.URL}
	}
	if nc.LDAPTimeout == "" {
		nc.LDAPTimeout = "2s"
	}
	if nc.ChallengeTTL == "" {
		nc.ChallengeTTL = "120s"
	}
	if nc.StateKeyHex == "" {
		nc.StateKeyHex = strings.Repeat("ab", 32)
	}
	var urls strings.Builder
	for _, u := range nc.LDAPURLs {
		fmt.Fprintf(&urls, "    - %q\n", u)
	}
	cfg := fmt.Sprintf(`node: test-%d
radius:
  listen: 127.0.0.1:%d
  clients:
    - name: local
      address: 127.0.0.1/32
      secret: %s
      require_message_authenticator: %v
%s%s
ldap:
  urls:
%s  bind_dn: %q
  bind_password: %q
  base_dn: %q
  user_filter: "(&(objectClass=inetOrgPerson)(uid={username}))"
  timeout: %s
  pool_size: 4
store:
  driver: sqlite
  dsn: %s
  key_file: %s
mfa:
  challenge_timeout: %s
  state_key: %q
%s
log:
  level: debug
  format: json
%s`, port, port, testSecret, nc.RequireMA, nc.ClientExtra, nc.ExtraClients, urls.String(),
		d.BindDN, d.BindPassword, d.BaseDN, nc.LDAPTimeout,
		filepath.Join(dir, "radmfa.db"), filepath.Join(dir, "radmfa.key"),
		nc.ChallengeTTL, nc.StateKeyHex, nc.MFAExtra, nc.Extra)
	path := filepath.Join(dir, "radmfa.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, dir: dir, config: path, addr: fmt.Sprintf("127.0.0.1:%d", port), secret: testSecret,
		log: &logBuffer{}, done: make(chan struct{})}
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *node) start() {
	t := n.t
	t.Helper()
	served := strings.Count(n.log.String(), `"message":"radmfa serving"`)
	bin := n.bin
	if bin == "" {
		bin = binary
	}
	n.cmd = exec.Command(bin, "serve", "--config", n.config)
	n.cmd.Env = raceEnv()
	stderr, err := n.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.done = make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		n.log.consume(sc)
		n.exitErr = n.cmd.Wait()
		close(n.done)
	}()
	// Ready when this process has said it serves (another process that grabbed the same free
	// port could answer Status-Server too) and Status-Server is answered.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-n.done:
			t.Fatalf("radmfa exited at start: %v\n%s", n.exitErr, n.log)
		default:
		}
		if strings.Count(n.log.String(), `"message":"radmfa serving"`) > served && n.statusServer(200*time.Millisecond) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("radmfa did not start serving within 30s\n%s", n.log)
}

func (n *node) stop() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
	if n.t.Failed() {
		n.t.Logf("radmfa log:\n%s", n.log)
	}
}

// cli runs a radmfa subcommand against the node's config.
func (n *node) cli(args ...string) (string, error) {
	args = append(args, "--config", n.config)
	cmd := exec.Command(binary, args...)
	cmd.Env = raceEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// enroll enrols user with a fixed secret and returns it.
func (n *node) enroll(user string) []byte {
	n.t.Helper()
	secret := []byte("0123456789abcdefghij")[:20]
	sum := md5.Sum([]byte(user))
	copy(secret, sum[:])
	b32 := factors.EncodeSecret(secret)
	if out, err := n.cli("user", "enroll", user, "--secret", b32, "--no-qr", "--force"); err != nil {
		n.t.Fatalf("enroll %s: %v\n%s", user, err, out)
	}
	return secret
}

func (n *node) statusServer(wait time.Duration) bool {
	p := radius.New(radius.CodeStatusServer, []byte(n.secret))
	reply, _ := exchangeRaw(n.addr, encodeWithMA(p), wait)
	return reply != nil
}

// request is a Go RADIUS client request.
type request struct {
	user, password string
	state          []byte
	noMA           bool
	secret         string
	extra          func(*radius.Packet)
	wait           time.Duration // how long to wait for a reply; default 8s
}

// send performs one Access-Request and returns the parsed reply (nil on timeout).
func (n *node) send(r request) *radius.Packet {
	n.t.Helper()
	raw, reply := n.sendRaw(r)
	_ = raw
	return reply
}

func (n *node) sendRaw(r request) ([]byte, *radius.Packet) {
	n.t.Helper()
	secret := n.secret
	if r.secret != "" {
		secret = r.secret
	}
	p := radius.New(radius.CodeAccessRequest, []byte(secret))
	if r.user != "\x00nouser" {
		_ = rfc2865.UserName_SetString(p, r.user)
	}
	_ = rfc2865.UserPassword_SetString(p, r.password)
	_ = rfc2865.NASIdentifier_SetString(p, "e2e-vpn")
	// One calling station per user, so per-source failure limits do not couple unrelated tests.
	sum := md5.Sum([]byte(r.user))
	_ = rfc2865.CallingStationID_SetString(p, fmt.Sprintf("198.18.%d.%d", sum[0], sum[1]))
	if r.state != nil {
		_ = rfc2865.State_Set(p, r.state)
	}
	if r.extra != nil {
		r.extra(p)
	}
	var b []byte
	if r.noMA {
		b, _ = p.Encode()
	} else {
		b = encodeWithMA(p)
	}
	if r.wait == 0 {
		r.wait = 8 * time.Second
	}
	reply, err := exchangeRaw(n.addr, b, r.wait)
	if err != nil || reply == nil {
		return b, nil
	}
	if !radius.IsAuthenticResponse(reply, b, []byte(secret)) {
		n.t.Fatalf("reply does not authenticate")
	}
	pkt, err := radius.Parse(reply, []byte(secret))
	if err != nil {
		n.t.Fatalf("parse reply: %v", err)
	}
	if !replyMAValid(reply, b, []byte(secret)) {
		n.t.Fatalf("reply Message-Authenticator missing or wrong")
	}
	return b, pkt
}

// encodeWithMA encodes p with a correct Message-Authenticator.
func encodeWithMA(p *radius.Packet) []byte {
	_ = rfc2869.MessageAuthenticator_Set(p, make([]byte, 16))
	b, err := p.Encode()
	if err != nil {
		panic(err)
	}
	off := maOffset(b)
	m := hmac.New(md5.New, p.Secret)
	m.Write(b)
	copy(b[off:off+16], m.Sum(nil))
	return b
}

func maOffset(b []byte) int {
	for i := 20; i+2 <= len(b); i += int(b[i+1]) {
		if b[i+1] < 2 {
			return -1
		}
		if b[i] == 80 {
			return i + 2
		}
	}
	return -1
}

func replyMAValid(reply, req, secret []byte) bool {
	off := maOffset(reply)
	if off < 0 {
		return false
	}
	b := append([]byte(nil), reply...)
	copy(b[4:20], req[4:20])
	copy(b[off:off+16], make([]byte, 16))
	m := hmac.New(md5.New, secret)
	m.Write(b)
	return hmac.Equal(m.Sum(nil), reply[off:off+16])
}

// exchangeRaw sends b and waits up to wait for one reply.
func exchangeRaw(addr string, b []byte, wait time.Duration) ([]byte, error) {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if _, err := c.Write(b); err != nil {
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// radclient runs FreeRADIUS's radclient with attrs (one "Name = value" per element) and returns
// its output and the reply code name it printed.
func radclient(t testing.TB, addr, secret string, attrs ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "radclient", "-x", "-r", "1", "-t", "5", addr, "auth", secret)
	cmd.Stdin = strings.NewReader(strings.Join(attrs, ",\n") + "\n")
	out, _ := cmd.CombinedOutput()
	s := string(out)
	for _, code := range []string{"Access-Accept", "Access-Reject", "Access-Challenge"} {
		if strings.Contains(s, "Received "+code) {
			return s, code
		}
	}
	return s, ""
}

// attrValue extracts `Name = value` from radclient's output.
func attrValue(out, name string) string {
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, name+" = ") {
			return strings.Trim(strings.TrimPrefix(line, name+" = "), `"`)
		}
	}
	return ""
}

// directory is a real slapd for the test.
type directory struct{ *ldaptest.Server }

func startDirectory(t testing.TB) *directory {
	t.Helper()
	return &directory{ldaptest.Start(t)}
}

// code returns the current TOTP code for secret.
func code(t testing.TB, secret []byte) string {
	t.Helper()
	c, err := factors.DefaultTOTP().Code(secret, factors.DefaultTOTP().Step(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
