package config

import (
	"strings"
	"testing"
)

func TestValidatePortal(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want []string // nil: valid
	}{
		{"off", yml("portal:", "  admin_group: vpn-admins"), nil},
		{"loopback without TLS", yml("portal:", "  listen: 127.0.0.1:8080"), nil},
		{"localhost without TLS", yml("portal:", "  listen: localhost:8080"), nil},
		{"every interface without TLS", yml("portal:", `  listen: ":8443"`),
			[]string{`portal.listen: line 2: plain HTTP on ":8443" would send passwords in clear: set portal.cert_file and portal.key_file, or listen on 127.0.0.1 behind a TLS proxy`}},
		{"not host:port", yml("portal:", "  listen: 8443"),
			[]string{`portal.listen: line 2: "8443" is not host:port: address 8443: missing port in address`}},
		{"certificate without key", yml("portal:", `  listen: ":8443"`, "  cert_file: portal.pem"),
			[]string{"portal.cert_file: line 3: set both portal.cert_file and portal.key_file, or neither"}},
		{"missing certificate", yml("portal:", `  listen: ":8443"`, "  cert_file: nope.pem", "  key_file: nope-key.pem"),
			[]string{"portal.cert_file: line 3: cannot load the certificate and key: open {dir}/nope.pem: no such file or directory"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := parseIn(t, dir, complete(tc.doc), nil)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			equalLines(t, fieldErrors(t, err), withDir(tc.want, dir))
		})
	}
	// Without a directory the portal cannot sign anyone in.
	_, err := parseIn(t, t.TempDir(), yml("node: test", "primary: radius", "upstream:", "  servers: [{address: 127.0.0.1:1812, secret: a-long-enough-secret}]",
		"portal:", "  listen: 127.0.0.1:8080", strings.TrimSuffix(radiusOK, "\n")), nil)
	if err == nil || !strings.Contains(err.Error(), "set ldap.urls") {
		t.Fatalf("portal without a directory: %v", err)
	}
}
