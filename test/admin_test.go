package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"layeh.com/radius"
)

// The admin verbs of the rollout documents, on the real binary.
func TestAdminCLI(t *testing.T) {
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true})
	alice, apw := newUser(t, d)
	bob, _ := newUser(t, d)
	n.enroll(alice)

	writeCSV := func(body string) string {
		p := filepath.Join(t.TempDir(), "users.csv")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	state := func(u string) string {
		out, err := n.cli("user", "show", u)
		if err != nil {
			return "none"
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "state:") {
				return strings.TrimSpace(strings.TrimPrefix(l, "state:"))
			}
		}
		return "?"
	}

	t.Run("import: mixed rows apply nothing and name their lines", func(t *testing.T) {
		p := writeCSV("username,state\n" + alice + ",disabled\n" + bob + ",sometimes\n,enforced\n")
		out, err := n.cli("user", "import", p, "--apply")
		if err == nil || !strings.Contains(out, "line 3:") || !strings.Contains(out, "line 4: empty username") {
			t.Fatalf("err %v\n%s", err, out)
		}
		if s := state(alice); s != "default" {
			t.Fatalf("alice state %q after a refused import", s)
		}
	})
	t.Run("import: dry run shows, --apply does", func(t *testing.T) {
		p := writeCSV(alice + ",disabled\n" + bob + ",enforced,sms,+1 555 123 0042\n")
		out, err := n.cli("user", "import", p)
		if err != nil || !strings.Contains(out, "dry run: 2 change(s)") || state(alice) != "default" {
			t.Fatalf("dry run: %v\n%s", err, out)
		}
		if out, err := n.cli("user", "import", p, "--apply"); err != nil || !strings.Contains(out, "applied 2 change(s)") {
			t.Fatalf("apply: %v\n%s", err, out)
		}
		if state(alice) != "disabled" || state(bob) != "enforced" {
			t.Fatalf("states %q %q", state(alice), state(bob))
		}
		// disabled: password only now.
		wantCode(t, n.send(request{user: alice, password: apw}), radius.CodeAccessAccept)
	})
	t.Run("reset removes factors and keeps the state", func(t *testing.T) {
		if out, err := n.cli("user", "reset", alice); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		out, _ := n.cli("user", "show", alice)
		if !strings.Contains(out, "methods:  -") || state(alice) != "disabled" {
			t.Fatalf("after reset:\n%s", out)
		}
	})
	t.Run("audit signins returns the decisions made", func(t *testing.T) {
		wantCode(t, n.send(request{user: alice, password: "wrong"}), radius.CodeAccessReject)
		wantReason(t, n, alice, "bad_password")
		var got []map[string]any
		for range 50 { // the audit writer is asynchronous: wait for both rows
			out, err := n.cli("audit", "signins", "--user", alice, "--json")
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			got = got[:0]
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				var m map[string]any
				if json.Unmarshal([]byte(l), &m) == nil && m["Kind"] == "auth" {
					got = append(got, m)
				}
			}
			if len(got) >= 2 {
				break
			}
		}
		if len(got) != 2 || got[0]["Reason"] != "bad_password" || got[1]["Reason"] != "password_only" {
			t.Fatalf("audit rows %v", got)
		}
		out, err := n.cli("audit", "signins", "--user", alice, "--result", "reject", "--json")
		if err != nil || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "bad_password") {
			t.Fatalf("reject filter: %v\n%s", err, out)
		}
		out, err = n.cli("audit", "summary")
		if err != nil || !strings.Contains(out, alice) {
			t.Fatalf("summary: %v\n%s", err, out)
		}
	})
}
