// Command loadgen is the benchmark's closed-loop load generator: C workers, each sending one
// flow after the other, bounded by a total count and a wall-clock time.
//
//	loadgen -mode pap|twoleg|secondleg|ldapbind|ldapsearchbind -c C -n MAXFLOWS -d MAXTIME ...
//
// Modes:
//
//	pap             one Access-Request (User-Password); success = Access-Accept or Access-Challenge
//	twoleg          Access-Request → Access-Challenge with State → Access-Request with that State
//	                and the TOTP code → Access-Accept; the latency is the whole flow's
//	secondleg       first, untimed, up to n first legs collect States; then the timed section
//	                sends only the second requests (State + code) and times those alone
//	ldapbind        raw directory: a simple bind as the user over pooled connections
//	ldapsearchbind  raw directory: search by uid as the service account (radmfa's filter and
//	                attributes), then bind as the entry found — what any LDAP RADIUS server does
//
// Every request carries Message-Authenticator (RFC 3579). Users are taken round robin from
// user00001…userN. Server CPU is read from /proc/PID/stat (-pid NAME=PID, repeatable) from the
// start of the timed section until the processes are idle again, so work a server defers
// (an audit queue, say) is charged to the flows that caused it; peak RSS is VmHWM at the end.
// One JSON line per run is appended to -out.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/radmfa/radmfa/bench/internal/benchuser"
)

type pidFlags []string

func (p *pidFlags) String() string     { return strings.Join(*p, ",") }
func (p *pidFlags) Set(v string) error { *p = append(*p, v); return nil }

type options struct {
	mode, system, addr, secret  string
	ldapURL, svcDN, svcPW, base string
	c, n, users, start, warm    int
	ldapPool, skew, clkTck      int
	d, timeout, settle          time.Duration
	replay                      bool
	out                         string
	pids                        pidFlags
}

