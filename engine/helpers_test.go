package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"text/template"
	"time"

	"github.com/rs/zerolog"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/radmfa/radmfa/challenge"
	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/ldapauth"
	rad "github.com/radmfa/radmfa/radius"
	"github.com/radmfa/radmfa/store"
)

// The test harness: a fake directory, a fake SMS provider, a real SQLite store that can be
// switched off, an injected clock, and the decision log in a buffer. Tests call
// (*Engine).ServeRADIUS with packets built the way a NAS builds them.

const (
	testSecret = "s3cret-shared"
	testNAS    = "vpn"
	testRemote = "192.0.2.10:40000"
)

// t0 is 10 s into a TOTP step, so codes one step either side are unambiguous.
var t0 = time.Unix(1_750_000_020, 0).UTC()

// ---- directory ----

type dirUser struct {
	password string
	groups   []string
	phone    string
	authErr  error // returned instead of the identity when the password is right
	// errFor: the bind with this exact password fails with the error (a right password that
	// has expired, or a directory that fails mid-request).
	errFor map[string]error
}

// fakeDir is both the Primary and the Directory. Unknown users are refused at once; a wrong
// password costs wrongDelay, like an LDAP search followed by a refused bind.
type fakeDir struct {
	mu          sync.Mutex
	users       map[string]*dirUser
	wrongDelay  time.Duration
	authErr     error // every Authenticate fails with it (directory down)
	lookupErr   error // every Lookup fails with it
	changeErr   error // ChangePassword fails with it
	authCalls   int
	lookupCalls int
	authBy      map[string]int // Authenticate calls per username
	passwords   []string       // every password Authenticate saw, in order
	changes     []string       // "user:old->new"
}

var (
	_ Primary   = (*fakeDir)(nil)
	_ Directory = (*fakeDir)(nil)
)

func newFakeDir() *fakeDir {
	return &fakeDir{users: map[string]*dirUser{}, authBy: map[string]int{}}
}

func (d *fakeDir) add(name, password string, groups ...string) *dirUser {
	d.mu.Lock()
	defer d.mu.Unlock()
	u := &dirUser{password: password, groups: groups}
	d.users[name] = u
	return u
}

func (d *fakeDir) setPhone(name, phone string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.users[name].phone = phone
}

func (d *fakeDir) setAuthErr(name string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.users[name].authErr = err
}

func (d *fakeDir) identity(name string, u *dirUser) ldapauth.Identity {
	g := slices.Clone(u.groups)
	slices.Sort(g)
	return ldapauth.Identity{Username: name, DN: "uid=" + name + ",ou=people,dc=example,dc=test", Phone: u.phone, Groups: g}
}

func (d *fakeDir) Authenticate(_ context.Context, username, password string) (ldapauth.Identity, error) {
	d.mu.Lock()
	d.authCalls++
	d.authBy[username]++
	d.passwords = append(d.passwords, password)
	u, ok := d.users[username]
	var cp dirUser
	if ok {
		cp = *u
	}
	forced, delay := d.authErr, d.wrongDelay
	d.mu.Unlock()
	switch {
	case forced != nil:
		return ldapauth.Identity{}, forced
	case password == "":
		return ldapauth.Identity{}, ldapauth.ErrEmptyPassword
	case !ok:
		return ldapauth.Identity{}, fmt.Errorf("%w: %s", ldapauth.ErrUserNotFound, username)
	case cp.errFor[password] != nil:
		return ldapauth.Identity{}, cp.errFor[password]
	case password != cp.password:
		time.Sleep(delay)
		return ldapauth.Identity{}, fmt.Errorf("%w: uid=%s", ldapauth.ErrInvalidCredentials, username)
	case cp.authErr != nil:
		return ldapauth.Identity{}, cp.authErr
	}
	return d.identity(username, &cp), nil
}

func (d *fakeDir) Lookup(_ context.Context, username string) (ldapauth.Identity, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lookupCalls++
	if d.lookupErr != nil {
		return ldapauth.Identity{}, d.lookupErr
	}
	u, ok := d.users[username]
	if !ok {
		return ldapauth.Identity{}, fmt.Errorf("%w: %s", ldapauth.ErrUserNotFound, username)
	}
	return d.identity(username, u), nil
}

