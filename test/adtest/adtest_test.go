package adtest

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

var record = flag.Bool("record", false, "rewrite ldapauth/testdata/ad/binds.json from the live DC")

func TestMain(m *testing.M) { os.Exit(Run(m)) }

// bind makes one simple bind on a fresh connection to url and returns its error.
func bind(t *testing.T, dc *DC, url, name, password string) error {
	t.Helper()
	return dc.Dial(t, url).Bind(name, password)
}

func TestStart(t *testing.T) {
	dc := Start(t)
	t.Logf("scripts/samba-ad.sh start took %v (provision + start + populate)", dc.StartTime.Round(10*time.Millisecond))
	if again := Start(t); again.Dir != dc.Dir {
		t.Errorf("second Start gave another DC (%s, first %s): it must be shared", again.Dir, dc.Dir)
	}
}

func TestServiceAccountBind(t *testing.T) {
	dc := Start(t)
	if err := bind(t, dc, dc.URL, dc.BindDN, dc.BindPassword); err != nil {
		t.Fatalf("service account bind on %s: %v", dc.URL, err)
	}
	if err := bind(t, dc, dc.URL, dc.BindDN, "not-the-password"); SubCode(err) != SubInvalidCredentials {
		t.Errorf("service account, wrong password: got %v, want data %s", err, SubInvalidCredentials)
	}
}

func serviceConn(t *testing.T, dc *DC) *ldap.Conn {
	t.Helper()
	c := dc.Dial(t, dc.URL)
	if err := c.Bind(dc.BindDN, dc.BindPassword); err != nil {
		t.Fatalf("service bind: %v", err)
	}
	return c
}

func TestSearchAlice(t *testing.T) {
	dc := Start(t)
	c := serviceConn(t, dc)
	res, err := c.Search(ldap.NewSearchRequest(dc.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, 10, false, "(&(objectClass=user)(sAMAccountName=alice))",
		[]string{"mail", "mobile", "displayName", "userPrincipalName"}, nil))
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	if len(res.Entries) != 1 {
		t.Fatalf("search for alice: %d entries, want 1", len(res.Entries))
	}
	e := res.Entries[0]
	for attr, want := range map[string]string{
		"mail": "alice@example.test", "mobile": "+15551230001", "displayName": "Alice Anders",
		"userPrincipalName": "alice@example.test",
	} {
		if got := e.GetAttributeValue(attr); got != want {
			t.Errorf("alice %s = %q, want %q", attr, got, want)
		}
	}
	if e.DN != dc.Users["alice"].DN {
		t.Errorf("alice DN = %q, want %q", e.DN, dc.Users["alice"].DN)
	}
}

// chainGroups returns the cn of every group dn belongs to, directly or through nesting.
func chainGroups(t *testing.T, c *ldap.Conn, dn string) []string {
	t.Helper()
	res, err := c.Search(ldap.NewSearchRequest(BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, 10, false, "(member:1.2.840.113556.1.4.1941:="+ldap.EscapeFilter(dn)+")", []string{"cn"}, nil))
	if err != nil {
		t.Fatalf("chain search for %s: %v", dn, err)
	}
	var cns []string
	for _, e := range res.Entries {
		cns = append(cns, e.GetAttributeValue("cn"))
	}
	slices.Sort(cns)
	return cns
}

func TestNestedGroups(t *testing.T) {
	dc := Start(t)
	c := serviceConn(t, dc)
	if got, want := chainGroups(t, c, dc.Users["alice"].DN), []string{"vpn-admins", "vpn-users"}; !slices.Equal(got, want) {
		t.Errorf("alice's groups (matching rule in chain) = %v, want %v", got, want)
	}
	if got, want := chainGroups(t, c, dc.Users["bob"].DN), []string{"vpn-users"}; !slices.Equal(got, want) {
		t.Errorf("bob's groups = %v, want %v", got, want)
	}
}

func TestBindConditions(t *testing.T) {
	dc := Start(t)
	for _, u := range dc.Users {
		t.Run(u.Name, func(t *testing.T) {
			err := bind(t, dc, dc.URL, u.UPN, u.Password)
			if u.SubCode == "" {
				if err != nil {
					t.Fatalf("bind %s: %v", u.UPN, err)
				}
			} else {
				if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) || SubCode(err) != u.SubCode {
					t.Fatalf("bind %s (%s): got %v, want result 49 with data %s", u.UPN, u.Reason, err, u.SubCode)
				}
			}
			// A wrong password hides the condition (52e), except a lockout, which Samba checks
			// before the password.
			want := SubInvalidCredentials
			if u.SubCode == SubAccountLocked {
				want = SubAccountLocked
			}
			if err := bind(t, dc, dc.URL, u.UPN, "wrong-"+u.Password); SubCode(err) != want {
				t.Errorf("bind %s, wrong password: got %v, want data %s", u.UPN, err, want)
			}
		})
	}
	t.Run("unknown user", func(t *testing.T) {
		// Samba does not tell an unknown user from a wrong password (Windows may send 525).
		err := bind(t, dc, dc.URL, "nobody@"+DNSDomain, UserPassword)
		if SubCode(err) != SubInvalidCredentials {
			t.Errorf("unknown user: got %v, want data %s", err, SubInvalidCredentials)
		}
	})
}

