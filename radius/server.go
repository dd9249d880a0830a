package radius

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

// Request is one verified request handed to a Handler.
type Request struct {
	Packet *radius.Packet
	Client *Client
	Remote netip.AddrPort
	// MessageAuthenticator reports whether the request carried a (verified) Message-Authenticator.
	MessageAuthenticator bool
}

// Handler decides the answer to a request. It returns a response built with
// r.Packet.Response(code), or nil to send nothing. The server adds Proxy-State,
// Message-Authenticator and the Response Authenticator.
type Handler interface {
	ServeRADIUS(ctx context.Context, r *Request) *radius.Packet
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, r *Request) *radius.Packet

// ServeRADIUS calls f.
func (f HandlerFunc) ServeRADIUS(ctx context.Context, r *Request) *radius.Packet { return f(ctx, r) }

// Options tune a Server. Zero values get the documented defaults.
type Options struct {
	Handler         Handler
	Logger          zerolog.Logger
	DuplicateWindow time.Duration // default 30s
	MaxCached       int           // reply cache bound; default 100 000
	MaxInFlight     int           // concurrent requests; default 1024
	RequestTimeout  time.Duration // context deadline for one request; default 30s
}

// Stats are running counters, read with Server.Stats.
type Stats struct {
	Received   uint64
	Dropped    uint64
	Duplicates uint64
	Replied    uint64
	Panics     uint64
}

// Server is a RADIUS server over UDP (and any transport that hands it whole packets).
type Server struct {
	opts    Options
	log     zerolog.Logger
	dropLog zerolog.Logger // log, sampled
	clients atomic.Pointer[Clients]
	cache   *replyCache
	sem     chan struct{}

	received, dropped, duplicates, replied, panics atomic.Uint64

	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.PacketConn]struct{}
	shutdown atomic.Bool

	jobs     chan func()   // requests handed to idle workers
	quit     chan struct{} // closed by Shutdown: idle workers exit
	quitOnce sync.Once
}

// workerIdle is how long a worker goroutine waits for another request before it exits.
const workerIdle = 5 * time.Second

// NewServer returns a server answering the given clients.
func NewServer(clients *Clients, opts Options) *Server {
	if opts.DuplicateWindow <= 0 {
		opts.DuplicateWindow = 30 * time.Second
	}
	if opts.MaxCached <= 0 {
		opts.MaxCached = 100_000
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 1024
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		dropLog: opts.Logger.Sample(&zerolog.BurstSampler{Burst: 20, Period: time.Second, NextSampler: &zerolog.BasicSampler{N: 1000}}),
		cache:   newReplyCache(opts.DuplicateWindow, opts.MaxCached),
		sem:     make(chan struct{}, opts.MaxInFlight),
		conns:   map[net.PacketConn]struct{}{},
		jobs:    make(chan func()),
		quit:    make(chan struct{}),
	}
	s.clients.Store(clients)
	return s
}

// SetClients swaps the client table; the next packet uses the new one.
func (s *Server) SetClients(c *Clients) { s.clients.Store(c) }

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Received: s.received.Load(), Dropped: s.dropped.Load(), Duplicates: s.duplicates.Load(),
		Replied: s.replied.Load(), Panics: s.panics.Load(),
	}
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("radius: server closed")

// port says which RADIUS port a listener is: what it takes (RFC 2865 §3, RFC 2866 §3) and how
// it answers Status-Server.
type port int

const (
	portAuth port = iota // 1812: Access-Request; Status-Server gets Access-Accept
	portAcct             // 1813: Accounting-Request; Status-Server gets Accounting-Response (RFC 5997 §3)
	portBoth             // RadSec: one connection carries both (RFC 6614 §2.3)
)

// Serve reads packets from conn, an authentication port, until Shutdown or a read error.
// Each packet is handled on a goroutine of its own (reused across packets), at most
// MaxInFlight at once; past that, packets are dropped and the NAS's retransmit tries again.
func (s *Server) Serve(conn net.PacketConn) error { return s.serveConn(conn, portAuth) }

