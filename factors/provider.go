package factors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Message is one text message to deliver. Body is the rendered text; User and Code are there
// for providers that template their own request (HTTPSender, CommandSender).
type Message struct {
	To   string // E.164, from NormalizePhone
	Body string
	User string
	Code string
}

// Sender delivers text messages through one provider.
type Sender interface {
	// Send delivers m, honouring ctx. Failures are *SendError.
	Send(ctx context.Context, m Message) error
	// Name is the provider's kind for logs: "twilio", "http" or "command".
	Name() string
	// Check verifies the credentials where the provider's API allows it, else returns nil.
	// It is for start-up and health checks and sends nothing.
	Check(ctx context.Context) error
}

// DefaultTimeout bounds one request to a provider when the configuration gives none.
const DefaultTimeout = 10 * time.Second

// redacted replaces secrets wherever a sender or its errors are printed.
const redacted = "[redacted]"

// maxSnippet is how much of a provider's answer (HTTP body, stderr) an error quotes: enough to
// see the reason, not enough to flood a log line.
const maxSnippet = 200

// maxResponse caps how much of an HTTP answer is read at all.
const maxResponse = 64 << 10

// SendError is the failure of a Send or Check. Temporary tells a retry whether trying again
// can help: network trouble, timeouts, HTTP 5xx and 429 can; a rejected request, bad
// credentials or a cancelled context cannot.
type SendError struct {
	Provider  string // Name() of the sender
	Status    int    // HTTP status or exit code; 0 when nothing came back
	Temporary bool
	Msg       string // the reason, secrets and the code removed
	Err       error  // the cause, for errors.Is (context.Canceled, …); may be nil
}

func (e *SendError) Error() string { return "factors: sms via " + e.Provider + ": " + e.Msg }

func (e *SendError) Unwrap() error { return e.Err }

// checkMessage rejects what no provider can deliver, before anything goes out.
func checkMessage(provider string, m Message) error {
	if !e164.MatchString(m.To) {
		return &SendError{Provider: provider, Msg: "recipient is not an E.164 number (use NormalizePhone)"}
	}
	if m.Body == "" {
		return &SendError{Provider: provider, Msg: "empty message"}
	}
	return nil
}

// temporaryStatus reports whether an HTTP status is worth retrying: the server failed or asked
// us to slow down, as opposed to rejecting the request itself.
func temporaryStatus(code int) bool {
	return code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
}

// newHTTPClient returns a client whose Timeout bounds each request, connect to last body byte.
// It does not follow redirects: following one would carry the request, API-key headers
// included, to wherever the answer points.
func newHTTPClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &http.Client{
		Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// doHTTP sends req and returns the status and the start of the body. Transport failures come
// back as *SendError naming only the method and host: a *url.Error would print the whole URL,
// and a query string may hold an API key.
func doHTTP(ctx context.Context, provider string, client *http.Client, req *http.Request, secrets ...string) (int, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		se := &SendError{
			Provider: provider,
			// When the caller gave up, retrying cannot help; a timeout of this request can.
			Temporary: ctx.Err() == nil,
			Msg:       redact(fmt.Sprintf("%s %s: %v", req.Method, req.URL.Host, err), secrets...),
			Err:       err,
		}
		if ctx.Err() != nil {
			se.Err = ctx.Err()
		}
		return 0, nil, se
	}
	defer func() { _ = resp.Body.Close() }()
	// The status decides; a body cut short (timeout, cancellation) is still worth quoting, and
	// a 2xx whose body was lost still means the provider accepted the message.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	return resp.StatusCode, body, nil
}

// redact removes every non-empty secret from s.
func redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	return s
}

// snippet makes a provider's free-form answer safe for one log line: at most maxSnippet bytes,
// valid UTF-8, control characters as spaces, secrets removed.
func snippet(b []byte, secrets ...string) string {
	if len(b) > maxSnippet {
		b = b[:maxSnippet]
	}
	// A cut through a multi-byte character leaves invalid bytes; drop them.
	s := strings.ToValidUTF8(string(b), "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return redact(strings.TrimSpace(s), secrets...)
}

// formatSafe implements fmt.Formatter for types holding secrets: every verb prints the redacted
// text. Without it %d or %x on such a struct would print its fields, secrets included.
func formatSafe(f fmt.State, verb rune, text, goText string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, goText)
	case verb == 'q':
		_, _ = io.WriteString(f, strconv.Quote(text))
	default:
		_, _ = io.WriteString(f, text)
	}
}

// secretText shows whether a secret is set without showing it.
func secretText(s string) string {
	if s == "" {
		return `""`
	}
	return redacted
}
