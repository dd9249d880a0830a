package config

import (
	"encoding/hex"
	"net/url"
	"slices"
	"strings"
	"time"
)

func (v *validator) mfa(m *MFAConfig) {
	v.durationBetween(&m.ChallengeTimeout, "mfa.challenge_timeout", DefaultChallengeTimeout, 10*time.Second, 10*time.Minute)

	switch {
	case m.StateKey != "" && m.StateKeyFile != "":
		v.errorf("mfa.state_key_file", msgExclusive, "state_key")
	case m.StateKey != "":
		if k, err := hex.DecodeString(m.StateKey.Reveal()); err != nil || len(k) != 32 {
			v.errorf("mfa.state_key", msgStateKey)
		}
	default:
		defaultString(&m.StateKeyFile, DefaultStateKeyFile)
		m.StateKeyFile = v.resolve(m.StateKeyFile)
	}

	v.oneOf(&m.DefaultState, "mfa.default_state", DefaultMFAState, "enforced", "enabled", "disabled")
	v.oneOf(&m.Unenrolled, "mfa.unenrolled", DefaultUnenrolled, "reject", "allow")
	if m.Unenrolled == "allow" {
		v.warnf("mfa.unenrolled", msgUnenrolledOpen)
	}
	if m.EnrollURL != "" {
		u, err := url.Parse(m.EnrollURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errorf("mfa.enroll_url", msgEnrollURL)
		}
	}

	l := &m.Lockout
	v.intAtLeast(&l.PasswordThreshold, "mfa.lockout.password_threshold", DefaultPasswordThreshold, 0)
	v.intAtLeast(&l.FactorThreshold, "mfa.lockout.factor_threshold", DefaultFactorThreshold, 0)
	v.durationBetween(&l.Duration, "mfa.lockout.duration", DefaultLockout, 0, 0)
	v.durationBetween(&l.MaxDuration, "mfa.lockout.max_duration", DefaultMaxLockout, 0, 0)
	v.intAtLeast(&l.SourceThreshold, "mfa.lockout.source_threshold", DefaultSourceThreshold, 0)
	v.durationBetween(&l.SourceWindow, "mfa.lockout.source_window", DefaultSourceWindow, time.Minute, 24*time.Hour)
	if l.Duration > 0 && l.MaxDuration > 0 && l.MaxDuration < l.Duration {
		v.errorf("mfa.lockout.max_duration", msgMaxBelowMin, l.Duration, l.MaxDuration)
	}
}

func (v *validator) totp(t *TOTPConfig) {
	defaultString(&t.Issuer, DefaultIssuer)
	// The issuer is the label prefix in otpauth:// URIs, where ':' separates it from the user.
	if strings.Contains(t.Issuer, ":") {
		v.errorf("totp.issuer", msgIssuerColon)
	}
	if !v.keys.isSet("totp.digits") {
		t.Digits = DefaultDigits
	} else if t.Digits != 6 && t.Digits != 8 {
		v.errorf("totp.digits", msgIntEither, 6, 8, t.Digits)
	}
	v.intBetween(&t.Period, "totp.period", DefaultPeriod, 15, 300)
	v.intBetween(&t.Skew, "totp.skew", DefaultSkew, 0, 10)
	algorithms := []string{"SHA1", "SHA256", "SHA512"} // the HMAC hashes RFC 6238 names
	// Case does not matter to anyone reading the file; one spelling keeps consumers simple.
	if up := strings.ToUpper(t.Algorithm); slices.Contains(algorithms, up) {
		t.Algorithm = up
	}
	v.oneOf(&t.Algorithm, "totp.algorithm", DefaultAlgorithm, algorithms...)
}