func (d *fakeDir) ChangePassword(_ context.Context, username, oldPassword, newPassword string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.changes = append(d.changes, username+":"+oldPassword+"->"+newPassword)
	if d.changeErr != nil {
		return d.changeErr
	}
	u, ok := d.users[username]
	if !ok {
		return ldapauth.ErrUserNotFound
	}
	if u.password != oldPassword {
		return ldapauth.ErrInvalidCredentials
	}
	u.password, u.authErr = newPassword, nil
	return nil
}

func (d *fakeDir) calls() (auth, lookup int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.authCalls, d.lookupCalls
}

func (d *fakeDir) authCallsFor(user string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.authBy[user]
}

// ---- SMS ----

// fakeSender records texts; fail makes Send fail.
type fakeSender struct {
	mu   sync.Mutex
	msgs []factors.Message
	fail error
	// With gate set, Send reports on entered and waits for gate (a slow provider).
	gate, entered chan struct{}
}

var _ factors.Sender = (*fakeSender)(nil)

func (s *fakeSender) Send(ctx context.Context, m factors.Message) error {
	s.mu.Lock()
	gate, entered := s.gate, s.entered
	s.mu.Unlock()
	if gate != nil {
		entered <- struct{}{}
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.msgs = append(s.msgs, m)
	return nil
}

func (s *fakeSender) Name() string                { return "fake" }
func (s *fakeSender) Check(context.Context) error { return nil }
func (s *fakeSender) setFail(err error)           { s.mu.Lock(); s.fail = err; s.mu.Unlock() }
func (s *fakeSender) sent() []factors.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}
func (s *fakeSender) count() int                   { return len(s.sent()) }
func (s *fakeSender) lastCode(t testing.TB) string { t.Helper(); return s.last(t).Code }
func (s *fakeSender) last(t testing.TB) factors.Message {
	t.Helper()
	m := s.sent()
	if len(m) == 0 {
		t.Fatal("no text message was sent")
	}
	return m[len(m)-1]
}

// ---- store ----

// flakyStore is the real SQLite store with a switch that makes every call the engine makes
// fail as an unreachable database does.
type flakyStore struct {
	Store
	down atomic.Bool
}

var errFlaky = fmt.Errorf("test: database switched off: %w", store.ErrUnavailable)

func (f *flakyStore) GetUser(ctx context.Context, u string) (store.User, error) {
	if f.down.Load() {
		return store.User{}, errFlaky
	}
	return f.Store.GetUser(ctx, u)
}

func (f *flakyStore) Account(ctx context.Context, u string, now time.Time) (store.Account, error) {
	if f.down.Load() {
		return store.Account{}, errFlaky
	}
	return f.Store.Account(ctx, u, now)
}

func (f *flakyStore) UseTOTPStep(ctx context.Context, u string, step int64, drift int) (bool, error) {
	if f.down.Load() {
		return false, errFlaky
	}
	return f.Store.UseTOTPStep(ctx, u, step, drift)
}

func (f *flakyStore) LockedUntil(ctx context.Context, u string, now time.Time) (time.Time, error) {
	if f.down.Load() {
		return time.Time{}, errFlaky
	}
	return f.Store.LockedUntil(ctx, u, now)
}

func (f *flakyStore) RecordFailure(ctx context.Context, u, kind string, now time.Time, p store.LockoutPolicy) (time.Time, error) {
	if f.down.Load() {
		return time.Time{}, errFlaky
	}
	return f.Store.RecordFailure(ctx, u, kind, now, p)
}

func (f *flakyStore) ResetFailures(ctx context.Context, u, kind string) error {
	if f.down.Load() {
		return errFlaky
	}
	return f.Store.ResetFailures(ctx, u, kind)
}

func (f *flakyStore) Audit(ctx context.Context, ev store.AuditEvent) error {
	if f.down.Load() {
		return errFlaky
	}
	return f.Store.Audit(ctx, ev)
}

func (f *flakyStore) Once(ctx context.Context, key string, now, exp time.Time) (bool, error) {
	if f.down.Load() {
		return false, errFlaky
	}
	return f.Store.Once(ctx, key, now, exp)
}

func (f *flakyStore) Incr(ctx context.Context, key string, now, exp time.Time) (int64, error) {
	if f.down.Load() {
		return 0, errFlaky
	}
	return f.Store.Incr(ctx, key, now, exp)
}

