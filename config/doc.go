// Package config loads and validates radmfa's single YAML configuration file.
//
// Decoding is strict (unknown keys are errors) and validation collects every problem, each
// naming the full key path and the YAML line it came from, e.g.
//
//	ldap.urls[1]: line 14: unsupported scheme "ldapx"
//
// Defaults are filled in by validation, so the rest of radmfa reads a complete Config.
package config
