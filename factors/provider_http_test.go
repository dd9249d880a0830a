package factors

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/radmfa/radmfa/test/smstest"
)

const testAPIKey = "sk_live_5ecr3tK3y_a1b2c3"

// jsonGateway is a typical JSON gateway: API key in a header, JSON body.
func jsonGateway(sink *smstest.HTTPSink) HTTPConfig {
	return HTTPConfig{
		URL:           sink.URL + "/v1/sms?to={{.Phone}}",
		Headers:       map[string]string{"X-Api-Key": testAPIKey, "X-Tenant": "acme"},
		SecretHeaders: []string{"x-api-key"},
		Body:          `{"to": {{json .Phone}}, "text": {{json .Message}}, "user": {{json .User}}, "code": {{json .Code}}}`,
		Timeout:       2 * time.Second,
	}
}

func TestHTTPSenderDelivers(t *testing.T) {
	// Quotes, a backslash and a newline must not break the JSON body or the URL.
	tricky := Message{To: "+15551230001", Body: "Code \"482913\"\\\nbye & <ok>", User: `al"ice`, Code: "482913"}
	tests := []struct {
		name  string
		cfg   func(sink *smstest.HTTPSink) HTTPConfig
		msg   Message
		check func(t *testing.T, r smstest.Request)
	}{
		{"json body and secret header", jsonGateway, tricky, func(t *testing.T, r smstest.Request) {
			var got map[string]string
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatalf("body %q is not JSON: %v", r.Body, err)
			}
			want := map[string]string{"to": tricky.To, "text": tricky.Body, "user": tricky.User, "code": tricky.Code}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("body %s = %q, want %q", k, got[k], v)
				}
			}
			if r.Method != http.MethodPost || r.Path != "/v1/sms" || r.Query.Get("to") != tricky.To {
				t.Errorf("request %s %s ?%v", r.Method, r.Path, r.Query)
			}
			if r.Header.Get("X-Api-Key") != testAPIKey || r.Header.Get("X-Tenant") != "acme" {
				t.Errorf("headers %v", r.Header)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		}},
		{"GET with everything in the query", func(sink *smstest.HTTPSink) HTTPConfig {
			return HTTPConfig{Method: "get", URL: sink.URL + "/send?to={{.Phone}}&msg={{.Message}}&key=" + testAPIKey}
		}, tricky, func(t *testing.T, r smstest.Request) {
			if r.Method != http.MethodGet || r.Query.Get("to") != tricky.To || r.Query.Get("msg") != tricky.Body || len(r.Body) != 0 {
				t.Errorf("request %s ?%v body %q", r.Method, r.Query, r.Body)
			}
			if r.Header.Get("Content-Type") != "" {
				t.Errorf("Content-Type %q without a body", r.Header.Get("Content-Type"))
			}
		}},
		{"form body with urlquery", func(sink *smstest.HTTPSink) HTTPConfig {
			return HTTPConfig{
				URL: sink.URL + "/form", ContentType: "application/x-www-form-urlencoded",
				Body:    "to={{urlquery .Phone}}&text={{urlquery .Message}}",
				Headers: map[string]string{"Authorization": "Bearer " + testAPIKey}, SecretHeaders: []string{"Authorization"},
			}
		}, tricky, func(t *testing.T, r smstest.Request) {
			req, _ := http.NewRequest(http.MethodPost, "/", strings.NewReader(string(r.Body)))
			req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
			if err := req.ParseForm(); err != nil || req.PostForm.Get("to") != tricky.To || req.PostForm.Get("text") != tricky.Body {
				t.Errorf("form %q: %v %v", r.Body, req.PostForm, err)
			}
			if r.Header.Get("Authorization") != "Bearer "+testAPIKey {
				t.Errorf("Authorization %q", r.Header.Get("Authorization"))
			}
		}},
		{"header overrides content type", func(sink *smstest.HTTPSink) HTTPConfig {
			return HTTPConfig{URL: sink.URL, Body: "{{.Message}}", Headers: map[string]string{"content-type": "text/plain"}}
		}, testMessage, func(t *testing.T, r smstest.Request) {
			if ct := r.Header.Values("Content-Type"); len(ct) != 1 || ct[0] != "text/plain" || string(r.Body) != testMessage.Body {
				t.Errorf("Content-Type %q body %q", ct, r.Body)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := smstest.StartHTTPSink(t)
			s, err := NewHTTPSender(tc.cfg(sink))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(context.Background(), tc.msg); err != nil {
				t.Fatal(err)
			}
			reqs := sink.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			tc.check(t, reqs[0])
		})
	}
}

