package smstest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	sid   = "AC0123456789abcdef0123456789abcdef"
	token = "test-token"
)

// call sends a raw request, the way any Twilio client would, and decodes the JSON answer.
func call(t *testing.T, method, u, user, pass, contentType string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return resp.StatusCode, body
}

func TestTwilioAPI(t *testing.T) {
	f := StartTwilio(t, sid, token)
	msgs := f.URL + "/2010-04-01/Accounts/" + sid + "/Messages.json"
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	good := form("To", "+15551230001", "From", "+15550001111", "Body", "Your code is 123456.")
	const ct = "application/x-www-form-urlencoded"
	tests := []struct {
		name       string
		method, u  string
		user, pass string
		ct         string
		form       url.Values
		wantStatus int
		wantCode   float64 // Twilio error code; 0 for success
	}{
		{"created", "POST", msgs, sid, token, ct, good, 201, 0},
		{"created via messaging service", "POST", msgs, sid, token, ct,
			form("To", "+15551230001", "MessagingServiceSid", "MG0011", "Body", "code 654321"), 201, 0},
		{"no auth", "POST", msgs, "", "", ct, good, 401, 20003},
		{"wrong token", "POST", msgs, sid, "nope", ct, good, 401, 20003},
		{"other account", "POST", f.URL + "/2010-04-01/Accounts/AC999/Messages.json", sid, token, ct, good, 404, 20404},
		{"unknown path", "POST", f.URL + "/2010-04-01/Messages.json", sid, token, ct, good, 404, 20404},
		{"GET messages", "GET", msgs, sid, token, "", nil, 405, 20004},
		{"JSON body", "POST", msgs, sid, token, "application/json", good, 400, 20001},
		{"no To", "POST", msgs, sid, token, ct, form("From", "+15550001111", "Body", "x"), 400, 21604},
		{"invalid To", "POST", msgs, sid, token, ct, form("To", "5551230001", "From", "+15550001111", "Body", "x"), 400, 21211},
		{"no From", "POST", msgs, sid, token, ct, form("To", "+15551230001", "Body", "x"), 400, 21603},
		{"bad service", "POST", msgs, sid, token, ct, form("To", "+15551230001", "MessagingServiceSid", "XX1", "Body", "x"), 400, 21701},
		{"no Body", "POST", msgs, sid, token, ct, form("To", "+15551230001", "From", "+15550001111"), 400, 21602},
		{"Body too long", "POST", msgs, sid, token, ct, form("To", "+15551230001", "From", "+1555000111", "Body", strings.Repeat("a", 1601)), 400, 21617},
		{"account", "GET", f.URL + "/2010-04-01/Accounts/" + sid + ".json", sid, token, "", nil, 200, 0},
		{"account, wrong token", "GET", f.URL + "/2010-04-01/Accounts/" + sid + ".json", sid, "nope", "", nil, 401, 20003},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, tc.method, tc.u, tc.user, tc.pass, tc.ct, tc.form)
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %v", status, tc.wantStatus, body)
			}
			if tc.wantCode != 0 {
				if body["code"] != tc.wantCode || body["status"] != float64(tc.wantStatus) || body["message"] == "" {
					t.Fatalf("error body %v, want code %v", body, tc.wantCode)
				}
				return
			}
			if status == 201 {
				if sid, _ := body["sid"].(string); !strings.HasPrefix(sid, "SM") || len(sid) != 34 || body["status"] != "queued" ||
					body["to"] != tc.form.Get("To") || body["body"] != tc.form.Get("Body") {
					t.Fatalf("resource %v", body)
				}
				if _, err := time.Parse(time.RFC1123Z, body["date_created"].(string)); err != nil {
					t.Fatalf("date_created: %v", err)
				}
			}
		})
	}
	if got := len(f.Messages()); got != 2 {
		t.Fatalf("%d messages recorded, want 2 (only the created ones)", got)
	}
	if got := f.Requests(); got != len(tests) {
		t.Fatalf("Requests() = %d, want %d", got, len(tests))
	}
}

