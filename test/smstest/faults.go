package smstest

import (
	"net/http"
	"sync"
	"time"
)

// faults is the fault injection both fakes share.
type faults struct {
	mu       sync.Mutex
	requests int
	failN    int
	failCode int
	delay    time.Duration
	done     chan struct{} // closed by Close: releases delayed handlers
}

func newFaults() *faults { return &faults{done: make(chan struct{})} }

func (f *faults) failNext(n, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failN, f.failCode = n, status
}

func (f *faults) setDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

func (f *faults) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// begin counts a request, waits out the delay and returns the status to fail it with (0: none).
// ok is false when the client gave up or the server is closing: the handler should just return.
func (f *faults) begin(r *http.Request) (fail int, ok bool) {
	f.mu.Lock()
	f.requests++
	delay := f.delay
	if f.failN > 0 {
		f.failN--
		fail = f.failCode
	}
	f.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return 0, false
		case <-f.done:
			return 0, false
		}
	}
	return fail, true
}
