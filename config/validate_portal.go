package config

import (
	"crypto/tls"
	"net"
	"strings"
)

// portal checks the portal listener: TLS, or plain HTTP on loopback only (a TLS proxy on the
// same host), and a directory to sign users in against.
func (v *validator) portal(c *Config) {
	p := &c.Portal
	if p.Listen == "" {
		if p.CertFile != "" || p.KeyFile != "" || p.AdminGroup != "" {
			v.warnf("portal.listen", "is empty: the portal is off and its other settings are ignored")
		}
		return
	}
	host, _, err := net.SplitHostPort(p.Listen)
	if err != nil {
		v.errorf("portal.listen", "%q is not host:port: %v", p.Listen, err)
		return
	}
	if len(c.LDAP.URLs) == 0 {
		v.errorf("portal.listen", "the portal signs users in against the directory: set ldap.urls")
	}
	switch {
	case (p.CertFile == "") != (p.KeyFile == ""):
		v.errorf("portal.cert_file", "set both portal.cert_file and portal.key_file, or neither")
	case p.CertFile != "":
		p.CertFile, p.KeyFile = v.resolve(p.CertFile), v.resolve(p.KeyFile)
		if _, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile); err != nil {
			v.errorf("portal.cert_file", "cannot load the certificate and key: %v", err)
		}
	case !loopbackHost(host):
		v.errorf("portal.listen", "plain HTTP on %q would send passwords in clear: set portal.cert_file and portal.key_file, or listen on 127.0.0.1 behind a TLS proxy", p.Listen)
	}
}

func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