func TestHTTPSenderFailures(t *testing.T) {
	tests := []struct {
		name         string
		setup        func(sink *smstest.HTTPSink, cfg *HTTPConfig)
		wantRequests int
		wantStatus   int
		wantTemp     bool
		wantMsg      string
		wantOK       bool
	}{
		{name: "500 once is retried and delivered", setup: func(s *smstest.HTTPSink, _ *HTTPConfig) { s.FailNext(1, 500) },
			wantRequests: 2, wantOK: true},
		{name: "500 twice: exactly one retry", setup: func(s *smstest.HTTPSink, _ *HTTPConfig) { s.FailNext(9, 500) },
			wantRequests: 2, wantStatus: 500, wantTemp: true, wantMsg: "HTTP 500: Internal Server Error"},
		{name: "400 is not retried", setup: func(s *smstest.HTTPSink, _ *HTTPConfig) { s.SetResponse(400, `{"error":"bad number"}`) },
			wantRequests: 1, wantStatus: 400, wantMsg: `bad number`},
		{name: "gateway echoing the key", setup: func(s *smstest.HTTPSink, _ *HTTPConfig) {
			s.SetResponse(403, "key "+testAPIKey+" revoked; code 482913")
		}, wantRequests: 1, wantStatus: 403, wantMsg: "key [redacted] revoked; code [redacted]"},
		{name: "unlisted 2xx is a failure", setup: func(s *smstest.HTTPSink, c *HTTPConfig) {
			c.SuccessCodes = []int{201}
		}, wantRequests: 1, wantStatus: 200, wantMsg: "HTTP 200"},
		{name: "listed non-2xx is success", setup: func(s *smstest.HTTPSink, c *HTTPConfig) {
			c.SuccessCodes = []int{202, 299}
			s.SetResponse(299, "")
		}, wantRequests: 1, wantOK: true},
		{name: "redirects are not followed", setup: func(s *smstest.HTTPSink, _ *HTTPConfig) { s.SetResponse(302, "") },
			wantRequests: 1, wantStatus: 302, wantMsg: "HTTP 302"},
		{name: "timeout", setup: func(s *smstest.HTTPSink, c *HTTPConfig) {
			c.Timeout = 150 * time.Millisecond
			s.SetDelay(10 * time.Second)
		}, wantRequests: 2, wantTemp: true, wantMsg: "Client.Timeout"},
		{name: "connection refused", setup: func(s *smstest.HTTPSink, _ *HTTPConfig) { s.Close() },
			wantRequests: 0, wantTemp: true, wantMsg: "POST 127.0.0.1:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := smstest.StartHTTPSink(t)
			cfg := jsonGateway(sink)
			tc.setup(sink, &cfg)
			s, err := NewHTTPSender(cfg)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = WithRetry(s, 0, 10*time.Millisecond).Send(context.Background(), testMessage)
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("Send took %s", d)
			}
			if got := len(sink.Requests()); got != tc.wantRequests {
				t.Errorf("%d requests, want %d", got, tc.wantRequests)
			}
			if tc.wantOK {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SendError", err)
			}
			if se.Provider != "http" || se.Status != tc.wantStatus || se.Temporary != tc.wantTemp || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q %+v; want status %d temporary %v containing %q", err, *se, tc.wantStatus, tc.wantTemp, tc.wantMsg)
			}
			assertHidden(t, []string{testAPIKey, "/v1/sms?to"}, err.Error())
		})
	}
}

func TestHTTPSenderHidesSecrets(t *testing.T) {
	cfg := HTTPConfig{
		URL:           "https://gw.example/send?key=" + testAPIKey + "&to={{.Phone}}",
		Headers:       map[string]string{"Authorization": "Bearer " + testAPIKey},
		SecretHeaders: []string{"authorization"},
		Body:          "{{json .Message}}",
	}
	s, err := NewHTTPSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	texts := append(printings(s), printings(cfg)...)
	texts = append(texts, printings(WithRetry(s, 0, 0))...)
	assertHidden(t, []string{testAPIKey}, texts...)
	if !strings.Contains(s.String(), "gw.example/send") {
		t.Errorf("String() = %q, want the endpoint", s.String())
	}
	// The caller's map is copied: changing it later does not change the sender.
	cfg.Headers["Authorization"] = "changed"
	if strings.Contains(s.String(), "changed") {
		t.Error("sender shares the caller's header map")
	}
}

func TestNewHTTPSenderRejects(t *testing.T) {
	tests := []struct {
		name    string
		cfg     HTTPConfig
		wantErr string
	}{
		{"no URL", HTTPConfig{}, "absolute http(s)"},
		{"relative URL", HTTPConfig{URL: "/send"}, "absolute http(s)"},
		{"ftp", HTTPConfig{URL: "ftp://gw.example/"}, "absolute http(s)"},
		{"URL template syntax", HTTPConfig{URL: "https://gw.example/?to={{.Phone"}, "url template"},
		{"unknown field", HTTPConfig{URL: "https://gw.example/", Body: "{{.Number}}"}, "can't evaluate field Number"},
		{"header template", HTTPConfig{URL: "https://gw.example/", Headers: map[string]string{"X": "{{"}}, "header X template"},
		{"bad method", HTTPConfig{Method: "PO ST", URL: "https://gw.example/"}, "invalid method"},
		{"bad success code", HTTPConfig{URL: "https://gw.example/", SuccessCodes: []int{2000}}, "success code 2000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewHTTPSender(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewHTTPSender = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}
