package engine

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/radmfa/radmfa/radius/dict"
)

// Action is what a policy rule says about a request.
type Action string

// Policy actions.
const (
	ActionRequireMFA   Action = "require_mfa"
	ActionPasswordOnly Action = "password_only"
	ActionDeny         Action = "deny"
)

// Rule is one policy rule: every non-empty field must match, any value within a field does.
type Rule struct {
	Name           string
	NAS            []string
	NASIdentifier  []string
	Source         []netip.Prefix
	Groups         []string
	Users          []string
	Action         Action
	SessionTimeout time.Duration
}

// Policy decides who must do MFA: the first matching rule wins, else Default.
type Policy struct {
	Default Action
	Rules   []Rule
}

// subject is what policy rules look at.
type subject struct {
	nas, nasID string
	source     netip.Addr
	user       string
	groups     []string
}

// decide returns the index of the matching rule (-1 for the default) and its action.
func (p Policy) decide(s subject) (int, Action) {
	for i, r := range p.Rules {
		if r.matches(s) {
			return i, r.Action
		}
	}
	if p.Default == "" {
		return -1, ActionRequireMFA
	}
	return -1, p.Default
}

func (r Rule) matches(s subject) bool {
	if len(r.NAS) > 0 && !slices.Contains(r.NAS, s.nas) {
		return false
	}
	if len(r.NASIdentifier) > 0 && !slices.Contains(r.NASIdentifier, s.nasID) {
		return false
	}
	if len(r.Source) > 0 && !slices.ContainsFunc(r.Source, func(p netip.Prefix) bool { return p.Contains(s.source) }) {
		return false
	}
	if len(r.Users) > 0 && !slices.ContainsFunc(r.Users, func(u string) bool { return strings.EqualFold(u, s.user) }) {
		return false
	}
	if len(r.Groups) > 0 && !anyGroup(r.Groups, s.groups) {
		return false
	}
	return true
}

func anyGroup(want, have []string) bool {
	for _, w := range want {
		for _, h := range have {
			if strings.EqualFold(w, h) {
				return true
			}
		}
	}
	return false
}

// AuthzRule adds reply attributes on the final Accept for members of Group (on NAS, if set).
type AuthzRule struct {
	Group string
	NAS   []string
	Attrs []dict.AVP
}

// authzFor returns the indices of the rules that apply, in order.
func authzFor(rules []AuthzRule, nas string, groups []string) []byte {
	var idx []byte
	for i, r := range rules {
		if i > 254 {
			break // config allows at most 255 entries; indices travel as one byte
		}
		if len(r.NAS) > 0 && !slices.Contains(r.NAS, nas) {
			continue
		}
		if anyGroup([]string{r.Group}, groups) {
			idx = append(idx, byte(i))
		}
	}
	return idx
}
