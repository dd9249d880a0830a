package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/mdp/qrterminal/v3"

	"github.com/radmfa/radmfa/config"
	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/store"
)

func cmdUser(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: radmfa user enroll|show|delete|state|method|phone|resync|list|unlock …", errUsage)
	}
	verb := args[0]
	fs, cfgPath := newFlags("user " + verb)
	secret := fs.String("secret", "", "enroll: base32 TOTP secret (default: random)")
	force := fs.Bool("force", false, "enroll: replace an existing enrolment")
	noQR := fs.Bool("no-qr", false, "enroll: do not print the QR code")
	apply := fs.Bool("apply", false, "import: apply the changes (default: dry run)")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	want := map[string]int{"enroll": 1, "show": 1, "delete": 1, "state": 2, "method": 2, "phone": 2, "resync": 3,
		"list": 0, "unlock": 1, "reset": 1, "unblock": 1, "forget-devices": 1, "delete-app-passwords": 1, "import": 1}
	n, ok := want[verb]
	if !ok {
		return fmt.Errorf("%w: unknown user command %q", errUsage, verb)
	}
	if len(pos) != n {
		return fmt.Errorf("%w: radmfa user %s takes %d argument(s)", errUsage, verb, n)
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if len(pos) > 0 && verb != "import" {
		// The same name the engine uses: "EXAMPLE\Alice" and "alice" are one record.
		if pos[0] = normalizer(cfg.LDAP.Username).Normalize(pos[0]); pos[0] == "" {
			return fmt.Errorf("%w: empty username", errUsage)
		}
	}
	st, err := openStore(ctx, cfg.Store)
	if err != nil {
		return err
	}
	defer st.Close()

	switch verb {
	case "enroll":
		return userEnroll(ctx, st, cfg, pos[0], *secret, *force, !*noQR, stdout)
	case "show":
		return userShow(ctx, st, pos[0], stdout)
	case "delete":
		if err := st.DeleteUser(ctx, pos[0]); err != nil {
			return notFound(err, pos[0])
		}
		auditAdmin(ctx, st, cfg, pos[0], "delete")
		fmt.Fprintf(stdout, "deleted %s\n", pos[0])
	case "state":
		s := store.State(pos[1])
		switch s {
		case store.StateDisabled, store.StateEnabled, store.StateEnforced:
		case "default":
			s = store.StateDefault
		default:
			return fmt.Errorf("%w: state must be enabled, enforced, disabled or default", errUsage)
		}
		if err := st.SetState(ctx, pos[0], s); err != nil {
			return err
		}
		auditAdmin(ctx, st, cfg, pos[0], "state "+pos[1])
		fmt.Fprintf(stdout, "%s: state %s\n", pos[0], pos[1])
	case "method":
		return userMethod(ctx, st, cfg, pos[0], pos[1], stdout)
	case "phone":
		return userPhone(ctx, st, cfg, pos[0], pos[1], stdout)
	case "resync":
		return userResync(ctx, st, cfg, pos[0], pos[1], pos[2], time.Now(), stdout)
	case "unlock":
		if err := st.Unlock(ctx, pos[0]); err != nil {
			return err
		}
		auditAdmin(ctx, st, cfg, pos[0], "unlock")
		fmt.Fprintf(stdout, "%s: unlocked\n", pos[0])
	case "reset", "unblock", "forget-devices", "delete-app-passwords":
		return userAdmin(ctx, st, cfg, verb, pos[0], stdout)
	case "import":
		return userImport(ctx, st, cfg, pos[0], *apply, stdout)
	case "list":
		users, err := st.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tSTATE\tMETHODS\tDEFAULT")
		for _, u := range users {
			m := u.Method
			if m == "" {
				m = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Username, stateName(u.State), methods(u), m)
		}
		return tw.Flush()
	}
	return nil
}

func userEnroll(ctx context.Context, st store.Store, cfg *config.Config, user, secretB32 string, force, qr bool, w io.Writer) error {
	var secret []byte
	var err error
	if secretB32 != "" {
		secret, err = factors.DecodeSecret(secretB32)
	} else {
		secret, err = factors.NewSecret()
	}
	if err != nil {
		return err
	}
	if err := st.EnrollTOTP(ctx, user, secret, force); err != nil {
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("%s is already enrolled; use --force to replace the enrolment", user)
		}
		return err
	}
	auditAdmin(ctx, st, cfg, user, "enroll totp")
	uri := totpConfig(cfg.TOTP).URI(cfg.TOTP.Issuer, user, secret)
	fmt.Fprintf(w, "enrolled %s\nsecret: %s\nuri: %s\n", user, factors.EncodeSecret(secret), uri)
	if qr {
		qrterminal.GenerateWithConfig(uri, qrterminal.Config{
			Level: qrterminal.M, Writer: w, HalfBlocks: true,
			BlackChar: qrterminal.BLACK_BLACK, WhiteChar: qrterminal.WHITE_WHITE,
			BlackWhiteChar: qrterminal.BLACK_WHITE, WhiteBlackChar: qrterminal.WHITE_BLACK, QuietZone: 2,
		})
	}
	return nil
}

