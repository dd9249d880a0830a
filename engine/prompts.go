package engine

import (
	"fmt"
	"strings"
	"text/template"
	"unicode/utf8"
)

// Prompts are the Reply-Message texts of challenges, as Go templates over promptData.
type Prompts struct {
	TOTP        string
	SMS         string
	Choose      string
	NewPassword string
	Confirm     string
}

func defaultPrompts() Prompts {
	return Prompts{
		TOTP:        "Enter the {{.Digits}}-digit code from your authenticator app: ",
		SMS:         "Enter the code sent to {{.Phone}}: ",
		Choose:      "Enter your app code, or type {{.Keyword}} to receive a text message: ",
		NewPassword: "Your password has expired. Enter a new password: ",
		Confirm:     "Enter the new password again: ",
	}
}

// promptData is what prompt templates may use.
type promptData struct {
	Digits  int
	Phone   string // masked
	Keyword string
}

type compiledPrompts struct {
	totp, sms, choose, newPassword, confirm *template.Template
}

// compilePrompts compiles p, taking empty fields from fallback.
func compilePrompts(p, fallback Prompts) (compiledPrompts, error) {
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		if b != "" {
			return b
		}
		return ""
	}
	d := defaultPrompts()
	var c compiledPrompts
	for _, f := range []struct {
		dst  **template.Template
		name string
		text string
	}{
		{&c.totp, "totp", pick(p.TOTP, pick(fallback.TOTP, d.TOTP))},
		{&c.sms, "sms", pick(p.SMS, pick(fallback.SMS, d.SMS))},
		{&c.choose, "choose", pick(p.Choose, pick(fallback.Choose, d.Choose))},
		{&c.newPassword, "new_password", pick(p.NewPassword, pick(fallback.NewPassword, d.NewPassword))},
		{&c.confirm, "confirm_password", pick(p.Confirm, pick(fallback.Confirm, d.Confirm))},
	} {
		t, err := template.New(f.name).Option("missingkey=error").Parse(f.text)
		if err != nil {
			return compiledPrompts{}, fmt.Errorf("prompt %s: %w", f.name, err)
		}
		*f.dst = t
	}
	return c, nil
}

// render executes a prompt; a template that fails at run time falls back to its raw text
// rather than sending nothing.
func render(t *template.Template, d promptData) string {
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return t.Root.String()
	}
	s := b.String()
	if len(s) > 253 {
		// Cut at a character boundary: a NAS showing half a UTF-8 sequence shows garbage.
		s = s[:253]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}
