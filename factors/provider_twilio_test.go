package factors

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/radmfa/radmfa/test/smstest"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "tok_S3cr3t_9f8e7d6c5b4a"
)

// startTwilio returns a fake Twilio and a provider pointed at it; edit adjusts the config.
func startTwilio(t *testing.T, edit func(*TwilioConfig)) (*Twilio, *smstest.Twilio) {
	t.Helper()
	fake := smstest.StartTwilio(t, testSID, testToken)
	cfg := TwilioConfig{BaseURL: fake.URL, AccountSID: testSID, AuthToken: testToken, From: "+15550001111", Timeout: 2 * time.Second}
	if edit != nil {
		edit(&cfg)
	}
	tw, err := NewTwilio(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tw, fake
}

func TestTwilioDelivers(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(*TwilioConfig)
		wantForm map[string]string // "" means the field must be absent
	}{
		{"from number", nil, map[string]string{
			"To": testMessage.To, "From": "+15550001111", "Body": testMessage.Body, "MessagingServiceSid": "",
		}},
		{"messaging service", func(c *TwilioConfig) { c.MessagingServiceSID = "MG00112233445566778899aabbccddeeff" }, map[string]string{
			"To": testMessage.To, "MessagingServiceSid": "MG00112233445566778899aabbccddeeff", "From": "", "Body": testMessage.Body,
		}},
		{"trailing slash in base URL", func(c *TwilioConfig) { c.BaseURL += "/" }, map[string]string{"To": testMessage.To}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tw, fake := startTwilio(t, tc.edit)
			if err := tw.Send(context.Background(), testMessage); err != nil {
				t.Fatal(err)
			}
			m := fake.WaitMessage(t, testMessage.To, time.Second)
			for field, want := range tc.wantForm {
				if got, ok := m.Form[field]; want == "" && ok || want != "" && (len(got) != 1 || got[0] != want) {
					t.Errorf("form %s = %q, want %q", field, got, want)
				}
			}
			wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(testSID+":"+testToken))
			if got := m.Header.Get("Authorization"); got != wantAuth {
				t.Errorf("Authorization %q, want %q", got, wantAuth)
			}
			if got := m.Header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
				t.Errorf("Content-Type %q", got)
			}
			if !strings.HasPrefix(m.SID, "SM") || fake.LastCode(t, testMessage.To) != testMessage.Code {
				t.Errorf("message %+v", m)
			}
		})
	}
}

func TestTwilioCheck(t *testing.T) {
	tests := []struct {
		name       string
		token      string
		wantStatus int
	}{
		{"valid credentials", testToken, 0},
		{"wrong token", "tok_wrong_0000", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tw, _ := startTwilio(t, func(c *TwilioConfig) { c.AuthToken = tc.token })
			err := tw.Check(context.Background())
			if tc.wantStatus == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var se *SendError
			if !errors.As(err, &se) || se.Status != tc.wantStatus || se.Temporary || !strings.Contains(se.Msg, "20003") {
				t.Fatalf("Check = %v, want a permanent %d with Twilio's code", err, tc.wantStatus)
			}
			assertHidden(t, []string{tc.token}, err.Error())
		})
	}
}

// Failures: what the error says, whether it is retried (counted at the fake), and that the
// token never shows.
func TestTwilioFailures(t *testing.T) {
	tests := []struct {
		name         string
		edit         func(*TwilioConfig)
		fail         int // FailNext(fail, status)
		status       int
		msg          Message
		wantRequests int
		wantStatus   int
		wantTemp     bool
		wantMsg      string
		wantOK       bool
	}{
		{name: "500 once is retried and delivered", fail: 1, status: 500, msg: testMessage, wantRequests: 2, wantOK: true},
		{name: "500 twice: exactly one retry", fail: 2, status: 500, msg: testMessage, wantRequests: 2, wantStatus: 500, wantTemp: true, wantMsg: "Twilio error 20500"},
		{name: "429 is retried", fail: 5, status: 429, msg: testMessage, wantRequests: 2, wantStatus: 429, wantTemp: true, wantMsg: "Twilio error 20429"},
		{name: "400 is not retried", fail: 5, status: 400, msg: testMessage, wantRequests: 1, wantStatus: 400, wantMsg: "HTTP 400"},
		{name: "bad token is not retried", edit: func(c *TwilioConfig) { c.AuthToken = "tok_wrong_0000" }, msg: testMessage,
			wantRequests: 1, wantStatus: 401, wantMsg: "Twilio error 20003: Authenticate"},
		{name: "wrong account", edit: func(c *TwilioConfig) { c.AccountSID = "AC99999999999999999999999999999999" }, msg: testMessage,
			wantRequests: 1, wantStatus: 401, wantMsg: "20003"},
		{name: "invalid recipient never leaves", msg: Message{To: "555-0001", Body: "x"}, wantRequests: 0, wantMsg: "not an E.164"},
		{name: "empty body never leaves", msg: Message{To: testMessage.To}, wantRequests: 0, wantMsg: "empty message"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tw, fake := startTwilio(t, tc.edit)
			if tc.fail > 0 {
				fake.FailNext(tc.fail, tc.status)
			}
			err := WithRetry(tw, 0, 10*time.Millisecond).Send(context.Background(), tc.msg)
			if got := fake.Requests(); got != tc.wantRequests {
				t.Errorf("%d requests, want %d", got, tc.wantRequests)
			}
			if tc.wantOK {
				if err != nil {
					t.Fatal(err)
				}
				fake.WaitMessage(t, tc.msg.To, time.Second)
				return
			}
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SendError", err)
			}
			if se.Provider != "twilio" || se.Status != tc.wantStatus || se.Temporary != tc.wantTemp || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q %+v; want status %d temporary %v containing %q", err, *se, tc.wantStatus, tc.wantTemp, tc.wantMsg)
			}
			assertHidden(t, []string{testToken, "tok_wrong_0000"}, err.Error(), se.Msg)
			if n := len(fake.Messages()); n != 0 {
				t.Errorf("%d messages recorded", n)
			}
		})
	}
}

