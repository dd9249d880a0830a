// Package benchuser defines the benchmark's synthetic users, so that the data generator, the
// enrolment tool and the load generator agree on names, passwords and TOTP secrets without
// sharing any file.
package benchuser

import (
	"crypto/sha1"
	"encoding/base32"
	"fmt"
)

// Suffix is the directory suffix scripts/slapd.sh serves.
const Suffix = "dc=example,dc=test"

// PeopleDN is where the users live.
const PeopleDN = "ou=people," + Suffix

// Name returns the uid of user i (1-based): user00001 … user99999.
func Name(i int) string { return fmt.Sprintf("user%05d", i) }

// Password returns the user's directory password.
func Password(uid string) string { return "pw-" + uid }

// DN returns the user's entry DN.
func DN(uid string) string { return "uid=" + uid + "," + PeopleDN }

// Secret returns the user's TOTP secret: the 20 bytes of SHA-1("bench-"+uid). Deterministic,
// so the load generator recomputes it instead of reading it from the server.
func Secret(uid string) []byte {
	h := sha1.Sum([]byte("bench-" + uid))
	return h[:]
}

// SecretBase32 is Secret in the unpadded base32 form authenticator apps and rlm_totp use.
func SecretBase32(uid string) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(Secret(uid))
}