func (f *flakyStore) Count(ctx context.Context, key string, now time.Time) (int64, error) {
	if f.down.Load() {
		return 0, errFlaky
	}
	return f.Store.Count(ctx, key, now)
}

// ---- clock and log ----

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logBuffer is a bytes.Buffer safe for the audit goroutine and the request path at once.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// decisions returns the "decision" lines logged so far.
func (l *logBuffer) decisions(t testing.TB) []logLine {
	t.Helper()
	l.mu.Lock()
	data := slices.Clone(l.b.Bytes())
	l.mu.Unlock()
	var out []logLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, sc.Bytes())
		}
		if m["message"] == "decision" {
			out = append(out, logLine(m))
		}
	}
	return out
}

func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// logLine is one structured log line.
type logLine map[string]any

func (l logLine) str(k string) string {
	s, _ := l[k].(string)
	return s
}

func (l logLine) reason() string { return l.str("reason") }
func (l logLine) result() string { return l.str("result") }
func (l logLine) rule() string   { return l.str("rule") }
func (l logLine) factor() string { return l.str("factor") }
func (l logLine) detail() string { return l.str("detail") }
func (l logLine) leg() int {
	f, _ := l["leg"].(float64)
	return int(f)
}

// ---- harness ----

type harness struct {
	t      *testing.T
	ctx    context.Context
	e      *Engine
	opts   Options // as passed to New for h.e
	db     *store.SQLite
	st     *flakyStore
	dir    *fakeDir
	sender *fakeSender
	clk    *testClock
	log    *logBuffer
	key    []byte // the Sealer's key
	totp   map[string][]byte
}

// option adjusts a harness's Options before the engine is built.
type option func(h *harness, o *Options)

func withNAS(name string, n NAS) option {
	return func(_ *harness, o *Options) {
		if o.NAS == nil {
			o.NAS = map[string]NAS{}
		}
		o.NAS[name] = n
	}
}

// withSMS turns the text-message factor on with the fake sender; mod may change it.
func withSMS(mod func(*SMS)) option {
	return func(h *harness, o *Options) {
		s := &SMS{
			Sender: h.sender, DefaultCountry: "1", PerUserLimit: 5, PerNASLimit: 100, Window: 10 * time.Minute,
			Message: template.Must(template.New("sms").Parse("Your {{.Issuer}} code is {{.Code}}")),
			Issuer:  "radmfa", Keyword: "sms",
		}
		if mod != nil {
			mod(s)
		}
		o.SMS = s
	}
}

func withOpts(f func(o *Options)) option { return func(_ *harness, o *Options) { f(o) } }

// newHarness builds an engine over a fresh store with users alice (staff), bob (vpn-admins,
// staff) and carol (staff, a mobile number in the directory); nobody is enrolled yet.
func newHarness(t *testing.T, opts ...option) *harness {
	t.Helper()
	ctx := context.Background()
	keys, err := store.NewKeyring(store.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "radmfa.db"), keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	h := &harness{
		t: t, ctx: ctx, db: db, st: &flakyStore{Store: db}, dir: newFakeDir(), sender: &fakeSender{},
		clk: &testClock{t: t0}, log: &logBuffer{}, key: bytes.Repeat([]byte{7}, 32), totp: map[string][]byte{},
	}
	h.dir.add("alice", "alice-pw", "staff")
	h.dir.add("bob", "bob-pw", "vpn-admins", "staff")
	h.dir.add("carol", "carol-pw", "staff")
	h.dir.setPhone("carol", "+1 (555) 123-0001")

	sealer, err := challenge.NewSealer(h.key, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		Node: "test", Primary: h.dir, Directory: h.dir, Store: h.st, Sealer: sealer,
		PasswordLockout: store.LockoutPolicy{Threshold: 3, Duration: time.Minute},
		FactorLockout:   store.LockoutPolicy{Threshold: 5, Duration: time.Minute},
		Logger:          zerolog.New(h.log),
		Now:             h.clk.Now,
	}
	for _, f := range opts {
		f(h, &o)
	}
	h.opts = o
	h.e = h.engine(o)
	return h
}

// engine builds another engine (same store, directory, clock and log) from o.
func (h *harness) engine(o Options) *Engine {
	h.t.Helper()
	e, err := New(o)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			h.t.Errorf("close engine: %v", err)
		}
	})
	return e
}

