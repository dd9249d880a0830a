// Package radius owns the RADIUS wire and nothing else: it receives datagrams, matches the
// sender to a configured NAS client, verifies the packet (Message-Authenticator per RFC 3579 and
// the BlastRADIUS hardening), answers retransmits from a reply cache (RFC 5080), answers
// Status-Server (RFC 5997), and signs every response. What to answer is the Handler's business.
//
// layeh.com/radius supplies packet and attribute encoding; it does not verify
// Message-Authenticator, caches nothing, and does not echo Proxy-State, so this package does.
package radius
