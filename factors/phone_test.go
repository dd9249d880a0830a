package factors

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		country string
		want    string
		wantErr string
	}{
		{"US formatted", "+1 (555) 123-0001", "", "+15551230001", ""},
		{"already E.164", "+447946095800", "", "+447946095800", ""},
		{"00 prefix", "00 44 20 7946 0958", "", "+442079460958", ""},
		{"00 prefix ignores default", "0044 20 7946 0958", "1", "+442079460958", ""},
		{"dots", "+33.1.23.45.67.89", "", "+33123456789", ""},
		{"slashes", "030/1234567", "49", "+49301234567", ""},
		{"UK national with trunk 0", "020 7946 0958", "44", "+442079460958", ""},
		{"UK national, default with +", "07911 123456", "+44", "+447911123456", ""},
		{"international with (0)", "+44 (0)20 7946 0958", "", "+442079460958", ""},
		{"NANP national", "(555) 123-0001", "1", "+15551230001", ""},
		{"NANP with trunk 1", "1-555-123-0001", "1", "+15551230001", ""},
		{"NANP 011 prefix", "011 44 20 7946 0958", "1", "+442079460958", ""},
		{"Italy keeps its 0", "06 1234 5678", "39", "+390612345678", ""},
		{"surrounding space", "  +1 555 123 0001\t", "", "+15551230001", ""},
		{"non-breaking space", "+1\u00a0555\u00a0123\u00a00001", "", "+15551230001", ""},
		{"shortest", "+12345678", "", "+12345678", ""},
		{"longest", "+123456789012345", "", "+123456789012345", ""},

		{"empty", "", "44", "", "empty"},
		{"blank", "   ", "44", "", "empty"},
		{"letters", "+1 555 CALL NOW", "", "", "letters"},
		{"extension", "+1 555 123 0001 x12", "", "", "letters"},
		{"too short", "+1234567", "", "", "7 digits"},
		{"too long", "+1234567890123456", "", "", "16 digits"},
		{"national without default", "020 7946 0958", "", "", "no default country"},
		{"plus in the middle", "1+5551230001", "", "", "unexpected character '+'"},
		{"hash", "+1555123#0001", "", "", "unexpected character '#'"},
		{"country code 0", "+0123456789", "", "", "do not start with 0"},
		{"only separators", "+ ( ) -", "", "", "0 digits"},
		{"bad default", "020 7946 0958", "UK", "", "not a calling code"},
		{"default too long", "020 7946 0958", "4444", "", "not a calling code"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizePhone(tc.raw, tc.country)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("NormalizePhone(%q, %q) = %q, %v; want error containing %q", tc.raw, tc.country, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("NormalizePhone(%q, %q) = %q, %v; want %q", tc.raw, tc.country, got, err, tc.want)
			}
		})
	}
}

// Errors must be classifiable and must not repeat the number (logs are not for personal data).
func TestNormalizePhoneErrors(t *testing.T) {
	_, err := NormalizePhone("+1 555 NOT 0001", "")
	if !errors.Is(err, ErrPhone) {
		t.Fatalf("error %v does not wrap ErrPhone", err)
	}
	if strings.Contains(err.Error(), "555") {
		t.Fatalf("error %q repeats the number", err)
	}
}

func TestMaskPhone(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"US", "+15551230001", "+1******0001"},
		{"UK", "+447911123456", "+44******3456"},
		{"Russia one-digit code", "+79161234567", "+7******4567"},
		{"three-digit code", "+353861234567", "+353*****4567"},
		{"shortest", "+35312345", "+353*2345"},
		{"not E.164", "0791112", "*****12"},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MaskPhone(tc.in); got != tc.want {
				t.Fatalf("MaskPhone(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