func TestTwilioWaitAndCodes(t *testing.T) {
	f := StartTwilio(t, sid, token)
	msgs := f.URL + "/2010-04-01/Accounts/" + sid + "/Messages.json"
	post := func(to, body string) (*http.Response, error) {
		return http.PostForm(strings.Replace(msgs, "://", "://"+sid+":"+token+"@", 1),
			url.Values{"To": {to}, "From": {"+15550001111"}, "Body": {body}})
	}
	send := func(to, body string) {
		resp, err := post(to, body)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	// Deliver the first message after WaitMessage has started waiting.
	errc := make(chan error, 1)
	go func() {
		time.Sleep(50 * time.Millisecond)
		resp, err := post("+15551230001", "Your ACME sign-in code is 111222. It expires in 5 minutes.")
		if err == nil {
			_ = resp.Body.Close()
		}
		errc <- err
	}()
	if m := f.WaitMessage(t, "+15551230001", 5*time.Second); !strings.Contains(m.Body, "111222") {
		t.Fatalf("message %+v", m)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	send("+15551230002", "code 9876 for someone else")
	send("+15551230001", "Your code is 333444.")
	if m := f.WaitMessage(t, "+15551230001", time.Second); !strings.Contains(m.Body, "333444") {
		t.Fatalf("WaitMessage returned %q, want the second message", m.Body)
	}
	if got := f.LastCode(t, "+15551230001"); got != "333444" {
		t.Fatalf("LastCode = %q", got)
	}
	if got := f.LastCode(t, "+15551230002"); got != "9876" {
		t.Fatalf("LastCode = %q", got)
	}
}

func TestTwilioFaults(t *testing.T) {
	f := StartTwilio(t, sid, token)
	msgs := f.URL + "/2010-04-01/Accounts/" + sid + "/Messages.json"
	good := url.Values{"To": {"+15551230001"}, "From": {"+15550001111"}, "Body": {"x"}}
	f.FailNext(2, 503)
	for i, want := range []int{503, 503, 201} {
		if status, body := call(t, "POST", msgs, sid, token, "application/x-www-form-urlencoded", good); status != want {
			t.Fatalf("request %d: status %d, want %d (%v)", i, status, want, body)
		} else if want == 503 && body["code"] != float64(20503) {
			t.Fatalf("injected error body %v", body)
		}
	}
	f.SetDelay(10 * time.Second)
	client := &http.Client{Timeout: 100 * time.Millisecond}
	start := time.Now()
	if _, err := client.Get(f.URL + "/2010-04-01/Accounts/" + sid + ".json"); err == nil {
		t.Fatal("delayed request answered in time")
	}
	f.Close() // must not wait for the delayed handler
	f.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("timeout and Close took %s", d)
	}
}

func TestHTTPSink(t *testing.T) {
	s := StartHTTPSink(t)
	req, _ := http.NewRequest("PUT", s.URL+"/a/b?x=1&x=2", strings.NewReader(`{"k":"v"}`))
	req.Header.Set("X-Api-Key", "k1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	s.SetResponse(418, "teapot")
	s.FailNext(1, 500)
	for _, want := range []int{500, 418} {
		resp, err := http.Post(s.URL, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("status %d, want %d", resp.StatusCode, want)
		}
	}
	reqs := s.Requests()
	if len(reqs) != 3 || resp.StatusCode != 200 {
		t.Fatalf("%d requests, first answered %d", len(reqs), resp.StatusCode)
	}
	r := reqs[0]
	if r.Method != "PUT" || r.Path != "/a/b" || len(r.Query["x"]) != 2 || r.Header.Get("X-Api-Key") != "k1" || string(r.Body) != `{"k":"v"}` {
		t.Fatalf("recorded %+v", r)
	}
}
