package factors

import (
	"errors"
	"fmt"
	"strings"
	"text/template"
)

// DefaultMessageTemplate is the text of an SMS when the configuration gives none.
const DefaultMessageTemplate = "Your {{.Issuer}} sign-in code is {{.Code}}. It expires in {{.Minutes}} minutes."

// MessageData is what a message template can use.
type MessageData struct {
	Issuer  string // the service name users recognise
	User    string
	Code    string
	Minutes int // the code's lifetime, rounded up (SMSCode.Minutes)
}

// ParseMessageTemplate compiles a message template; "" gives DefaultMessageTemplate. It also
// renders sample data once, so a misspelt field such as {{.Cod}} fails when the configuration
// is loaded instead of when a user is waiting for a code.
func ParseMessageTemplate(text string) (*template.Template, error) {
	if strings.TrimSpace(text) == "" {
		text = DefaultMessageTemplate
	}
	t, err := template.New("sms message").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("factors: sms message template: %w", err)
	}
	sample := MessageData{Issuer: "radmfa", User: "user", Code: "918273", Minutes: 5}
	out, err := RenderMessage(t, sample)
	if err != nil {
		return nil, err
	}
	// A message without the code is useless and would only be noticed by users.
	if !strings.Contains(out, sample.Code) {
		return nil, errors.New("factors: sms message template does not show {{.Code}}")
	}
	return t, nil
}

// RenderMessage renders the message text; a nil template means the default one.
func RenderMessage(tmpl *template.Template, data MessageData) (string, error) {
	if tmpl == nil {
		var err error
		if tmpl, err = template.New("sms message").Parse(DefaultMessageTemplate); err != nil {
			return "", fmt.Errorf("factors: sms message template: %w", err)
		}
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, data); err != nil {
		return "", fmt.Errorf("factors: render sms message: %w", err)
	}
	return b.String(), nil
}