func TestBindNames(t *testing.T) {
	dc := Start(t)
	alice := dc.Users["alice"]
	for _, name := range []string{alice.UPN, "ALICE@EXAMPLE.TEST", alice.DN, NetBIOSDomain + `\alice`} {
		if err := bind(t, dc, dc.URL, name, alice.Password); err != nil {
			t.Errorf("bind as %q: %v", name, err)
		}
	}
}

func TestLDAPS(t *testing.T) {
	dc := Start(t)
	alice := dc.Users["alice"]
	// The self-signed way: what a quick setup would configure (InsecureSkipVerify).
	c, err := ldap.DialURL(dc.LDAPSURL, ldap.DialWithTLSConfig(&tls.Config{InsecureSkipVerify: true})) // the test is about this setting
	if err != nil {
		t.Fatalf("dial %s: %v", dc.LDAPSURL, err)
	}
	defer c.Close()
	if err := c.Bind(alice.UPN, alice.Password); err != nil {
		t.Errorf("LDAPS bind (InsecureSkipVerify): %v", err)
	}
	// And verified against the DC's CA.
	if err := bind(t, dc, dc.LDAPSURL, dc.BindDN, dc.BindPassword); err != nil {
		t.Errorf("LDAPS bind verified with %s: %v", dc.CAFile, err)
	}
}

func TestHelpers(t *testing.T) {
	dc := Start(t)
	u := dc.NewUser(t, "adtest-helper", UserPassword, "contractors")
	if err := bind(t, dc, dc.URL, u.UPN, u.Password); err != nil {
		t.Fatalf("bind as new user: %v", err)
	}
	newPass := "Other-Pass-2024!"
	dc.SetPassword(t, u.Name, newPass)
	if err := bind(t, dc, dc.URL, u.UPN, newPass); err != nil {
		t.Errorf("bind with the password SetPassword set: %v", err)
	}
	if err := bind(t, dc, dc.URL, u.UPN, u.Password); SubCode(err) != SubInvalidCredentials {
		t.Errorf("bind with the old password: got %v, want data %s", err, SubInvalidCredentials)
	}
	dc.AddUserToGroup(t, u.Name, "vpn-admins")
	dc.AddUserToGroup(t, u.Name, "vpn-admins") // already a member: no error
	c := serviceConn(t, dc)
	if got, want := chainGroups(t, c, u.DN), []string{"contractors", "vpn-admins", "vpn-users"}; !slices.Equal(got, want) {
		t.Errorf("new user's groups = %v, want %v", got, want)
	}
}

// bindRecord is one entry of ldapauth/testdata/ad/binds.json: what a directory answered to a
// simple bind, verbatim, for unit tests of the AD sub-code decoder.
type bindRecord struct {
	Case       string `json:"case"`
	User       string `json:"user"`     // the bind name as sent
	Password   string `json:"password"` // "correct" or "wrong"
	ResultCode int    `json:"result_code"`
	Diagnostic string `json:"diagnostic"` // the diagnosticMessage, verbatim
	SubCode    string `json:"sub_code"`   // the "data XXX" a decoder should find; "" for none
	Source     string `json:"source"`     // "samba-4.17" (recorded here) or "documented"
	Note       string `json:"note,omitempty"`
}

// bindCase is a bind to record against the live DC.
type bindCase struct {
	name, user string
	correct    bool
	wantSub    string
}