// ServeAccounting is Serve for an accounting port.
func (s *Server) ServeAccounting(conn net.PacketConn) error { return s.serveConn(conn, portAcct) }

func (s *Server) serveConn(conn net.PacketConn, role port) error {
	s.mu.Lock()
	if s.shutdown.Load() {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.conns[conn] = struct{}{}
	s.mu.Unlock()

	buf := make([]byte, maxPacketLen+1)
	for {
		n, addr, err := conn.ReadFrom(buf)
		if err != nil {
			if s.shutdown.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("radius: read: %w", err)
		}
		s.received.Add(1)
		src, ok := addrPort(addr)
		if !ok {
			s.drop(zerolog.Dict().Str("remote", addr.String()), "unsupported source address")
			continue
		}
		if n > maxPacketLen {
			s.drop(zerolog.Dict().Str("remote", src.String()), "packet longer than 4096 bytes")
			continue
		}
		select {
		case s.sem <- struct{}{}:
		default:
			// Full: a retransmit of an answered request still gets its answer (it costs a map
			// lookup), so NASes do not retry harder exactly when the server is busiest.
			if reply := s.cachedReply(buf[:n], src); reply != nil {
				s.duplicates.Add(1)
				if _, err := conn.WriteTo(reply, addr); err == nil {
					s.replied.Add(1)
				}
				continue
			}
			s.drop(zerolog.Dict().Str("remote", src.String()), "too many requests in flight")
			continue
		}
		if !s.track() {
			<-s.sem
			return ErrServerClosed
		}
		b := append([]byte(nil), buf[:n]...)
		s.dispatch(func() {
			defer func() { <-s.sem; s.wg.Done() }()
			ctx, cancel := context.WithTimeout(context.Background(), s.opts.RequestTimeout)
			defer cancel()
			if reply := s.processFrom(ctx, b, src, role); reply != nil {
				if _, err := conn.WriteTo(reply, addr); err != nil {
					s.log.Warn().Err(err).Str("remote", src.String()).Msg("radius: write reply")
					return
				}
				s.replied.Add(1)
			}
		})
	}
}

// dispatch runs job on an idle worker, or on a new one when none waits. Every job holds a
// slot of sem, so there are never more than MaxInFlight workers. Workers outlive their job
// (for workerIdle) because a fresh goroutine per packet grows its stack again each time: the
// store's calls run deep, and in the bench profile copying stacks cost 7 % of the CPU.
func (s *Server) dispatch(job func()) {
	select {
	case s.jobs <- job:
	default:
		go s.worker(job)
	}
}

func (s *Server) worker(job func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		job()
		idle.Reset(workerIdle)
		select {
		case job = <-s.jobs:
		case <-idle.C:
			return
		case <-s.quit:
			return
		}
	}
}

// track counts a request in flight, unless Shutdown has begun. Counted under mu, so
// Shutdown's Wait sees every request read before it began and none after.
func (s *Server) track() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown.Load() {
		return false
	}
	s.wg.Add(1)
	return true
}

// Shutdown stops reading on every served connection, waits for requests in flight to be
// answered (or for ctx to end), then closes the connections. The sockets stay open until then
// so the replies to requests already read still go out.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown.Store(true)
	for c := range s.conns {
		_ = c.SetReadDeadline(time.Now()) // wakes Serve, which sees shutdown and returns
	}
	s.mu.Unlock()
	s.quitOnce.Do(func() { close(s.quit) })
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	return err
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}

func (s *Server) drop(fields *zerolog.Event, reason string) {
	s.dropped.Add(1)
	// A flood of garbage must not become a flood of log lines: a burst is logged, then one
	// line a second; the count is in Stats (and the metrics).
	s.dropLog.Warn().Dict("packet", fields).Str("reason", reason).Msg("radius: packet dropped")
}

// Process handles one raw packet from src and returns the raw reply, or nil to send nothing.
// It is for transports that carry authentication and accounting together, as RadSec does; the
// UDP listeners take only their own port's requests.
func (s *Server) Process(ctx context.Context, b []byte, src netip.AddrPort) []byte {
	return s.processFrom(ctx, b, src, portBoth)
}

