package factors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTwilioURL is Twilio's REST API.
const DefaultTwilioURL = "https://api.twilio.com"

// TwilioConfig configures the Twilio provider.
type TwilioConfig struct {
	BaseURL             string // DefaultTwilioURL when empty; tests point it at a fake
	AccountSID          string // "AC…"
	AuthToken           string // secret: never printed
	From                string // sending number (E.164) or alphanumeric sender ID
	MessagingServiceSID string // "MG…"; when set it is sent instead of From
	Timeout             time.Duration
}

func (c TwilioConfig) String() string {
	return fmt.Sprintf("{BaseURL:%s AccountSID:%s AuthToken:%s From:%s MessagingServiceSID:%s Timeout:%s}",
		c.BaseURL, c.AccountSID, secretText(c.AuthToken), c.From, c.MessagingServiceSID, c.Timeout)
}

// Format hides AuthToken from every fmt verb.
func (c TwilioConfig) Format(f fmt.State, verb rune) {
	formatSafe(f, verb, c.String(), "factors.TwilioConfig"+c.String())
}

// Twilio sends through Twilio's Messages API.
type Twilio struct {
	cfg      TwilioConfig
	messages string // …/Accounts/{sid}/Messages.json
	account  string // …/Accounts/{sid}.json
	client   *http.Client
}

var _ Sender = (*Twilio)(nil)

// NewTwilio checks cfg and returns the provider.
func NewTwilio(cfg TwilioConfig) (*Twilio, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultTwilioURL
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("factors: twilio: base URL %q is not an http(s) URL", cfg.BaseURL)
	}
	// The SIDs go into the URL path; Twilio's are letters and digits, so anything else is a
	// typo or an attempt to reach another path.
	if !alnum(cfg.AccountSID) {
		return nil, errors.New("factors: twilio: account SID must be letters and digits (AC…)")
	}
	if cfg.AuthToken == "" {
		return nil, errors.New("factors: twilio: auth token is empty")
	}
	if cfg.MessagingServiceSID == "" && cfg.From == "" {
		return nil, errors.New("factors: twilio: set From or MessagingServiceSID")
	}
	if cfg.MessagingServiceSID != "" && !alnum(cfg.MessagingServiceSID) {
		return nil, errors.New("factors: twilio: messaging service SID must be letters and digits (MG…)")
	}
	acct := base.JoinPath("2010-04-01", "Accounts", cfg.AccountSID)
	return &Twilio{
		cfg:      cfg,
		messages: acct.JoinPath("Messages.json").String(),
		account:  acct.String() + ".json",
		client:   newHTTPClient(cfg.Timeout),
	}, nil
}

func (t *Twilio) Name() string { return "twilio" }

// Send posts the message form. Twilio answers 201 with the queued message resource.
func (t *Twilio) Send(ctx context.Context, m Message) error {
	if err := checkMessage(t.Name(), m); err != nil {
		return err
	}
	form := url.Values{"To": {m.To}, "Body": {m.Body}}
	if t.cfg.MessagingServiceSID != "" {
		form.Set("MessagingServiceSid", t.cfg.MessagingServiceSID)
	} else {
		form.Set("From", t.cfg.From)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.messages, strings.NewReader(form.Encode()))
	if err != nil {
		return &SendError{Provider: t.Name(), Msg: "building the request: " + err.Error(), Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return t.do(ctx, req, m.Code)
}

// Check fetches the account resource, which needs valid credentials and sends nothing.
func (t *Twilio) Check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.account, nil)
	if err != nil {
		return &SendError{Provider: t.Name(), Msg: "building the request: " + err.Error(), Err: err}
	}
	return t.do(ctx, req)
}

func (t *Twilio) do(ctx context.Context, req *http.Request, secrets ...string) error {
	req.SetBasicAuth(t.cfg.AccountSID, t.cfg.AuthToken)
	req.Header.Set("Accept", "application/json")
	secrets = append(secrets, t.cfg.AuthToken)
	status, body, err := doHTTP(ctx, t.Name(), t.client, req, secrets...)
	if err != nil {
		return err
	}
	if status >= 200 && status < 300 {
		return nil
	}
	return &SendError{
		Provider:  t.Name(),
		Status:    status,
		Temporary: temporaryStatus(status),
		Msg:       fmt.Sprintf("%s %s: HTTP %d: %s", req.Method, req.URL.Path, status, twilioReason(body, secrets)),
	}
}

// twilioReason extracts Twilio's error code and message from an error body.
func twilioReason(body []byte, secrets []string) string {
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil || (e.Code == 0 && e.Message == "") {
		return snippet(body, secrets...)
	}
	return fmt.Sprintf("Twilio error %d: %s", e.Code, snippet([]byte(e.Message), secrets...))
}

func (t *Twilio) String() string {
	sender := "from " + t.cfg.From
	if t.cfg.MessagingServiceSID != "" {
		sender = "service " + t.cfg.MessagingServiceSID
	}
	return fmt.Sprintf("twilio(%s account %s %s token %s)", t.cfg.BaseURL, t.cfg.AccountSID, sender, secretText(t.cfg.AuthToken))
}

// Format hides the auth token from every fmt verb, %#v and %d included.
func (t *Twilio) Format(f fmt.State, verb rune) {
	formatSafe(f, verb, t.String(), "&factors.Twilio{"+t.String()+"}")
}

func alnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}
