package store

import (
	"context"
	"fmt"
	"time"
)

// RememberDevice inserts the device or refreshes its label, NAS, last seen time and expiry.
func (p *Postgres) RememberDevice(ctx context.Context, d Device) error {
	d, err := checkDevice(d, p.now())
	if err != nil {
		return err
	}
	ctx, cancel := callCtx(ctx)
	defer cancel()
	_, err = p.pool.Exec(ctx, `
		INSERT INTO devices (`+deviceColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (username, id) DO UPDATE SET label = excluded.label, nas = excluded.nas,
			last_seen = excluded.last_seen, expires_at = excluded.expires_at`,
		d.Username, d.ID, d.Label, d.NAS, toNanos(d.CreatedAt), toNanos(d.LastSeen), toNanos(d.ExpiresAt))
	if err != nil {
		return fmt.Errorf("store: remember device %q: %w", d.Username, unavailable(err))
	}
	return nil
}

// DeviceRemembered reports whether the device is remembered and its expiry is after now.
func (p *Postgres) DeviceRemembered(ctx context.Context, username, id string, now time.Time) (bool, error) {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	var n int
	err := p.pool.QueryRow(ctx, `SELECT COUNT(*) FROM devices WHERE username = $1 AND id = $2 AND expires_at > $3`,
		username, id, toNanos(now)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: device remembered %q: %w", username, unavailable(err))
	}
	return n > 0, nil
}

// ListDevices returns the user's devices, most recently seen first.
func (p *Postgres) ListDevices(ctx context.Context, username string) ([]Device, error) {
	ctx, cancel := callCtx(ctx)
	defer cancel()
	rows, err := p.pool.Query(ctx, `SELECT `+deviceColumns+` FROM devices
		WHERE username = $1 ORDER BY last_seen DESC, id`, username)
	if err != nil {
		return nil, fmt.Errorf("store: list devices %q: %w", username, unavailable(err))
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list devices %q: %w", username, unavailable(err))
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list devices %q: %w", username, unavailable(err))
	}
	return out, nil
}

// ForgetDevice forgets one of the user's devices.
func (p *Postgres) ForgetDevice(ctx context.Context, username, id string) error {
	n, err := p.execCount(ctx, `DELETE FROM devices WHERE username = $1 AND id = $2`, username, id)
	if err != nil {
		return fmt.Errorf("store: forget device %q: %w", username, err)
	}
	if n == 0 {
		return fmt.Errorf("store: forget device %q: %w", username, ErrNotFound)
	}
	return nil
}

// ForgetDevices forgets all the user's devices.
func (p *Postgres) ForgetDevices(ctx context.Context, username string) (int, error) {
	n, err := p.execCount(ctx, `DELETE FROM devices WHERE username = $1`, username)
	if err != nil {
		return 0, fmt.Errorf("store: forget devices %q: %w", username, err)
	}
	return int(n), nil
}
