package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/rs/zerolog"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"

	"github.com/radmfa/radmfa/challenge"
	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/ldapauth"
	rad "github.com/radmfa/radmfa/radius"
	"github.com/radmfa/radmfa/store"
)

// Primary checks the password: an LDAP directory or an upstream RADIUS server.
type Primary interface {
	Authenticate(ctx context.Context, username, password string) (ldapauth.Identity, error)
}

// Directory looks users up and changes expired passwords. ldapauth.Authenticator is one.
type Directory interface {
	Lookup(ctx context.Context, username string) (ldapauth.Identity, error)
	ChangePassword(ctx context.Context, username, oldPassword, newPassword string) error
}

// Store is what the engine needs of the store.
type Store interface {
	store.Store
	store.Ephemeral
	store.Portal
}

// NAS is the per-client flow configuration.
type NAS struct {
	Mode            string // challenge (default), append, auto, otp_only
	AppendSeparator string
	PasswordChange  bool
	Prompts         Prompts // empty fields fall back to the engine's prompts
	// FailOpen lets a correct password in without MFA when the store cannot be reached
	// (failmode: open), for members of FailOpenGroups when that is set.
	FailOpen       bool
	FailOpenGroups []string
	RateLimit      int // requests per second; 0: no cap
	// AppPasswords lets users sign in on this NAS with an app password instead of
	// password + code (when Options.AppPasswords allows app passwords at all).
	AppPasswords bool
	// RememberFor skips MFA for a device (RememberAttribute, Calling-Station-Id by default)
	// that passed it within this long; 0: off.
	RememberFor       time.Duration
	RememberAttribute radius.Type
}

// NAS modes.
const (
	ModeChallenge = "challenge"
	ModeAppend    = "append"
	ModeAuto      = "auto"
	ModeOTPOnly   = "otp_only"
)

// Options wire an Engine. Primary, Store and Sealer are required.
type Options struct {
	Node       string
	Primary    Primary
	Directory  Directory // nil: no lookups (otp_only mode and password change unavailable)
	Store      Store
	Sealer     *challenge.Sealer
	TOTP       factors.TOTP
	SMS        *SMS // nil: no text messages
	Normalizer ldapauth.Normalizer
	// DefaultState is the state of users without one of their own; default enforced.
	DefaultState store.State
	// AllowUnenrolled lets a user in state "enabled" who has no factor yet in with the password
	// alone (mfa.unenrolled: allow). Enforced users are never let in without a factor.
	AllowUnenrolled bool
	EnrollURL       string
	PasswordLockout store.LockoutPolicy
	FactorLockout   store.LockoutPolicy
	// SourceThreshold failed sign-ins from one Calling-Station-Id per SourceWindow, across
	// all usernames, refuse that address without asking the directory (password spraying).
	SourceThreshold int
	SourceWindow    time.Duration
	Policy          Policy
	Authorization   []AuthzRule
	NAS             map[string]NAS // by client name; missing: defaults
	Prompts         Prompts
	Messages        map[string]string // Reply-Message overrides by reason
	// Generation identifies the configuration; States sealed under another one recompute
	// their authorization from the directory.
	Generation uint32
	Observer   Observer // nil: nothing observed
	// AppPasswords is the global "allow users to create app passwords" switch.
	AppPasswords bool
	// FraudCode typed at a challenge prompt reports the sign-in as not the user's: the account
	// is blocked and FraudWebhook (if set) is called. Empty: off.
	FraudCode    string
	FraudWebhook string
	// SharedStore is set when several nodes share the store: a retransmit that reaches
	// another node (whose reply cache never saw it) is then recognised through a store
	// marker and does not count a second failure.
	SharedStore bool
	Logger      zerolog.Logger
	Now         func() time.Time
}

// Engine answers Access-Requests. It is safe for concurrent use.
type Engine struct {
	opts    Options
	log     zerolog.Logger
	now     func() time.Time
	audit   *auditWriter
	prompts compiledPrompts
	nas     map[string]nasFlow
	// bindTime is a running average of how long a refused password bind takes, in
	// nanoseconds; refusals that never reach a bind (unknown user, locked account) are padded
	// with it so timing does not tell an attacker which usernames exist.
	bindTime atomic.Int64
	// hashSlots bounds concurrent app-password hash checks.
	hashSlots chan struct{}
}

