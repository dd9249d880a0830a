package store

import (
	"errors"
	"fmt"
	"hash/fnv"
	"unicode/utf8"
)

// maxAppPasswordName bounds the name a user gives an app password, in characters.
const maxAppPasswordName = 64

var (
	_ Portal = (*SQLite)(nil)
	_ Portal = (*Postgres)(nil)
)

// checkAppPassword validates AddAppPassword's input; the store keeps only hashes, so anything
// that does not look like one is refused.
func checkAppPassword(username, name, hash string, max int) error {
	switch {
	case username == "":
		return errors.New("store: add app password: empty username")
	case name == "" || utf8.RuneCountInString(name) > maxAppPasswordName || !utf8.ValidString(name):
		return fmt.Errorf("store: add app password %q: the name must be 1 to %d characters", username, maxAppPasswordName)
	case len(hash) < 10 || hash[0] != '$':
		return fmt.Errorf("store: add app password %q: not a PHC hash string", username)
	case max <= 0:
		return fmt.Errorf("store: add app password %q: limit %d", username, max)
	}
	return nil
}

// appPasswordLock is the Postgres advisory lock key that serializes one user's adds, so the
// count and the insert cannot interleave between nodes. Two users sharing a key only wait
// for each other.
func appPasswordLock(username string) int64 {
	h := fnv.New64a()
	h.Write([]byte("radmfa app_passwords\x00"))
	h.Write([]byte(username))
	return int64(h.Sum64())
}

const appPasswordColumns = `id, username, name, hash, created_at, last_used_at`

func scanAppPassword(sc scanner) (AppPassword, error) {
	var a AppPassword
	var created, used int64
	err := sc.Scan(&a.ID, &a.Username, &a.Name, &a.Hash, &created, &used)
	a.CreatedAt, a.LastUsedAt = fromNanos(created), fromNanos(used)
	return a, err
}