// result is one run, as appended to -out.
type result struct {
	Time       string             `json:"time"`
	System     string             `json:"system"`
	Mode       string             `json:"mode"`
	C          int                `json:"c"`
	Flows      int64              `json:"flows"`  // successful flows in the timed section
	Errors     int64              `json:"errors"` // failed flows in the timed section
	ErrorKinds map[string]int64   `json:"error_kinds,omitempty"`
	Elapsed    float64            `json:"elapsed_s"`
	Rate       float64            `json:"flows_per_s"`
	P50        float64            `json:"p50_ms"`
	P90        float64            `json:"p90_ms"`
	P99        float64            `json:"p99_ms"`
	Max        float64            `json:"max_ms"`
	Bound      string             `json:"bound"`              // "count" or "time": what ended the run
	Prepared   int                `json:"prepared,omitempty"` // secondleg: States collected
	CPUPer1k   map[string]float64 `json:"cpu_s_per_1k"`       // by -pid name, plus "loadgen"
	HWMKiB     map[string]int64   `json:"peak_rss_kib"`
	// OtherCores is the CPU that processes other than the measured ones and the load generator
	// used during the measurement window, in cores: other work on the machine disturbing the run.
	OtherCores float64 `json:"other_cores"`
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "pap", "pap | twoleg | secondleg | ldapbind | ldapsearchbind")
	flag.StringVar(&o.system, "system", "", "label of the system under test (results)")
	flag.StringVar(&o.addr, "addr", "127.0.0.1:1812", "RADIUS server address")
	flag.StringVar(&o.secret, "secret", "", "RADIUS shared secret")
	flag.StringVar(&o.ldapURL, "ldap", "ldap://127.0.0.1:3890", "directory URL (ldap modes)")
	flag.StringVar(&o.svcDN, "bind-dn", "cn=radmfa,ou=services,"+benchuser.Suffix, "service account (ldapsearchbind)")
	flag.StringVar(&o.svcPW, "bind-pw", "radmfa-service", "service account password")
	flag.StringVar(&o.base, "base", benchuser.Suffix, "search base (ldapsearchbind)")
	flag.IntVar(&o.c, "c", 8, "concurrent workers")
	flag.IntVar(&o.n, "n", 20000, "maximum flows in the timed section")
	flag.DurationVar(&o.d, "d", 8*time.Second, "maximum duration of the timed section (and of secondleg's preparation)")
	flag.IntVar(&o.users, "users", 10000, "users user00001…userN to cycle through")
	flag.IntVar(&o.start, "start", 0, "index of the first user (0-based)")
	flag.IntVar(&o.warm, "warm", 300, "untimed warm-up flows before the timed section (not secondleg)")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Second, "per-request timeout")
	flag.IntVar(&o.ldapPool, "ldap-pool", 16, "LDAP connections per pool (capped at -c)")
	flag.IntVar(&o.skew, "totp-skew", 1, "TOTP steps the server accepts either side (radmfa 1, rlm_totp 0)")
	flag.BoolVar(&o.replay, "totp-replay", true, "the server refuses a used step per user (radmfa yes, rlm_totp no)")
	flag.IntVar(&o.clkTck, "clk-tck", 100, "kernel clock ticks per second (getconf CLK_TCK)")
	flag.DurationVar(&o.settle, "settle", 10*time.Second, "longest wait for the servers to go idle before and after the timed section")
	flag.StringVar(&o.out, "out", "", "append the result as a JSON line to this file")
	flag.Var(&o.pids, "pid", "NAME=PID of a server process to measure (repeatable)")
	flag.Parse()
	if o.system == "" {
		o.system = o.mode
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// worker is one closed-loop client.
type worker struct {
	rad  *radClient
	lats []time.Duration
	errs map[string]int64
}

// flowFunc runs flow number k for a worker and returns how long the timed part took.
type flowFunc func(w *worker, k int64) (time.Duration, error)

type bench struct {
	o       options
	names   []string
	rr      atomic.Int64
	picker  *codePicker
	svc     *ldapPool // service connections (ldapsearchbind)
	binds   *ldapPool // user-bind connections
	states  []prepared
	workers []*worker
}

type prepared struct {
	user  int
	state []byte
}

func run(o options) error {
	if o.c < 1 || o.n < 1 || o.users < 1 {
		return errors.New("-c, -n and -users must be positive")
	}
	b := &bench{o: o}
	b.names = make([]string, o.users)
	for i := range b.names {
		b.names[i] = benchuser.Name(i + 1)
	}
	b.rr.Store(int64(o.start))
	var flow flowFunc
	switch o.mode {
	case "pap":
		flow = b.pap
	case "twoleg", "secondleg":
		secrets := make([]string, o.users)
		for i, n := range b.names {
			secrets[i] = benchuser.SecretBase32(n)
		}
		b.picker = newCodePicker(secrets, o.skew, o.replay)
		flow = b.twoleg
		if o.mode == "secondleg" {
			flow = b.secondLeg
		}
	case "ldapbind":
		flow = b.ldapBind
	case "ldapsearchbind":
		flow = b.ldapSearchBind
	default:
		return fmt.Errorf("unknown mode %q", o.mode)
	}

	b.workers = make([]*worker, o.c)
	for i := range b.workers {
		w := &worker{errs: map[string]int64{}}
		if strings.HasPrefix(o.mode, "ldap") {
			b.workers[i] = w
			continue
		}
		rc, err := newRadClient(o.addr, []byte(o.secret), o.timeout)
		if err != nil {
			return err
		}
		defer rc.close()
		w.rad = rc
		b.workers[i] = w
	}
	if strings.HasPrefix(o.mode, "ldap") {
		size := min(o.c, o.ldapPool)
		var err error
		if b.binds, err = newLDAPPool(o.ldapURL, size, "", "", o.timeout); err != nil {
			return err
		}
		defer b.binds.close()
		if o.mode == "ldapsearchbind" {
			if b.svc, err = newLDAPPool(o.ldapURL, size, o.svcDN, o.svcPW, o.timeout); err != nil {
				return err
			}
			defer b.svc.close()
		}
	}

	if o.mode == "secondleg" {
		if err := b.prepare(); err != nil {
			return err
		}
	} else if o.warm > 0 {
		b.loop(flow, int64(o.warm), time.Now().Add(o.d))
		for _, w := range b.workers {
			w.lats, w.errs = w.lats[:0], map[string]int64{}
		}
	}

	pids, err := parsePids(o.pids)
	if err != nil {
		return err
	}
	waitIdle(pids, o.settle)
	cpu0, busy0, win0 := readCPU(pids), must(machineBusy()), time.Now()
	n := int64(o.n)
	if o.mode == "secondleg" {
		n = int64(len(b.states))
	}
	deadline := time.Now().Add(o.d)
	start := time.Now()
	b.loop(flow, n, deadline)
	elapsed := time.Since(start)
	waitIdle(pids, o.settle)
	cpu1, busy1, window := readCPU(pids), must(machineBusy()), time.Since(win0)

	res := b.result(elapsed, n, deadline)
	res.Prepared = len(b.states)
	res.CPUPer1k, res.HWMKiB = map[string]float64{}, map[string]int64{}
	others := busy1 - busy0
	for name := range cpu1 {
		others -= cpu1[name] - cpu0[name]
		if res.Flows > 0 {
			sec := float64(cpu1[name]-cpu0[name]) / float64(o.clkTck)
			res.CPUPer1k[name] = round(sec/float64(res.Flows)*1000, 4)
		}
		if name != "loadgen" {
			if h, err := procHWM(pids[name]); err == nil {
				res.HWMKiB[name] = h
			}
		}
	}
	res.OtherCores = round(max(float64(others), 0)/float64(o.clkTck)/window.Seconds(), 2)
	line, err := json.Marshal(res)
	if err != nil {
		return err
	}
	fmt.Printf("%-16s %-14s C=%-3d %7.0f flows/s  ok=%-6d err=%-5d p50=%.2fms p99=%.2fms  cpu/1k=%v others=%.2f cores %v\n",
		res.System, res.Mode, res.C, res.Rate, res.Flows, res.Errors, res.P50, res.P99, res.CPUPer1k, res.OtherCores, res.ErrorKinds)
	if o.out != "" {
		f, err := os.OpenFile(o.out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		if _, err := f.Write(append(line, '\n')); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return nil
}

// loop runs flows on every worker until n flows were started or the deadline passed.
func (b *bench) loop(flow flowFunc, n int64, deadline time.Time) {
	var issued atomic.Int64
	var wg sync.WaitGroup
	for _, w := range b.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := issued.Add(1) - 1
				if k >= n || !time.Now().Before(deadline) {
					return
				}
				lat, err := flow(w, k)
				if err != nil {
					w.errs[errKind(err)]++
					continue
				}
				w.lats = append(w.lats, lat)
			}
		}()
	}
	wg.Wait()
}

