// Command report turns the load generator's JSON lines and the machine facts gathered by
// bench/run.sh into bench/results.md. Nothing in that file is typed by hand.
//
//	report -results FILE.jsonl -facts FILE -out results.md
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// result mirrors loadgen's JSON line.
type result struct {
	Time       string             `json:"time"`
	System     string             `json:"system"`
	Mode       string             `json:"mode"`
	C          int                `json:"c"`
	Flows      int64              `json:"flows"`
	Errors     int64              `json:"errors"`
	ErrorKinds map[string]int64   `json:"error_kinds"`
	Elapsed    float64            `json:"elapsed_s"`
	Rate       float64            `json:"flows_per_s"`
	P50        float64            `json:"p50_ms"`
	P90        float64            `json:"p90_ms"`
	P99        float64            `json:"p99_ms"`
	Max        float64            `json:"max_ms"`
	Bound      string             `json:"bound"`
	Prepared   int                `json:"prepared"`
	CPUPer1k   map[string]float64 `json:"cpu_s_per_1k"`
	HWMKiB     map[string]int64   `json:"peak_rss_kib"`
	OtherCores float64            `json:"other_cores"`
}

// series names one system in one mode, as run.sh labels them.
type series struct {
	system, mode string
	title        string // what the row is called in the tables
	server       string // -pid name of the RADIUS server process ("" for raw LDAP)
}

var (
	radmfaFirst   = series{"radmfa", "pap", "radmfa first leg (password → Access-Challenge)", "radmfa"}
	radmfaTwo     = series{"radmfa", "twoleg", "radmfa password + TOTP (two legs)", "radmfa"}
	radmfaSecond  = series{"radmfa", "secondleg", "radmfa second leg alone (State + TOTP)", "radmfa"}
	frLDAP        = series{"freeradius-ldap", "pap", "FreeRADIUS PAP + rlm_ldap", "freeradius"}
	frTOTP        = series{"freeradius-totp", "twoleg", "FreeRADIUS rlm_ldap + rlm_totp (two legs)", "freeradius"}
	frTOTPSecond  = series{"freeradius-totp", "secondleg", "FreeRADIUS rlm_totp second leg alone", "freeradius"}
	frFiles       = series{"freeradius-files", "pap", "FreeRADIUS PAP, users file (no directory)", "freeradius"}
	rawSearchBind = series{"ldap-raw", "ldapsearchbind", "raw LDAP: search by uid + bind (go-ldap)", ""}
	rawBind       = series{"ldap-raw", "ldapbind", "raw LDAP: bind only (go-ldap)", ""}
)

// scalePrefix labels the scale stage's runs (run.sh step 7): radmfa-scale-S, radmfa's second
// leg alone with S users enrolled in its store.
const scalePrefix = "radmfa-scale-"

// scaleRow is one size of the scale stage.
type scaleRow struct {
	users int    // enrolled users in radmfa's store
	best  result // the run with the most flows/s
	hwm   int64  // radmfa's peak RSS (VmHWM, KiB): the highest of this size's runs
	runs  int
}

type data struct {
	rows  []result
	by    map[string]result // system/mode/C → the run with the most flows/s
	cs    []int
	scale []scaleRow // by enrolled users, ascending
	facts [][2]string
}

// scaleAt returns the scale stage's row with users enrolled users.
func (d *data) scaleAt(users int) (scaleRow, bool) {
	for _, r := range d.scale {
		if r.users == users {
			return r, true
		}
	}
	return scaleRow{}, false
}

func (d *data) get(s series, c int) (result, bool) {
	r, ok := d.by[fmt.Sprintf("%s/%s/%d", s.system, s.mode, c)]
	return r, ok
}

