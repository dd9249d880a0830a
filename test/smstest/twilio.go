package smstest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Message is one message the fake Twilio accepted, with the request as received.
type Message struct {
	SID                 string // "SM…"
	To, From            string
	MessagingServiceSID string
	Body                string
	Created             time.Time
	Form                url.Values  // every form field sent
	Header              http.Header // request headers, Authorization included
}

// Twilio is a fake Twilio REST API on 127.0.0.1 for one account.
type Twilio struct {
	URL        string // base URL, for TwilioConfig.BaseURL
	AccountSID string

	authToken string
	srv       *httptest.Server
	faults    *faults
	closeOnce sync.Once

	mu      sync.Mutex
	msgs    []Message
	taken   map[string]int // per recipient, how many messages WaitMessage has handed out
	arrived chan struct{}  // closed and replaced whenever a message is recorded
}

var (
	messagesPath = regexp.MustCompile(`^/2010-04-01/Accounts/([^/]+)/Messages\.json$`)
	accountPath  = regexp.MustCompile(`^/2010-04-01/Accounts/([^/]+)\.json$`)
	serviceSID   = regexp.MustCompile(`^MG[0-9a-zA-Z]+$`)
	e164         = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)
	codeInBody   = regexp.MustCompile(`\b[0-9]{4,10}\b`)
)

// maxBodyLen is Twilio's limit for a concatenated message.
const maxBodyLen = 1600

// StartTwilio starts a fake Twilio that accepts accountSID:authToken and stops at the end of
// the test.
func StartTwilio(t testing.TB, accountSID, authToken string) *Twilio {
	t.Helper()
	f := &Twilio{
		AccountSID: accountSID,
		authToken:  authToken,
		faults:     newFaults(),
		taken:      map[string]int{},
		arrived:    make(chan struct{}),
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	t.Cleanup(f.Close)
	return f
}

// Close stops the server; requests being delayed are answered at once. It may be called twice.
func (f *Twilio) Close() {
	f.closeOnce.Do(func() {
		close(f.faults.done)
		f.srv.Close()
	})
}

// FailNext makes the next n requests fail with status and a Twilio-style error body.
func (f *Twilio) FailNext(n, status int) { f.faults.failNext(n, status) }

// SetDelay holds every later request for d before answering, to test client timeouts.
func (f *Twilio) SetDelay(d time.Duration) { f.faults.setDelay(d) }

// Requests counts every request received, failed and rejected ones included.
func (f *Twilio) Requests() int { return f.faults.count() }

// Messages returns the accepted messages, oldest first.
func (f *Twilio) Messages() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Message(nil), f.msgs...)
}

// WaitMessage returns the next message to to that an earlier WaitMessage has not returned,
// waiting up to timeout for it. Call it from the test's goroutine: it fails the test.
func (f *Twilio) WaitMessage(t testing.TB, to string, timeout time.Duration) Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		n := 0
		for _, m := range f.msgs {
			if m.To != to {
				continue
			}
			if n == f.taken[to] {
				f.taken[to]++
				f.mu.Unlock()
				return m
			}
			n++
		}
		arrived := f.arrived
		f.mu.Unlock()
		select {
		case <-arrived:
		case <-deadline.C:
			t.Fatalf("smstest: no new message to %s within %s", to, timeout)
			return Message{}
		}
	}
}

// LastCode returns the code in the latest message to to: the first run of 4 to 10 digits in
// its body. It fails the test if there is none.
func (f *Twilio) LastCode(t testing.TB, to string) string {
	t.Helper()
	msgs := f.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].To != to {
			continue
		}
		code := codeInBody.FindString(msgs[i].Body)
		if code == "" {
			t.Fatalf("smstest: no code in the last message to %s: %q", to, msgs[i].Body)
		}
		return code
	}
	t.Fatalf("smstest: no message to %s", to)
	return ""
}

