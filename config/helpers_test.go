package config

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Valid sections that cases leave out; complete appends them after the case's own lines, so a
// case's line numbers count from its first line.
const (
	clientsOK = "  clients: [{name: vpn, address: 10.0.0.1, secret: a-long-enough-secret}]"
	radiusOK  = "radius:\n" + clientsOK + "\n"
	ldapOK    = "ldap:\n  urls: [ldap://127.0.0.1:389]\n  base_dn: dc=example,dc=test\n"
)

// yml joins lines into a document: line i+1 is lines[i].
func yml(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// complete adds node, radius and ldap sections when doc has none.
func complete(doc string) string {
	for _, s := range []struct{ key, text string }{
		{"node", "node: test\n"},
		{"radius", radiusOK},
		{"ldap", ldapOK},
	} {
		if !regexp.MustCompile(`(?m)^` + s.key + `:`).MatchString(doc) {
			doc += s.text
		}
	}
	return doc
}

// parseIn writes files into dir and parses doc as if it were dir/radmfa.yaml.
func parseIn(t *testing.T, dir, doc string, files map[string]string) (*Config, error) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Parse([]byte(doc), filepath.Join(dir, "radmfa.yaml"))
}

// fieldErrors returns the messages of a *Error, failing the test for any other error.
func fieldErrors(t *testing.T, err error) []string {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want *config.Error, got %T: %v", err, err)
	}
	out := make([]string, len(ce.Errors))
	for i, fe := range ce.Errors {
		out[i] = fe.Error()
	}
	return out
}

// withDir fills the {dir} placeholder in expected messages.
func withDir(want []string, dir string) []string {
	out := make([]string, len(want))
	for i, w := range want {
		out[i] = strings.ReplaceAll(w, "{dir}", dir)
	}
	return out
}

func equalLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
