package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/config"
)

// selfSigned writes a certificate for 127.0.0.1 and its key; it returns the two paths.
func selfSigned(t *testing.T) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "portal test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, keyFile
}

func TestPortalTLS(t *testing.T) {
	cert, key := selfSigned(t)
	tests := []struct {
		name    string
		pc      portalConfig
		wantTLS bool
		wantErr string
	}{
		{"no address", portalConfig{}, false, "no listen address"},
		{"plain on every interface", portalConfig{Listen: ":8443"}, false, "refusing plain HTTP"},
		{"plain on 0.0.0.0", portalConfig{Listen: "0.0.0.0:8080"}, false, "refusing plain HTTP"},
		{"plain on a LAN address", portalConfig{Listen: "10.0.0.5:80"}, false, "refusing plain HTTP"},
		{"plain on a host name", portalConfig{Listen: "portal.example.test:80"}, false, "refusing plain HTTP"},
		{"plain on loopback", portalConfig{Listen: "127.0.0.1:8080"}, false, ""},
		{"plain on IPv6 loopback", portalConfig{Listen: "[::1]:8080"}, false, ""},
		{"plain on localhost", portalConfig{Listen: "localhost:8080"}, false, ""},
		{"certificate without key", portalConfig{Listen: ":8443", CertFile: cert}, false, "both"},
		{"missing certificate file", portalConfig{Listen: ":8443", CertFile: cert + ".nope", KeyFile: key}, false, "load certificate"},
		{"TLS on every interface", portalConfig{Listen: ":8443", CertFile: cert, KeyFile: key}, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := portalTLS(tc.pc)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || (c != nil) != tc.wantTLS {
				t.Fatalf("tls %v, err %v", c != nil, err)
			}
		})
	}
}

func freeTCP(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestStartPortal(t *testing.T) {
	cert, key := selfSigned(t)
	cfg := &config.Config{Node: "test", Store: storeConfig(t.TempDir()),
		LDAP: config.LDAPConfig{URLs: []string{"ldap://127.0.0.1:1"}, BaseDN: "dc=example,dc=test", UserFilter: "(uid={username})"}}
	for _, tc := range []struct {
		name   string
		tls    bool
		cookie string
	}{
		{"plain on loopback", false, "radmfa="},
		{"tls", true, "__Host-radmfa="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc := portalConfig{Listen: freeTCP(t), AdminGroup: "vpn-admins", AllowAppPasswords: true}
			scheme := "http"
			client := &http.Client{Timeout: 5 * time.Second}
			if tc.tls {
				pc.CertFile, pc.KeyFile, scheme = cert, key, "https"
				client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
			}
			stop, err := startPortal(t.Context(), cfg, pc, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Get(scheme + "://" + pc.Listen + "/login")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Set-Cookie"), tc.cookie) {
				t.Fatalf("GET /login: %d, cookie %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
			}
			if err := stop(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, err := client.Get(scheme + "://" + pc.Listen + "/login"); err == nil {
				t.Fatal("still serving after stop")
			}
		})
	}
	// Without a directory the portal cannot sign anyone in.
	noLDAP := *cfg
	noLDAP.LDAP.URLs = nil
	if _, err := startPortal(t.Context(), &noLDAP, portalConfig{Listen: freeTCP(t)}, zerolog.Nop()); err == nil ||
		!strings.Contains(err.Error(), "ldap.urls") {
		t.Fatalf("without ldap: %v", err)
	}
}