// A provider that hangs costs at most the timeout per attempt.
func TestTwilioTimeout(t *testing.T) {
	tw, fake := startTwilio(t, func(c *TwilioConfig) { c.Timeout = 200 * time.Millisecond })
	fake.SetDelay(10 * time.Second)
	start := time.Now()
	err := WithRetry(tw, 0, 0).Send(context.Background(), testMessage)
	elapsed := time.Since(start)
	var se *SendError
	if !errors.As(err, &se) || !se.Temporary || se.Status != 0 {
		t.Fatalf("error %v, want a temporary *SendError", err)
	}
	if elapsed > 2*time.Second {
		t.Fatalf("Send took %s with a 200ms timeout", elapsed)
	}
	if n := fake.Requests(); n != 2 {
		t.Fatalf("%d requests, want 2 (one retry after a timeout)", n)
	}
	assertHidden(t, []string{testToken}, err.Error())
}

// The caller's deadline wins over the per-request timeout and is not retried.
func TestTwilioContextDeadline(t *testing.T) {
	tw, fake := startTwilio(t, nil)
	fake.SetDelay(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := WithRetry(tw, 0, 0).Send(ctx, testMessage)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Send took %s", d)
	}
	if n := fake.Requests(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestTwilioHidesToken(t *testing.T) {
	cfg := TwilioConfig{AccountSID: testSID, AuthToken: testToken, From: "+15550001111"}
	tw, err := NewTwilio(cfg)
	if err != nil {
		t.Fatal(err)
	}
	texts := append(printings(tw), printings(cfg)...)
	texts = append(texts, printings(WithRetry(tw, 0, 0))...)
	texts = append(texts, printings(&cfg)...)
	assertHidden(t, []string{testToken}, texts...)
	if !strings.Contains(tw.String(), testSID) || !strings.Contains(tw.String(), redacted) {
		t.Errorf("String() = %q, want the account and a redaction mark", tw.String())
	}
}

func TestNewTwilioRejects(t *testing.T) {
	ok := TwilioConfig{AccountSID: testSID, AuthToken: testToken, From: "+15550001111"}
	tests := []struct {
		name    string
		edit    func(*TwilioConfig)
		wantErr string
	}{
		{"no SID", func(c *TwilioConfig) { c.AccountSID = "" }, "account SID"},
		{"SID with a slash", func(c *TwilioConfig) { c.AccountSID = "AC1/../x" }, "account SID"},
		{"no token", func(c *TwilioConfig) { c.AuthToken = "" }, "auth token is empty"},
		{"no sender", func(c *TwilioConfig) { c.From = "" }, "set From or MessagingServiceSID"},
		{"bad service", func(c *TwilioConfig) { c.MessagingServiceSID = "MG 1" }, "messaging service SID"},
		{"bad URL", func(c *TwilioConfig) { c.BaseURL = "ftp://example.com" }, "not an http(s) URL"},
		{"relative URL", func(c *TwilioConfig) { c.BaseURL = "/api" }, "not an http(s) URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			_, err := NewTwilio(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewTwilio = %v, want error containing %q", err, tc.wantErr)
			}
			assertHidden(t, []string{testToken}, err.Error())
		})
	}
}
