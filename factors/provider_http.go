package factors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"text/template"
	"time"
)

// HTTPConfig configures a generic SMS gateway reached over HTTP. URL, header values and Body
// are text/templates over {{.Phone}}, {{.Code}}, {{.User}} and {{.Message}}.
type HTTPConfig struct {
	Method string // POST by default
	// URL is a template whose values are already query-escaped, so
	// "https://gw.example/send?to={{.Phone}}" works as written.
	URL     string
	Headers map[string]string // e.g. "Authorization": "Bearer abc"; values are templates
	// SecretHeaders names the headers whose values are secrets (API keys): they are never
	// printed and are removed from errors.
	SecretHeaders []string
	// Body is a template with two helpers: json (a JSON string literal, quotes included) and
	// urlquery (query-escaping), e.g. {"to": {{json .Phone}}, "text": {{json .Message}}}.
	Body         string
	ContentType  string // "application/json" when Body is set and this is empty
	SuccessCodes []int  // statuses meaning delivered; any 2xx when empty
	Timeout      time.Duration
}

func (c HTTPConfig) String() string {
	return fmt.Sprintf("{Method:%s URL:%s Headers:%s ContentType:%s SuccessCodes:%v Timeout:%s}",
		c.Method, urlForDisplay(c.URL), headersForDisplay(c.Headers, c.SecretHeaders), c.ContentType, c.SuccessCodes, c.Timeout)
}

// Format hides secret header values and the URL's query from every fmt verb.
func (c HTTPConfig) Format(f fmt.State, verb rune) {
	formatSafe(f, verb, c.String(), "factors.HTTPConfig"+c.String())
}

// httpData is what the templates see.
type httpData struct {
	Phone, Code, User, Message string
}

// HTTPSender delivers through a configurable HTTP request.
type HTTPSender struct {
	cfg     HTTPConfig
	url     *template.Template
	body    *template.Template // nil: no body
	headers map[string]*template.Template
	secret  map[string]bool // canonical names of SecretHeaders
	success []int
	client  *http.Client
}

var _ Sender = (*HTTPSender)(nil)

// NewHTTPSender compiles the templates and checks that they render a usable request.
func NewHTTPSender(cfg HTTPConfig) (*HTTPSender, error) {
	if cfg.Method == "" {
		cfg.Method = http.MethodPost
	}
	cfg.Method = strings.ToUpper(cfg.Method)
	if cfg.Body != "" && cfg.ContentType == "" {
		cfg.ContentType = "application/json"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	// Keep our own copies: the caller's map and slices must not change a running sender.
	cfg.Headers = maps.Clone(cfg.Headers)
	cfg.SecretHeaders = slices.Clone(cfg.SecretHeaders)
	s := &HTTPSender{
		cfg:     cfg,
		headers: make(map[string]*template.Template, len(cfg.Headers)),
		secret:  make(map[string]bool, len(cfg.SecretHeaders)),
		success: slices.Clone(cfg.SuccessCodes),
		client:  newHTTPClient(cfg.Timeout),
	}
	var err error
	if s.url, err = parseHTTPTemplate("url", cfg.URL); err != nil {
		return nil, err
	}
	if cfg.Body != "" {
		if s.body, err = parseHTTPTemplate("body", cfg.Body); err != nil {
			return nil, err
		}
	}
	for name, value := range cfg.Headers {
		if s.headers[http.CanonicalHeaderKey(name)], err = parseHTTPTemplate("header "+name, value); err != nil {
			return nil, err
		}
	}
	for _, name := range cfg.SecretHeaders {
		s.secret[http.CanonicalHeaderKey(name)] = true
	}
	for _, code := range s.success {
		if code < 100 || code > 599 {
			return nil, fmt.Errorf("factors: http sms: success code %d is not an HTTP status", code)
		}
	}
	// Render a sample so template mistakes and a bad URL fail at start-up, not per message.
	sample := Message{To: "+15551230001", Body: "sample", User: "user", Code: "123456"}
	req, _, err := s.request(context.Background(), sample)
	if err != nil {
		return nil, fmt.Errorf("factors: http sms: %w", err)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" || req.URL.Host == "" {
		return nil, errors.New("factors: http sms: URL must be absolute http(s)")
	}
	return s, nil
}

func parseHTTPTemplate(name, text string) (*template.Template, error) {
	t, err := template.New(name).Funcs(template.FuncMap{"json": jsonString}).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("factors: http sms: %s template: %w", name, err)
	}
	return t, nil
}

