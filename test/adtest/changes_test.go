package adtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// changeRecord is one entry of ldapauth/testdata/ad/password_changes.json: what the DC
// answered to a user's own password change (a unicodePwd delete-old/add-new modify), verbatim.
type changeRecord struct {
	Case       string `json:"case"`
	User       string `json:"user"`      // the DN whose password is changed
	BoundAs    string `json:"bound_as"`  // "self" or "service" (the service account)
	Transport  string `json:"transport"` // "ldaps" or "ldap" (plain)
	ResultCode int    `json:"result_code"`
	Diagnostic string `json:"diagnostic"`
	Source     string `json:"source"`
	Note       string `json:"note,omitempty"`
}

// changeCase is a password change to make against a fresh user.
type changeCase struct {
	name       string
	mustChange bool   // the user must change the password at next logon (pwdLastSet=0)
	boundAs    string // "self" or "service"
	plain      bool   // ldap:// instead of ldaps://
	old, new   string
	note       string
}

func changeCases() []changeCase {
	const fresh = "Fresh-Pass-2025!"
	return []changeCase{
		{name: "ok_self", boundAs: "self", old: UserPassword, new: fresh},
		{name: "ok_service_must_change", mustChange: true, boundAs: "service", old: UserPassword, new: fresh,
			note: "the user cannot bind (773), so the change is made on the service account's connection"},
		{name: "wrong_old_password", boundAs: "service", old: "Wrong-Pass-2024!", new: fresh,
			note: "result 19 like a policy refusal: only the 00000056 prefix (ERROR_INVALID_PASSWORD) tells them apart"},
		{name: "policy_too_short", boundAs: "self", old: UserPassword, new: "Ab1!"},
		{name: "policy_not_complex", boundAs: "self", old: UserPassword, new: "alllowercaseletters"},
		{name: "policy_history", boundAs: "self", old: UserPassword, new: UserPassword,
			note: "the new password is the current one"},
		{name: "plain_ldap", boundAs: "self", plain: true, old: UserPassword, new: fresh,
			note: "Samba accepts it with ldap server require strong auth = no; Windows AD refuses (see windows_plain_ldap)"},
	}
}

// documentedChanges are Windows AD's answers that Samba does not reproduce: its messages carry
// an attribute-error body after the same Win32 code prefix (DSIDs vary by build).
var documentedChanges = []changeRecord{
	{Case: "windows_wrong_old_password", User: UserDN("pwchange-user"), BoundAs: "service", Transport: "ldaps",
		ResultCode: 19,
		Diagnostic: "00000056: AtrErr: DSID-03190F80, #1:\n\t0: 00000056: DSID-03190F80, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 9005a (unicodePwd)\n\x00",
		Source:     "documented",
		Note:       "Windows AD form: 00000056 = ERROR_INVALID_PASSWORD (old password wrong)"},
	{Case: "windows_policy", User: UserDN("pwchange-user"), BoundAs: "self", Transport: "ldaps",
		ResultCode: 19,
		Diagnostic: "0000052D: AtrErr: DSID-03191083, #1:\n\t0: 0000052D: DSID-03191083, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 9005a (unicodePwd)\n\x00",
		Source:     "documented",
		Note:       "Windows AD form: 0000052D = ERROR_PASSWORD_RESTRICTION (length, complexity, history or minimum age)"},
	{Case: "windows_plain_ldap", User: UserDN("pwchange-user"), BoundAs: "self", Transport: "ldap",
		ResultCode: 53,
		Diagnostic: "0000001F: SvcErr: DSID-031A12D2, problem 5003 (WILL_NOT_PERFORM), data 0\n\x00",
		Source:     "documented",
		Note:       "Windows AD refuses unicodePwd writes without an encrypted connection (unwillingToPerform)"},
}

func recordChange(t *testing.T, dc *DC, cc changeCase) changeRecord {
	t.Helper()
	u := dc.NewUser(t, "pwchange-"+cc.name[:min(len(cc.name), 11)], UserPassword)
	if cc.mustChange {
		mod := ldap.NewModifyRequest(u.DN, nil)
		mod.Replace("pwdLastSet", []string{"0"})
		if err := dc.Admin(t).Modify(mod); err != nil {
			t.Fatalf("%s: set pwdLastSet=0: %v", cc.name, err)
		}
	}
	url, transport := dc.LDAPSURL, "ldaps"
	if cc.plain {
		url, transport = dc.URL, "ldap"
	}
	c := dc.Dial(t, url)
	bindDN, bindPass := u.DN, u.Password
	if cc.boundAs == "service" {
		bindDN, bindPass = dc.BindDN, dc.BindPassword
	}
	if err := c.Bind(bindDN, bindPass); err != nil {
		t.Fatalf("%s: bind %s: %v", cc.name, bindDN, err)
	}
	mod := ldap.NewModifyRequest(u.DN, nil)
	mod.Delete("unicodePwd", []string{unicodePwd(cc.old)})
	mod.Add("unicodePwd", []string{unicodePwd(cc.new)})
	err := c.Modify(mod)

	// The DN holds the per-case user name; record the shape, not the name.
	r := changeRecord{Case: cc.name, User: UserDN("pwchange-user"), BoundAs: cc.boundAs, Transport: transport,
		Source: "samba-4.17", Note: cc.note}
	var le *ldap.Error
	switch {
	case err == nil:
		// The new password must now bind (and the old one no more).
		if berr := bind(t, dc, dc.URL, u.UPN, cc.new); berr != nil {
			t.Errorf("%s: bind with the new password: %v", cc.name, berr)
		}
	case errors.As(err, &le):
		r.ResultCode = int(le.ResultCode)
		if le.Err != nil {
			r.Diagnostic = le.Err.Error()
		}
	default:
		t.Fatalf("%s: modify: %v", cc.name, err)
	}
	return r
}

// TestRecordedPasswordChanges checks ldapauth/testdata/ad/password_changes.json against the
// live DC; with -record it rewrites the file.
func TestRecordedPasswordChanges(t *testing.T) {
	dc := Start(t)
	var live []changeRecord
	for _, cc := range changeCases() {
		live = append(live, recordChange(t, dc, cc))
	}
	path := filepath.Join(filepath.Dir(bindsPath(t)), "password_changes.json")
	if *record {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(append(live, documentedChanges...)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d records to %s", len(live)+len(documentedChanges), path)
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with go test ./test/adtest/ -run TestRecordedPasswordChanges -record)", err)
	}
	var recorded []changeRecord
	if err := json.Unmarshal(b, &recorded); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	byCase := map[string]changeRecord{}
	for _, r := range recorded {
		byCase[r.Case] = r
	}
	for _, r := range live {
		if got, ok := byCase[r.Case]; !ok || got != r {
			t.Errorf("%s: recorded %+v, the DC now answers %+v (re-record with -record)", r.Case, got, r)
		}
	}
	for _, r := range documentedChanges {
		if got := byCase[r.Case]; got != r {
			t.Errorf("%s: recorded %+v, want %+v (re-record with -record)", r.Case, got, r)
		}
	}
}
