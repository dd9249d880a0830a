package ldapauth

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"

	"github.com/go-ldap/ldap/v3"
)

// ChangePassword replaces the user's password, proving the old one first. OpenLDAP: bind as
// the user, then the Password Modify extended operation (RFC 3062) on that connection. Active
// Directory: a unicodePwd delete-old/add-new modify over TLS, which AD treats as a user's
// own change (policy checked, old password verified) rather than an admin reset.
//
// Once the change has been sent it is never repeated on another URL: it may have taken
// effect before the failure.
func (d *Directory) ChangePassword(ctx context.Context, username, oldPassword, newPassword string) error {
	if oldPassword == "" {
		return fmt.Errorf("%w: old password", ErrEmptyPassword)
	}
	if newPassword == "" {
		return fmt.Errorf("%w: new password", ErrEmptyPassword)
	}
	if username == "" {
		return fmt.Errorf("%w: empty username", ErrUserNotFound)
	}
	return d.onServers(ctx, func(s *server) error {
		entry, err := d.findUser(ctx, s, username)
		if err != nil {
			return err
		}
		if d.cfg.ActiveDirectory {
			return d.changeAD(ctx, s, entry.DN, oldPassword, newPassword)
		}
		return d.changeRFC3062(ctx, s, entry.DN, oldPassword, newPassword)
	})
}

func (d *Directory) changeRFC3062(ctx context.Context, s *server, dn, oldPassword, newPassword string) error {
	c, err := d.acquire(ctx, s, false)
	if err != nil {
		return err
	}
	defer s.pool.put(c)
	if err := d.bindAs(ctx, c, dn, oldPassword); err != nil {
		return err
	}
	err = c.run(ctx, d.cfg.Timeout, func(lc *ldap.Conn) error {
		// No user identity: the operation applies to the bound user (RFC 3062 §2).
		_, err := lc.PasswordModify(ldap.NewPasswordModifyRequest("", oldPassword, newPassword))
		return err
	})
	return d.changeError(c, dn, err)
}

func (d *Directory) changeAD(ctx context.Context, s *server, dn, oldPassword, newPassword string) error {
	c, err := d.acquire(ctx, s, false)
	if err != nil {
		return err
	}
	if !c.tls {
		s.pool.put(c)
		// AD refuses unicodePwd over plain LDAP; say so instead of a cryptic result code.
		return &unavailableError{url: s.url, step: "password change", final: true,
			err: errors.New("changing an Active Directory password needs ldaps:// or StartTLS")}
	}
	err = d.bindAs(ctx, c, dn, oldPassword)
	if errors.Is(err, ErrPasswordExpired) || errors.Is(err, ErrMustChangePassword) {
		// AD refuses the bind but has confirmed the old password. Every principal may do a
		// change that proves the old password (the Change Password right), so make it as the
		// service account.
		s.pool.put(c)
		if c, err = d.acquire(ctx, s, true); err != nil {
			return err
		}
	}
	defer s.pool.put(c)
	if err != nil {
		return err
	}
	req := ldap.NewModifyRequest(dn, nil)
	req.Delete("unicodePwd", []string{adPassword(oldPassword)})
	req.Add("unicodePwd", []string{adPassword(newPassword)})
	err = c.run(ctx, d.cfg.Timeout, func(lc *ldap.Conn) error { return lc.Modify(req) })
	return d.changeError(c, dn, err)
}

// changeError classifies the result of a password change request.
func (d *Directory) changeError(c *conn, dn string, err error) error {
	if err == nil {
		return nil
	}
	if resultCode(err) == ldap.LDAPResultConstraintViolation {
		return fmt.Errorf("%w: %s: %w", ErrPasswordPolicy, dn, err)
	}
	ferr := c.fail("password change", err)
	var ue *unavailableError
	if errors.As(ferr, &ue) {
		ue.final = true
	}
	return ferr
}

// adPassword encodes a password the way AD expects unicodePwd: in double quotes, UTF-16LE.
func adPassword(p string) string {
	units := utf16.Encode([]rune(`"` + p + `"`))
	b := make([]byte, 2*len(units))
	for i, u := range units {
		binary.LittleEndian.PutUint16(b[2*i:], u)
	}
	return string(b)
}
