package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/radmfa/radmfa/config"
	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/store"
)

// portalStore is the store with app passwords, devices and blocks; every backend has them.
func portalStore(st store.Store) (store.Portal, error) {
	p, ok := st.(store.Portal)
	if !ok {
		return nil, fmt.Errorf("store %T lacks app passwords and devices", st)
	}
	return p, nil
}

// userAdmin runs the per-user admin verbs of the rollout documents.
func userAdmin(ctx context.Context, st store.Store, cfg *config.Config, verb, user string, w io.Writer) error {
	ps, err := portalStore(st)
	if err != nil {
		return err
	}
	switch verb {
	case "reset":
		// Require re-registration: the factors go, the state and the counters stay.
		u, err := st.GetUser(ctx, user)
		if err != nil {
			return notFound(err, user)
		}
		if err := st.DeleteUser(ctx, user); err != nil {
			return err
		}
		if u.State != store.StateDefault {
			if err := st.SetState(ctx, user, u.State); err != nil {
				return err
			}
		}
		fmt.Fprintf(w, "%s: factors removed; the user registers again at next sign-in\n", user)
	case "unblock":
		if err := ps.SetBlocked(ctx, user, false, "", time.Now()); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s: unblocked\n", user)
	case "forget-devices":
		n, err := ps.ForgetDevices(ctx, user)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s: %d remembered device(s) forgotten\n", user, n)
	case "delete-app-passwords":
		n, err := ps.DeleteAppPasswords(ctx, user)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s: %d app password(s) deleted\n", user, n)
	}
	auditAdmin(ctx, st, cfg, user, verb)
	return nil
}

// importRow is one validated CSV line.
type importRow struct {
	line   int
	user   string
	state  store.State
	method *string
	phone  *string
}

// userImport applies a bulk update from CSV (username,state[,method[,phone]]), as the rollout
// documents' bulk update does. Every row is checked first; any error is reported with its line
// and nothing is applied. Without --apply it only shows what would change.
func userImport(ctx context.Context, st store.Store, cfg *config.Config, path string, apply bool, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, errs := parseImport(f, cfg)
	if len(errs) > 0 {
		return fmt.Errorf("%s: %d bad row(s), nothing applied:\n%s", path, len(errs), strings.Join(errs, "\n"))
	}
	type change struct {
		row    importRow
		before store.User
		exists bool
	}
	var changes []change
	for _, r := range rows {
		u, err := st.GetUser(ctx, r.user)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		c := change{row: r, before: u, exists: err == nil}
		diff := []string{}
		if u.State != r.state {
			diff = append(diff, fmt.Sprintf("state %s → %s", stateName(u.State), stateName(r.state)))
		}
		if r.method != nil && u.Method != *r.method {
			diff = append(diff, fmt.Sprintf("method %q → %q", u.Method, *r.method))
		}
		if r.phone != nil && u.Phone != *r.phone {
			diff = append(diff, "phone "+maskOrNone(u.Phone)+" → "+maskOrNone(*r.phone))
		}
		if len(diff) == 0 {
			fmt.Fprintf(w, "line %d: %s: unchanged\n", r.line, r.user)
			continue
		}
		fmt.Fprintf(w, "line %d: %s: %s\n", r.line, r.user, strings.Join(diff, ", "))
		changes = append(changes, c)
	}
	if !apply {
		fmt.Fprintf(w, "dry run: %d change(s); run again with --apply to make them\n", len(changes))
		return nil
	}
	for i, c := range changes {
		if err := applyRow(ctx, st, c.row); err != nil {
			// Put back what was applied, so the file is all or nothing.
			for j := i - 1; j >= 0; j-- {
				undo(ctx, st, changes[j].row.user, changes[j].before, changes[j].exists)
			}
			undo(ctx, st, c.row.user, c.before, c.exists)
			return fmt.Errorf("line %d: %s: %w; the rows before it were rolled back", c.row.line, c.row.user, err)
		}
	}
	for _, c := range changes {
		auditAdmin(ctx, st, cfg, c.row.user, "import "+path)
	}
	fmt.Fprintf(w, "applied %d change(s)\n", len(changes))
	return nil
}

func applyRow(ctx context.Context, st store.Store, r importRow) error {
	if err := st.SetState(ctx, r.user, r.state); err != nil {
		return err
	}
	if r.method != nil {
		if err := st.SetMethod(ctx, r.user, *r.method); err != nil {
			return err
		}
	}
	if r.phone != nil {
		if err := st.SetPhone(ctx, r.user, *r.phone); err != nil {
			return err
		}
	}
	return nil
}

func undo(ctx context.Context, st store.Store, user string, before store.User, existed bool) {
	_ = st.SetState(ctx, user, before.State)
	_ = st.SetMethod(ctx, user, before.Method)
	_ = st.SetPhone(ctx, user, before.Phone)
	if !existed {
		_ = st.DeleteUser(ctx, user)
	}
}

func maskOrNone(p string) string {
	if p == "" {
		return "none"
	}
	return factors.MaskPhone(p)
}

