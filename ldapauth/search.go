package ldapauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// groupPageSize keeps group searches under AD's default MaxPageSize (1000), past which a
// plain search would silently return a partial list.
const groupPageSize = 500

// userAttributes lists what the user search fetches: identity attributes and, in memberof
// mode, the groups, so that one round trip serves the whole Identity.
func userAttributes(cfg Config) []string {
	attrs := []string{cfg.DisplayNameAttr, "cn", cfg.MailAttr, cfg.PhoneAttr}
	if cfg.UsernameAttr != "" {
		attrs = append(attrs, cfg.UsernameAttr)
	}
	if cfg.GroupMode == GroupModeMemberOf {
		attrs = append(attrs, "memberOf")
	}
	out := attrs[:0]
	for _, a := range attrs {
		if !slices.ContainsFunc(out, func(b string) bool { return strings.EqualFold(a, b) }) {
			out = append(out, a)
		}
	}
	return out
}

// userFilter builds the user search filter. The username is escaped here and only here
// (RFC 4515), so "*" or ")(" in it are literal characters, never filter syntax.
func userFilter(template, username string) string {
	return strings.ReplaceAll(template, "{username}", ldap.EscapeFilter(username))
}

// groupFilter builds the group search filter with the user's DN and username escaped.
func groupFilter(template, username, dn string) string {
	return substitute(template, ldap.EscapeFilter(username), ldap.EscapeFilter(dn))
}

// findUser searches for username's entry as the service account. SizeLimit 2 is enough to
// tell "exactly one" from "more than one" without fetching a whole subtree.
func (d *Directory) findUser(ctx context.Context, s *server, username string) (*ldap.Entry, error) {
	req := ldap.NewSearchRequest(d.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, timeLimitSeconds(d.cfg.Timeout), false, userFilter(d.cfg.UserFilter, username), d.attrs, nil)
	c, err := d.acquire(ctx, s, true)
	if err != nil {
		return nil, err
	}
	var res *ldap.SearchResult
	err = c.run(ctx, d.cfg.Timeout, func(lc *ldap.Conn) error {
		var err error
		res, err = lc.Search(req)
		return err
	})
	if resultCode(err) == ldap.LDAPResultSizeLimitExceeded {
		// More entries matched than the size limit allows.
		s.pool.put(c)
		return nil, fmt.Errorf("%w: %q", ErrAmbiguousUser, username)
	}
	if err != nil {
		ferr := c.fail("user search", err)
		s.pool.put(c)
		return nil, ferr
	}
	s.pool.put(c)

	switch n := len(res.Entries); {
	case n == 0:
		return nil, fmt.Errorf("%w: %q", ErrUserNotFound, username)
	case n > 1:
		return nil, fmt.Errorf("%w: %q", ErrAmbiguousUser, username)
	}
	entry := res.Entries[0]
	if entry.DN == "" {
		return nil, &unavailableError{url: s.url, step: "user search", err: errors.New("entry without a DN")}
	}
	if d.cfg.UsernameAttr != "" && d.cfg.Normalize != nil {
		// The directory matched loosely; the entry is the user's only if its own name is the
		// one searched for (see Config.Normalize).
		if name := firstValue(entry, d.cfg.UsernameAttr); d.cfg.Normalize(name) != username {
			return nil, fmt.Errorf("%w: %q matched the entry of %q", ErrUserNotFound, username, name)
		}
	}
	return entry, nil
}

// identity builds the Identity from the user entry, searching groups when configured.
func (d *Directory) identity(ctx context.Context, s *server, username string, e *ldap.Entry) (Identity, error) {
	id := Identity{
		Username:    username,
		DN:          e.DN,
		DisplayName: firstValue(e, d.cfg.DisplayNameAttr),
		Mail:        firstValue(e, d.cfg.MailAttr),
		Phone:       firstValue(e, d.cfg.PhoneAttr),
	}
	if id.DisplayName == "" {
		id.DisplayName = firstValue(e, "cn")
	}
	if d.cfg.UsernameAttr != "" {
		if canonical := firstValue(e, d.cfg.UsernameAttr); canonical != "" {
			id.Username = canonical
		}
	}
	var groups []string
	switch d.cfg.GroupMode {
	case GroupModeMemberOf:
		for _, dn := range e.GetEqualFoldAttributeValues("memberOf") {
			if name := rdnValue(dn); name != "" {
				groups = append(groups, name)
			}
		}
	case GroupModeSearch, GroupModeADChain:
		var err error
		if groups, err = d.searchGroups(ctx, s, username, e.DN); err != nil {
			return Identity{}, err
		}
	}
	slices.Sort(groups)
	id.Groups = slices.Compact(groups)
	return id, nil
}

// searchGroups returns the names of the groups whose filter matches the user.
func (d *Directory) searchGroups(ctx context.Context, s *server, username, dn string) ([]string, error) {
	req := ldap.NewSearchRequest(d.cfg.GroupBaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, timeLimitSeconds(d.cfg.Timeout), false, groupFilter(d.cfg.GroupFilter, username, dn),
		[]string{d.cfg.GroupNameAttr}, nil)
	c, err := d.acquire(ctx, s, true)
	if err != nil {
		return nil, err
	}
	var res *ldap.SearchResult
	err = c.run(ctx, d.cfg.Timeout, func(lc *ldap.Conn) error {
		var err error
		res, err = lc.SearchWithPaging(req, groupPageSize)
		return err
	})
	if err != nil {
		ferr := c.fail("group search", err)
		s.pool.put(c)
		return nil, ferr
	}
	s.pool.put(c)
	names := make([]string, 0, len(res.Entries))
	for _, g := range res.Entries {
		name := firstValue(g, d.cfg.GroupNameAttr)
		if name == "" {
			name = rdnValue(g.DN)
		}
		if name != "" {
			names = append(names, name)
		}
	}
	return names, nil
}

func firstValue(e *ldap.Entry, attr string) string {
	if v := e.GetEqualFoldAttributeValues(attr); len(v) > 0 {
		return v[0]
	}
	return ""
}

// rdnValue returns the value of a DN's first RDN ("vpn-admins" for
// "cn=vpn-admins,ou=groups,dc=example,dc=test"), or "" when dn does not parse.
func rdnValue(dn string) string {
	parsed, err := ldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 || len(parsed.RDNs[0].Attributes) == 0 {
		return ""
	}
	return parsed.RDNs[0].Attributes[0].Value
}
