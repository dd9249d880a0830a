package store

import (
	"context"
	"fmt"
)

// StepSpender spends a TOTP step on behalf of one request. Both backends implement it.
type StepSpender interface {
	// SpendTOTPStep is UseTOTPStep that also records request (an identifier of the RADIUS
	// packet, never empty) with the step, in the same statement. It returns true when the
	// step was fresh, and also when the stored step is this step and was spent by this same
	// request: a retransmit whose first answer was lost with the node that sent it.
	SpendTOTPStep(ctx context.Context, username string, step int64, drift int, request string) (bool, error)
}

var (
	_ StepSpender = (*SQLite)(nil)
	_ StepSpender = (*Postgres)(nil)
)

// SpendTOTPStep implements StepSpender.
func (s *SQLite) SpendTOTPStep(ctx context.Context, username string, step int64, drift int, request string) (bool, error) {
	if request == "" {
		return s.UseTOTPStep(ctx, username, step, drift)
	}
	res, err := s.w.ExecContext(ctx, `
		UPDATE users SET totp_last_step = ?, totp_drift = ?, totp_last_request = ?
		WHERE username = ? AND (totp_last_step < ? OR (totp_last_step = ? AND totp_last_request = ?))`,
		step, drift, request, username, step, step, request)
	if err != nil {
		return false, fmt.Errorf("store: spend totp step %q: %w", username, unavailable(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: spend totp step %q: %w", username, unavailable(err))
	}
	return n == 1, nil
}

// SpendTOTPStep implements StepSpender.
func (p *Postgres) SpendTOTPStep(ctx context.Context, username string, step int64, drift int, request string) (bool, error) {
	if request == "" {
		return p.UseTOTPStep(ctx, username, step, drift)
	}
	ctx, cancel := callCtx(ctx)
	defer cancel()
	tag, err := p.pool.Exec(ctx, `
		UPDATE users SET totp_last_step = $1, totp_drift = $2, totp_last_request = $3
		WHERE username = $4 AND (totp_last_step < $1 OR (totp_last_step = $1 AND totp_last_request = $3))`,
		step, drift, request, username)
	if err != nil {
		return false, fmt.Errorf("store: spend totp step %q: %w", username, unavailable(err))
	}
	return tag.RowsAffected() == 1, nil
}
