package factors

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// ErrPhone is wrapped by every NormalizePhone error. The messages never repeat the number:
// they end up in logs, and a phone number is personal data.
var ErrPhone = errors.New("factors: invalid phone number")

// e164 is "+", a non-zero digit and 7 to 14 more digits: the 8–15 digits radmfa accepts.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// NormalizePhone turns a number as people write it into E.164 ("+" and 8–15 digits).
//
// Accepted: "+1 (555) 123-0001", "+44 (0)20 7946 0958", "00 44 20 7946 0958", and national
// numbers such as "020 7946 0958" when defaultCountry ("44" or "+44") says which country they
// belong to; the national trunk prefix is dropped ("0", or "1" for +1). Spaces, dots, dashes,
// slashes and parentheses are ignored; letters and anything else are rejected, so that an
// extension ("x123") or a vanity number is not silently mangled into a wrong number.
func NormalizePhone(raw, defaultCountry string) (string, error) {
	cc, err := callingCode(defaultCountry)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrPhone)
	}
	intl := strings.HasPrefix(s, "+")
	if intl {
		// "+44 (0)20 …" shows the trunk 0 for domestic callers; it is not dialled from abroad.
		s = strings.Replace(s[1:], "(0)", "", 1)
	}
	d, err := phoneDigits(s)
	if err != nil {
		return "", err
	}
	if !intl {
		if d, err = internationalise(d, cc); err != nil {
			return "", err
		}
	}
	if len(d) < 8 || len(d) > 15 {
		return "", fmt.Errorf("%w: %d digits, E.164 needs 8 to 15 with the country code", ErrPhone, len(d))
	}
	if d[0] == '0' {
		return "", fmt.Errorf("%w: country codes do not start with 0", ErrPhone)
	}
	return "+" + d, nil
}

// phoneDigits keeps the digits of s, skipping the separators people type.
func phoneDigits(s string) (string, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '.' || r == '-' || r == '/' || r == '(' || r == ')' || unicode.IsSpace(r):
		case unicode.IsLetter(r):
			return "", fmt.Errorf("%w: letters are not allowed", ErrPhone)
		default:
			return "", fmt.Errorf("%w: unexpected character %q", ErrPhone, r)
		}
	}
	return b.String(), nil
}

// internationalise turns the digits of a number written without "+" into country code and
// subscriber number.
func internationalise(d, cc string) (string, error) {
	switch {
	case strings.HasPrefix(d, "00"): // the international prefix almost everywhere
		return d[2:], nil
	case cc == "1" && strings.HasPrefix(d, "011"): // the international prefix in North America
		return d[3:], nil
	case cc == "":
		return "", fmt.Errorf("%w: no country code, and no default country is configured", ErrPhone)
	case cc == "1" && len(d) == 11 && d[0] == '1': // North America's trunk prefix is 1
		return cc + d[1:], nil
	case d != "" && d[0] == '0' && !keepsTrunkZero(cc):
		return cc + d[1:], nil
	default:
		return cc + d, nil
	}
}

// keepsTrunkZero reports the countries whose leading 0 is part of the number itself, so it is
// dialled from abroad too: Italy, San Marino and the Vatican.
func keepsTrunkZero(cc string) bool { return cc == "39" || cc == "378" || cc == "379" }

// callingCode parses a default country given as "44" or "+44".
func callingCode(s string) (string, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "+")
	if s == "" {
		return "", nil
	}
	if len(s) > 3 || s[0] == '0' || strings.Trim(s, "0123456789") != "" {
		return "", fmt.Errorf("factors: default country %q is not a calling code such as 44 or +44", s)
	}
	return s, nil
}

// MaskPhone hides the middle of a number for logs and prompts: "+15551230001" becomes
// "+1******0001". The country code and the last four digits stay, which is enough for a user to
// recognise their phone. Anything that is not E.164 keeps only its last two characters.
func MaskPhone(p string) string {
	if !e164.MatchString(p) {
		r := []rune(p)
		for i := 0; i < len(r)-2; i++ {
			r[i] = '*'
		}
		return string(r)
	}
	d := p[1:]
	keep := callingCodeLen(d)
	const tail = 4
	return "+" + d[:keep] + strings.Repeat("*", len(d)-keep-tail) + d[len(d)-tail:]
}

// callingCodeLen returns the length of the country code that d starts with. Calling codes are
// prefix-free: 1 and 7 are the only one-digit codes, the two-digit ones are listed, the rest
// have three digits (ITU-T E.164 assignments).
func callingCodeLen(d string) int {
	switch d[0] {
	case '1', '7':
		return 1
	}
	switch d[:2] {
	case "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45",
		"46", "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61",
		"62", "63", "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94",
		"95", "98":
		return 2
	}
	return 3
}