// parseImport reads and checks every row; errors name their line.
func parseImport(r io.Reader, cfg *config.Config) ([]importRow, []string) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	norm := normalizer(cfg.LDAP.Username)
	var rows []importRow
	var errs []string
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			errs = append(errs, fmt.Sprintf("line %d: %v", line, err))
			break
		}
		if len(rec) == 0 || (len(rec) == 1 && strings.TrimSpace(rec[0]) == "") || strings.HasPrefix(rec[0], "#") {
			continue
		}
		if len(rows) == 0 && len(errs) == 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "username") {
			continue // header
		}
		bad := func(format string, a ...any) {
			errs = append(errs, fmt.Sprintf("line %d: "+format, append([]any{line}, a...)...))
		}
		if len(rec) < 2 || len(rec) > 4 {
			bad("want username,state[,method[,phone]], got %d field(s)", len(rec))
			continue
		}
		row := importRow{line: line, user: norm.Normalize(rec[0])}
		if row.user == "" {
			bad("empty username")
			continue
		}
		if first, dup := seen[row.user]; dup {
			bad("%s already on line %d", row.user, first)
			continue
		}
		seen[row.user] = line
		switch st := strings.ToLower(strings.TrimSpace(rec[1])); st {
		case "disabled", "enabled", "enforced":
			row.state = store.State(st)
		case "default", "":
			row.state = store.StateDefault
		default:
			bad("state %q: want disabled, enabled, enforced or default", rec[1])
			continue
		}
		if len(rec) > 2 && strings.TrimSpace(rec[2]) != "" {
			m := strings.ToLower(strings.TrimSpace(rec[2]))
			switch m {
			case "totp", "sms":
			case "none":
				m = ""
			default:
				bad("method %q: want totp, sms or none", rec[2])
				continue
			}
			row.method = &m
		}
		if len(rec) > 3 && strings.TrimSpace(rec[3]) != "" {
			p := strings.TrimSpace(rec[3])
			if strings.EqualFold(p, "none") {
				p = ""
			} else {
				n, err := factors.NormalizePhone(p, cfg.SMS.DefaultCountry)
				if err != nil {
					bad("%v", err)
					continue
				}
				p = n
			}
			row.phone = &p
		}
		rows = append(rows, row)
	}
	return rows, errs
}

// cmdAudit answers the sign-in reports: radmfa audit signins|summary.
func cmdAudit(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "signins" && args[0] != "summary") {
		return fmt.Errorf("%w: radmfa audit signins|summary [--user U] [--since 24h] [--result reject] [--json] --config FILE", errUsage)
	}
	verb := args[0]
	fs, cfgPath := newFlags("audit " + verb)
	user := fs.String("user", "", "only this user")
	since := fs.Duration("since", 24*time.Hour, "how far back")
	result := fs.String("result", "", "accept, reject or challenge")
	limit := fs.Int("limit", 1000, "at most this many rows")
	asJSON := fs.Bool("json", false, "JSON lines instead of a table")
	if _, err := parseInterspersed(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg.Store)
	if err != nil {
		return err
	}
	defer st.Close()
	from := time.Now().Add(-*since)
	u := *user
	if u != "" {
		u = normalizer(cfg.LDAP.Username).Normalize(u)
	}
	if verb == "summary" {
		ps, err := portalStore(st)
		if err != nil {
			return err
		}
		rows, err := ps.AuditSummary(ctx, from)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			for _, r := range rows {
				if u == "" || r.Username == u {
					_ = enc.Encode(r)
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DAY\tUSER\tACCEPTS\tREJECTS\tCHALLENGES\tFRAUD\tTOP REJECT REASONS")
		for _, r := range rows {
			if u != "" && r.Username != u {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", r.Day.Format("2006-01-02"), r.Username, r.Accepts, r.Rejects,
				r.Challenges, r.Fraud, reasons(r.Reasons))
		}
		return tw.Flush()
	}
	evs, err := st.QueryAudit(ctx, store.AuditFilter{Username: u, Since: from, Result: *result, Limit: *limit})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, ev := range evs {
			_ = enc.Encode(ev)
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tNODE\tKIND\tUSER\tNAS\tCLIENT\tCALLING STATION\tFACTOR\tRESULT\tREASON")
	for _, ev := range evs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Time.UTC().Format(time.RFC3339), ev.Node, ev.Kind,
			ev.Username, ev.NAS, ev.ClientIP, ev.CallingStationID, ev.Factor, ev.Result, ev.Reason)
	}
	return tw.Flush()
}

// reasons lists reject reasons by count, most first, at most three.
func reasons(m map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range m {
		if k != "mfa_ok" && k != "challenge_sent" && k != "password_only" {
			l = append(l, kv{k, v})
		}
	}
	for i := range l {
		for j := i + 1; j < len(l); j++ {
			if l[j].v > l[i].v || (l[j].v == l[i].v && l[j].k < l[i].k) {
				l[i], l[j] = l[j], l[i]
			}
		}
	}
	var out []string
	for i, x := range l {
		if i == 3 {
			break
		}
		out = append(out, fmt.Sprintf("%s×%d", x.k, x.v))
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, " ")
}