func (f *Twilio) serve(w http.ResponseWriter, r *http.Request) {
	fail, ok := f.faults.begin(r)
	if !ok {
		return
	}
	if fail != 0 {
		writeTwilioError(w, fail, injectedCode(fail), http.StatusText(fail))
		return
	}
	msgs := messagesPath.FindStringSubmatch(r.URL.Path)
	acct := accountPath.FindStringSubmatch(r.URL.Path)
	if msgs == nil && acct == nil {
		writeNotFound(w, r)
		return
	}
	// Twilio authenticates before it looks at the account in the path.
	user, pass, ok := r.BasicAuth()
	if !ok || user != f.AccountSID || pass != f.authToken {
		writeTwilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	switch {
	case msgs != nil && msgs[1] == f.AccountSID:
		if r.Method != http.MethodPost {
			writeTwilioError(w, http.StatusMethodNotAllowed, 20004, "Method not allowed")
			return
		}
		f.create(w, r)
	case acct != nil && acct[1] == f.AccountSID:
		if r.Method != http.MethodGet {
			writeTwilioError(w, http.StatusMethodNotAllowed, 20004, "Method not allowed")
			return
		}
		f.writeAccount(w)
	default: // another account's resources do not exist for these credentials
		writeNotFound(w, r)
	}
}

// create validates a Messages POST the way Twilio does and records it.
func (f *Twilio) create(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		writeTwilioError(w, http.StatusBadRequest, 20001, "Content-Type must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeTwilioError(w, http.StatusBadRequest, 20001, "Unable to parse the request body")
		return
	}
	form := r.PostForm
	to, from, svc, body := form.Get("To"), form.Get("From"), form.Get("MessagingServiceSid"), form.Get("Body")
	switch {
	case to == "":
		writeTwilioError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
	case !e164.MatchString(to):
		writeTwilioError(w, http.StatusBadRequest, 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", to))
	case from == "" && svc == "":
		writeTwilioError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
	case svc != "" && !serviceSID.MatchString(svc):
		writeTwilioError(w, http.StatusBadRequest, 21701, fmt.Sprintf("The Messaging Service Sid %s is invalid.", svc))
	case body == "":
		writeTwilioError(w, http.StatusBadRequest, 21602, "Message body is required.")
	case len([]rune(body)) > maxBodyLen:
		writeTwilioError(w, http.StatusBadRequest, 21617, "The concatenated message body exceeds the 1600 character limit.")
	default:
		m := Message{
			SID: newSID("SM"), To: to, From: from, MessagingServiceSID: svc, Body: body,
			Created: time.Now().UTC(), Form: form, Header: r.Header.Clone(),
		}
		f.record(m)
		writeJSON(w, http.StatusCreated, f.resource(m))
	}
}

func (f *Twilio) record(m Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, m)
	close(f.arrived)
	f.arrived = make(chan struct{})
}

// resource is the message resource Twilio answers a create with.
func (f *Twilio) resource(m Message) map[string]any {
	uri := "/2010-04-01/Accounts/" + f.AccountSID + "/Messages/" + m.SID
	date := m.Created.Format(time.RFC1123Z)
	var svc any
	if m.MessagingServiceSID != "" {
		svc = m.MessagingServiceSID
	}
	return map[string]any{
		"account_sid": f.AccountSID, "api_version": "2010-04-01", "body": m.Body,
		"date_created": date, "date_updated": date, "date_sent": nil,
		"direction": "outbound-api", "error_code": nil, "error_message": nil,
		"from": m.From, "messaging_service_sid": svc, "num_media": "0",
		"num_segments": strconv.Itoa(1 + len([]rune(m.Body))/160), "price": nil, "price_unit": "USD",
		"sid": m.SID, "status": "queued", "to": m.To, "uri": uri + ".json",
		"subresource_uris": map[string]string{"media": uri + "/Media.json"},
	}
}

func (f *Twilio) writeAccount(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, map[string]any{
		"sid": f.AccountSID, "friendly_name": "smstest", "status": "active", "type": "Full",
		"date_created": time.Now().UTC().Format(time.RFC1123Z),
		"uri":          "/2010-04-01/Accounts/" + f.AccountSID + ".json",
	})
}

// injectedCode picks the Twilio error code an injected status comes with; Twilio's general
// codes are 20000 plus the status (20429, 20500, 20503), except 20003 for 401.
func injectedCode(status int) int {
	if status == http.StatusUnauthorized {
		return 20003
	}
	return 20000 + status
}

func writeNotFound(w http.ResponseWriter, r *http.Request) {
	writeTwilioError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
}

// writeTwilioError answers in Twilio's error format.
func writeTwilioError(w http.ResponseWriter, status, code int, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
	}
	writeJSON(w, status, map[string]any{
		"code": code, "message": msg, "status": status,
		"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// newSID returns a Twilio-shaped SID: a two-letter prefix and 32 hex digits.
func newSID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // documented never to return an error
	return prefix + hex.EncodeToString(b)
}
