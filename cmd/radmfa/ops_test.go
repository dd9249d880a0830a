package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/config"
	"github.com/radmfa/radmfa/metrics"
	"github.com/radmfa/radmfa/radius"
)

const opsSecret = "ops-test-secret"

// radiusServer serves Status-Server for 127.0.0.1 with opsSecret on a free UDP port.
func radiusServer(t *testing.T, h radius.Handler) (*radius.Server, string) {
	t.Helper()
	clients := radius.NewClients([]radius.Client{{Name: "local", Prefix: netip.MustParsePrefix("127.0.0.1/32"),
		Secret: []byte(opsSecret), RequireMessageAuthenticator: true}})
	srv := radius.NewServer(clients, radius.Options{Handler: h, Logger: zerolog.Nop()})
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(conn) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return srv, conn.LocalAddr().String()
}

func storeConfig(dir string) config.StoreConfig {
	return config.StoreConfig{Driver: "sqlite", DSN: filepath.Join(dir, "radmfa.db"), KeyFile: filepath.Join(dir, "store.key")}
}

func TestOpsListener(t *testing.T) {
	st, err := openStore(t.Context(), storeConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := &swapHandler{}
	h.p.Store(&services{st: st}) // no directory: an upstream primary alone
	srv, addr := radiusServer(t, h)

	cfg := &config.Config{Radius: config.RadiusConfig{Clients: []config.ClientConfig{{Name: "vpn"}}}}
	o := newOps(cfg, zerolog.Nop())
	stop, err := o.start("127.0.0.1:0", srv, h)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := statusServer(t.Context(), addr, []byte(opsSecret), time.Second, "ops-test"); err != nil {
		t.Fatalf("Status-Server: %v", err)
	}
	base := "http://" + o.http.Addr().String()

	code, body := fetch(t, base+"/readyz")
	if code != 200 || !strings.Contains(body, `"store"`) || strings.Contains(body, `"ldap"`) || strings.Contains(body, `"sms"`) {
		t.Errorf("/readyz = %d\n%s\nwant ready with the store only (no directory, no SMS configured)", code, body)
	}
	o.reloaded(cfg, false)
	_, body = fetch(t, base+"/metrics")
	for _, want := range []string{
		"radmfa_radius_packets_received_total 1\n",
		"radmfa_radius_replies_total 1\n",
		`radmfa_failmode_open_total{nas="vpn"} 0` + "\n",
		`radmfa_up{dependency="store"} 1` + "\n",
		"radmfa_config_reload_success 0\n",
		`radmfa_reloads_total{result="failure"} 1` + "\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	if _, err := o.start("", srv, h); err == nil {
		t.Error("a second start registered the RADIUS counters twice without an error")
	}
}

func TestOpsWithoutListener(t *testing.T) {
	o := newOps(&config.Config{}, zerolog.Nop())
	h := &swapHandler{}
	h.p.Store(&services{})
	srv, _ := radiusServer(t, h)
	stop, err := o.start("", srv, h)
	if err != nil || o.http != nil {
		t.Fatalf("start without metrics.listen: %v, listener %v", err, o.http)
	}
	stop()
	if err := pingLDAP(t.Context(), nil); !errors.Is(err, metrics.ErrNotConfigured) {
		t.Errorf("pingLDAP(nil) = %v, want ErrNotConfigured", err)
	}
}

func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestStatusServer(t *testing.T) {
	_, addr := radiusServer(t, radius.HandlerFunc(nil))
	liar := udpResponder(t, func(req []byte) []byte {
		resp := append([]byte(nil), req[:20]...)
		resp[0] = 2 // Access-Accept with a made-up authenticator
		return resp
	})
	silent := udpResponder(t, func([]byte) []byte { return nil })
	closed := func() string {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}()

	tests := []struct {
		name, addr, secret, wantErr string
	}{
		{"answers (the Message-Authenticator verifies)", addr, opsSecret, ""},
		{"wrong secret: radmfa drops it", addr, "not-the-secret", "no answer to Status-Server within 300ms"},
		{"answer does not verify", liar, opsSecret, "wrong shared secret"},
		{"never answers", silent, opsSecret, "no answer to Status-Server within 300ms"},
		{"nothing listens", closed, opsSecret, "refused: nothing listens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := statusServer(t.Context(), tt.addr, []byte(tt.secret), 300*time.Millisecond, "ops-test")
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("statusServer = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// udpResponder answers each datagram with reply(datagram), or not at all when it returns nil.
func udpResponder(t *testing.T, reply func([]byte) []byte) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			if r := reply(buf[:n]); r != nil {
				_, _ = c.WriteTo(r, from)
			}
		}
	}()
	return c.LocalAddr().String()
}

func TestCheckConnectStore(t *testing.T) {
	dir := t.TempDir()
	sc := storeConfig(dir)
	cfg := &config.Config{Store: sc}
	var out bytes.Buffer
	if err := checkConnect(t.Context(), cfg, &out); err != nil {
		t.Fatalf("fresh install: %v\n%s", err, &out)
	}
	if want := "ok   store sqlite " + sc.DSN + " (not created yet: radmfa serve creates it)\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("config check --connect created %v", entries)
	}

	st, err := openStore(t.Context(), sc) // as serve would: creates the key and the database
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	out.Reset()
	if err := checkConnect(t.Context(), cfg, &out); err != nil || out.String() != "ok   store sqlite "+sc.DSN+"\n" {
		t.Errorf("existing store: %v\n%s", err, &out)
	}

	if err := os.Remove(sc.KeyFile); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = checkConnect(t.Context(), cfg, &out)
	if err == nil || !strings.HasPrefix(out.String(), "FAIL store sqlite "+sc.DSN+": store: read key file") {
		t.Errorf("database without its key: %v\n%s", err, &out)
	}
	if _, statErr := os.Stat(sc.KeyFile); statErr == nil {
		t.Error("config check --connect created a new key file next to an existing database")
	}
}
