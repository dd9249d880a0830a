package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// minSecretLen is the shortest client secret accepted without a warning. RFC 2865 §3 asks for
// at least 16 octets, but FreeRADIUS takes shorter ones, so a short secret only warns.
const minSecretLen = 16

func (v *validator) radius(r *RadiusConfig) {
	defaultString(&r.Listen, DefaultListen)
	if msg := checkHostPort(r.Listen); msg != "" {
		v.errorf("radius.listen", "%s", msg)
	}
	v.durationBetween(&r.DuplicateWindow, "radius.duplicate_window", DefaultDuplicateWindow, 0, 10*time.Minute)
	v.intAtLeast(&r.MaxInFlight, "radius.max_in_flight", DefaultMaxInFlight, 1)

	if len(r.Clients) == 0 {
		v.errorf("radius.clients", msgNoClients)
	}
	names := map[string]int{}       // client name → line of its first use
	addrs := map[netip.Prefix]int{} // client prefix → line of its first use
	for i := range r.Clients {
		p := indexPath("radius.clients", i)
		c := &r.Clients[i]
		v.clientName(c, p, names)
		v.clientAddress(c, p, addrs)
		v.clientSecret(c, p)
		if c.RequireMessageAuthenticator == nil {
			on := true
			c.RequireMessageAuthenticator = &on
		} else if !*c.RequireMessageAuthenticator {
			v.warnf(p+".require_message_authenticator", msgNoMsgAuth)
		}
	}
}

// checkHostPort returns a message when s is not host:port with a numeric port. The host may be
// empty (every interface); port 0 picks a free port, which tests use.
func checkHostPort(s string) string {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf(msgHostPort, s)
	}
	if !validPort(port) {
		return fmt.Sprintf(msgPort, port)
	}
	return ""
}

// validPort reports whether port is a number from 0 to 65535; service names are not looked up.
func validPort(port string) bool {
	_, err := strconv.ParseUint(port, 10, 16)
	return err == nil
}

// clientName requires a name unique among clients: logs and audit rows identify NASes by it.
func (v *validator) clientName(c *ClientConfig, p string, names map[string]int) {
	path := p + ".name"
	if c.Name == "" {
		v.required(path)
		return
	}
	if first, dup := names[c.Name]; dup {
		v.errorf(path, msgDupClientName, c.Name, first)
		return
	}
	names[c.Name] = v.keys.lineOf(path)
}

// clientAddress parses the address into c.Prefix and rewrites Address in CIDR form. Two clients
// with the same prefix would make the secret used for a source address ambiguous.
func (v *validator) clientAddress(c *ClientConfig, p string, addrs map[netip.Prefix]int) {
	path := p + ".address"
	if c.Address == "" {
		v.required(path)
		return
	}
	pfx, err := netip.ParsePrefix(c.Address)
	if err == nil {
		if m := pfx.Masked(); m != pfx {
			v.warnf(path, msgHostBits, c.Address, m)
			pfx = m
		}
	} else {
		a, aerr := netip.ParseAddr(c.Address)
		if aerr != nil {
			v.errorf(path, msgBadAddress, c.Address)
			return
		}
		a = a.WithZone("").Unmap()
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	if first, dup := addrs[pfx]; dup {
		v.errorf(path, msgDupClientAddress, pfx, first)
		return
	}
	addrs[pfx] = v.keys.lineOf(path)
	c.Prefix = pfx
	c.Address = pfx.String()
}

// clientSecret takes exactly one of secret and secret_file; a file is read now so a missing
// one stops startup instead of failing the first request.
func (v *validator) clientSecret(c *ClientConfig, p string) {
	secretPath, filePath := p+".secret", p+".secret_file"
	switch {
	case c.Secret != "" && c.SecretFile != "":
		v.errorf(filePath, msgExclusive, "secret")
		return
	case c.SecretFile != "":
		c.SecretFile = v.resolve(c.SecretFile)
		s, ok := v.readSecretFile(filePath, c.SecretFile)
		if !ok {
			return
		}
		c.Secret = s
		secretPath = filePath
	case c.Secret != "":
	case v.keys.isSet(secretPath):
		v.errorf(secretPath, msgEmpty)
		return
	default:
		v.errorf(secretPath, msgSecretRequired)
		return
	}
	if len(c.Secret) < minSecretLen {
		v.warnf(secretPath, msgShortSecret)
	}
}
