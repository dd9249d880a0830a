package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// DeviceID returns the ID a remembered device is stored under: the hex SHA-256 of the device
// attribute's value (the Calling-Station-Id), so the store never holds the address itself.
func DeviceID(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

// validDeviceID reports whether id has DeviceID's form: 64 lower-case hex digits. Anything
// else is refused, so a raw address cannot be stored by mistake.
func validDeviceID(id string) bool {
	if len(id) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// checkDevice validates RememberDevice's input and fills CreatedAt and LastSeen from now.
func checkDevice(d Device, now time.Time) (Device, error) {
	switch {
	case d.Username == "":
		return d, errors.New("store: remember device: empty username")
	case !validDeviceID(d.ID):
		return d, fmt.Errorf("store: remember device %q: the ID must be a DeviceID (hex SHA-256)", d.Username)
	case d.ExpiresAt.IsZero():
		return d, fmt.Errorf("store: remember device %q: no expiry", d.Username)
	}
	if d.LastSeen.IsZero() {
		d.LastSeen = now
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = d.LastSeen
	}
	return d, nil
}

const deviceColumns = `username, id, label, nas, created_at, last_seen, expires_at`

func scanDevice(sc scanner) (Device, error) {
	var d Device
	var created, seen, expires int64
	err := sc.Scan(&d.Username, &d.ID, &d.Label, &d.NAS, &created, &seen, &expires)
	d.CreatedAt, d.LastSeen, d.ExpiresAt = fromNanos(created), fromNanos(seen), fromNanos(expires)
	return d, err
}
