package portal

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

// TestContrast checks the stylesheet's colour pairs against WCAG 2.2 AA: 4.5:1 for text,
// 3:1 for control borders and focus indicators. Each colour must still be in the stylesheet,
// so changing one there without checking it here fails.
func TestContrast(t *testing.T) {
	css, err := staticFS.ReadFile("static/portal.css")
	if err != nil {
		t.Fatal(err)
	}
	const text, ui = 4.5, 3.0
	tests := []struct {
		name   string
		fg, bg string
		min    float64
	}{
		{"body text", "#1b1f24", "#f3f5f7", text},
		{"text on cards", "#1b1f24", "#ffffff", text},
		{"muted text on cards", "#454f5b", "#ffffff", text},
		{"muted text on the page", "#454f5b", "#f3f5f7", text},
		{"links on cards", "#0b57a4", "#ffffff", text},
		{"links on the page", "#0b57a4", "#f3f5f7", text},
		{"button label", "#ffffff", "#0b57a4", text},
		{"button label, hover", "#ffffff", "#083f78", text},
		{"secondary button, hover", "#0b57a4", "#e8f0f9", text},
		{"danger button", "#a4161a", "#ffffff", text},
		{"danger button, hover", "#a4161a", "#fbeaea", text},
		{"table header", "#1b1f24", "#eaeef2", text},
		{"secret text", "#1b1f24", "#eaeef2", text},
		{"fraud row", "#454f5b", "#fff5f5", text},
		{"badge accept", "#0b4a21", "#dcf1e3", text},
		{"badge reject", "#7d1114", "#fbe2e2", text},
		{"badge challenge", "#5c4100", "#fff1cc", text},
		{"badge neutral", "#1b1f24", "#e6e9ed", text},
		{"count", "#ffffff", "#1b1f24", text},
		{"field border", "#5c6672", "#ffffff", ui},
		{"focus ring on cards", "#1b1f24", "#ffffff", ui},
		{"focus halo around the ring", "#ffbf47", "#1b1f24", ui},
		{"ok notice bar", "#0f6b2e", "#ffffff", ui},
		{"error notice bar", "#a4161a", "#ffffff", ui},
	}
	for _, tc := range tests {
		for _, c := range []string{tc.fg, tc.bg} {
			if c != "#ffffff" && !strings.Contains(string(css), c) {
				t.Errorf("%s: %s is not in the stylesheet any more", tc.name, c)
			}
		}
		if r := contrast(t, tc.fg, tc.bg); r < tc.min {
			t.Errorf("%s: %s on %s is %.2f:1, want at least %.1f:1", tc.name, tc.fg, tc.bg, r, tc.min)
		}
	}
}

// contrast is the WCAG contrast ratio of two #rrggbb colours.
func contrast(t *testing.T, a, b string) float64 {
	la, lb := luminance(t, a), luminance(t, b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	if err != nil || len(hex) != 7 {
		t.Fatalf("colour %q", hex)
	}
	ch := func(c uint64) float64 {
		s := float64(c) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(v>>16&0xff) + 0.7152*ch(v>>8&0xff) + 0.0722*ch(v&0xff)
}
