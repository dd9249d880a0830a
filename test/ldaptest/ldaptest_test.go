package ldaptest_test

import (
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/radmfa/radmfa/test/ldaptest"
)

func TestStartDemoDirectory(t *testing.T) {
	srv := ldaptest.Start(t)
	if _, err := os.Stat(srv.CAFile); err != nil {
		t.Fatalf("CA file: %v", err)
	}
	srv.AddUser(t, "dave", "dave-pass", "vpn-users", "new-group")

	c, err := ldap.DialURL(srv.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetTimeout(5 * time.Second)

	tests := []struct {
		name       string
		uid        string
		password   string
		wantGroups []string
	}{
		{name: "alice", uid: "alice", password: "alice-pass", wantGroups: []string{"cn=vpn-admins,ou=groups,dc=example,dc=test", "cn=vpn-users,ou=groups,dc=example,dc=test"}},
		{name: "bob", uid: "bob", password: "bob-pass", wantGroups: []string{"cn=vpn-users,ou=groups,dc=example,dc=test"}},
		{name: "carol no groups", uid: "carol", password: "carol-pass"},
		{name: "added user", uid: "dave", password: "dave-pass", wantGroups: []string{"cn=new-group,ou=groups,dc=example,dc=test", "cn=vpn-users,ou=groups,dc=example,dc=test"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The service account reads the user and its memberOf.
			if err := c.Bind(srv.BindDN, srv.BindPassword); err != nil {
				t.Fatalf("service bind: %v", err)
			}
			res, err := c.Search(ldap.NewSearchRequest(srv.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
				0, 5, false, "(uid="+ldap.EscapeFilter(tt.uid)+")", []string{"memberOf"}, nil))
			if err != nil {
				t.Fatalf("search: %v", err)
			}
			if len(res.Entries) != 1 {
				t.Fatalf("got %d entries", len(res.Entries))
			}
			got := res.Entries[0].GetAttributeValues("memberOf")
			slices.Sort(got)
			if !slices.Equal(got, tt.wantGroups) {
				t.Errorf("memberOf = %q, want %q", got, tt.wantGroups)
			}
			// The user authenticates by bind.
			if err := c.Bind(ldaptest.UserDN(tt.uid), tt.password); err != nil {
				t.Errorf("user bind: %v", err)
			}
			if err := c.Bind(ldaptest.UserDN(tt.uid), tt.password+"x"); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
				t.Errorf("wrong password bind: %v, want code 49", err)
			}
		})
	}
}
