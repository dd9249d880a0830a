package factors

import (
	"strings"
	"testing"
)

func TestRenderMessage(t *testing.T) {
	data := MessageData{Issuer: "ACME VPN", User: "alice", Code: "482913", Minutes: 5}
	tests := []struct {
		name    string
		tmpl    string
		want    string
		wantErr string
	}{
		{"default", "", "Your ACME VPN sign-in code is 482913. It expires in 5 minutes.", ""},
		{"custom", "{{.Code}} is your code, {{.User}}", "482913 is your code, alice", ""},
		{"unknown field", "{{.Cod}}", "", "can't evaluate field Cod"},
		{"syntax", "{{.Code", "", "sms message template"},
		{"no code", "Hello {{.User}}", "", "does not show {{.Code}}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := ParseMessageTemplate(tc.tmpl)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseMessageTemplate = %v, want error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := RenderMessage(tmpl, data)
			if err != nil || got != tc.want {
				t.Fatalf("RenderMessage = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if got, err := RenderMessage(nil, data); err != nil || !strings.Contains(got, "482913") {
		t.Fatalf("RenderMessage(nil) = %q, %v", got, err)
	}
}