func (s *Server) processFrom(ctx context.Context, b []byte, src netip.AddrPort, role port) []byte {
	if len(b) < headerLen {
		s.drop(zerolog.Dict().Str("remote", src.String()), "packet shorter than 20 bytes")
		return nil
	}
	client := s.clients.Load().Lookup(src.Addr())
	if client == nil {
		s.drop(zerolog.Dict().Str("remote", src.String()), "unknown client")
		return nil
	}
	return s.process(ctx, b, src, client, role)
}

// process handles a packet from a known client that reached the given port.
func (s *Server) process(ctx context.Context, b []byte, src netip.AddrPort, client *Client, role port) []byte {
	fields := func() *zerolog.Event {
		return zerolog.Dict().Str("remote", src.String()).Str("nas", client.Name).
			Int("code", int(b[0])).Uint8("id", b[1])
	}
	pkt, err := radius.Parse(b, client.Secret)
	if err != nil {
		s.drop(fields(), "malformed packet: "+err.Error())
		return nil
	}
	raw := b[:int(b[2])<<8|int(b[3])]

	switch pkt.Code {
	case radius.CodeAccessRequest:
		if role == portAcct {
			s.drop(fields(), "Access-Request on the accounting port")
			return nil
		}
	case radius.CodeStatusServer:
	case radius.CodeAccountingRequest:
		if role == portAuth {
			s.drop(fields(), "Accounting-Request on the authentication port")
			return nil
		}
		if !radius.IsAuthenticRequest(raw, client.Secret) {
			s.drop(fields(), "accounting request authenticator does not verify (wrong shared secret?)")
			return nil
		}
	default:
		s.drop(fields(), "unexpected packet code "+pkt.Code.String())
		return nil
	}

	hasMA, err := verifyRequestMA(raw, client.Secret)
	if err != nil {
		s.drop(fields(), err.Error())
		return nil
	}
	if !hasMA {
		switch {
		case pkt.Code == radius.CodeStatusServer:
			s.drop(fields(), "Status-Server without Message-Authenticator (RFC 5997)")
			return nil
		case pkt.Code == radius.CodeAccessRequest && client.RequireMessageAuthenticator:
			s.drop(fields(), "Access-Request without Message-Authenticator and the client requires it")
			return nil
		case pkt.Code == radius.CodeAccessRequest && hasAttr(pkt, 79):
			s.drop(fields(), "EAP-Message without Message-Authenticator (RFC 3579)")
			return nil
		}
	}

	if pkt.Code == radius.CodeStatusServer {
		// RFC 5997: Access-Accept on an authentication port, Accounting-Response on an
		// accounting port; not cached, not handed on.
		resp := pkt.Response(radius.CodeAccessAccept)
		if role == portAcct {
			resp = pkt.Response(radius.CodeAccountingResponse)
		}
		rfc2865.ReplyMessage_SetString(resp, "radmfa is alive")
		out, err := s.finish(pkt, resp, client)
		if err != nil {
			s.log.Error().Err(err).Msg("radius: encode Status-Server reply")
			return nil
		}
		return out
	}

	if proxyStateLen(pkt) > maxPacketLen-headerLen-replyRoom {
		// The reply must echo every Proxy-State (RFC 2865 §5.33); past this it could not be
		// sent, and a sign-in decided, logged and audited but never answered must not happen.
		s.drop(fields(), "Proxy-State attributes leave no room for a reply")
		return nil
	}

	key := cacheKey(src, raw)
	cached, v := s.cache.begin(key, sha256.Sum256(raw), time.Now())
	switch v {
	case duplicate:
		s.duplicates.Add(1)
		s.log.Debug().Dict("packet", fields()).Bool("answered", cached != nil).Msg("radius: retransmit")
		return cached
	case conflict:
		s.drop(fields(), "same source, Identifier and authenticator as a recent request but other contents")
		return nil
	}

	req := &Request{Packet: pkt, Client: client, Remote: src, MessageAuthenticator: hasMA}
	resp := s.serve(ctx, req)
	if resp == nil {
		s.cache.finish(key, nil)
		return nil
	}
	out, err := s.finish(pkt, resp, client)
	if err != nil {
		s.log.Error().Err(err).Dict("packet", fields()).Msg("radius: encode reply")
		s.cache.finish(key, nil)
		return nil
	}
	s.cache.finish(key, out)
	return out
}

