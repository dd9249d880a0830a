// Package ldapauth checks a user's password against an LDAP directory (OpenLDAP or Active
// Directory): a service-account search for the user's entry, then a bind as that entry.
//
// It distinguishes "the user got it wrong" (ErrInvalidCredentials, ErrUserNotFound, the AD
// account conditions) from "the directory is broken" (ErrUnavailable), so that callers never
// count an outage as a user failure and never accept when unsure.
//
// Directory keeps at most Config.PoolSize connections per URL, shared by service searches
// and user binds; a connection used for a user bind stays bound as that user until the next
// bind replaces the identity, so no request pays for re-binding the service account. URLs are
// tried in order; one that fails is tried last for a short backoff. Every network step is
// bounded by Config.Timeout and by the caller's context.
package ldapauth
