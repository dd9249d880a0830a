package radius

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"layeh.com/radius"
)

// testPKI writes a CA, a server certificate for 127.0.0.1 and a client certificate.
type testPKI struct {
	caFile, certFile, keyFile string
	client                    tls.Certificate
	pool                      *x509.CertPool
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(cn string, usage x509.ExtKeyUsage, ip bool) ([]byte, *ecdsa.PrivateKey) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		if ip {
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	srvDER, srvKey := issue("radmfa", x509.ExtKeyUsageServerAuth, true)
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	cliDER, cliKey := issue("nas", x509.ExtKeyUsageClientAuth, false)
	pki := testPKI{
		caFile:   write("ca.pem", "CERTIFICATE", caDER),
		certFile: write("srv.pem", "CERTIFICATE", srvDER),
		keyFile:  write("srv.key", "EC PRIVATE KEY", keyDER),
		client:   tls.Certificate{Certificate: [][]byte{cliDER}, PrivateKey: cliKey},
		pool:     x509.NewCertPool(),
	}
	pki.pool.AddCert(ca)
	return pki
}

func TestRadSec(t *testing.T) {
	pki := newTestPKI(t)
	tc, err := TLSConfig(pki.certFile, pki.keyFile, pki.caFile)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", tc)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(NewClients([]Client{{Name: "lo", Prefix: netip.MustParsePrefix("127.0.0.0/8"),
		Secret: []byte("udp-secret-unused"), RequireMessageAuthenticator: true}}),
		Options{Logger: zerolog.Nop(), Handler: HandlerFunc(accept)})
	go func() { _ = srv.ServeTLS(l) }()
	t.Cleanup(func() { l.Close(); _ = srv.Shutdown(context.Background()) })

	t.Run("mutual TLS, secret radsec", func(t *testing.T) {
		c, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for i := 0; i < 2; i++ { // two packets on one connection
			req := accessRequest(t, []byte("radsec"), true)
			if _, err := c.Write(req); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
			hdr := make([]byte, 4)
			if _, err := io.ReadFull(c, hdr); err != nil {
				t.Fatal(err)
			}
			reply := make([]byte, binary.BigEndian.Uint16(hdr[2:]))
			copy(reply, hdr)
			if _, err := io.ReadFull(c, reply[4:]); err != nil {
				t.Fatal(err)
			}
			if radius.Code(reply[0]) != radius.CodeAccessAccept {
				t.Fatalf("reply code %d", reply[0])
			}
			checkResponse(t, reply, req, []byte("radsec"))
		}
	})
	t.Run("no client certificate refused", func(t *testing.T) {
		c, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{RootCAs: pki.pool})
		if err == nil {
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			_, err = c.Read(make([]byte, 1))
			c.Close()
		}
		if err == nil {
			t.Fatal("connection without a client certificate was served")
		}
	})
}
