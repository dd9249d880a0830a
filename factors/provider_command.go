package factors

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// CommandConfig configures a program that sends the message itself (a modem script, a CLI of
// some gateway).
type CommandConfig struct {
	Argv []string // program and arguments, run directly, without a shell
	// Env is extra KEY=VALUE entries for the program, such as its API key. The server's own
	// environment is not passed on (it may hold radmfa's secrets); only PATH is.
	Env     []string
	Timeout time.Duration // the program is killed after this, DefaultTimeout by default
}

func (c CommandConfig) String() string {
	return fmt.Sprintf("{Argv:%q Env:%s Timeout:%s}", c.Argv, envForDisplay(c.Env), c.Timeout)
}

// Format hides Env values from every fmt verb.
func (c CommandConfig) Format(f fmt.State, verb rune) {
	formatSafe(f, verb, c.String(), "factors.CommandConfig"+c.String())
}

// CommandSender runs a program per message. The program gets the message on stdin and
// RADMFA_SMS_TO, RADMFA_SMS_USER and RADMFA_SMS_CODE in its environment. Exit status 0 means
// sent. Exit status 65 (EX_DATAERR in sysexits.h) means the number or message is bad and is
// not retried; any other failure is.
type CommandSender struct {
	cfg  CommandConfig
	path string // PATH handed to the program
}

var _ Sender = (*CommandSender)(nil)

// exitDataErr is EX_DATAERR: the input was bad, trying again will not help.
const exitDataErr = 65

// commandWaitDelay bounds how long Send waits for the program's output pipes after killing it.
const commandWaitDelay = time.Second

// NewCommandSender checks cfg and returns the provider.
func NewCommandSender(cfg CommandConfig) (*CommandSender, error) {
	if len(cfg.Argv) == 0 || cfg.Argv[0] == "" {
		return nil, errors.New("factors: command sms: no program configured")
	}
	for i, kv := range cfg.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return nil, fmt.Errorf("factors: command sms: env entry %d is not KEY=VALUE", i)
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	cfg.Argv = append([]string(nil), cfg.Argv...)
	cfg.Env = append([]string(nil), cfg.Env...)
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	return &CommandSender{cfg: cfg, path: path}, nil
}

func (c *CommandSender) Name() string { return "command" }

// Check verifies that the program exists and is executable; it does not run it.
func (c *CommandSender) Check(context.Context) error {
	if _, err := exec.LookPath(c.cfg.Argv[0]); err != nil {
		return &SendError{Provider: c.Name(), Msg: err.Error(), Err: err}
	}
	return nil
}

func (c *CommandSender) Send(ctx context.Context, m Message) error {
	if err := checkMessage(c.Name(), m); err != nil {
		return err
	}
	run, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(run, c.cfg.Argv[0], c.cfg.Argv[1:]...)
	cmd.Env = append(append([]string{"PATH=" + c.path}, c.cfg.Env...),
		"RADMFA_SMS_TO="+m.To, "RADMFA_SMS_USER="+m.User, "RADMFA_SMS_CODE="+m.Code)
	cmd.Stdin = strings.NewReader(m.Body)
	var stderr headBuffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = commandWaitDelay
	killTree(cmd)

	err := cmd.Run()
	if err == nil {
		return nil
	}
	secrets := append(envValues(c.cfg.Env), m.Code)
	se := &SendError{Provider: c.Name(), Err: err}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil: // the caller gave up
		se.Msg, se.Err = "cancelled: "+ctx.Err().Error(), ctx.Err()
	case run.Err() != nil:
		se.Msg, se.Temporary, se.Err = fmt.Sprintf("killed after %s", c.cfg.Timeout), true, run.Err()
	case errors.As(err, &exit):
		se.Status = exit.ExitCode()
		se.Temporary = se.Status != exitDataErr
		se.Msg = exit.String()
	default: // it did not start: a configuration problem, not worth a retry
		se.Msg = err.Error()
	}
	if out := snippet(stderr.Bytes(), secrets...); out != "" {
		se.Msg += ": " + out
	}
	se.Msg = redact(se.Msg, secrets...)
	return se
}

func (c *CommandSender) String() string {
	return fmt.Sprintf("command(%q env %s)", c.cfg.Argv, envForDisplay(c.cfg.Env))
}

// Format hides Env values from every fmt verb.
func (c *CommandSender) Format(f fmt.State, verb rune) {
	formatSafe(f, verb, c.String(), "&factors.CommandSender{"+c.String()+"}")
}

// headBuffer keeps the first maxSnippet bytes written and discards the rest, so a chatty
// program can neither block on a full pipe nor grow our memory.
type headBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (h *headBuffer) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if room := maxSnippet - len(h.buf); room > 0 {
		h.buf = append(h.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (h *headBuffer) Bytes() []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.buf
}

// envValues returns the values of KEY=VALUE entries: they may be secrets. Values shorter than
// four bytes ("1", "yes") are flags, not keys, and removing them would garble the message.
func envValues(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if _, v, _ := strings.Cut(kv, "="); len(v) >= 4 {
			out = append(out, v)
		}
	}
	return out
}

// envForDisplay shows the names of the environment entries but not their values.
func envForDisplay(env []string) string {
	names := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		names = append(names, k+"="+redacted)
	}
	return "[" + strings.Join(names, " ") + "]"
}
