package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// validator fills defaults into a decoded Config and collects every problem. One method per
// section; each names the full key path of what it checks.
type validator struct {
	keys     keys
	bad      map[string]bool // paths that failed to decode; their values are not checked again
	dir      string          // the config file's directory, for relative paths
	hostname func() (string, error)
	errs     []FieldError
	warns    []FieldError
}

func newValidator(w *walker, dir string) *validator {
	v := &validator{keys: w.keys, bad: map[string]bool{}, dir: dir, hostname: os.Hostname}
	for _, e := range w.errs {
		v.bad[e.Path] = true
	}
	v.errs = slices.Clone(w.errs)
	return v
}

// validate checks every section in file order.
func (v *validator) validate(c *Config) {
	v.node(c)
	v.radius(&c.Radius)
	v.clientModes(c)
	v.primary(c)
	// With an upstream RADIUS primary the directory is optional: only for groups and phones.
	if c.Primary != "radius" || len(c.LDAP.URLs) > 0 {
		v.ldap(&c.LDAP)
	}
	v.username(&c.LDAP.Username)
	v.policy(c)
	v.sms(c)
	v.mfaExtra(c)
	v.store(&c.Store)
	v.mfa(&c.MFA)
	v.totp(&c.TOTP)
	v.prompts(&c.MFA.Prompts, "mfa.prompts", true)
	if c.Store.Driver == DriverPostgres && c.MFA.StateKey == "" {
		// Several nodes on one database finish each other's challenges only with one key.
		v.warnf("mfa.state_key_file", "is a node-local file with store.driver postgres: give every node the same key (copy %s, or set mfa.state_key)", c.MFA.StateKeyFile)
	}
	v.portal(c)
	v.log(&c.Log)
}

// result returns the sorted problems and warnings.
func (v *validator) result() (errs, warns []FieldError) {
	sortByLine(v.errs)
	sortByLine(v.warns)
	return v.errs, v.warns
}

func (v *validator) node(c *Config) {
	if c.Node != "" {
		return
	}
	h, err := v.hostname()
	if err == nil && h == "" {
		err = errors.New("empty hostname")
	}
	if err != nil {
		v.errorf("node", msgHostnameUnknown, err)
		return
	}
	c.Node = h
}

func (v *validator) log(l *LogConfig) {
	v.oneOf(&l.Level, "log.level", DefaultLogLevel, "debug", "info", "warn", "error")
	v.oneOf(&l.Format, "log.format", DefaultLogFormat, "json", "console")
}

// errorf records a problem at path, unless path or a key above it already failed to decode:
// a second message about the same value would only repeat the first.
func (v *validator) errorf(path, format string, args ...any) {
	for p := path; ; p = parentPath(p) {
		if v.bad[p] {
			return
		}
		if p == "" {
			break
		}
	}
	v.errs = append(v.errs, FieldError{Path: path, Line: v.keys.lineOf(path), Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) warnf(path, format string, args ...any) {
	v.warns = append(v.warns, FieldError{Path: path, Line: v.keys.lineOf(path), Msg: fmt.Sprintf(format, args...)})
}

// required reports an empty string value: "must not be empty" when the key is there but
// empty (say, an env: variable set to ""), "is required" when it is missing.
func (v *validator) required(path string) {
	if v.keys.isSet(path) {
		v.errorf(path, msgEmpty)
		return
	}
	v.errorf(path, msgRequired)
}

// defaultString fills def into an empty string.
func defaultString(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

// oneOf fills def into an empty string and checks the value is one of allowed.
func (v *validator) oneOf(s *string, path, def string, allowed ...string) {
	defaultString(s, def)
	if !slices.Contains(allowed, *s) {
		v.errorf(path, msgOneOf, *s, orList(allowed))
	}
}

// intBetween fills def when the key is absent and checks lo <= n <= hi when it is set, so an
// explicit 0 is checked rather than silently replaced.
func (v *validator) intBetween(n *int, path string, def, lo, hi int) {
	if !v.keys.isSet(path) {
		*n = def
		return
	}
	if *n < lo || *n > hi {
		v.errorf(path, msgIntBetween, lo, hi, *n)
	}
}

// intAtLeast is intBetween without an upper bound.
func (v *validator) intAtLeast(n *int, path string, def, lo int) {
	if !v.keys.isSet(path) {
		*n = def
		return
	}
	if *n < lo {
		v.errorf(path, msgIntAtLeast, lo, *n)
	}
}

// durationBetween fills def when the key is absent and checks the range when it is set.
// lo == 0 means "greater than 0"; hi == 0 means no upper bound.
func (v *validator) durationBetween(d *Duration, path string, def, lo, hi time.Duration) {
	if !v.keys.isSet(path) {
		*d = Duration(def)
		return
	}
	low, high := Duration(lo), Duration(hi)
	switch {
	case lo > 0 && (*d < low || *d > high):
		v.errorf(path, msgDurBetween, low, high, *d)
	case lo == 0 && hi > 0 && (*d <= 0 || *d > high):
		v.errorf(path, msgDurPositiveMax, high, *d)
	case lo == 0 && hi == 0 && *d <= 0:
		v.errorf(path, msgDurPositive, *d)
	}
}

// resolve makes a relative file path relative to the config file's directory, so radmfa
// finds the same files whatever directory it is started from.
func (v *validator) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(v.dir, p)
}

// readSecretFile reads a secret from file (already resolved), without its trailing newline.
func (v *validator) readSecretFile(path, file string) (Secret, bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		v.errorf(path, msgReadFile, err)
		return "", false
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		v.errorf(path, msgFileEmpty, file)
		return "", false
	}
	return Secret(s), true
}

// orList joins choices as "a, b or c".
func orList(choices []string) string {
	if len(choices) < 2 {
		return strings.Join(choices, "")
	}
	return strings.Join(choices[:len(choices)-1], ", ") + " or " + choices[len(choices)-1]
}