var _ rad.Handler = (*Engine)(nil)

// New returns an engine. Close it to flush the audit trail.
func New(opts Options) (*Engine, error) {
	if opts.Primary == nil || opts.Store == nil || opts.Sealer == nil {
		return nil, errors.New("engine: primary, store and sealer are required")
	}
	if opts.TOTP.Digits == 0 {
		opts.TOTP = factors.DefaultTOTP()
	}
	if opts.DefaultState == store.StateDefault {
		opts.DefaultState = store.StateEnforced
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	opts.Primary = timedPrimary{opts.Primary, opts.Observer}
	if opts.Directory != nil {
		opts.Directory = timedDirectory{opts.Directory, opts.Observer}
	}
	if opts.SMS != nil {
		sms := *opts.SMS
		// Zero fields mean the defaults; fill them so expiries computed here are right.
		if sms.Code.Length == 0 {
			sms.Code.Length = factors.DefaultSMSLength
		}
		if sms.Code.Alphabet == "" {
			sms.Code.Alphabet = factors.DefaultSMSAlphabet
		}
		if sms.Code.Lifetime == 0 {
			sms.Code.Lifetime = factors.DefaultSMSLifetime
		}
		if sms.Code.MaxTries == 0 {
			sms.Code.MaxTries = factors.DefaultSMSMaxTries
		}
		if sms.Window == 0 {
			sms.Window = 10 * time.Minute
		}
		if sms.Keyword == "" {
			sms.Keyword = "sms"
		}
		sms.Sender = timedSender{sms.Sender, opts.Observer}
		opts.SMS = &sms
	}
	prompts, err := compilePrompts(opts.Prompts, defaultPrompts())
	if err != nil {
		return nil, err
	}
	e := &Engine{
		opts:      opts,
		log:       opts.Logger,
		now:       opts.Now,
		prompts:   prompts,
		nas:       map[string]nasFlow{},
		hashSlots: make(chan struct{}, 2),
	}
	for name, n := range opts.NAS {
		p, err := compilePrompts(n.Prompts, opts.Prompts)
		if err != nil {
			return nil, fmt.Errorf("engine: NAS %s: %w", name, err)
		}
		if n.Mode == "" {
			n.Mode = ModeChallenge
		}
		nf := nasFlow{NAS: n, prompts: p}
		if n.RateLimit > 0 {
			nf.limiter = rate.NewLimiter(rate.Limit(n.RateLimit), n.RateLimit)
		}
		e.nas[name] = nf
	}
	e.audit = newAuditWriter(opts.Store, opts.Logger)
	return e, nil
}

// nasFlow is a NAS's settings with its prompts compiled.
type nasFlow struct {
	NAS
	prompts compiledPrompts
	limiter *rate.Limiter // nil: no cap
}

func (e *Engine) nasFor(name string) nasFlow {
	if n, ok := e.nas[name]; ok {
		return n
	}
	return nasFlow{NAS: NAS{Mode: ModeChallenge}, prompts: e.prompts}
}

// Close flushes pending audit rows.
func (e *Engine) Close(ctx context.Context) error { return e.audit.close(ctx) }

// request is what the flow needs from a packet, parsed once.
type request struct {
	*rad.Request
	user     string // normalised: the name used everywhere after parsing
	typed    string // as the NAS sent it
	password []byte
	state    []byte
	hasState bool
	// retransmit: another node already handled this exact request (SharedStore); it is
	// answered again but its failures are not counted again.
	retransmit bool
	packetID   string // hash of the request, when nodes share the store
	callingID  string
	nasID      string
	acct       *accountRead // the user's Account, read at most once per request
}

// accountRead caches one request's store.Account; requests are passed by value, so they share
// it through a pointer.
type accountRead struct {
	a      store.Account
	err    error
	loaded bool
}

// ServeRADIUS implements radius.Handler.
func (e *Engine) ServeRADIUS(ctx context.Context, r *rad.Request) *radius.Packet {
	start := e.now()
	if r.Packet.Code == radius.CodeAccountingRequest {
		return e.accounting(ctx, r)
	}
	req, d, ok := e.parse(r)
	if ok {
		if l := e.nasFor(r.Client.Name).limiter; l != nil && !l.Allow() {
			d, ok = reject(ReasonRateLimited, msgUnavailable), false
		}
	}
	if ok && e.opts.SharedStore {
		// A retransmit is byte-for-byte the same packet; hashing every attribute keeps an
		// attacker who reuses an authenticator with new passwords from passing as one.
		req.packetID = packetID(r)
		first, err := e.opts.Store.Once(ctx, "req:"+req.packetID, e.now(), e.now().Add(time.Minute))
		req.retransmit = err == nil && !first
	}
	if ok {
		if req.hasState {
			d = e.secondLeg(ctx, req)
		} else {
			d = e.firstLeg(ctx, req)
		}
	}
	if ok {
		d = e.spendState(ctx, req, d)
	}
	d.start = start
	if ok && !req.retransmit {
		e.countSource(ctx, req, d)
	}
	if ok && d.result == ResultAccept && d.reason == ReasonMFA {
		e.remember(ctx, req, e.nasFor(r.Client.Name))
	}
	if ok && req.packetID != "" && d.result == ResultAccept && !req.retransmit {
		// Lets a retransmit of this accepted answer on another node be accepted again.
		if _, err := e.opts.Store.Once(ctx, "acc:"+req.packetID, e.now(), e.now().Add(time.Minute)); err != nil {
			e.log.Warn().Err(err).Msg("engine: mark accepted request")
		}
	}
	e.record(ctx, req, d)
	return e.packet(r.Packet, d)
}

// parse pulls the attributes the flow needs and refuses what radmfa does not do.
func (e *Engine) parse(r *rad.Request) (request, decision, bool) {
	p := r.Packet
	req := request{Request: r, acct: &accountRead{}}
	req.callingID = rfc2865.CallingStationID_GetString(p)
	req.nasID = rfc2865.NASIdentifier_GetString(p)
	names, _ := rfc2865.UserName_Gets(p)
	if len(names) != 1 {
		return req, reject(ReasonNoUsername, msgFailed), false
	}
	req.typed = string(names[0])
	if !validUsername(req.typed) {
		d := reject(ReasonBadUsername, msgFailed)
		req.user = sanitize(req.typed)
		return req, d, false
	}
	req.user = e.opts.Normalizer.Normalize(req.typed)
	if req.user == "" {
		req.user = sanitize(req.typed)
		return req, reject(ReasonBadUsername, msgFailed), false
	}
	switch {
	case hasAttr(p, rfc2865.CHAPPassword_Type):
		return req, withDetail(reject(ReasonUnsupportedAuth, msgUnsupported), "CHAP"), false
	case hasAttr(p, rfc2869.EAPMessage_Type):
		return req, withDetail(reject(ReasonUnsupportedAuth, msgUnsupported), "EAP"), false
	case hasMSCHAP(p):
		return req, withDetail(reject(ReasonUnsupportedAuth, msgUnsupported), "MS-CHAP"), false
	}
	states, _ := rfc2865.State_Gets(p)
	if len(states) > 1 {
		return req, reject(ReasonInvalidState, msgFailed), false
	}
	if len(states) == 1 {
		req.state, req.hasState = states[0], true
	}
	var pw radius.Attribute
	n := 0
	for _, a := range p.Attributes {
		if a.Type == rfc2865.UserPassword_Type {
			pw = a.Attribute
			n++
		}
	}
	if n != 1 {
		return req, reject(ReasonNoPassword, msgFailed), false
	}
	plain, err := radius.UserPassword(pw, p.Secret, p.Authenticator[:])
	if err != nil {
		return req, withDetail(reject(ReasonNoPassword, msgFailed), "undecodable User-Password"), false
	}
	req.password = plain
	return req, decision{}, true
}

// packetID identifies a request across nodes: the NAS, the authenticator and every attribute.
func packetID(r *rad.Request) string {
	h := sha256.New()
	h.Write([]byte(r.Client.Name))
	h.Write([]byte{0, byte(r.Packet.Code), r.Packet.Identifier})
	h.Write(r.Packet.Authenticator[:])
	for _, a := range r.Packet.Attributes {
		h.Write([]byte{byte(a.Type), byte(len(a.Attribute))})
		h.Write(a.Attribute)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// acceptedBefore reports whether another node accepted this very packet (a retransmit of an
// Access-Accept that got lost), so it can be accepted again instead of refused as a replay.
func (e *Engine) acceptedBefore(ctx context.Context, r request) bool {
	if !r.retransmit || r.packetID == "" {
		return false
	}
	n, err := e.opts.Store.Count(ctx, "acc:"+r.packetID, e.now())
	return err == nil && n > 0
}

// validUsername refuses names no directory holds: empty, over-long, not UTF-8, or with control
// characters (NUL truncation tricks, log injection).
func validUsername(u string) bool {
	if u == "" || len(u) > 253 || !utf8.ValidString(u) {
		return false
	}
	for _, r := range u {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// sanitize makes a refused username safe to log.
func sanitize(u string) string {
	if len(u) > 64 {
		u = u[:64]
	}
	return fmt.Sprintf("%q", u)
}

func withDetail(d decision, detail string) decision { d.detail = detail; return d }

func hasAttr(p *radius.Packet, t radius.Type) bool {
	_, ok := p.Attributes.Lookup(t)
	return ok
}

// msCHAPTypes are the Microsoft (vendor 311, RFC 2548) attributes that carry MS-CHAP
// credentials: MS-CHAP-Response, -CPW-1, -CPW-2, -LM-Enc-PW, -NT-Enc-PW, -Challenge,
// MS-CHAP2-Response and MS-CHAP2-CPW. Other Microsoft attributes (MS-RAS-Vendor,
// MS-RAS-Version…) come with PAP requests from RRAS and NPS and say nothing of the method.
var msCHAPTypes = map[byte]bool{1: true, 3: true, 4: true, 5: true, 6: true, 11: true, 25: true, 27: true}

// hasMSCHAP reports whether the request carries MS-CHAP credentials.
func hasMSCHAP(p *radius.Packet) bool {
	for _, a := range p.Attributes {
		if a.Type != rfc2865.VendorSpecific_Type {
			continue
		}
		id, v, err := radius.VendorSpecific(a.Attribute)
		if err != nil || id != 311 {
			continue
		}
		// The vendor data holds Microsoft's own type-length-value attributes.
		for len(v) >= 2 && int(v[1]) >= 2 && int(v[1]) <= len(v) {
			if msCHAPTypes[v[0]] {
				return true
			}
			v = v[v[1]:]
		}
	}
	return false
}

// packet turns a decision into the response.
func (e *Engine) packet(req *radius.Packet, d decision) *radius.Packet {
	var resp *radius.Packet
	switch d.result {
	case ResultAccept:
		resp = req.Response(radius.CodeAccessAccept)
		for _, a := range d.attrs {
			resp.Add(a.Type, a.Value)
		}
	case ResultChallenge:
		resp = req.Response(radius.CodeAccessChallenge)
		_ = rfc2865.State_Set(resp, d.state)
	default:
		resp = req.Response(radius.CodeAccessReject)
	}
	msg := d.message
	if m, ok := e.opts.Messages[messageKey(d.reason)]; ok && d.result == ResultReject {
		msg = m
	}
	if msg != "" {
		_ = rfc2865.ReplyMessage_SetString(resp, msg)
	}
	return resp
}

// messageKey is the ldap.messages key whose text a reject with reason shows. Every refusal
// that must not tell an unknown user from a wrong password shares bad_password's text.
func messageKey(reason string) string {
	switch reason {
	case ReasonUnknownUser, ReasonAmbiguousUser, ReasonEmptyPassword, ReasonLockedOut, ReasonSourceLimited:
		return ReasonBadPassword
	case ReasonAccountLocked:
		return "account_locked"
	}
	return reason
}
