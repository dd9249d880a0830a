package engine

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"layeh.com/radius/rfc2865"

	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/store"
)

// Account features from the rollout documents: app passwords for clients that cannot answer a
// challenge, remembered devices, and fraud reports that block the account.

// appPassword signs a user in with one of their app passwords (no challenge), where the NAS
// allows it. It reports false when the field is not one of the user's app passwords, and the
// normal flow goes on.
func (e *Engine) appPassword(ctx context.Context, r request, nas nasFlow) (decision, bool) {
	if !e.opts.AppPasswords || !nas.AppPasswords {
		return decision{}, false
	}
	typed := string(r.password)
	if _, ok := factors.NormalizeAppPassword(typed); !ok {
		return decision{}, false // not its shape: no hashing at all
	}
	list, err := e.opts.Store.ListAppPasswords(ctx, r.user)
	if err != nil || len(list) == 0 {
		return decision{}, false
	}
	// argon2id is deliberately costly; a bounded number run at once keeps a flood of
	// app-password-shaped guesses from starving everything else.
	select {
	case e.hashSlots <- struct{}{}:
		defer func() { <-e.hashSlots }()
	case <-ctx.Done():
		return decision{}, false
	}
	for _, ap := range list {
		if !factors.CheckAppPassword(ap.Hash, typed) {
			continue
		}
		base := decision{leg: 1, factor: "app_password", detail: "app password " + ap.Name}
		// The account must still exist in the directory.
		if e.opts.Directory != nil {
			id, err := e.opts.Directory.Lookup(ctx, r.user)
			if err != nil {
				d := passwordFailure(err)
				d.leg, d.err, d.factor = 1, err, "app_password"
				return d, true
			}
			ruleIdx, action := e.opts.Policy.decide(e.subject(r, id))
			base.rule, base.groups = e.ruleName(ruleIdx), id.Groups
			if action == ActionDeny {
				return withErr(base, ResultReject, ReasonPolicyDeny, msgFailed, nil), true
			}
			if err := e.opts.Store.TouchAppPassword(ctx, ap.ID, e.now()); err != nil {
				e.log.Warn().Err(err).Str("user", r.user).Msg("engine: touch app password")
			}
			g := grant{generation: e.opts.Generation, rule: ruleIdx, authz: authzFor(e.opts.Authorization, r.Client.Name, id.Groups)}
			return e.accept(base, ReasonAppPassword, g), true
		}
		return e.accept(base, ReasonAppPassword, grant{rule: -1}), true
	}
	return decision{}, false
}

// deviceID returns the remembered-device ID of the request on this NAS, or "".
func (e *Engine) deviceID(r request, nas nasFlow) string {
	if nas.RememberFor <= 0 {
		return ""
	}
	v := r.callingID
	if nas.RememberAttribute != 0 && nas.RememberAttribute != rfc2865.CallingStationID_Type {
		v = ""
		if a, ok := r.Packet.Attributes.Lookup(nas.RememberAttribute); ok {
			v = string(a)
		}
	}
	if v == "" {
		return ""
	}
	return store.DeviceID(r.Client.Name + "\x00" + v)
}

// remembered reports whether the request comes from a device that passed MFA recently.
func (e *Engine) remembered(ctx context.Context, r request, nas nasFlow) bool {
	id := e.deviceID(r, nas)
	if id == "" {
		return false
	}
	ok, err := e.opts.Store.DeviceRemembered(ctx, r.user, id, e.now())
	return err == nil && ok
}

// remember records the device after a successful second factor.
func (e *Engine) remember(ctx context.Context, r request, nas nasFlow) {
	id := e.deviceID(r, nas)
	if id == "" {
		return
	}
	now := e.now()
	label := maskDevice(r.callingID)
	err := e.opts.Store.RememberDevice(ctx, store.Device{Username: r.user, ID: id, Label: label, NAS: r.Client.Name,
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(nas.RememberFor)})
	if err != nil {
		e.log.Warn().Err(err).Str("user", r.user).Msg("engine: remember device")
	}
}

// blocked refuses a user blocked by a fraud report or an administrator.
func (e *Engine) blocked(ctx context.Context, r request, leg int) (decision, bool) {
	a, err := e.account(ctx, r)
	if err != nil {
		return decision{result: ResultReject, reason: ReasonStoreDown, message: msgUnavailable, err: err, leg: leg}, true
	}
	if a.Blocked {
		return decision{result: ResultReject, reason: ReasonBlocked, leg: leg, detail: a.BlockReason,
			message: "Your account is blocked; contact your help desk"}, true
	}
	return decision{}, false
}

// isFraudCode reports whether the answer is the configured fraud code.
func (e *Engine) isFraudCode(answer string) bool {
	fc := e.opts.FraudCode
	return fc != "" && len(answer) == len(fc) && subtle.ConstantTimeCompare([]byte(answer), []byte(fc)) == 1
}

// reportFraud blocks the user and raises the alert: the user typed the fraud code at a prompt
// they did not expect, so someone else has their password.
func (e *Engine) reportFraud(ctx context.Context, r request, base decision) decision {
	now := e.now()
	if err := e.opts.Store.SetBlocked(ctx, r.user, true, "fraud code entered at the VPN prompt", now); err != nil {
		e.log.Error().Err(err).Str("user", r.user).Msg("engine: block after fraud report")
	}
	e.log.Warn().Str("user", r.user).Str("nas", r.Client.Name).Str("client_ip", r.Remote.Addr().String()).
		Str("calling_station_id", r.callingID).Msg("fraud alert: user reported a sign-in that was not theirs")
	if e.opts.FraudWebhook != "" {
		go e.fraudWebhook(r.user, r.Client.Name, r.callingID, now)
	}
	d := withErr(base, ResultReject, ReasonFraud, "Thank you. Your account is blocked; your help desk has been told", nil)
	return d
}

// fraudWebhook posts the alert as JSON; failures are logged, never block a sign-in.
func (e *Engine) fraudWebhook(user, nas, callingID string, at time.Time) {
	body, _ := json.Marshal(map[string]string{
		"event": "fraud_reported", "user": user, "nas": nas, "calling_station_id": callingID,
		"node": e.opts.Node, "time": at.UTC().Format(time.RFC3339),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.opts.FraudWebhook, bytes.NewReader(body))
	if err != nil {
		e.log.Error().Err(err).Msg("engine: fraud webhook")
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.log.Error().Err(err).Msg("engine: fraud webhook")
		return
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		e.log.Error().Int("status", resp.StatusCode).Msg("engine: fraud webhook refused the alert")
	}
}

// maskDevice shows enough of a device's address for its owner to recognise it, not the
// address itself (the store keeps only its hash as the ID): 203.0.113.7 → 203.0.113.*.
func maskDevice(v string) string {
	if i := strings.LastIndexAny(v, ".:-"); i > 0 && i < len(v)-1 {
		v = v[:i+1] + "*"
	}
	if len(v) > 64 {
		v = v[:64]
	}
	return v
}
