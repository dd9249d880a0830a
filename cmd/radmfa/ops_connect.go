package main

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"

	"github.com/radmfa/radmfa/config"
	"github.com/radmfa/radmfa/ldapauth"
	"github.com/radmfa/radmfa/store"
)

// connectTimeout bounds each dependency of config check --connect.
const connectTimeout = 15 * time.Second

// checkConnect reaches every dependency the configuration names, as serve would, and prints
// one line each: "ok   ldap ldap://…" or "FAIL ldap ldap://…: cause". It returns an error when
// any failed. It sends no text message and changes no data: a database or key file that does
// not exist yet is reported, not created (running this as root must not leave root-owned files
// for the service user).
func checkConnect(ctx context.Context, cfg *config.Config, w io.Writer) error {
	failed, total := 0, 0
	report := func(kind, name string, err error) {
		total++
		if err != nil {
			failed++
			fmt.Fprintf(w, "FAIL %s %s: %v\n", kind, name, err)
			return
		}
		fmt.Fprintf(w, "ok   %s %s\n", kind, name)
	}
	within := func(fn func(ctx context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, connectTimeout)
		defer cancel()
		return fn(cctx)
	}

	if len(cfg.LDAP.URLs) > 0 {
		res, err := pingDirectory(ctx, cfg)
		if err != nil {
			report("ldap", "", err)
		}
		for _, u := range cfg.LDAP.URLs {
			if err == nil {
				report("ldap", u, res[u])
			}
		}
	}
	name, note, err := checkStore(ctx, cfg.Store)
	report("store", name+note, err)
	if cfg.SMS.Provider != "" && cfg.SMS.Provider != "none" {
		report("sms", cfg.SMS.Provider, within(func(ctx context.Context) error {
			sms, err := smsOptions(cfg)
			if err != nil {
				return err
			}
			return sms.Sender.Check(ctx)
		}))
	}
	for _, u := range cfg.Upstream.Servers {
		report("upstream", u.Address, within(func(ctx context.Context) error {
			return statusServer(ctx, u.Address, []byte(u.Secret.Reveal()), cfg.Upstream.Timeout.D(), "radmfa-"+cfg.Node)
		}))
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d dependencies failed", failed, total)
	}
	return nil
}

// pingDirectory binds as the service account on every URL, as serve's first requests would.
func pingDirectory(ctx context.Context, cfg *config.Config) (map[string]error, error) {
	d, err := ldapauth.New(ldapConfig(cfg.LDAP), zerolog.Nop())
	if err != nil {
		return nil, err
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	return d.Ping(ctx), nil
}

// checkStore opens the store with its key and pings it. An SQLite database that does not exist
// yet is fine (serve creates it and its key); a database without its key file is not.
func checkStore(ctx context.Context, c config.StoreConfig) (name, note string, err error) {
	name = c.Driver
	if c.Driver == "sqlite" || c.Driver == "sqlite3" {
		name += " " + c.DSN
		if _, err := os.Stat(c.DSN); errors.Is(err, fs.ErrNotExist) {
			return name, " (not created yet: radmfa serve creates it)", nil
		}
	}
	key, err := store.LoadKeyFile(c.KeyFile, false)
	if err != nil {
		return name, "", err
	}
	kr, err := store.NewKeyring(key)
	if err != nil {
		return name, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	st, err := store.Open(ctx, c.Driver, c.DSN, kr)
	if err != nil {
		return name, "", err
	}
	defer st.Close()
	return name, "", st.Ping(ctx)
}

// statusServer asks a RADIUS server whether it is alive (RFC 5997), signed with a
// Message-Authenticator. An authentic answer of any code proves the server runs and shares the
// secret; no answer within timeout is an error.
func statusServer(ctx context.Context, addr string, secret []byte, timeout time.Duration, nasID string) error {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p := layeh.New(layeh.CodeStatusServer, secret)
	_ = rfc2865.NASIdentifier_SetString(p, nasID)
	req, err := encodeSigned(p)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write(req); err != nil {
		return fmt.Errorf("send Status-Server: %w", err)
	}
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("no answer to Status-Server within %v (is the server up, is radmfa one of its clients, does it implement RFC 5997?)", timeout)
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			return errors.New("refused: nothing listens on that port (ICMP port unreachable)")
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		resp := buf[:n]
		if n < 20 || resp[1] != req[1] {
			continue // not the answer to this request
		}
		if !layeh.IsAuthenticResponse(resp, req, secret) {
			return errors.New("the answer does not verify: wrong shared secret")
		}
		return nil
	}
}

// encodeSigned encodes p with its Message-Authenticator (RFC 3579 §3.2).
func encodeSigned(p *layeh.Packet) ([]byte, error) {
	if err := rfc2869.MessageAuthenticator_Set(p, make([]byte, 16)); err != nil {
		return nil, err
	}
	b, err := p.Encode()
	if err != nil {
		return nil, fmt.Errorf("encode Status-Server: %w", err)
	}
	mac := hmac.New(md5.New, p.Secret)
	mac.Write(b)
	if err := rfc2869.MessageAuthenticator_Set(p, mac.Sum(nil)); err != nil {
		return nil, err
	}
	return p.Encode()
}