// jsonString renders v as a JSON value, so message text with quotes or newlines cannot break
// (or inject into) a JSON body.
func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func (s *HTTPSender) Name() string { return "http" }

// Check returns nil: a generic gateway has no standard way to verify credentials.
func (s *HTTPSender) Check(context.Context) error { return nil }

func (s *HTTPSender) Send(ctx context.Context, m Message) error {
	if err := checkMessage(s.Name(), m); err != nil {
		return err
	}
	req, secrets, err := s.request(ctx, m)
	if err != nil {
		return &SendError{Provider: s.Name(), Msg: redact(err.Error(), secrets...), Err: err}
	}
	secrets = append(secrets, m.Code)
	status, body, err := doHTTP(ctx, s.Name(), s.client, req, secrets...)
	if err != nil {
		return err
	}
	if s.succeeded(status) {
		return nil
	}
	return &SendError{
		Provider:  s.Name(),
		Status:    status,
		Temporary: temporaryStatus(status),
		Msg:       fmt.Sprintf("%s %s: HTTP %d: %s", req.Method, req.URL.Host, status, snippet(body, secrets...)),
	}
}

func (s *HTTPSender) succeeded(status int) bool {
	if len(s.success) == 0 {
		return status >= 200 && status < 300
	}
	return slices.Contains(s.success, status)
}

// request renders the templates into a request. It also returns the rendered secret header
// values, for removal from any error.
func (s *HTTPSender) request(ctx context.Context, m Message) (*http.Request, []string, error) {
	var secrets []string
	hdr := make(http.Header, len(s.headers)+1)
	raw := httpData{Phone: m.To, Code: m.Code, User: m.User, Message: m.Body}
	for name, t := range s.headers {
		v, err := render(t, raw)
		if err != nil {
			return nil, secrets, err
		}
		if s.secret[name] {
			secrets = append(secrets, v)
		}
		hdr.Set(name, v)
	}
	esc := httpData{
		Phone: url.QueryEscape(m.To), Code: url.QueryEscape(m.Code),
		User: url.QueryEscape(m.User), Message: url.QueryEscape(m.Body),
	}
	u, err := render(s.url, esc)
	if err != nil {
		return nil, secrets, err
	}
	var body io.Reader
	if s.body != nil {
		text, err := render(s.body, raw)
		if err != nil {
			return nil, secrets, err
		}
		body = strings.NewReader(text)
	}
	req, err := http.NewRequestWithContext(ctx, s.cfg.Method, u, body)
	if err != nil {
		// The error quotes the URL, which may carry a key: keep only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, secrets, fmt.Errorf("bad request URL: %w", err)
	}
	if s.cfg.ContentType != "" {
		req.Header.Set("Content-Type", s.cfg.ContentType)
	}
	for name, v := range hdr {
		req.Header[name] = v // configured headers win, Content-Type included
	}
	return req, secrets, nil
}

func render(t *template.Template, data httpData) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("%s template: %w", t.Name(), err)
	}
	return b.String(), nil
}

func (s *HTTPSender) String() string {
	return fmt.Sprintf("http(%s %s headers %s)", s.cfg.Method, urlForDisplay(s.cfg.URL), headersForDisplay(s.cfg.Headers, s.cfg.SecretHeaders))
}

// Format hides secret header values from every fmt verb.
func (s *HTTPSender) Format(f fmt.State, verb rune) {
	formatSafe(f, verb, s.String(), "&factors.HTTPSender{"+s.String()+"}")
}

// urlForDisplay drops the query, where gateways often expect the API key.
func urlForDisplay(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}

func headersForDisplay(h map[string]string, secret []string) string {
	names := make([]string, 0, len(h))
	for n := range h {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		v := h[n]
		if slices.ContainsFunc(secret, func(s string) bool { return strings.EqualFold(s, n) }) {
			v = secretText(v)
		}
		parts = append(parts, n+": "+v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
