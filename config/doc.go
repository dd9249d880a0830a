// Package config loads and validates radmfa's single YAML configuration file.
//
// Decoding is strict (unknown keys are errors) and validation collects every problem, each
// naming the full key path and the YAML line it came from, e.g.
//
//	ldap.urls[1]: line 14: unsupported scheme "ldapx"
//
// Load and Parse return all of them at once as an *Error. Defaults are filled in by
// validation, and relative file paths are resolved against the config file's directory, so the
// rest of radmfa reads a complete Config. Problems that should not stop startup (a short client
// secret, say) are returned in Config.Warnings in the same form.
//
// Secrets may be written inline or as "env:NAME"; a Secret never prints its value. Durations
// are Go durations ("30s", "1h30m") or integer seconds. Example returns a complete, commented
// configuration file.
package config
