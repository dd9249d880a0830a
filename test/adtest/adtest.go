// Package adtest runs a real Samba Active Directory domain controller for tests
// (scripts/samba-ad.sh): realm EXAMPLE.TEST, base DC=example,DC=test, a service account, nested
// groups and one user per AD account condition (disabled, must change password, expired
// password, locked out, expired account, logon hours, workstation restriction).
//
// Samba listens on fixed ports (389, 636, 88, ...), so only one DC can run on a machine. The DC
// is therefore shared:
//
//   - within one test binary, every Start returns the same DC (started once, on first use);
//   - across test binaries running at the same time (go test ./... runs packages in
//     parallel), a lock file serialises them: a second binary waits until the first is done.
//
// Stopping is tied to the test binary, not to a test: a package that uses Start must run its
// tests through Run from TestMain, which stops the DC after the last test:
//
//	func TestMain(m *testing.M) { os.Exit(adtest.Run(m)) }
//
// (A refcount on t.Cleanup would stop the DC between two sequential tests and pay the ~12 s
// provisioning again for the next one.) If the binary dies before Run returns (a -timeout
// panic, a kill), the script's watcher stops the DC and removes its directory within a second.
//
// Tests share the DC's state: treat DC.Users as fixed fixtures and never change them (no
// password change for erin or frank, no unlock of gina). A test that changes a user creates
// its own with NewUser.
//
// With RADMFA_SKIP_SAMBA=1 in the environment, Start skips the test instead of starting a DC;
// otherwise a DC that cannot start fails the test with the script's output and the DC's log.
package adtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/go-ldap/ldap/v3"
)

// The domain's fixed names and passwords (see scripts/samba-ad.sh).
const (
	Realm           = "EXAMPLE.TEST"
	NetBIOSDomain   = "EXAMPLE"
	DNSDomain       = "example.test"
	BaseDN          = "DC=example,DC=test"
	UsersDN         = "CN=Users," + BaseDN // users and groups live here
	AdminUPN        = "Administrator@" + DNSDomain
	AdminDN         = "CN=Administrator," + UsersDN
	AdminPassword   = "Admin-Pass-2024!"
	ServiceAccount  = "radmfa-svc"
	ServiceDN       = "CN=" + ServiceAccount + "," + UsersDN
	ServicePassword = "Svc-Pass-2024!"
	UserPassword    = "User-Pass-2024!" // every fixture user's password
)

// AD bind sub-codes: the hex "data XXX" in the diagnostic message of a refused bind
// (result code 49). SubUserNotFound is listed for completeness: Samba never sends it (an
// unknown user gets 52e, like a wrong password).
const (
	SubInvalidCredentials = "52e"
	SubUserNotFound       = "525"
	SubLogonHours         = "530"
	SubWorkstation        = "531"
	SubPasswordExpired    = "532"
	SubAccountDisabled    = "533"
	SubAccountExpired     = "701"
	SubMustChangePassword = "773"
	SubAccountLocked      = "775"
)

// User is one fixture account.
type User struct {
	Name     string // sAMAccountName, also the CN
	Password string
	DN       string
	UPN      string // Name@example.test; binds accept it as well as the DN
	// SubCode is what a simple bind with Password returns: "" for success, else the AD
	// sub-code (SubAccountDisabled, ...). With a wrong password every user but the locked-out
	// one gets SubInvalidCredentials.
	SubCode string
	Reason  string // the condition in words: "ok", "disabled", "password expired", ...
	Groups  []string
}

// fixtureUsers returns the users the script creates, keyed by Name. A new map each time, so a
// test that scribbles on its DC.Users does not change another test's.
func fixtureUsers() map[string]User {
	mk := func(name, sub, reason string, groups ...string) User {
		return User{Name: name, Password: UserPassword, DN: UserDN(name), UPN: name + "@" + DNSDomain,
			SubCode: sub, Reason: reason, Groups: groups}
	}
	us := []User{
		mk("alice", "", "ok", "vpn-admins", "vpn-users"), // vpn-users through vpn-admins (nested)
		mk("bob", "", "ok", "vpn-users"),
		mk("dave", SubAccountDisabled, "disabled"),
		mk("erin", SubMustChangePassword, "must change password"),
		mk("frank", SubPasswordExpired, "password expired"),
		mk("gina", SubAccountLocked, "locked out"),
		mk("hank", SubAccountExpired, "account expired"),
		mk("ivan", SubLogonHours, "outside logon hours"),
		mk("judy", SubWorkstation, "workstation not allowed"),
	}
	m := make(map[string]User, len(us))
	for _, u := range us {
		m[u.Name] = u
	}
	return m
}

// Groups are the fixture groups; vpn-admins is a member of vpn-users.
var Groups = []string{"vpn-users", "vpn-admins", "mfa-exempt", "contractors", "vpn-mfa-pilot"}

