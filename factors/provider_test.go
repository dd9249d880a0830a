package factors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testMessage is a deliverable message; its code is distinctive so tests can spot leaks.
var testMessage = Message{To: "+15551230001", Body: "Your radmfa sign-in code is 482913.", User: "alice", Code: "482913"}

// funcSender is a Sender whose Send is a function, for testing wrappers.
type funcSender struct {
	calls atomic.Int32
	send  func(ctx context.Context, call int) error
}

func (f *funcSender) Name() string                    { return "func" }
func (f *funcSender) Check(ctx context.Context) error { return nil }
func (f *funcSender) Send(ctx context.Context, _ Message) error {
	return f.send(ctx, int(f.calls.Add(1)))
}

func TestWithRetry(t *testing.T) {
	temporary := &SendError{Provider: "func", Status: 500, Temporary: true, Msg: "HTTP 500"}
	permanent := &SendError{Provider: "func", Status: 400, Msg: "HTTP 400"}
	tests := []struct {
		name      string
		attempts  int
		err       func(call int) error // the error of each call
		wantCalls int32
		wantErr   error
	}{
		{"success", 0, func(int) error { return nil }, 1, nil},
		{"temporary then success", 0, func(c int) error {
			if c == 1 {
				return temporary
			}
			return nil
		}, 2, nil},
		{"temporary twice: exactly one retry", 0, func(int) error { return temporary }, 2, temporary},
		{"permanent: no retry", 0, func(int) error { return permanent }, 1, permanent},
		{"plain error is retried", 0, func(int) error { return errors.New("boom") }, 2, nil},
		{"cancellation is not retried", 0, func(int) error { return context.Canceled }, 1, context.Canceled},
		{"three attempts", 3, func(int) error { return temporary }, 3, temporary},
		{"one attempt", 1, func(int) error { return temporary }, 1, temporary},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inner := &funcSender{send: func(_ context.Context, c int) error { return tc.err(c) }}
			err := WithRetry(inner, tc.attempts, time.Millisecond).Send(context.Background(), testMessage)
			if got := inner.calls.Load(); got != tc.wantCalls {
				t.Errorf("%d calls, want %d", got, tc.wantCalls)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
			if tc.name == "success" || tc.name == "temporary then success" {
				if err != nil {
					t.Errorf("error %v, want nil", err)
				}
			} else if err == nil {
				t.Error("no error")
			}
		})
	}
}

// A cancelled context stops the wait between attempts at once.
func TestWithRetryBackoffHonoursContext(t *testing.T) {
	inner := &funcSender{send: func(context.Context, int) error {
		return &SendError{Provider: "func", Temporary: true, Msg: "down"}
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := WithRetry(inner, 5, time.Hour).Send(ctx, testMessage); err == nil {
		t.Fatal("no error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s despite the context", d)
	}
	if n := inner.calls.Load(); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
}

// assertHidden fails if any secret appears in any of the texts.
func assertHidden(t *testing.T, secrets []string, texts ...string) {
	t.Helper()
	for _, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("secret %q appears in %q", s, text)
			}
		}
	}
}

// printings renders v with every verb someone might log it with.
func printings(v any) []string {
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%T"} {
		out = append(out, fmt.Sprintf(verb, v))
	}
	return append(out, fmt.Sprint(v), fmt.Sprintln(v))
}

func TestSnippet(t *testing.T) {
	tests := []struct {
		name, in, want string
		secrets        []string
	}{
		{"trimmed", "  oops \n", "oops", nil},
		{"control characters", "a\x00b\r\nc", "a b  c", nil},
		{"secret", "bad key sk_live_1234", "bad key [redacted]", []string{"sk_live_1234"}},
		{"long", strings.Repeat("x", 500), strings.Repeat("x", maxSnippet), nil},
		{"cut rune", strings.Repeat("x", maxSnippet-1) + "é", strings.Repeat("x", maxSnippet-1), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := snippet([]byte(tc.in), tc.secrets...); got != tc.want {
				t.Fatalf("snippet = %q, want %q", got, tc.want)
			}
		})
	}
}
