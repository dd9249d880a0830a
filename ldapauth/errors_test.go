package ldapauth

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// adMessage is the bind diagnostic form recorded from Samba AD (FIELD-NOTES), which is also
// Windows AD's.
func adMessage(code string) string {
	return "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data " + code + ", v1db1"
}

func TestADSubCode(t *testing.T) {
	tests := []struct {
		name string
		diag string
		want string
	}{
		{name: "recorded form", diag: adMessage("533"), want: "533"},
		{name: "trailing NUL", diag: adMessage("52e") + "\x00", want: "52e"},
		{name: "upper case", diag: strings.ToUpper(adMessage("52E")), want: "52e"},
		{name: "Windows 2012 R2 form", diag: "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v2580", want: "52e"},
		{name: "Windows form with NUL", diag: "80090308: LdapErr: DSID-0C090446, comment: AcceptSecurityContext error, data 701, v4563\x00", want: "701"},
		{name: "code at the end", diag: "AcceptSecurityContext error, data 775", want: "775"},
		{name: "no data", diag: "Invalid credentials", want: ""},
		{name: "data not a word", diag: "metadata 533, v1db1", want: ""},
		{name: "data without hex", diag: "data xyz", want: ""},
		{name: "empty", diag: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := adSubCode(tt.diag); got != tt.want {
				t.Errorf("adSubCode(%q) = %q, want %q", tt.diag, got, tt.want)
			}
		})
	}
}

func TestUserBindErrorActiveDirectory(t *testing.T) {
	const dn = "CN=Alice,CN=Users,DC=example,DC=test"
	tests := []struct {
		name string
		code string
		want error
	}{
		{name: "invalid credentials", code: "52e", want: ErrInvalidCredentials},
		{name: "user not found", code: "525", want: ErrUserNotFound},
		{name: "logon hours", code: "530", want: ErrLogonHours},
		{name: "workstation", code: "531", want: ErrWorkstation},
		{name: "password expired", code: "532", want: ErrPasswordExpired},
		{name: "account disabled", code: "533", want: ErrAccountDisabled},
		{name: "account expired", code: "701", want: ErrAccountExpired},
		{name: "must change password", code: "773", want: ErrMustChangePassword},
		{name: "account locked", code: "775", want: ErrAccountLocked},
		{name: "unknown sub-code", code: "999", want: ErrInvalidCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ldapErr := ldap.NewError(ldap.LDAPResultInvalidCredentials, errors.New(adMessage(tt.code)))
			err := userBindError(dn, true, ldapErr)
			if !errors.Is(err, tt.want) {
				t.Fatalf("AD: got %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), "data "+tt.code) || !strings.Contains(err.Error(), dn) {
				t.Errorf("error %q should name the DN and the sub-code", err)
			}
			if errors.Is(err, ErrUnavailable) {
				t.Errorf("a refused bind must not look like an outage: %v", err)
			}
			// Without ActiveDirectory the sub-code is not interpreted.
			if err := userBindError(dn, false, ldapErr); !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("non-AD: got %v, want ErrInvalidCredentials", err)
			}
		})
	}
}

func TestUserBindErrorNotCredentials(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{name: "busy", err: ldap.NewError(ldap.LDAPResultBusy, errors.New("busy"))},
		{name: "unwilling", err: ldap.NewError(ldap.LDAPResultUnwillingToPerform, errors.New("no"))},
		{name: "network", err: ldap.NewError(ldap.ErrorNetwork, errors.New("ldap: connection timed out"))},
		{name: "plain error", err: errors.New("unable to read LDAP response packet: EOF")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := userBindError("uid=x", true, tt.err); got != nil {
				t.Errorf("got %v, want nil (the directory's failure, not the user's)", got)
			}
		})
	}
}

func TestIsServerResult(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "invalid credentials", err: ldap.NewError(49, errors.New("x")), want: true},
		{name: "wrapped result", err: errors.Join(errors.New("ctx"), ldap.NewError(32, errors.New("x"))), want: true},
		{name: "network", err: ldap.NewError(ldap.ErrorNetwork, errors.New("x")), want: false},
		{name: "net error", err: &net.OpError{Op: "dial", Err: errors.New("refused")}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isServerResult(tt.err); got != tt.want {
				t.Errorf("isServerResult = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFilters(t *testing.T) {
	tests := []struct {
		name     string
		template string
		username string
		dn       string
		want     string
		group    bool
	}{
		{name: "plain", template: "(uid={username})", username: "alice", want: "(uid=alice)"},
		{name: "star", template: "(uid={username})", username: "*", want: `(uid=\2a)`},
		{name: "injection", template: "(uid={username})", username: "alice)(|(uid=*", want: `(uid=alice\29\28|\28uid=\2a)`},
		{name: "backslash escaped once", template: "(uid={username})", username: `\00`, want: `(uid=\5c00)`},
		{name: "NUL", template: "(uid={username})", username: "a\x00", want: `(uid=a\00)`},
		{name: "every occurrence", template: "(|(uid={username})(mail={username}))", username: "a*", want: `(|(uid=a\2a)(mail=a\2a))`},
		{name: "placeholder in username stays literal", template: "(uid={username})", username: "{username}", want: "(uid={username})"},
		{name: "group dn", template: "(member={dn})", dn: `cn=a\2Cb,dc=x`, want: `(member=cn=a\5c2Cb,dc=x)`, group: true},
		{name: "group dn and username in one pass", template: "(|(member={dn})(memberUid={username}))", username: "{dn}", dn: "uid=a*", want: `(|(member=uid=a\2a)(memberUid={dn}))`, group: true},
		{name: "ad chain", template: adChainFilter, dn: "CN=A (x),DC=t", want: `(member:1.2.840.113556.1.4.1941:=CN=A \28x\29,DC=t)`, group: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			if tt.group {
				got = groupFilter(tt.template, tt.username, tt.dn)
			} else {
				got = userFilter(tt.template, tt.username)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if _, err := ldap.CompileFilter(got); err != nil {
				t.Errorf("filter %q does not compile: %v", got, err)
			}
		})
	}
}

func TestADPassword(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "ascii", in: "ab", want: "\"\x00a\x00b\x00\"\x00"},
		{name: "latin-1", in: "é", want: "\"\x00\xe9\x00\"\x00"},
		{name: "surrogate pair", in: "😀", want: "\"\x00\x3d\xd8\x00\xde\"\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := adPassword(tt.in); got != tt.want {
				t.Errorf("adPassword(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
