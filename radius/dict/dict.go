// Package dict names the RADIUS reply attributes radmfa can send on an Access-Accept — the
// standard ones VPNs use for authorization and the vendor-specific attributes (VSAs) of the
// common VPN vendors — and encodes values written in the configuration file.
package dict

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"layeh.com/radius"
)

// Kind is how an attribute's value is written and encoded.
type Kind int

const (
	String  Kind = iota // text
	Integer             // 32-bit unsigned, decimal or a named value
	IPAddr              // IPv4 address
	Octets              // 0x-prefixed hex
)

// Attr describes one attribute.
type Attr struct {
	Name   string
	Vendor uint32 // 0 for standard attributes
	Type   byte
	Kind   Kind
	Values map[string]uint32 // named integer values
}

// Vendor IDs (IANA private enterprise numbers).
const (
	VendorCisco     = 9
	VendorMicrosoft = 311
	VendorJuniper   = 2636
	VendorASA       = 3076 // Cisco VPN 3000 / ASA
	VendorFortinet  = 12356
	VendorAruba     = 14823
	VendorPaloAlto  = 25461
)

var serviceTypes = map[string]uint32{
	"Login-User": 1, "Framed-User": 2, "Callback-Login-User": 3, "Callback-Framed-User": 4,
	"Outbound-User": 5, "Administrative-User": 6, "NAS-Prompt-User": 7, "Authenticate-Only": 8,
}

var attrs = []Attr{
	{Name: "Service-Type", Type: 6, Kind: Integer, Values: serviceTypes},
	{Name: "Framed-Protocol", Type: 7, Kind: Integer, Values: map[string]uint32{"PPP": 1, "SLIP": 2}},
	{Name: "Framed-IP-Address", Type: 8, Kind: IPAddr},
	{Name: "Framed-IP-Netmask", Type: 9, Kind: IPAddr},
	{Name: "Filter-Id", Type: 11, Kind: String},
	{Name: "Framed-MTU", Type: 12, Kind: Integer},
	{Name: "Reply-Message", Type: 18, Kind: String},
	{Name: "Framed-Route", Type: 22, Kind: String},
	{Name: "Class", Type: 25, Kind: String},
	{Name: "Session-Timeout", Type: 27, Kind: Integer},
	{Name: "Idle-Timeout", Type: 28, Kind: Integer},
	{Name: "Termination-Action", Type: 29, Kind: Integer, Values: map[string]uint32{"Default": 0, "RADIUS-Request": 1}},
	{Name: "Acct-Interim-Interval", Type: 85, Kind: Integer},
	{Name: "Framed-Pool", Type: 88, Kind: String},

	{Name: "Cisco-AVPair", Vendor: VendorCisco, Type: 1, Kind: String},
	{Name: "ASA-Group-Policy", Vendor: VendorASA, Type: 25, Kind: String},
	{Name: "ASA-Banner1", Vendor: VendorASA, Type: 15, Kind: String},
	{Name: "ASA-Simultaneous-Logins", Vendor: VendorASA, Type: 2, Kind: Integer},
	{Name: "Fortinet-Group-Name", Vendor: VendorFortinet, Type: 1, Kind: String},
	{Name: "Fortinet-Vdom-Name", Vendor: VendorFortinet, Type: 3, Kind: String},
	{Name: "Fortinet-Access-Profile", Vendor: VendorFortinet, Type: 6, Kind: String},
	{Name: "PaloAlto-Admin-Role", Vendor: VendorPaloAlto, Type: 1, Kind: String},
	{Name: "PaloAlto-Admin-Access-Domain", Vendor: VendorPaloAlto, Type: 2, Kind: String},
	{Name: "PaloAlto-User-Group", Vendor: VendorPaloAlto, Type: 5, Kind: String},
	{Name: "Juniper-Local-User-Name", Vendor: VendorJuniper, Type: 1, Kind: String},
	{Name: "Aruba-User-Role", Vendor: VendorAruba, Type: 1, Kind: String},
}

// Lookup finds an attribute by name, ignoring case.
func Lookup(name string) (Attr, bool) {
	for _, a := range attrs {
		if strings.EqualFold(a.Name, name) {
			return a, true
		}
	}
	return Attr{}, false
}

// Names lists every attribute name, sorted (for error messages and docs).
func Names() []string {
	out := make([]string, len(attrs))
	for i, a := range attrs {
		out[i] = a.Name
	}
	sort.Strings(out)
	return out
}

// AVP is an encoded attribute ready to add to a packet.
type AVP struct {
	Type  radius.Type
	Value radius.Attribute
}

// Encode encodes value as the attribute, wrapping vendor attributes in Vendor-Specific (26).
func (a Attr) Encode(value string) (AVP, error) {
	var v []byte
	switch a.Kind {
	case String:
		v = []byte(value)
	case Integer:
		n, ok := a.Values[value]
		if !ok {
			u, err := strconv.ParseUint(value, 10, 32)
			if err != nil {
				return AVP{}, fmt.Errorf("%s: %q is not an integer", a.Name, value)
			}
			n = uint32(u)
		}
		v = []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	case IPAddr:
		ip, err := netip.ParseAddr(value)
		if err != nil || !ip.Is4() {
			return AVP{}, fmt.Errorf("%s: %q is not an IPv4 address", a.Name, value)
		}
		b := ip.As4()
		v = b[:]
	case Octets:
		b, err := hex.DecodeString(strings.TrimPrefix(value, "0x"))
		if err != nil {
			return AVP{}, fmt.Errorf("%s: %q is not 0x-prefixed hex", a.Name, value)
		}
		v = b
	}
	if a.Vendor == 0 {
		if len(v) == 0 || len(v) > 253 {
			return AVP{}, fmt.Errorf("%s: value must be 1 to 253 bytes", a.Name)
		}
		return AVP{Type: radius.Type(a.Type), Value: v}, nil
	}
	if len(v) == 0 || len(v) > 247 {
		return AVP{}, fmt.Errorf("%s: value must be 1 to 247 bytes", a.Name)
	}
	sub := append([]byte{a.Type, byte(len(v) + 2)}, v...)
	vsa, err := radius.NewVendorSpecific(a.Vendor, sub)
	if err != nil {
		return AVP{}, fmt.Errorf("%s: %w", a.Name, err)
	}
	return AVP{Type: 26, Value: vsa}, nil
}

// Encode looks up name and encodes value.
func Encode(name, value string) (AVP, error) {
	a, ok := Lookup(name)
	if !ok {
		return AVP{}, fmt.Errorf("unknown attribute %q", name)
	}
	return a.Encode(value)
}
