package test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pamService installs pam_radius_auth and pamtester when missing and writes a private PAM
// service that asks the node at addr; both files are removed at cleanup. It returns the
// service name.
func pamService(t *testing.T, addr, secret string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: writes a PAM service into /etc/pam.d")
	}
	install := exec.Command("../scripts/deps.sh", "libpam-radius-auth", "pamtester")
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("install libpam-radius-auth pamtester: %v\n%s", err, out)
	}
	// pam_radius reads its server list from conf=: "ADDR SECRET TIMEOUT", private to root.
	conf := filepath.Join(t.TempDir(), "pam_radius.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "%s %s 10\n", addr, secret), 0o600); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "radmfa-test-" + hex.EncodeToString(b)
	path := filepath.Join("/etc/pam.d", name)
	svc := fmt.Sprintf("auth required pam_radius_auth.so conf=%s\naccount required pam_permit.so\n", conf)
	if err := os.WriteFile(path, []byte(svc), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(path) })
	return name
}

// pamtester runs "pamtester -v SERVICE USER authenticate" with the given lines on stdin
// (password, then the answer to the challenge prompt).
func pamtester(t *testing.T, service, user string, lines ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "pamtester", "-v", service, user, "authenticate")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// pam_radius (Debian 12, 2.0.0) sends no Message-Authenticator: its client must not require
// one. It shows the challenge's Reply-Message as the prompt and sends the answer with State.
func TestPAMRadius(t *testing.T) {
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: false})
	service := pamService(t, n.addr, n.secret)
	user, pw := newUser(t, d)
	secret := n.enroll(user)

	t.Run("password and code", func(t *testing.T) {
		out, err := pamtester(t, service, user, pw, code(t, secret))
		if err != nil || !strings.Contains(out, "successfully authenticated") {
			t.Fatalf("pamtester: %v\n%s", err, out)
		}
		if !strings.Contains(out, "Enter the 6-digit code from your authenticator app: ") {
			t.Errorf("the challenge prompt was not shown:\n%s", out)
		}
		wantReason(t, n, user, "mfa_ok")
	})
	t.Run("wrong code", func(t *testing.T) {
		out, err := pamtester(t, service, user, pw, "000000")
		if err == nil || strings.Contains(out, "successfully authenticated") {
			t.Fatalf("pamtester with a wrong code succeeded:\n%s", out)
		}
		wantReason(t, n, user, "wrong_code")
	})
	t.Run("wrong password", func(t *testing.T) {
		out, err := pamtester(t, service, user, "not-"+pw, code(t, secret))
		if err == nil || strings.Contains(out, "successfully authenticated") {
			t.Fatalf("pamtester with a wrong password succeeded:\n%s", out)
		}
		if strings.Contains(out, "authenticator app") {
			t.Errorf("a wrong password got the code prompt:\n%s", out)
		}
		wantReason(t, n, user, "bad_password")
	})
}
