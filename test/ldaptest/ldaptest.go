// Package ldaptest runs a private OpenLDAP slapd for tests (scripts/slapd.sh): its own data
// directory under t.TempDir(), free loopback ports, a self-signed CA, and the demo directory
// (alice, bob, carol, groups vpn-users and vpn-admins, service account cn=radmfa).
package ldaptest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// The demo directory's fixed names and passwords (see scripts/slapd.sh).
const (
	BaseDN        = "dc=example,dc=test"
	PeopleDN      = "ou=people," + BaseDN
	GroupsDN      = "ou=groups," + BaseDN
	ServiceDN     = "cn=radmfa,ou=services," + BaseDN
	ServicePass   = "radmfa-service"
	AdminDN       = "cn=admin," + BaseDN
	AdminPassword = "admin"
)

// Server is a running slapd. It is stopped by the test's cleanup.
type Server struct {
	URL          string // ldap://127.0.0.1:PORT (StartTLS available)
	LDAPSURL     string // ldaps://127.0.0.1:PORT+1
	CAFile       string // PEM CA that signed the server certificate (IP SAN 127.0.0.1, DNS localhost)
	BaseDN       string
	BindDN       string // the service account
	BindPassword string
	AdminDN      string // rootdn: bypasses ACLs
	AdminPass    string
	Dir          string // data dir; slapd.log is there
}

// startAttempts covers the window between picking free ports and slapd binding them.
const startAttempts = 3

// Start runs slapd with the demo directory plus extraLDIF files (paths, loaded in order).
// It fails the test, with slapd's log, if slapd does not come up.
func Start(t testing.TB, extraLDIF ...string) *Server {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("ldaptest: %v", err)
	}
	script := filepath.Join(root, "scripts", "slapd.sh")
	ldifs := make([]string, len(extraLDIF))
	for i, f := range extraLDIF {
		if ldifs[i], err = filepath.Abs(f); err != nil {
			t.Fatalf("ldaptest: %v", err)
		}
	}

	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		dir := t.TempDir()
		port, err := freePortPair()
		if err != nil {
			t.Fatalf("ldaptest: %v", err)
		}
		out, err := runScript(script, append([]string{"start", dir, strconv.Itoa(port)}, ldifs...)...)
		if err != nil {
			lastErr = fmt.Errorf("slapd.sh start (attempt %d, port %d): %v\n%s", attempt, port, err, out)
			// Stop whatever half-started; ignore errors, the next attempt uses a new dir.
			_, _ = runScript(script, "stop", dir)
			continue
		}
		t.Cleanup(func() {
			if out, err := runScript(script, "stop", dir); err != nil {
				t.Errorf("ldaptest: slapd.sh stop: %v\n%s", err, out)
			}
		})
		return &Server{
			URL:          fmt.Sprintf("ldap://127.0.0.1:%d", port),
			LDAPSURL:     fmt.Sprintf("ldaps://127.0.0.1:%d", port+1),
			CAFile:       filepath.Join(dir, "ca.pem"),
			BaseDN:       BaseDN,
			BindDN:       ServiceDN,
			BindPassword: ServicePass,
			AdminDN:      AdminDN,
			AdminPass:    AdminPassword,
			Dir:          dir,
		}
	}
	t.Fatalf("ldaptest: %v", lastErr)
	return nil
}

// Log returns slapd's log so far (for failure messages).
func (s *Server) Log() string {
	b, err := os.ReadFile(filepath.Join(s.Dir, "slapd.log"))
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// Admin returns a connection bound as the rootdn, closed by the test's cleanup.
func (s *Server) Admin(t testing.TB) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		t.Fatalf("ldaptest: dial %s: %v", s.URL, err)
	}
	c.SetTimeout(10 * time.Second)
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Bind(s.AdminDN, s.AdminPass); err != nil {
		t.Fatalf("ldaptest: admin bind: %v", err)
	}
	return c
}

// AddUser adds uid=UID,ou=people (inetOrgPerson, cn and sn = uid, mail UID@example.test) with
// password and makes it a member of groups under ou=groups, creating the ones that do not
// exist. The memberof overlay then gives the user memberOf values.
func (s *Server) AddUser(t testing.TB, uid, password string, groups ...string) {
	t.Helper()
	c := s.Admin(t)
	dn := UserDN(uid)
	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"inetOrgPerson"})
	add.Attribute("uid", []string{uid})
	add.Attribute("cn", []string{uid})
	add.Attribute("sn", []string{uid})
	add.Attribute("mail", []string{uid + "@example.test"})
	add.Attribute("userPassword", []string{password})
	if err := c.Add(add); err != nil {
		t.Fatalf("ldaptest: add %s: %v", dn, err)
	}
	for _, g := range groups {
		gdn := "cn=" + ldap.EscapeDN(g) + "," + GroupsDN
		mod := ldap.NewModifyRequest(gdn, nil)
		mod.Add("member", []string{dn})
		err := c.Modify(mod)
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			grp := ldap.NewAddRequest(gdn, nil)
			grp.Attribute("objectClass", []string{"groupOfNames"})
			grp.Attribute("cn", []string{g})
			grp.Attribute("member", []string{dn})
			err = c.Add(grp)
		}
		if err != nil {
			t.Fatalf("ldaptest: add %s to group %s: %v", uid, g, err)
		}
	}
}

func runScript(script string, args ...string) ([]byte, error) {
	// Generous: the first run may install slapd with apt.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	// slapd is stopped if this test process dies without running its cleanups.
	cmd.Env = append(os.Environ(), "SLAPD_WATCH_PID="+strconv.Itoa(os.Getpid()))
	return cmd.CombinedOutput()
}

// freePortPair returns a port P such that P and P+1 (LDAPS) were both free on loopback.
func freePortPair() (int, error) {
	for range 50 {
		l1, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l1.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+1))
		_ = l1.Close()
		if err == nil {
			_ = l2.Close()
			return port, nil
		}
	}
	return 0, errors.New("no two adjacent free loopback ports")
}

// repoRoot walks up from the working directory to the directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// UserDN returns the DN of uid under ou=people.
func UserDN(uid string) string { return "uid=" + ldap.EscapeDN(uid) + "," + PeopleDN }