func (b *bench) result(elapsed time.Duration, n int64, deadline time.Time) result {
	var lats []time.Duration
	kinds := map[string]int64{}
	var nerr int64
	for _, w := range b.workers {
		lats = append(lats, w.lats...)
		for k, v := range w.errs {
			kinds[k] += v
			nerr += v
		}
	}
	slices.Sort(lats)
	r := result{
		Time: time.Now().UTC().Format(time.RFC3339), System: b.o.system, Mode: b.o.mode, C: b.o.c,
		Flows: int64(len(lats)), Errors: nerr, Elapsed: round(elapsed.Seconds(), 3), Bound: "count",
	}
	if len(kinds) > 0 {
		r.ErrorKinds = kinds
	}
	if r.Flows+r.Errors < n {
		r.Bound = "time"
	}
	if elapsed > 0 {
		r.Rate = round(float64(r.Flows)/elapsed.Seconds(), 1)
	}
	r.P50, r.P90, r.P99 = pct(lats, 0.50), pct(lats, 0.90), pct(lats, 0.99)
	if len(lats) > 0 {
		r.Max = ms(lats[len(lats)-1])
	}
	return r
}

// pct is the nearest-rank percentile, in milliseconds.
func pct(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return ms(sorted[max(i, 0)])
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// nextUser is the round-robin user for the next flow.
func (b *bench) nextUser() int { return int((b.rr.Add(1) - 1) % int64(len(b.names))) }

// ---- RADIUS flows ----

type codeError struct{ got, want radius.Code }

func (e codeError) Error() string { return fmt.Sprintf("got %v, want %v", e.got, e.want) }

func (b *bench) send(w *worker, user, password string, state []byte) (*radius.Packet, error) {
	p, err := w.rad.accessRequest(user, password, state)
	if err != nil {
		return nil, err
	}
	return w.rad.exchange(p)
}

func (b *bench) pap(w *worker, _ int64) (time.Duration, error) {
	u := b.names[b.nextUser()]
	t0 := time.Now()
	resp, err := b.send(w, u, benchuser.Password(u), nil)
	lat := time.Since(t0)
	if err != nil {
		return 0, err
	}
	if resp.Code != radius.CodeAccessAccept && resp.Code != radius.CodeAccessChallenge {
		return 0, codeError{resp.Code, radius.CodeAccessAccept}
	}
	return lat, nil
}

// firstLeg sends the password and returns the State of the Access-Challenge.
func (b *bench) firstLeg(w *worker, i int) ([]byte, error) {
	u := b.names[i]
	resp, err := b.send(w, u, benchuser.Password(u), nil)
	if err != nil {
		return nil, err
	}
	if resp.Code != radius.CodeAccessChallenge {
		return nil, codeError{resp.Code, radius.CodeAccessChallenge}
	}
	st := rfc2865.State_Get(resp)
	if len(st) == 0 {
		return nil, errors.New("no-state")
	}
	return st, nil
}

// secondLegOf answers the challenge of user i with a code.
func (b *bench) secondLegOf(w *worker, i int, state []byte) error {
	code, pd, ok := b.picker.code(i, time.Now())
	if !ok {
		return errors.New("no-code")
	}
	resp, err := b.send(w, b.names[i], code, state)
	if err != nil {
		b.picker.done(pd, false)
		return err
	}
	b.picker.done(pd, resp.Code == radius.CodeAccessAccept)
	if resp.Code != radius.CodeAccessAccept {
		return codeError{resp.Code, radius.CodeAccessAccept}
	}
	return nil
}

// pickTOTPUser is the next round-robin user who has a code left (see codePicker).
func (b *bench) pickTOTPUser() (int, bool) {
	now := time.Now()
	for range len(b.names) {
		i := b.nextUser()
		if b.picker.usable(i, now) {
			return i, true
		}
	}
	return 0, false
}

func (b *bench) twoleg(w *worker, _ int64) (time.Duration, error) {
	i, ok := b.pickTOTPUser()
	if !ok {
		time.Sleep(100 * time.Millisecond)
		return 0, errors.New("no-code")
	}
	t0 := time.Now()
	st, err := b.firstLeg(w, i)
	if err != nil {
		return 0, err
	}
	if err := b.secondLegOf(w, i, st); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// prepare collects up to n States (bounded by -d), untimed.
func (b *bench) prepare() error {
	var mu sync.Mutex
	var failed atomic.Int64
	b.states = make([]prepared, 0, b.o.n)
	b.loop(func(w *worker, _ int64) (time.Duration, error) {
		i := b.nextUser()
		st, err := b.firstLeg(w, i)
		if err != nil {
			failed.Add(1)
			return 0, err
		}
		mu.Lock()
		b.states = append(b.states, prepared{user: i, state: st})
		mu.Unlock()
		return 0, nil
	}, int64(b.o.n), time.Now().Add(b.o.d))
	for _, w := range b.workers {
		w.lats, w.errs = w.lats[:0], map[string]int64{}
	}
	if len(b.states) == 0 {
		return fmt.Errorf("secondleg: no State collected (%d first legs failed)", failed.Load())
	}
	return nil
}

func (b *bench) secondLeg(w *worker, k int64) (time.Duration, error) {
	p := b.states[k]
	t0 := time.Now()
	if err := b.secondLegOf(w, p.user, p.state); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// ---- raw LDAP flows ----

func (b *bench) ldapBind(_ *worker, _ int64) (time.Duration, error) {
	u := b.names[b.nextUser()]
	t0 := time.Now()
	c := b.binds.get()
	err := c.Bind(benchuser.DN(u), benchuser.Password(u))
	b.binds.put(c, err)
	return time.Since(t0), err
}

func (b *bench) ldapSearchBind(_ *worker, _ int64) (time.Duration, error) {
	u := b.names[b.nextUser()]
	t0 := time.Now()
	s := b.svc.get()
	dn, err := searchUser(s, b.o.base, u, b.o.timeout)
	b.svc.put(s, err)
	if err != nil {
		return 0, err
	}
	c := b.binds.get()
	err = c.Bind(dn, benchuser.Password(u))
	b.binds.put(c, err)
	return time.Since(t0), err
}

// errKind names an error for the error table.
func errKind(err error) string {
	var ce codeError
	var le *ldap.Error
	switch {
	case errors.Is(err, errTimeout):
		return "timeout"
	case errors.As(err, &ce):
		return "got-" + strings.ReplaceAll(strings.ToLower(ce.got.String()), " ", "-")
	case errors.As(err, &le):
		return "ldap-" + strconv.Itoa(int(le.ResultCode))
	case err.Error() == "no-code" || err.Error() == "no-state":
		return err.Error()
	}
	return "other"
}

// ---- process accounting ----

// must keeps the measurement going without the machine-wide figure (0) if /proc/stat fails.
func must(v int64, err error) int64 {
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		return 0
	}
	return v
}

func parsePids(fl pidFlags) (map[string]string, error) {
	m := map[string]string{}
	for _, f := range fl {
		name, pid, ok := strings.Cut(f, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("-pid %q: want NAME=PID", f)
		}
		if _, err := procCPU(pid); err != nil {
			return nil, fmt.Errorf("-pid %s: %w", f, err)
		}
		m[name] = pid
	}
	return m, nil
}

// readCPU returns the CPU ticks of every measured process and of the load generator.
func readCPU(pids map[string]string) map[string]int64 {
	out := map[string]int64{}
	for name, pid := range pids {
		if v, err := procCPU(pid); err == nil {
			out[name] = v
		}
	}
	if v, err := procCPU("self"); err == nil {
		out["loadgen"] = v
	}
	return out
}

// waitIdle waits (at most max) until the measured processes together use under 4 % of a core.
func waitIdle(pids map[string]string, limit time.Duration) {
	if len(pids) == 0 {
		return
	}
	total := func() int64 {
		var t int64
		for _, pid := range pids {
			v, _ := procCPU(pid)
			t += v
		}
		return t
	}
	end := time.Now().Add(limit)
	prev := total()
	for time.Now().Before(end) {
		time.Sleep(250 * time.Millisecond)
		cur := total()
		if cur-prev <= 1 {
			return
		}
		prev = cur
	}
}