func main() {
	resPath := flag.String("results", "", "loadgen JSON lines")
	factsPath := flag.String("facts", "", "machine facts, one \"key: value\" a line")
	out := flag.String("out", "", "Markdown file to write")
	flag.Parse()
	d, err := load(*resPath, *factsPath)
	if err == nil {
		err = os.WriteFile(*out, []byte(render(d)), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func load(resPath, factsPath string) (*data, error) {
	d := &data{by: map[string]result{}}
	f, err := os.Open(resPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s: %w", resPath, err)
		}
		d.rows = append(d.rows, r)
		if rest, ok := strings.CutPrefix(r.System, scalePrefix); ok {
			users, err := strconv.Atoi(rest)
			if err != nil || users <= 0 || r.Mode != "secondleg" {
				return nil, fmt.Errorf("%s: scale run %q mode %q: want %sUSERS in mode secondleg",
					resPath, r.System, r.Mode, scalePrefix)
			}
			i := slices.IndexFunc(d.scale, func(s scaleRow) bool { return s.users == users })
			if i < 0 {
				d.scale = append(d.scale, scaleRow{users: users, best: r})
				i = len(d.scale) - 1
			}
			sr := &d.scale[i]
			if r.Rate > sr.best.Rate {
				sr.best = r
			}
			sr.hwm = max(sr.hwm, r.HWMKiB["radmfa"])
			sr.runs++
			continue // its own section: not a column of the other tables, not in their peaks
		}
		// Several rounds: keep the run with the most flows/s, the least disturbed one.
		key := fmt.Sprintf("%s/%s/%d", r.System, r.Mode, r.C)
		if prev, ok := d.by[key]; !ok || r.Rate > prev.Rate {
			d.by[key] = r
		}
		if !slices.Contains(d.cs, r.C) {
			d.cs = append(d.cs, r.C)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	slices.Sort(d.cs)
	slices.SortFunc(d.scale, func(a, b scaleRow) int { return a.users - b.users })
	if factsPath != "" {
		b, err := os.ReadFile(factsPath)
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				d.facts = append(d.facts, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
			}
		}
	}
	return d, nil
}

func render(d *data) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# radmfa vs FreeRADIUS on the same slapd\n\n")
	w("Generated by `bench/run.sh` (the `bench` make target); do not edit by hand. ")
	w("Each row is a closed-loop run of `bench/loadgen`, bounded by a flow count and a wall time; ")
	w("with several rounds, a row shows the round with the most flows/s (its p50/p99/CPU are that ")
	w("run's), and every run is listed under Raw results. ")
	w("Every process (slapd, FreeRADIUS, radmfa, the load generator) shares the same cores on loopback, ")
	w("so the figures compare systems on this machine, not absolute capacities. Runs are short: ")
	w("expect ±15 %% between two runs of the same row, more when other processes competed (last ")
	w("column). CPU per flow, each process's own, is the figure least disturbed by other load.\n\n")

	w("## Targets (C = 32)\n\n")
	targets(&b, d)

	w("\n## First leg / PAP: password checked against the directory\n\n")
	w("radmfa answers a good password with an Access-Challenge (the user is enrolled); FreeRADIUS ")
	w("(PAP + rlm_ldap) with an Access-Accept. The raw LDAP rows are the directory's own ceiling for ")
	w("the same work without RADIUS; the users-file row is FreeRADIUS without any directory.\n\n")
	table(&b, d, radmfaFirst, frLDAP, rawSearchBind, rawBind, frFiles)
	ratios(&b, d, []ratio{
		{"radmfa / FreeRADIUS PAP+rlm_ldap", radmfaFirst, frLDAP},
		{"radmfa / raw search+bind", radmfaFirst, rawSearchBind},
		{"FreeRADIUS PAP+rlm_ldap / raw search+bind", frLDAP, rawSearchBind},
	})

	w("\n## Full flow: password, Access-Challenge, TOTP code, Access-Accept\n\n")
	table(&b, d, radmfaTwo, frTOTP)
	ratios(&b, d, []ratio{{"radmfa / FreeRADIUS rlm_ldap+rlm_totp", radmfaTwo, frTOTP}})

	w("\n## Second leg alone: State + TOTP code → Access-Accept\n\n")
	w("The States are collected first by untimed first legs; only the second requests are timed ")
	w("and only their CPU is counted. FreeRADIUS's users-file PAP (one request, no directory) is ")
	w("the reference the target names.\n\n")
	table(&b, d, radmfaSecond, frTOTPSecond, frFiles)
	ratios(&b, d, []ratio{
		{"radmfa / FreeRADIUS users-file PAP", radmfaSecond, frFiles},
		{"radmfa / FreeRADIUS rlm_totp second leg", radmfaSecond, frTOTPSecond},
	})

	w("\n## Scale: enrolled users in the store\n\n")
	scale(&b, d)

	w("\n## Peak memory over the whole bench\n\n")
	w("The scale stage's radmfa processes are not counted here: see their own section.\n\n")
	w("| process | peak RSS (VmHWM) MiB |\n| --- | ---: |\n")
	peaks := map[string]int64{}
	for _, r := range d.rows {
		if strings.HasPrefix(r.System, scalePrefix) {
			continue
		}
		for name, h := range r.HWMKiB {
			peaks[name] = max(peaks[name], h)
		}
	}
	for _, name := range []string{"radmfa", "freeradius", "slapd"} {
		if h, ok := peaks[name]; ok {
			w("| %s | %.1f |\n", name, float64(h)/1024)
		}
	}

	w("\n## Machine\n\n")
	w("| fact | value |\n| --- | --- |\n")
	for _, f := range d.facts {
		w("| %s | %s |\n", f[0], strings.ReplaceAll(f[1], "|", "\\|"))
	}

	w("\n## How each mode is measured\n\n")
	w(method)

	w("\n## Raw results\n\n<details><summary>%d runs, one JSON line each (loadgen -out)</summary>\n\n```\n", len(d.rows))
	for _, r := range d.rows {
		line, _ := json.Marshal(r)
		w("%s\n", line)
	}
	w("```\n\n</details>\n")
	return b.String()
}

func table(b *strings.Builder, d *data, ss ...series) {
	fmt.Fprintf(b, "| system | C | flows/s | p50 ms | p99 ms | errors | server CPU s/1000 | slapd CPU s/1000 | loadgen CPU s/1000 | server peak RSS MiB | other processes (cores) |\n")
	fmt.Fprintf(b, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, s := range ss {
		for _, c := range d.cs {
			r, ok := d.get(s, c)
			if !ok {
				fmt.Fprintf(b, "| %s | %d | not measured | | | | | | | | |\n", s.title, c)
				continue
			}
			server, rss := "—", "—"
			if s.server != "" {
				server = cpu(r, s.server)
				if h, ok := r.HWMKiB[s.server]; ok {
					rss = fmt.Sprintf("%.1f", float64(h)/1024)
				}
			}
			fmt.Fprintf(b, "| %s | %d | %.0f | %.2f | %.2f | %s | %s | %s | %s | %s | %.2f |\n",
				s.title, c, r.Rate, r.P50, r.P99, errs(r), server, cpu(r, "slapd"), cpu(r, "loadgen"), rss, r.OtherCores)
		}
	}
}

func scale(b *strings.Builder, d *data) {
	if len(d.scale) == 0 {
		fmt.Fprintf(b, "Not measured: the scale stage was skipped (`BENCH_SCALE=\"\"`).\n")
		return
	}
	fmt.Fprintf(b, "radmfa's second leg alone, measured as above, with more users enrolled in its SQLite store: ")
	fmt.Fprintf(b, "the %s directory users plus filler users that exist only in the store ", thousands(d.scale[0].users))
	fmt.Fprintf(b, "(`bench/prep enroll -extra`), so every sign-in still goes to a directory user and only the ")
	fmt.Fprintf(b, "store is larger. For each size radmfa is stopped, the store grown, radmfa started again: ")
	fmt.Fprintf(b, "the peak RSS is that process's own, over that size's runs (the untimed first legs that ")
	fmt.Fprintf(b, "collect the States included), so it is not comparable with the whole-bench peak below (one ")
	fmt.Fprintf(b, "process through every mode and C). The first row, the smallest store, is the baseline.\n\n")
	fmt.Fprintf(b, "| enrolled users | C | second-leg flows/s | vs baseline | p50 ms | p99 ms | errors | radmfa CPU s/1000 | radmfa peak RSS MiB | runs | other processes (cores) |\n")
	fmt.Fprintf(b, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	base := d.scale[0].best
	for _, s := range d.scale {
		r, vs := s.best, "—"
		if base.Rate > 0 {
			vs = fmt.Sprintf("%.2f×", r.Rate/base.Rate)
		}
		rss := "—"
		if s.hwm > 0 {
			rss = fmt.Sprintf("%.1f", float64(s.hwm)/1024)
		}
		fmt.Fprintf(b, "| %s | %d | %.0f | %s | %.2f | %.2f | %s | %s | %s | %d | %.2f |\n",
			thousands(s.users), r.C, r.Rate, vs, r.P50, r.P99, errs(r), cpu(r, "radmfa"), rss, s.runs, r.OtherCores)
	}
}

func cpu(r result, name string) string {
	v, ok := r.CPUPer1k[name]
	if !ok {
		return "—"
	}
	return fmt.Sprintf("%.3f", v)
}

func errs(r result) string {
	if r.Errors == 0 {
		return "0"
	}
	keys := make([]string, 0, len(r.ErrorKinds))
	for k := range r.ErrorKinds {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, r.ErrorKinds[k])
	}
	return fmt.Sprintf("%d (%s)", r.Errors, strings.Join(parts, ", "))
}

type ratio struct {
	name string
	a, b series
}

func ratios(b *strings.Builder, d *data, rs []ratio) {
	fmt.Fprintf(b, "\n| ratio | C | flows/s | p99 | server CPU per flow |\n| --- | ---: | ---: | ---: | ---: |\n")
	for _, r := range rs {
		for _, c := range d.cs {
			x, ok1 := d.get(r.a, c)
			y, ok2 := d.get(r.b, c)
			if !ok1 || !ok2 || y.Rate == 0 || y.P99 == 0 {
				fmt.Fprintf(b, "| %s | %d | — | — | — |\n", r.name, c)
				continue
			}
			cpuRatio := "—"
			if r.a.server != "" && r.b.server != "" && y.CPUPer1k[r.b.server] > 0 {
				cpuRatio = fmt.Sprintf("%.2f×", x.CPUPer1k[r.a.server]/y.CPUPer1k[r.b.server])
			}
			fmt.Fprintf(b, "| %s | %d | %.2f× | %.2f× | %s |\n", r.name, c, x.Rate/y.Rate, x.P99/y.P99, cpuRatio)
		}
	}
}

func targets(b *strings.Builder, d *data) {
	const c = 32
	fmt.Fprintf(b, "| target | measured | needed | result |\n| --- | ---: | ---: | --- |\n")
	rate := func(name string, a, s series, need float64) {
		x, ok1 := d.get(a, c)
		y, ok2 := d.get(s, c)
		if !ok1 || !ok2 || y.Rate == 0 {
			fmt.Fprintf(b, "| %s | not measured | %.2f× | n/a |\n", name, need)
			return
		}
		got := x.Rate / y.Rate
		fmt.Fprintf(b, "| %s | %.2f× (%.0f vs %.0f flows/s) | ≥ %.2f× | %s |\n", name, got, x.Rate, y.Rate, need, verdict(got >= need))
	}
	p99 := func(name string, a, s series) {
		x, ok1 := d.get(a, c)
		y, ok2 := d.get(s, c)
		if !ok1 || !ok2 || y.P99 == 0 {
			fmt.Fprintf(b, "| %s | not measured | ≤ 0.50× | n/a |\n", name)
			return
		}
		got := x.P99 / y.P99
		fmt.Fprintf(b, "| %s | %.2f× (%.2f vs %.2f ms) | ≤ 0.50× | %s |\n", name, got, x.P99, y.P99, verdict(got <= 0.5))
	}
	rate("first leg ≥ 2× FreeRADIUS PAP+rlm_ldap", radmfaFirst, frLDAP, 2)
	rate("first leg ≥ 90 % of raw search+bind", radmfaFirst, rawSearchBind, 0.9)
	rate("full two-leg TOTP ≥ 3× FreeRADIUS challenge flow", radmfaTwo, frTOTP, 3)
	rate("second leg alone ≥ FreeRADIUS users-file PAP", radmfaSecond, frFiles, 1)
	p99("p99 first leg ≤ ½ FreeRADIUS PAP+rlm_ldap", radmfaFirst, frLDAP)
	p99("p99 two-leg ≤ ½ FreeRADIUS challenge flow", radmfaTwo, frTOTP)
	p99("p99 second leg ≤ ½ FreeRADIUS rlm_totp second leg", radmfaSecond, frTOTPSecond)

	// Scale stage: radmfa's own peak RSS, and its second leg against itself with a small store.
	const rssUsers, rssLimit = 100000, 100e6 // bytes: 100 MB, not MiB
	name := fmt.Sprintf("peak RSS with %s enrolled users < 100 MB", thousands(rssUsers))
	if s, ok := d.scaleAt(rssUsers); ok && s.hwm > 0 {
		bytes := float64(s.hwm) * 1024
		fmt.Fprintf(b, "| %s | %.1f MiB (%.1f MB) | < %.1f MiB (100 MB) | %s |\n",
			name, bytes/(1<<20), bytes/1e6, rssLimit/(1<<20), verdict(bytes < rssLimit))
	} else {
		fmt.Fprintf(b, "| %s | not measured | < %.1f MiB (100 MB) | n/a |\n", name, rssLimit/(1<<20))
	}
	const bigUsers, smallUsers, within = 1000000, 10000, 0.9
	name = fmt.Sprintf("second leg with %s enrolled users within 10 %% of %s", thousands(bigUsers), thousands(smallUsers))
	x, ok1 := d.scaleAt(bigUsers)
	y, ok2 := d.scaleAt(smallUsers)
	if !ok1 || !ok2 || y.best.Rate == 0 {
		fmt.Fprintf(b, "| %s | not measured | ≥ %.2f× | n/a |\n", name, within)
		return
	}
	got := x.best.Rate / y.best.Rate
	fmt.Fprintf(b, "| %s | %.2f× (%.0f vs %.0f flows/s) | ≥ %.2f× | %s |\n", name, got, x.best.Rate, y.best.Rate, within, verdict(got >= within))
}

// thousands writes n with a space between groups of three digits, as the targets are worded.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + " " + s[i:]
	}
	return s
}

func verdict(ok bool) string {
	if ok {
		return "**pass**"
	}
	return "**short**"
}

const method = `- **Load generator** (` + "`bench/loadgen`" + `): C goroutines in a closed loop (each sends its next
  flow when the previous one is answered), each with its own connected UDP socket and Identifier
  sequence; a run stops after n flows or d seconds, whichever comes first, after an untimed
  warm-up. Requests carry Message-Authenticator (HMAC-MD5, RFC 3579) for every server, and both
  servers require it; responses are checked (Response Authenticator, and Message-Authenticator
  when present). A request unanswered within 2 s counts as a timeout error. Users are taken round
  robin from user00001…user10000.
- **flows/s** = successful flows / wall time of the timed section; **p50/p99** are nearest-rank
  percentiles of successful flows' latencies (a whole flow: both requests in the two-leg mode).
- **CPU s/1000 flows**: utime+stime of the process (/proc/PID/stat) from the start of the timed
  section until the measured processes are idle again (at most 10 s later), so work a server
  defers past the last answer (radmfa's audit queue) is charged to the run; divided by the
  successful flows. "server" is radmfa or FreeRADIUS; slapd is listed separately; the load
  generator's own CPU shows how much of the 2 cores the client took. **Peak RSS** is VmHWM at
  the end of the run: the process's peak since it started, so it includes the runs before it
  (FreeRADIUS's grows with the States it keeps for the secondleg runs). **Other processes** is the
  CPU (in cores, out of nproc) that every process but the measured ones and the load generator
  took in the same window (/proc/stat): anything above ~0.1 means something else on the machine
  competed with the run and its row is pessimistic.
- **pap**: one Access-Request with User-Password; success is Access-Accept or Access-Challenge.
- **twoleg**: Access-Request → Access-Challenge with State → Access-Request with that State and
  the TOTP code as User-Password → Access-Accept.
- **secondleg**: the load generator first runs up to n first legs (untimed, bounded by d) and keeps
  their States, then waits for the servers to go idle, then times only the second requests.
- **ldapsearchbind**: what a RADIUS server does against LDAP, with nothing else: on a pool of
  connections bound as the service account, a subtree search with radmfa's filter
  (&(objectClass=inetOrgPerson)(uid=…)), size limit 2 and the attributes radmfa fetches; then a
  simple bind as the DN found on a second pool. **ldapbind**: the bind alone. Pools hold
  min(C, 16) connections each, like radmfa's default pool_size 16.
- **TOTP codes and single use.** radmfa accepts a code from the current step ±1 (skew 1), moved
  by the drift it learned from the user's previous code, and never accepts a step at or below the
  last one a user used. 10 000 users at thousands of flows/s reuse a user within one 30 s step,
  so the load generator keeps, per user, the last step sent and the range of the server's learned
  drift, and sends the lowest step that is certainly in the server's window, above the last
  one, and within ±1 step of the real clock (a phone never sends more). After a fresh enrolment
  that is 3 codes per user in the first step and 1 per step after it, i.e. 30 000 flows before
  the next step begins; so run.sh re-enrols all users (` + "`bench/prep enroll`" + `, force: resets
  the used step and drift) before each radmfa TOTP run. FreeRADIUS's rlm_totp accepts only the
  current step and has no replay protection, so it gets the current step's code; the rare flow
  that crosses a step boundary between computing and checking fails and is counted as an error.
- **Directory**: scripts/slapd.sh (slapd 2.5, mdb, slapd logging at level 256 "stats" to its log
  file as that script runs it) with 10 000 inetOrgPerson users whose userPassword is {SSHA};
  FreeRADIUS reads each user's TOTP secret from the description attribute (radmfa keeps it,
  encrypted, in its own store).
- **FreeRADIUS** runs as ` + "`freeradius -f -d CONFDIR`" + ` with a private configuration (bench/freeradius/):
  reject_delay 0, max_requests 262144, a fixed pool of 16 threads and 16 LDAP connections per
  rlm_ldap instance, one log line per Accept/Reject (radmfa logs one per decision).
- **Scale stage** (run.sh step 7, ` + "`BENCH_SCALE`" + `): for each size, smallest first, radmfa is
  stopped, its store grown to that many enrolled users with ` + "`prep enroll -extra`" + ` (filler users
  filler0000001…, in the store only, written in batches of 5 000 rows a transaction through the
  store's import path; the bench users re-enrolled), radmfa started again on it, and the second
  leg alone run at C = 32 as above (BENCH_ROUNDS times, re-enrolling the bench users between
  runs). The store only grows from one size to the next. 100 MB = 10^8 bytes = 95.4 MiB.
- **radmfa** runs as ` + "`radmfa serve`" + ` with bench/radmfa.yaml.tmpl: defaults (LDAP pool 16, sqlite
  store, lockout on, audit rows on, JSON log at info) and the same directory.
`
