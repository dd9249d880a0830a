package factors

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultAttempts is one try and one retry: enough to ride out a dropped connection or a
// provider hiccup, few enough that a user waiting at a VPN prompt does not time out first.
const DefaultAttempts = 2

// retrySender tries again after failures that may be temporary.
type retrySender struct {
	s        Sender
	attempts int
	backoff  time.Duration
}

var _ Sender = (*retrySender)(nil)

// WithRetry wraps s so a failed Send is tried again. attempts counts every try, the first
// included; 0 or less means DefaultAttempts (exactly one retry). backoff is the wait before
// the first retry and doubles after that; 0 retries at once.
//
// It does not retry when ctx is done, nor on a *SendError that is not Temporary (the provider
// rejected the request itself, so it would reject it again). Other errors are retried.
func WithRetry(s Sender, attempts int, backoff time.Duration) Sender {
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	return &retrySender{s: s, attempts: attempts, backoff: backoff}
}

func (r *retrySender) Name() string { return r.s.Name() }

// Check is not retried: it runs at start-up or in health checks, where the caller decides.
func (r *retrySender) Check(ctx context.Context) error { return r.s.Check(ctx) }

func (r *retrySender) Send(ctx context.Context, m Message) error {
	wait := r.backoff
	var err error
	for try := 1; ; try++ {
		if err = r.s.Send(ctx, m); err == nil {
			return nil
		}
		if try >= r.attempts || !retryable(ctx, err) {
			break
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return err
			case <-t.C:
			}
			wait *= 2
		}
	}
	if r.attempts > 1 && retryable(ctx, err) {
		return fmt.Errorf("%w (after %d attempts)", err, r.attempts)
	}
	return err
}

func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return false
	}
	var se *SendError
	if errors.As(err, &se) {
		return se.Temporary
	}
	return true
}

func (r *retrySender) String() string { return fmt.Sprintf("%v (%d attempts)", r.s, r.attempts) }

// Format keeps the wrapped sender's redaction for every verb.
func (r *retrySender) Format(f fmt.State, verb rune) {
	formatSafe(f, verb, r.String(), fmt.Sprintf("factors.WithRetry(%#v, %d, %s)", r.s, r.attempts, r.backoff))
}
