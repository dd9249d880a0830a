package config

// Messages, in one place so tests and docs quote the same words. Each follows "path: line N: ".
const (
	// Decoding.
	msgUnknownKey      = "unknown key"
	msgDuplicateKey    = "duplicate key (first on line %d)"
	msgKeyNotString    = "keys must be strings, got %s"
	msgExpected        = "expected %s, got %s"
	msgInvalidDuration = "invalid duration %q"
	msgEnvUnset        = "environment variable %s is not set"
	msgEnvEmptyName    = "%q needs a variable name"
	msgBadMerge        = "merge (<<) needs a mapping or a list of mappings"
	msgTooDeep         = "anchors nested too deeply"
	msgMultiDoc        = "more than one YAML document"

	// Validation, generic.
	msgRequired        = "is required"
	msgEmpty           = "must not be empty"
	msgOneOf           = "unsupported value %q (want %s)"
	msgIntBetween      = "must be between %d and %d, got %d"
	msgIntAtLeast      = "must be at least %d, got %d"
	msgIntEither       = "must be %d or %d, got %d"
	msgDurBetween      = "must be between %s and %s, got %s"
	msgDurPositiveMax  = "must be greater than 0 and at most %s, got %s"
	msgDurPositive     = "must be greater than 0, got %s"
	msgExclusive       = "cannot be set together with %s"
	msgReadFile        = "cannot read file: %v"
	msgFileEmpty       = "file %s is empty"
	msgHostPort        = "must be host:port, got %q"
	msgPort            = "invalid port %q"
	msgHostnameUnknown = "is required: cannot read the hostname: %v"

	// radius.
	msgNoClients        = "at least one client is required"
	msgSecretRequired   = "is required (or set secret_file)"
	msgDupClientName    = "duplicate client name %q (first on line %d)"
	msgBadAddress       = "invalid address %q: want an IP address or CIDR prefix"
	msgDupClientAddress = "duplicate client address %s (first on line %d)"
	msgHostBits         = "host bits set in %q; using %s"
	msgShortSecret      = "is shorter than 16 characters; use a long random secret"
	msgNoMsgAuth        = "is false: requests without Message-Authenticator are accepted (BlastRADIUS, CVE-2024-3596)"

	// ldap.
	msgNoURLs          = "at least one URL is required"
	msgBadURL          = "invalid URL: %v"
	msgScheme          = "unsupported scheme %q"
	msgNoHost          = "missing host"
	msgURLUser         = "credentials in the URL are not supported; use bind_dn and bind_password"
	msgURLPath         = "must not have a path or query; set base_dn instead"
	msgStartTLSLDAPS   = "cannot be used with ldaps:// URLs"
	msgNoPEM           = "no PEM certificates in %s"
	msgInsecureTLS     = "is true: the directory's TLS certificate is not verified"
	msgBindDNForPW     = "is required when a bind password is set"
	msgPasswordForBind = "is required when bind_dn is set (or set bind_password_file)"
	msgBadDN           = "invalid DN %q"
	msgFilterParens    = "must be enclosed in parentheses"
	msgFilterUsername  = "must contain {username}"
	msgBadFilter       = "invalid LDAP filter %q"

	// store.
	msgDSNPostgres = "is required for postgres"

	// mfa and totp.
	msgStateKey       = "must be 64 hex characters (32 bytes)"
	msgEnrollURL      = "must be an http:// or https:// URL"
	msgMaxBelowMin    = "must be at least mfa.lockout.duration (%s), got %s"
	msgUnenrolledOpen = "is allow: users without a second factor get in with a password alone"
	msgIssuerColon    = "must not contain ':'"
)
