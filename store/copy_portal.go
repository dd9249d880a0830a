package store

import (
	"context"
	"fmt"
)

// copyPortal moves the users' app passwords (hashes, names), remembered devices and blocks,
// then counts them again in the destination. App passwords get new IDs and keep no last-use
// time; only users the source exports (those with an MFA record, counters or a lockout) and
// blocked users are carried.
func copyPortal(ctx context.Context, from, to Store, users []string, rep *CopyReport) error {
	src, ok1 := from.(Portal)
	dst, ok2 := to.(Portal)
	if !ok1 || !ok2 {
		return nil // a backend without portal tables has nothing to carry
	}
	blocked, err := src.ListBlocked(ctx)
	if err != nil {
		return fmt.Errorf("store: copy blocks: %w", err)
	}
	for _, b := range blocked {
		if err := dst.SetBlocked(ctx, b.Username, true, b.Reason, b.Since); err != nil {
			return fmt.Errorf("store: copy block of %q: %w", b.Username, err)
		}
		rep.Blocks++
	}
	for _, u := range users {
		aps, err := src.ListAppPasswords(ctx, u)
		if err != nil {
			return fmt.Errorf("store: copy app passwords of %q: %w", u, err)
		}
		for _, ap := range aps {
			if _, err := dst.AddAppPassword(ctx, u, ap.Name, ap.Hash, MaxAppPasswords); err != nil {
				return fmt.Errorf("store: copy app password of %q: %w", u, err)
			}
			rep.AppPasswords++
		}
		devs, err := src.ListDevices(ctx, u)
		if err != nil {
			return fmt.Errorf("store: copy devices of %q: %w", u, err)
		}
		for _, d := range devs {
			if err := dst.RememberDevice(ctx, d); err != nil {
				return fmt.Errorf("store: copy device of %q: %w", u, err)
			}
			rep.Devices++
		}
	}
	// Read back.
	var aps, devs int
	for _, u := range users {
		a, err := dst.ListAppPasswords(ctx, u)
		if err != nil {
			return err
		}
		d, err := dst.ListDevices(ctx, u)
		if err != nil {
			return err
		}
		aps, devs = aps+len(a), devs+len(d)
	}
	b, err := dst.ListBlocked(ctx)
	if err != nil {
		return err
	}
	if aps != rep.AppPasswords || devs != rep.Devices || len(b) != rep.Blocks {
		return fmt.Errorf("store: copy verification: destination has %d app passwords, %d devices, %d blocks; copied %d, %d, %d",
			aps, devs, len(b), rep.AppPasswords, rep.Devices, rep.Blocks)
	}
	return nil
}
