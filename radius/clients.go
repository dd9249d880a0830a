package radius

import (
	"net/netip"
	"sort"
)

// Client is one NAS allowed to talk to the server.
type Client struct {
	Name   string
	Prefix netip.Prefix // source addresses that identify this client
	Secret []byte
	// RequireMessageAuthenticator drops Access-Requests that carry no Message-Authenticator
	// (BlastRADIUS, CVE-2024-3596). Only legacy clients such as pam_radius need it off.
	RequireMessageAuthenticator bool
}

// Clients maps source addresses to clients by longest prefix match. It is immutable once built,
// so a reload swaps in a new table without locking the packet path.
type Clients struct {
	byLen []*Client // sorted by prefix length, longest first
}

// NewClients builds a table. Later duplicates of the same prefix are ignored; config
// validation rejects them before this point.
func NewClients(cs []Client) *Clients {
	t := &Clients{}
	seen := map[netip.Prefix]bool{}
	for i := range cs {
		c := cs[i]
		c.Prefix = c.Prefix.Masked()
		if seen[c.Prefix] {
			continue
		}
		seen[c.Prefix] = true
		t.byLen = append(t.byLen, &c)
	}
	sort.SliceStable(t.byLen, func(i, j int) bool { return t.byLen[i].Prefix.Bits() > t.byLen[j].Prefix.Bits() })
	return t
}

// Lookup returns the client whose prefix holds addr most specifically, or nil.
func (t *Clients) Lookup(addr netip.Addr) *Client {
	addr = addr.Unmap()
	for _, c := range t.byLen {
		if c.Prefix.Contains(addr) {
			return c
		}
	}
	return nil
}