// UserDN returns the DN of a user or group created by the script or NewUser.
func UserDN(name string) string { return "CN=" + ldap.EscapeDN(name) + "," + UsersDN }

// GroupDN returns the DN of a group.
func GroupDN(name string) string { return UserDN(name) }

// DC is the running domain controller.
type DC struct {
	URL          string // ldap://127.0.0.1:389 (simple binds allowed without TLS)
	LDAPSURL     string // ldaps://127.0.0.1:636
	CAFile       string // PEM CA of the LDAPS certificate (SANs 127.0.0.1, localhost)
	BaseDN       string
	BindDN       string // the service account
	BindPassword string
	AdminDN      string
	AdminPass    string
	Users        map[string]User // the fixtures, by Name
	Dir          string          // the DC's directory: samba.log, provision.log, populate.log
	// StartTime is how long scripts/samba-ad.sh start took (provision, start, populate).
	StartTime time.Duration
}

var (
	underRun atomic.Bool // Run is driving the tests, so someone will stop the DC

	once     sync.Once
	shared   *DC
	startErr error
	lockFile *os.File // held while this process owns the machine's DC
)

// lockWait bounds how long Start waits for another test binary's DC to be released.
const lockWait = 5 * time.Minute

// Run runs the tests and then stops the DC if one was started. Use it from TestMain.
func Run(m *testing.M) int {
	underRun.Store(true)
	code := m.Run()
	if err := stopShared(); err != nil {
		fmt.Fprintln(os.Stderr, "adtest:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Start returns the shared DC, starting it on first use.
func Start(t testing.TB) *DC {
	t.Helper()
	if os.Getenv("RADMFA_SKIP_SAMBA") == "1" {
		t.Skip("adtest: RADMFA_SKIP_SAMBA=1: no Samba AD DC")
	}
	if !underRun.Load() {
		t.Fatal("adtest: Start needs the tests to run through adtest.Run: add " +
			"func TestMain(m *testing.M) { os.Exit(adtest.Run(m)) } to the package")
	}
	once.Do(func() { shared, startErr = startShared() })
	if startErr != nil {
		t.Fatalf("adtest: %v", startErr)
	}
	dc := *shared
	dc.Users = fixtureUsers()
	return &dc
}

func startShared() (*DC, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	if err := lockMachine(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "radmfa-samba-ad-")
	if err != nil {
		unlockMachine()
		return nil, err
	}
	dc := &DC{
		URL:          "ldap://127.0.0.1:389",
		LDAPSURL:     "ldaps://127.0.0.1:636",
		CAFile:       filepath.Join(dir, "tls", "ca.pem"),
		BaseDN:       BaseDN,
		BindDN:       ServiceDN,
		BindPassword: ServicePassword,
		AdminDN:      AdminDN,
		AdminPass:    AdminPassword,
		Dir:          dir,
	}
	t0 := time.Now()
	out, err := runScript(root, "start", dir)
	dc.StartTime = time.Since(t0)
	if err != nil {
		_, _ = runScript(root, "stop", dir)
		log := dc.Log()
		_ = os.RemoveAll(dir)
		unlockMachine()
		return nil, fmt.Errorf("scripts/samba-ad.sh start: %v\n%s\n--- samba.log ---\n%s", err, out, log)
	}
	return dc, nil
}

func stopShared() error {
	if shared == nil {
		return nil
	}
	defer unlockMachine()
	root, err := repoRoot()
	if err != nil {
		return err
	}
	out, err := runScript(root, "stop", shared.Dir)
	if err != nil {
		return fmt.Errorf("scripts/samba-ad.sh stop: %v\n%s", err, out)
	}
	return os.RemoveAll(shared.Dir)
}

// lockMachine takes the machine-wide lock on the Samba ports, waiting up to lockWait. The
// kernel drops a flock when its holder exits, however it exits, so a crashed binary never
// leaves it taken.
func lockMachine() error {
	path := filepath.Join(os.TempDir(), "radmfa-samba-ad.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(lockWait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			lockFile = f
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			_ = f.Close()
			return fmt.Errorf("lock %s (another test binary runs the Samba DC; waited %v): %w", path, lockWait, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func unlockMachine() {
	if lockFile != nil {
		_ = lockFile.Close() // closing the descriptor releases the flock
		lockFile = nil
	}
}

func runScript(root string, args ...string) ([]byte, error) {
	// Generous: the first run may install Samba with apt, and provisioning takes ~10 s.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(root, "scripts", "samba-ad.sh")}, args...)...)
	cmd.Env = append(os.Environ(),
		"SAMBA_WATCH_PID="+strconv.Itoa(os.Getpid()), // the DC dies with this test binary
		"SAMBA_WATCH_RMDIR=1",
	)
	return cmd.CombinedOutput()
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

// Log returns the DC's output so far (for failure messages).
func (d *DC) Log() string {
	b, err := os.ReadFile(filepath.Join(d.Dir, "samba.log"))
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// TLSConfig returns a client TLS configuration that verifies the DC's certificate with CAFile.
func (d *DC) TLSConfig(t testing.TB) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(d.CAFile)
	if err != nil {
		t.Fatalf("adtest: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("adtest: no certificate in %s", d.CAFile)
	}
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// Dial opens an unbound connection to url (d.URL or d.LDAPSURL), closed by the test's cleanup.
func (d *DC) Dial(t testing.TB, url string) *ldap.Conn {
	t.Helper()
	opts := []ldap.DialOpt{ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second})}
	if url == d.LDAPSURL {
		opts = append(opts, ldap.DialWithTLSConfig(d.TLSConfig(t)))
	}
	c, err := ldap.DialURL(url, opts...)
	if err != nil {
		t.Fatalf("adtest: dial %s: %v", url, err)
	}
	c.SetTimeout(10 * time.Second)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Admin returns an LDAPS connection bound as Administrator (password writes need an
// encrypted connection), closed by the test's cleanup.
func (d *DC) Admin(t testing.TB) *ldap.Conn {
	t.Helper()
	c := d.Dial(t, d.LDAPSURL)
	if err := c.Bind(AdminUPN, d.AdminPass); err != nil {
		t.Fatalf("adtest: Administrator bind: %v", err)
	}
	return c
}

// unicodePwd is AD's password attribute value: the password in double quotes, UTF-16LE.
func unicodePwd(password string) string {
	u := utf16.Encode([]rune(`"` + password + `"`))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return string(b)
}

// SetPassword resets user's password as Administrator (no old password; pwdLastSet becomes
// now, which also ends "must change" and "expired"). Not for the fixture users.
func (d *DC) SetPassword(t testing.TB, user, password string) {
	t.Helper()
	mod := ldap.NewModifyRequest(UserDN(user), nil)
	mod.Replace("unicodePwd", []string{unicodePwd(password)})
	if err := d.Admin(t).Modify(mod); err != nil {
		t.Fatalf("adtest: set password of %s: %v", user, err)
	}
}

// AddUserToGroup makes user (or a group: nesting) a member of group; already being one is fine.
func (d *DC) AddUserToGroup(t testing.TB, user, group string) {
	t.Helper()
	mod := ldap.NewModifyRequest(GroupDN(group), nil)
	mod.Add("member", []string{UserDN(user)})
	err := d.Admin(t).Modify(mod)
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultAttributeOrValueExists) &&
		!ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
		t.Fatalf("adtest: add %s to group %s: %v", user, group, err)
	}
}

// NewUser creates an enabled user CN=name,CN=Users with password (which must satisfy the
// domain's complexity rules, e.g. UserPassword), mail name@example.test, in groups. The user
// is deleted by the test's cleanup, so the name can be reused by a later test; name must be
// unique among the tests running at the same time and at most 20 characters.
func (d *DC) NewUser(t testing.TB, name, password string, groups ...string) User {
	t.Helper()
	c := d.Admin(t)
	dn := UserDN(name)
	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"user"})
	add.Attribute("sAMAccountName", []string{name})
	add.Attribute("userPrincipalName", []string{name + "@" + DNSDomain})
	add.Attribute("mail", []string{name + "@" + DNSDomain})
	add.Attribute("displayName", []string{name})
	add.Attribute("unicodePwd", []string{unicodePwd(password)})
	add.Attribute("userAccountControl", []string{"512"}) // NORMAL_ACCOUNT, enabled
	if err := c.Add(add); err != nil {
		t.Fatalf("adtest: add user %s: %v", name, err)
	}
	// Cleanups run last-in first-out, so c (whose Close was registered by Admin) is still open.
	t.Cleanup(func() {
		if err := c.Del(ldap.NewDelRequest(dn, nil)); err != nil {
			t.Errorf("adtest: delete user %s: %v", name, err)
		}
	})
	for _, g := range groups {
		d.AddUserToGroup(t, name, g)
	}
	return User{Name: name, Password: password, DN: dn, UPN: name + "@" + DNSDomain,
		Reason: "ok", Groups: groups}
}

var subCodeRE = regexp.MustCompile(`\bdata ([0-9a-fA-F]+)\b`)

// SubCode returns the AD sub-code in err's diagnostic message ("533"), "" when err is nil or
// carries none.
func SubCode(err error) string {
	var le *ldap.Error
	if !errors.As(err, &le) || le.Err == nil {
		return ""
	}
	if m := subCodeRE.FindStringSubmatch(le.Err.Error()); m != nil {
		return m[1]
	}
	return ""
}