// userMethod sets the factor a user is asked for first: totp, sms (texted at once, without the
// choice prompt) or none (no preference).
func userMethod(ctx context.Context, st store.Store, cfg *config.Config, user, method string, w io.Writer) error {
	value := method
	switch method {
	case "totp", "sms":
	case "none":
		value = ""
	default:
		return fmt.Errorf("%w: method must be totp, sms or none", errUsage)
	}
	if err := st.SetMethod(ctx, user, value); err != nil {
		return err
	}
	auditAdmin(ctx, st, cfg, user, "method "+method)
	fmt.Fprintf(w, "%s: method %s\n", user, method)
	return nil
}

// userPhone sets the number texts go to instead of the directory's, or clears it with none.
// The number is stored in E.164 form; national numbers need sms.default_country.
func userPhone(ctx context.Context, st store.Store, cfg *config.Config, user, raw string, w io.Writer) error {
	phone := ""
	if raw != "none" {
		p, err := factors.NormalizePhone(raw, cfg.SMS.DefaultCountry)
		if err != nil {
			return fmt.Errorf("phone number for %s: %w", user, err)
		}
		phone = p
	}
	if err := st.SetPhone(ctx, user, phone); err != nil {
		return err
	}
	if phone == "" {
		auditAdmin(ctx, st, cfg, user, "phone cleared")
		fmt.Fprintf(w, "%s: phone cleared (the directory's number is used)\n", user)
		return nil
	}
	auditAdmin(ctx, st, cfg, user, "phone "+factors.MaskPhone(phone))
	fmt.Fprintf(w, "%s: phone %s\n", user, phone)
	return nil
}

// resyncWindow is how far from now resync looks for a token's clock: ±10 minutes.
const resyncWindow = 10 * time.Minute

// userResync finds a token whose clock is off by more than the skew from two consecutive codes,
// stores the offset so later codes are checked around it, and spends both codes.
func userResync(ctx context.Context, st store.Store, cfg *config.Config, user, code1, code2 string, now time.Time, w io.Writer) error {
	u, err := st.GetUser(ctx, user)
	if err != nil {
		return notFound(err, user)
	}
	if len(u.TOTPSecret) == 0 {
		return fmt.Errorf("%s has no authenticator app enrolled", user)
	}
	totp := totpConfig(cfg.TOTP)
	steps := int(resyncWindow / totp.Period)
	m, ok := totp.Resync(u.TOTPSecret, code1, code2, now, steps)
	if !ok {
		return fmt.Errorf("%s: the two codes are not consecutive codes of the app within %s of now; "+
			"type two codes in a row, as the app shows them", user, resyncWindow)
	}
	fresh, err := st.UseTOTPStep(ctx, user, m.Step, m.Drift)
	if err != nil {
		return err
	}
	if !fresh {
		return fmt.Errorf("%s: these codes were already used; wait for the app to show new ones", user)
	}
	auditAdmin(ctx, st, cfg, user, fmt.Sprintf("resync drift %+d", m.Drift))
	fmt.Fprintf(w, "%s: resynchronised, the app's clock is %+d steps (%s) off\n", user, m.Drift,
		time.Duration(m.Drift)*totp.Period)
	return nil
}

func userShow(ctx context.Context, st store.Store, user string, w io.Writer) error {
	u, err := st.GetUser(ctx, user)
	if err != nil {
		return notFound(err, user)
	}
	locked, err := st.LockedUntil(ctx, user, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "user:     %s\nstate:    %s\nmethods:  %s\n", u.Username, stateName(u.State), methods(u))
	if u.Method != "" {
		fmt.Fprintf(w, "default:  %s\n", u.Method)
	}
	if u.TOTPLastStep > 0 {
		fmt.Fprintf(w, "last code: %s\n", time.Unix(u.TOTPLastStep*30, 0).UTC().Format(time.RFC3339))
	}
	if u.TOTPDrift != 0 {
		fmt.Fprintf(w, "drift:    %+d steps (the app's clock is off; see user resync)\n", u.TOTPDrift)
	}
	if !locked.IsZero() {
		fmt.Fprintf(w, "locked until: %s\n", locked.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "created:  %s\nupdated:  %s\n", u.CreatedAt.UTC().Format(time.RFC3339), u.UpdatedAt.UTC().Format(time.RFC3339))
	return nil
}

func notFound(err error, user string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no such user %q", user)
	}
	return err
}

func stateName(s store.State) string {
	if s == store.StateDefault {
		return "default"
	}
	return string(s)
}

func methods(u store.User) string {
	m := ""
	if len(u.TOTPSecret) > 0 {
		m = "totp"
	}
	if u.Phone != "" {
		if m != "" {
			m += ","
		}
		m += "sms"
	}
	if m == "" {
		return "-"
	}
	return m
}

func auditAdmin(ctx context.Context, st store.Store, cfg *config.Config, user, what string) {
	_ = st.Audit(ctx, store.AuditEvent{Time: time.Now(), Node: cfg.Node, Kind: "admin", Username: user, Result: "ok", Reason: what})
}
