package ldapauth

import (
	"strings"

	"golang.org/x/text/unicode/norm"
)

// Normalizer turns what a user typed into the one name radmfa knows them by, before the
// directory search: "EXAMPLE\alice", "alice@example.test" and "Alice" become "alice", so the
// store key, lockouts, replay protection, logs and audit all agree on one user.
type Normalizer struct {
	Lowercase   bool
	StripDomain bool              // DOMAIN\user → user
	StripRealm  bool              // user@realm → user
	Realms      []string          // strip only these realms (case-insensitive); empty: any
	RealmMap    map[string]string // user@old → user@new (applied instead of stripping)
}

// Normalize returns the normalised username, or "" when nothing is left (e.g. "@realm").
//
// Compatibility forms are always folded (Unicode NFKC): directories match "ａlice" (fullwidth),
// "𝐚lice" (mathematical bold) or "ⓐlice" to alice's entry, and a store key that kept them apart
// from "alice" would give that entry a second, unenrolled MFA record and fresh lockout counters.
func (n Normalizer) Normalize(u string) string {
	u = strings.TrimSpace(norm.NFKC.String(u))
	if n.StripDomain {
		if i := strings.LastIndexByte(u, '\\'); i >= 0 {
			u = u[i+1:]
		}
	}
	if i := strings.IndexByte(u, '@'); i >= 0 {
		user, realm := u[:i], u[i+1:]
		to, mapped := lookupFold(n.RealmMap, realm)
		switch {
		case mapped:
			u = user + "@" + to
		case isMapTarget(n.RealmMap, realm):
			// Already mapped: kept, so normalising twice changes nothing.
		case n.StripRealm && (len(n.Realms) == 0 || containsFold(n.Realms, realm)):
			u = user
		}
	}
	// Again: stripping "DOMAIN\ alice" or "alice @realm" can leave spaces at the ends.
	u = strings.TrimSpace(u)
	if n.Lowercase {
		u = norm.NFKC.String(strings.ToLower(u))
	}
	return u
}

func lookupFold(m map[string]string, k string) (string, bool) {
	for from, to := range m {
		if strings.EqualFold(from, k) {
			return to, true
		}
	}
	return "", false
}

func isMapTarget(m map[string]string, realm string) bool {
	for _, to := range m {
		if strings.EqualFold(to, realm) {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