func bindCases() []bindCase {
	upn := func(n string) string { return n + "@" + DNSDomain }
	return []bindCase{
		{"ok_upn", upn("alice"), true, ""},
		{"ok_dn", UserDN("alice"), true, ""},
		{"wrong_password", upn("bob"), false, SubInvalidCredentials},
		{"wrong_password_dn", UserDN("bob"), false, SubInvalidCredentials},
		{"unknown_user_upn", upn("nobody"), true, SubInvalidCredentials},
		{"unknown_user_dn", UserDN("nobody"), true, SubInvalidCredentials},
		{"disabled", upn("dave"), true, SubAccountDisabled},
		{"disabled_dn", UserDN("dave"), true, SubAccountDisabled},
		{"disabled_netbios_name", NetBIOSDomain + `\dave`, true, SubAccountDisabled},
		{"disabled_wrong_password", upn("dave"), false, SubInvalidCredentials},
		{"must_change_password", upn("erin"), true, SubMustChangePassword},
		{"password_expired", upn("frank"), true, SubPasswordExpired},
		{"password_expired_wrong_password", upn("frank"), false, SubInvalidCredentials},
		{"locked_out", upn("gina"), true, SubAccountLocked},
		{"locked_out_wrong_password", upn("gina"), false, SubAccountLocked},
		{"account_expired", upn("hank"), true, SubAccountExpired},
		{"logon_hours", upn("ivan"), true, SubLogonHours},
		{"workstation", upn("judy"), true, SubWorkstation},
	}
}

// documentedBinds are forms Samba does not produce: 525, and Windows DCs' other DSIDs,
// versions and the trailing NUL some of them append.
var documentedBinds = []bindRecord{
	{Case: "user_not_found", User: "CN=nobody,CN=Users,DC=example,DC=test", Password: "correct", ResultCode: 49,
		Diagnostic: "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 525, v1db1",
		SubCode:    SubUserNotFound, Source: "documented",
		Note: "Windows AD's sub-code for an unknown user, in the Windows Server 2008 R2 message form; Samba 4.17 answers 52e instead"},
	{Case: "windows_2012r2_form", User: "user@example.test", Password: "wrong", ResultCode: 49,
		Diagnostic: "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v2580",
		SubCode:    SubInvalidCredentials, Source: "documented",
		Note: "message form reported from Windows Server 2012 R2 DCs: the DSID and version differ by build"},
	{Case: "windows_trailing_nul", User: "user@example.test", Password: "wrong", ResultCode: 49,
		Diagnostic: "80090308: LdapErr: DSID-0C090446, comment: AcceptSecurityContext error, data 52e, v4563\x00",
		SubCode:    SubInvalidCredentials, Source: "documented",
		Note: "message form reported from newer Windows DCs, with the NUL byte they leave at the end"},
}

func bindsPath(t *testing.T) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "ldapauth", "testdata", "ad", "binds.json")
}

func recordBind(t *testing.T, dc *DC, bc bindCase) bindRecord {
	t.Helper()
	pass, kind := UserPassword, "correct"
	if !bc.correct {
		pass, kind = "Wrong-Pass-2024!", "wrong"
	}
	r := bindRecord{Case: bc.name, User: bc.user, Password: kind, SubCode: bc.wantSub, Source: "samba-4.17"}
	err := bind(t, dc, dc.URL, bc.user, pass)
	var le *ldap.Error
	switch {
	case err == nil:
	case errors.As(err, &le):
		r.ResultCode = int(le.ResultCode)
		if le.Err != nil {
			r.Diagnostic = le.Err.Error()
		}
	default:
		t.Fatalf("%s: bind %s: %v", bc.name, bc.user, err)
	}
	if got := SubCode(err); got != bc.wantSub {
		t.Errorf("%s: bind %s: sub-code %q (%v), want %q", bc.name, bc.user, got, err, bc.wantSub)
	}
	return r
}

// TestRecordedBinds checks that ldapauth/testdata/ad/binds.json still says what the DC
// answers, verbatim; with -record it rewrites the file from the live DC instead.
func TestRecordedBinds(t *testing.T) {
	dc := Start(t)
	var live []bindRecord
	for _, bc := range bindCases() {
		live = append(live, recordBind(t, dc, bc))
	}
	path := bindsPath(t)
	if *record {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(append(live, documentedBinds...)); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d records to %s", len(live)+len(documentedBinds), path)
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with go test ./test/adtest/ -run TestRecordedBinds -record)", err)
	}
	var recorded []bindRecord
	if err := json.Unmarshal(b, &recorded); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	byCase := map[string]bindRecord{}
	for _, r := range recorded {
		byCase[r.Case] = r
	}
	for _, r := range live {
		if got, ok := byCase[r.Case]; !ok || got != r {
			t.Errorf("%s: recorded %+v, the DC now answers %+v (re-record with -record)", r.Case, got, r)
		}
	}
	for _, r := range documentedBinds {
		if got := byCase[r.Case]; got != r {
			t.Errorf("%s: recorded %+v, want %+v (re-record with -record)", r.Case, got, r)
		}
	}
}
