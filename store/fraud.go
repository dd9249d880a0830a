package store

import (
	"errors"
	"fmt"
	"strings"
)

// maxBlockReason bounds a block's stored reason, in bytes.
const maxBlockReason = 500

func checkBlock(username, reason string) (string, error) {
	if username == "" {
		return "", errors.New("store: set blocked: empty username")
	}
	if len(reason) > maxBlockReason {
		reason = strings.ToValidUTF8(reason[:maxBlockReason], "")
	}
	return reason, nil
}

func checkMarkFraud(auditID int64, username string) error {
	if username == "" || auditID <= 0 {
		return fmt.Errorf("store: mark fraud %d %q: %w", auditID, username, ErrNotFound)
	}
	return nil
}
