package smstest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Request is one request the HTTP sink received.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
}

// HTTPSink is an HTTP server on 127.0.0.1 that records every request and answers with a
// configurable status (200 by default), for testing the generic HTTP provider.
type HTTPSink struct {
	URL string // base URL, e.g. "http://127.0.0.1:41234"

	srv       *httptest.Server
	faults    *faults
	closeOnce sync.Once

	mu     sync.Mutex
	reqs   []Request
	status int
	body   string
}

// StartHTTPSink starts a sink that stops at the end of the test.
func StartHTTPSink(t testing.TB) *HTTPSink {
	t.Helper()
	s := &HTTPSink{faults: newFaults(), status: http.StatusOK, body: `{"ok":true}`}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Close stops the server; requests being delayed are answered at once. It may be called twice.
func (s *HTTPSink) Close() {
	s.closeOnce.Do(func() {
		close(s.faults.done)
		s.srv.Close()
	})
}

// SetResponse sets the status and body of every later answer.
func (s *HTTPSink) SetResponse(status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

// FailNext makes the next n requests fail with status (they are still recorded).
func (s *HTTPSink) FailNext(n, status int) { s.faults.failNext(n, status) }

// SetDelay holds every later request for d before answering.
func (s *HTTPSink) SetDelay(d time.Duration) { s.faults.setDelay(d) }

// Requests returns the recorded requests, oldest first.
func (s *HTTPSink) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

func (s *HTTPSink) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	s.reqs = append(s.reqs, Request{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body,
	})
	status, text := s.status, s.body
	s.mu.Unlock()
	fail, ok := s.faults.begin(r)
	if !ok {
		return
	}
	if fail != 0 {
		status, text = fail, http.StatusText(fail)
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, text)
}