// serve runs the handler; a panic in one request is logged and answered with a reject rather
// than taking the server down.
func (s *Server) serve(ctx context.Context, req *Request) (resp *radius.Packet) {
	defer func() {
		if v := recover(); v != nil {
			s.panics.Add(1)
			s.log.Error().Str("panic", fmt.Sprint(v)).Str("stack", string(debug.Stack())).
				Str("nas", req.Client.Name).Msg("radius: handler panicked; rejecting")
			if req.Packet.Code == radius.CodeAccessRequest {
				resp = req.Packet.Response(radius.CodeAccessReject)
			} else {
				resp = nil
			}
		}
	}()
	return s.opts.Handler.ServeRADIUS(ctx, req)
}

// finish encodes resp as the answer to req: Identifier and authenticator from the request,
// Proxy-State echoed in order (RFC 2865 §5.33), Message-Authenticator first (BlastRADIUS),
// then signed.
func (s *Server) finish(req, resp *radius.Packet, client *Client) ([]byte, error) {
	resp.Identifier = req.Identifier
	resp.Authenticator = req.Authenticator
	resp.Secret = client.Secret
	attrs := make(radius.Attributes, 0, len(resp.Attributes)+4)
	if resp.Code != radius.CodeAccountingResponse || req.Code == radius.CodeStatusServer {
		// Status-Server carried one (it is required), so its answer carries one too.
		attrs = append(attrs, &radius.AVP{Type: attrMessageAuthenticator, Attribute: make(radius.Attribute, 16)})
	}
	for _, a := range resp.Attributes {
		if a.Type == attrMessageAuthenticator || a.Type == rfc2865.ProxyState_Type {
			continue
		}
		attrs = append(attrs, a)
	}
	for _, a := range req.Attributes {
		if a.Type == rfc2865.ProxyState_Type {
			attrs = append(attrs, a)
		}
	}
	resp.Attributes = attrs
	b, err := resp.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("radius: marshal %s: %w", resp.Code, err)
	}
	if err := signResponse(b, client.Secret); err != nil {
		return nil, err
	}
	return b, nil
}

// cachedReply returns the cached answer to a retransmit of b, or nil. The key holds the
// source, Identifier and the whole Request Authenticator, so only the NAS that sent the request
// (or someone who saw it) can hit it, and it gets the bytes that NAS already received.
func (s *Server) cachedReply(b []byte, src netip.AddrPort) []byte {
	if len(b) < headerLen {
		return nil
	}
	if n := int(b[2])<<8 | int(b[3]); n >= headerLen && n <= len(b) {
		b = b[:n] // what follows Length is padding (RFC 2865 §3), not part of the request
	}
	return s.cache.lookup(cacheKey(src, b), sha256.Sum256(b), time.Now())
}

// replyRoom is the least a reply needs besides the echoed Proxy-State: Message-Authenticator,
// a State and a short Reply-Message. A request that leaves less can never be answered.
const replyRoom = 200

// proxyStateLen is how many octets the request's Proxy-State attributes take on the wire.
func proxyStateLen(p *radius.Packet) int {
	n := 0
	for _, a := range p.Attributes {
		if a.Type == rfc2865.ProxyState_Type {
			n += 2 + len(a.Attribute)
		}
	}
	return n
}

func hasAttr(p *radius.Packet, t radius.Type) bool {
	_, ok := p.Attributes.Lookup(t)
	return ok
}

func cacheKey(src netip.AddrPort, raw []byte) string {
	a := src.Addr().As16()
	k := make([]byte, 0, 16+2+2+16)
	k = append(k, a[:]...)
	k = append(k, byte(src.Port()>>8), byte(src.Port()))
	k = append(k, raw[0], raw[1])
	k = append(k, raw[4:20]...)
	return string(k)
}
