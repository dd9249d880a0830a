// Package ldapauth checks a user's password against an LDAP directory (OpenLDAP or Active
// Directory): a service-account search for the user's entry, then a bind as that entry.
//
// It distinguishes "the user got it wrong" (ErrInvalidCredentials, ErrUserNotFound, the AD
// account conditions) from "the directory is broken" (ErrUnavailable), so that callers never
// count an outage as a user failure and never accept when unsure.
package ldapauth
