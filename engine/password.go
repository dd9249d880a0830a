package engine

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"

	"github.com/radmfa/radmfa/challenge"
	"github.com/radmfa/radmfa/store"
)

// askNewPassword starts an in-band password change for a user whose directory password has
// expired or must be changed: the old password travels sealed in the State (AES-GCM, expiring
// with the challenge), never in the store or a log.
func (e *Engine) askNewPassword(ctx context.Context, r request, nas nasFlow, old string, cause error) decision {
	base := decision{leg: 1, factor: "password", err: cause}
	g := grant{generation: e.opts.Generation, rule: -1, secret: []byte(old)}
	d := e.sealChallenge(r, challenge.PhaseNewPassword, factorPassword, 0, g,
		render(nas.prompts.newPassword, e.promptData(g)), base, "password")
	if d.result == ResultChallenge {
		d.reason = ReasonPasswordChangeAsk
	}
	return d
}

// passwordChangeLeg takes the new password, then its confirmation, then changes it and goes
// on to the second factor as if the user had signed in with the new password.
func (e *Engine) passwordChangeLeg(ctx context.Context, r request, nas nasFlow, claims challenge.Claims, g grant) decision {
	base := decision{leg: 2, factor: "password"}
	answer := string(r.password)
	switch claims.Phase {
	case challenge.PhaseNewPassword:
		if answer == "" {
			return withErr(base, ResultReject, ReasonEmptyPassword, msgFailed, nil)
		}
		sum := sha256.Sum256([]byte(answer))
		g.confirm = sum[:16]
		d := e.sealChallenge(r, challenge.PhaseConfirm, factorPassword, 0, g,
			render(nas.prompts.confirm, e.promptData(g)), base, "password")
		if d.result == ResultChallenge {
			d.reason = ReasonPasswordChangeAsk
		}
		return d
	case challenge.PhaseConfirm:
		sum := sha256.Sum256([]byte(answer))
		if len(g.confirm) != 16 || subtle.ConstantTimeCompare(sum[:16], g.confirm) != 1 {
			return withErr(base, ResultReject, ReasonPasswordMismatch, "The passwords did not match; sign in again", nil)
		}
		if err := e.opts.Directory.ChangePassword(ctx, r.user, string(g.secret), answer); err != nil {
			return withErr(base, ResultReject, ReasonPasswordChangeFail,
				"The new password was not accepted (too short, too simple or used before?)", err)
		}
		e.log.Info().Str("user", r.user).Str("nas", r.Client.Name).Msg("engine: password changed in-band")
		e.audit.add(store.AuditEvent{Time: e.now(), Node: e.opts.Node, Kind: "auth", Username: r.user,
			NAS: r.Client.Name, ClientIP: r.Remote.Addr().String(), Factor: "password",
			Result: "ok", Reason: ReasonPasswordChanged})
		id, err := e.opts.Primary.Authenticate(ctx, r.user, answer)
		if err != nil {
			return e.passwordFailed(ctx, r, err)
		}
		return e.afterPassword(ctx, r, nas, id, "", false)
	}
	return withErr(base, ResultReject, ReasonInvalidState, msgFailed, nil)
}
