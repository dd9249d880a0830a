package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/upstream"
)

// UpstreamPrimary checks passwords by forwarding them to an upstream RADIUS server. When dir is
// set, the user's groups and phone come from it after the upstream Accept (a user the directory
// does not know still signs in, with no groups).
func UpstreamPrimary(c *upstream.Client, dir Directory) Primary {
	return upstreamPrimary{c: c, dir: dir}
}

type upstreamPrimary struct {
	c   *upstream.Client
	dir Directory
}

func (u upstreamPrimary) Authenticate(ctx context.Context, username, password string) (ldapauth.Identity, error) {
	if password == "" {
		return ldapauth.Identity{}, ldapauth.ErrEmptyPassword
	}
	res, err := u.c.Authenticate(ctx, username, password)
	if err != nil {
		if errors.Is(err, upstream.ErrRejected) {
			return ldapauth.Identity{}, fmt.Errorf("%w: %w", ldapauth.ErrInvalidCredentials, err)
		}
		return ldapauth.Identity{}, fmt.Errorf("%w: %w", ldapauth.ErrUnavailable, err)
	}
	id := ldapauth.Identity{Username: username}
	if u.dir != nil {
		if found, err := u.dir.Lookup(ctx, username); err == nil {
			id = found
		}
	}
	id.Class = res.Class
	return id, nil
}
