package ldapauth_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/test/ldaptest"
)

// With a cache, what the search found is reused for the TTL, but every password is bound.
func TestIdentityCache(t *testing.T) {
	srv := ldaptest.Start(t)
	srv.AddUser(t, "cachy", "cachy-pass", "vpn-users")
	cfg := baseConfig(srv)
	cfg.CacheTTL = 2 * time.Second
	d, _ := newDirectory(t, cfg)
	ctx := context.Background()

	id, err := d.Authenticate(ctx, "cachy", "cachy-pass")
	if err != nil || !slices.Contains(id.Groups, "vpn-users") {
		t.Fatalf("first sign-in: %+v, %v", id, err)
	}
	// Move the user out of the group behind the cache's back.
	admin := srv.Admin(t)
	mod := ldap.NewModifyRequest("cn=vpn-users,ou=groups,"+srv.BaseDN, nil)
	mod.Delete("member", []string{id.DN})
	if err := admin.Modify(mod); err != nil {
		t.Fatalf("remove from group: %v", err)
	}

	tests := []struct {
		name       string
		password   string
		wantErr    error
		wantGroups bool // still sees the cached group
	}{
		{"cached identity, right password", "cachy-pass", nil, true},
		{"cached identity, wrong password is still refused", "nope", ldapauth.ErrInvalidCredentials, false},
		{"after a refusal the entry is searched again", "cachy-pass", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := d.Authenticate(ctx, "cachy", tt.password)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && slices.Contains(id.Groups, "vpn-users") != tt.wantGroups {
				t.Fatalf("groups %v, want cached group %v", id.Groups, tt.wantGroups)
			}
		})
	}
}
