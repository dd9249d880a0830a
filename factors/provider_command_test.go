package factors

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeScript writes an executable /bin/sh script into a temporary directory.
func writeScript(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "send.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCommandSenderDelivers(t *testing.T) {
	// Something of the server's environment that must not reach the program.
	t.Setenv("RADMFA_TEST_SERVER_SECRET", "do-not-pass-on")
	out := filepath.Join(t.TempDir(), "out")
	script := writeScript(t, `cat > "$OUT.stdin"; env > "$OUT.env"; printf '%s\n' "$@" > "$OUT.args"`)
	s, err := NewCommandSender(CommandConfig{Argv: []string{script, "--flag", "two words"}, Env: []string{"OUT=" + out}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), testMessage); err != nil {
		t.Fatal(err)
	}
	read := func(suffix string) string {
		b, err := os.ReadFile(out + suffix)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read(".stdin"); got != testMessage.Body {
		t.Errorf("stdin %q, want %q", got, testMessage.Body)
	}
	if got := read(".args"); got != "--flag\ntwo words\n" {
		t.Errorf("args %q: want them passed without a shell", got)
	}
	env := read(".env")
	tests := []struct {
		name, line string
		want       bool
	}{
		{"to", "RADMFA_SMS_TO=" + testMessage.To, true},
		{"user", "RADMFA_SMS_USER=" + testMessage.User, true},
		{"code", "RADMFA_SMS_CODE=" + testMessage.Code, true},
		{"configured", "OUT=" + out, true},
		{"server environment", "RADMFA_TEST_SERVER_SECRET=", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Contains(env, tc.line); got != tc.want {
				t.Fatalf("environment has %q: %v, want %v\n%s", tc.line, got, tc.want, env)
			}
		})
	}
}

func TestCommandSenderFailures(t *testing.T) {
	tests := []struct {
		name         string
		script       string
		timeout      time.Duration
		wantAttempts int
		wantStatus   int
		wantTemp     bool
		wantMsg      string
	}{
		{name: "exit 1 with stderr", script: `echo "modem busy, key sk_modem_key_99" >&2; exit 1`,
			wantAttempts: 2, wantStatus: 1, wantTemp: true, wantMsg: "exit status 1: modem busy, key [redacted]"},
		{name: "long stderr is cut", script: `head -c 5000 /dev/zero | tr '\0' 'e' >&2; exit 3`,
			wantAttempts: 2, wantStatus: 3, wantTemp: true, wantMsg: "exit status 3: " + strings.Repeat("e", maxSnippet)},
		{name: "code on stderr is hidden", script: `echo "sent $RADMFA_SMS_CODE" >&2; exit 1`,
			wantAttempts: 2, wantStatus: 1, wantTemp: true, wantMsg: "sent [redacted]"},
		{name: "EX_DATAERR is not retried", script: `echo "bad number" >&2; exit 65`,
			wantAttempts: 1, wantStatus: 65, wantMsg: "exit status 65: bad number"},
		{name: "killed at the timeout, children too", script: `sleep 30 & sleep 30; wait`, timeout: 200 * time.Millisecond,
			wantAttempts: 2, wantTemp: true, wantMsg: "killed after 200ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			count := filepath.Join(t.TempDir(), "count")
			script := writeScript(t, `echo x >> "$COUNT"; `+tc.script)
			s, err := NewCommandSender(CommandConfig{
				Argv: []string{script}, Env: []string{"COUNT=" + count, "MODEM_KEY=sk_modem_key_99"}, Timeout: tc.timeout,
			})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = WithRetry(s, 0, 0).Send(context.Background(), testMessage)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Send took %s", d)
			}
			b, _ := os.ReadFile(count)
			if got := strings.Count(string(b), "x"); got != tc.wantAttempts {
				t.Errorf("ran %d times, want %d", got, tc.wantAttempts)
			}
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SendError", err)
			}
			if se.Provider != "command" || se.Status != tc.wantStatus || se.Temporary != tc.wantTemp || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q %+v; want status %d temporary %v containing %q", err, *se, tc.wantStatus, tc.wantTemp, tc.wantMsg)
			}
			if len(se.Msg) > maxSnippet+100 {
				t.Errorf("message is %d bytes long", len(se.Msg))
			}
			assertHidden(t, []string{"sk_modem_key_99", testMessage.Code}, err.Error())
		})
	}
}

// The caller's cancellation stops the program and is reported as such, without a retry.
func TestCommandSenderContext(t *testing.T) {
	s, err := NewCommandSender(CommandConfig{Argv: []string{writeScript(t, "sleep 30")}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = WithRetry(s, 0, 0).Send(ctx, testMessage)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Send took %s", d)
	}
}

func TestCommandSenderMissingProgram(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	s, err := NewCommandSender(CommandConfig{Argv: []string{missing}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(context.Background()); err == nil {
		t.Fatal("Check found a missing program")
	}
	err = WithRetry(s, 0, 0).Send(context.Background(), testMessage)
	var se *SendError
	if !errors.As(err, &se) || se.Temporary {
		t.Fatalf("error %v, want a permanent *SendError", err)
	}
}

func TestNewCommandSender(t *testing.T) {
	tests := []struct {
		name    string
		cfg     CommandConfig
		wantErr string
	}{
		{"no argv", CommandConfig{}, "no program"},
		{"empty program", CommandConfig{Argv: []string{""}}, "no program"},
		{"env without =", CommandConfig{Argv: []string{"/bin/true"}, Env: []string{"KEY"}}, "env entry 0"},
		{"env without name", CommandConfig{Argv: []string{"/bin/true"}, Env: []string{"A=1", "=x"}}, "env entry 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewCommandSender(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewCommandSender = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
	cfg := CommandConfig{Argv: []string{"/usr/local/bin/sms"}, Env: []string{"API_KEY=sk_modem_key_99"}}
	s, err := NewCommandSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	assertHidden(t, []string{"sk_modem_key_99"}, append(printings(s), printings(cfg)...)...)
}