// variant builds an engine from the harness's options changed by mod.
func (h *harness) variant(mod func(o *Options)) *Engine {
	h.t.Helper()
	o := h.opts
	mod(&o)
	return h.engine(o)
}

func (h *harness) enrollTOTP(user string) []byte {
	h.t.Helper()
	secret, err := factors.NewSecret()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.db.EnrollTOTP(h.ctx, user, secret, false); err != nil {
		h.t.Fatal(err)
	}
	h.totp[user] = secret
	return secret
}

func (h *harness) setState(user string, s store.State) {
	h.t.Helper()
	if err := h.db.SetState(h.ctx, user, s); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) setMethod(user, m string) {
	h.t.Helper()
	if err := h.db.SetMethod(h.ctx, user, m); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) setPhone(user, p string) {
	h.t.Helper()
	if err := h.db.SetPhone(h.ctx, user, p); err != nil {
		h.t.Fatal(err)
	}
}

// code is user's TOTP code offset steps from the clock's current step.
func (h *harness) code(user string, offset int) string {
	h.t.Helper()
	secret, ok := h.totp[user]
	if !ok {
		h.t.Fatalf("%s has no TOTP secret", user)
	}
	tp := h.opts.TOTP
	if tp.Digits == 0 {
		tp = factors.DefaultTOTP()
	}
	c, err := tp.Code(secret, tp.Step(h.clk.Now())+int64(offset))
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func (h *harness) lockedUntil(user string) time.Time {
	h.t.Helper()
	until, err := h.db.LockedUntil(h.ctx, user, h.clk.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	return until
}

// rq is one Access-Request as a NAS sends it.
type rq struct {
	user     string
	pass     string
	noPass   bool   // send no User-Password
	state    []byte // State from a challenge (nil: first leg)
	nas      string // client name; "" means testNAS
	remote   string // source address; "" means testRemote
	nasID    string // NAS-Identifier
	callerID string // Calling-Station-Id
	auth     []byte // Request Authenticator (nil: random, as radius.New makes it)
	id       byte   // Identifier, when auth is set
	edit     func(p *radius.Packet)
}

func (r rq) packet(t testing.TB) *radius.Packet {
	t.Helper()
	p := radius.New(radius.CodeAccessRequest, []byte(testSecret))
	if r.auth != nil {
		copy(p.Authenticator[:], r.auth)
		p.Identifier = r.id
	}
	if r.user != "" {
		must(t, rfc2865.UserName_SetString(p, r.user))
	}
	if !r.noPass {
		must(t, rfc2865.UserPassword_SetString(p, r.pass))
	}
	if r.state != nil {
		must(t, rfc2865.State_Set(p, r.state))
	}
	if r.nasID != "" {
		must(t, rfc2865.NASIdentifier_SetString(p, r.nasID))
	}
	if r.callerID != "" {
		must(t, rfc2865.CallingStationID_SetString(p, r.callerID))
	}
	if r.edit != nil {
		r.edit(p)
	}
	return p
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// reply is the response, as the NAS decodes it, and the decision line logged for it.
type reply struct {
	p    *radius.Packet
	d    logLine
	took time.Duration // wall time ServeRADIUS took
}

func (r reply) code() radius.Code { return r.p.Code }
func (r reply) msg() string       { return rfc2865.ReplyMessage_GetString(r.p) }
func (r reply) state() []byte     { return rfc2865.State_Get(r.p) }

func (r reply) String() string {
	return fmt.Sprintf("%s reason=%s rule=%s leg=%d factor=%s detail=%q msg=%q",
		r.p.Code, r.d.reason(), r.d.rule(), r.d.leg(), r.d.factor(), r.d.detail(), r.msg())
}

// do sends r to the harness's engine.
func (h *harness) do(r rq) reply {
	h.t.Helper()
	return h.doOn(h.e, r)
}

func (h *harness) doOn(e *Engine, r rq) reply {
	h.t.Helper()
	return h.serve(e, r.packet(h.t), r.nas, r.remote)
}

// serve hands p to e as coming from client nas at remote, round-trips the answer through the
// wire format and returns it with the one decision line it logged.
func (h *harness) serve(e *Engine, p *radius.Packet, nas, remote string) reply {
	h.t.Helper()
	if nas == "" {
		nas = testNAS
	}
	if remote == "" {
		remote = testRemote
	}
	// The engine gets what the server parsed off the wire, as from a real NAS.
	wire := mustEncode(h.t, p)
	parsed, err := radius.Parse(wire, []byte(testSecret))
	if err != nil {
		h.t.Fatal(err)
	}
	req := &rad.Request{
		Packet: parsed,
		Client: &rad.Client{Name: nas, Secret: []byte(testSecret), Prefix: netip.MustParsePrefix("0.0.0.0/0")},
		Remote: netip.MustParseAddrPort(remote),
	}
	before := len(h.log.decisions(h.t))
	start := time.Now()
	resp := e.ServeRADIUS(h.ctx, req)
	took := time.Since(start)
	if resp == nil {
		h.t.Fatal("no response")
	}
	b, err := resp.Encode()
	if err != nil {
		h.t.Fatalf("response does not encode: %v", err)
	}
	got, err := radius.Parse(b, []byte(testSecret))
	if err != nil {
		h.t.Fatalf("response does not parse: %v", err)
	}
	if !radius.IsAuthenticResponse(b, wire, []byte(testSecret)) {
		h.t.Fatal("response authenticator does not verify against the request")
	}
	var d logLine
	if parsed.Code == radius.CodeAccessRequest {
		lines := h.log.decisions(h.t)
		if len(lines) != before+1 {
			h.t.Fatalf("want exactly one decision line per request, got %d new", len(lines)-before)
		}
		d = lines[len(lines)-1]
	}
	return reply{p: got, d: d, took: took}
}

func mustEncode(t testing.TB, p *radius.Packet) []byte {
	t.Helper()
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// want checks the response code and the logged reason.
func (r reply) want(t testing.TB, code radius.Code, reason string) {
	t.Helper()
	if r.p.Code != code || r.d.reason() != reason {
		t.Fatalf("got %v; want %s %s", r, code, reason)
	}
}

// challenge runs the first leg and insists on a challenge.
func (h *harness) challenge(r rq) []byte {
	h.t.Helper()
	got := h.do(r)
	got.want(h.t, radius.CodeAccessChallenge, ReasonChallenge)
	st := got.state()
	if len(st) == 0 {
		h.t.Fatalf("challenge without State: %v", got)
	}
	return st
}

// ---- reply attributes ----

// vsa is one vendor-specific sub-attribute.
type vsa struct {
	vendor uint32
	typ    byte
	value  string
}

// vsas decodes every Vendor-Specific attribute of p (one sub-attribute each, as dict encodes).
func vsas(t testing.TB, p *radius.Packet) []vsa {
	t.Helper()
	var out []vsa
	for _, a := range p.Attributes {
		if a.Type != rfc2865.VendorSpecific_Type {
			continue
		}
		id, v, err := radius.VendorSpecific(a.Attribute)
		if err != nil {
			t.Fatalf("bad Vendor-Specific: %v", err)
		}
		for len(v) > 0 {
			if len(v) < 2 || int(v[1]) < 2 || int(v[1]) > len(v) {
				t.Fatalf("bad vendor %d sub-attribute %x", id, v)
			}
			out = append(out, vsa{vendor: id, typ: v[0], value: string(v[2:v[1]])})
			v = v[v[1]:]
		}
	}
	return out
}

// attrStrings returns the values of attribute typ as strings.
func attrStrings(p *radius.Packet, typ radius.Type) []string {
	var out []string
	for _, a := range p.Attributes {
		if a.Type == typ {
			out = append(out, string(a.Attribute))
		}
	}
	return out
}

// ---- observer ----

type recordingObserver struct {
	mu        sync.Mutex
	decisions []string // "nas result reason"
	stages    map[string]int
}

func (o *recordingObserver) Decision(nas, result, reason string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.decisions = append(o.decisions, nas+" "+result+" "+reason)
}

func (o *recordingObserver) Stage(stage string, _ time.Duration, _ error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stages == nil {
		o.stages = map[string]int{}
	}
	o.stages[stage]++
}

// oneOf reports whether s is one of set.
func oneOf(s string, set ...string) bool { return slices.Contains(set, s) }

var errTest = errors.New("test: provider down")
