package radius

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/tls"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
)

// RFC 5997 §6.1: a Status-Server request with a known Message-Authenticator.
func TestVerifyRequestMA_RFC5997Vector(t *testing.T) {
	secret := []byte("xyzzy5461")
	req := []byte{
		0x0c, 0xda, 0x00, 0x26, 0x8a, 0x54, 0xf4, 0x68, 0x6f, 0xb3, 0x94, 0xc5, 0x28, 0x66, 0xe3, 0x02,
		0x18, 0x5d, 0x06, 0x23, 0x50, 0x12, 0x5a, 0x66, 0x5e, 0x2e, 0x1e, 0x84, 0x11, 0xf3, 0xe2, 0x43,
		0x82, 0x20, 0x97, 0xc8, 0x4f, 0xa3,
	}
	tests := []struct {
		name    string
		mutate  func([]byte)
		secret  []byte
		present bool
		wantErr error
	}{
		{name: "valid", secret: secret, present: true},
		{name: "wrong secret", secret: []byte("xyzzy5462"), present: true, wantErr: errBadMA},
		{name: "altered authenticator", secret: secret, present: true, wantErr: errBadMA, mutate: func(b []byte) { b[5] ^= 1 }},
		{name: "altered MA", secret: secret, present: true, wantErr: errBadMA, mutate: func(b []byte) { b[37] ^= 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := append([]byte(nil), req...)
			if tt.mutate != nil {
				tt.mutate(b)
			}
			present, err := verifyRequestMA(b, tt.secret)
			if present != tt.present || err != tt.wantErr {
				t.Fatalf("got (%v, %v), want (%v, %v)", present, err, tt.present, tt.wantErr)
			}
		})
	}
}

type testServer struct {
	addr   string
	srv    *Server
	calls  atomic.Int64
	secret []byte
}

func startServer(t *testing.T, requireMA bool, h HandlerFunc) *testServer {
	t.Helper()
	return startServerOn(t, requireMA, h, portAuth)
}

// startServerOn is startServer on a listener of the given port kind.
func startServerOn(t *testing.T, requireMA bool, h HandlerFunc, role port) *testServer {
	t.Helper()
	ts := &testServer{secret: []byte("s3cret-shared")}
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	clients := NewClients([]Client{{Name: "lo", Prefix: netip.MustParsePrefix("127.0.0.0/8"), Secret: ts.secret, RequireMessageAuthenticator: requireMA}})
	ts.srv = NewServer(clients, Options{
		Logger: zerolog.Nop(),
		Handler: HandlerFunc(func(ctx context.Context, r *Request) *radius.Packet {
			ts.calls.Add(1)
			return h(ctx, r)
		}),
	})
	go func() { _ = ts.srv.serveConn(conn, role) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ts.srv.Shutdown(ctx)
	})
	ts.addr = conn.LocalAddr().String()
	return ts
}

// exchange sends raw bytes and returns the reply, or nil after a short wait.
func exchange(t *testing.T, conn net.Conn, b []byte) []byte {
	t.Helper()
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func accessRequest(t *testing.T, secret []byte, withMA bool, extra ...func(*radius.Packet)) []byte {
	t.Helper()
	p := radius.New(radius.CodeAccessRequest, secret)
	_ = rfc2865.UserName_SetString(p, "alice")
	_ = rfc2865.UserPassword_SetString(p, "pw")
	for _, f := range extra {
		f(p)
	}
	if withMA {
		_ = rfc2869.MessageAuthenticator_Set(p, make([]byte, 16))
	}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if withMA {
		off, _ := findMA(b)
		copy(b[off:], requestMA(b, off, secret))
	}
	return b
}

func accept(_ context.Context, r *Request) *radius.Packet {
	resp := r.Packet.Response(radius.CodeAccessAccept)
	_ = rfc2865.ReplyMessage_SetString(resp, "hi")
	return resp
}

// checkResponse verifies a reply the way a strict NAS does.
func checkResponse(t *testing.T, reply, request, secret []byte) {
	t.Helper()
	if !radius.IsAuthenticResponse(reply, request, secret) {
		t.Fatal("Response Authenticator does not verify")
	}
	off, err := findMA(reply)
	if err != nil || off < 0 {
		t.Fatalf("reply has no Message-Authenticator (%v)", err)
	}
	b := append([]byte(nil), reply...)
	copy(b[4:20], request[4:20])
	for i := 0; i < 16; i++ {
		b[off+i] = 0
	}
	m := hmac.New(md5.New, secret)
	m.Write(b)
	if !hmac.Equal(m.Sum(nil), reply[off:off+16]) {
		t.Fatal("reply Message-Authenticator does not verify")
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestServer(t *testing.T) {
	secret := []byte("s3cret-shared")
	tests := []struct {
		name      string
		requireMA bool
		packet    func(t *testing.T) []byte
		wantReply bool
	}{
		{"with MA", true, func(t *testing.T) []byte { return accessRequest(t, secret, true) }, true},
		{"without MA, required", true, func(t *testing.T) []byte { return accessRequest(t, secret, false) }, false},
		{"without MA, not required", false, func(t *testing.T) []byte { return accessRequest(t, secret, false) }, true},
		{"wrong secret", true, func(t *testing.T) []byte { return accessRequest(t, []byte("other-secret"), true) }, false},
		{"EAP without MA", false, func(t *testing.T) []byte {
			return accessRequest(t, secret, false, func(p *radius.Packet) { p.Add(rfc2869.EAPMessage_Type, []byte{2, 1, 0, 4}) })
		}, false},
		{"two MAs", false, func(t *testing.T) []byte {
			b := accessRequest(t, secret, true)
			b = append(b, 80, 18)
			b = append(b, make([]byte, 16)...)
			b[2], b[3] = byte(len(b)>>8), byte(len(b))
			return b
		}, false},
		{"truncated", false, func(t *testing.T) []byte { return accessRequest(t, secret, false)[:19] }, false},
		{"length beyond data", false, func(t *testing.T) []byte {
			b := accessRequest(t, secret, false)
			b[3] += 10
			return b
		}, false},
		{"bad attribute length", false, func(t *testing.T) []byte {
			b := accessRequest(t, secret, false)
			b[21] = 1
			return b
		}, false},
		{"accounting code on auth", false, func(t *testing.T) []byte {
			b := accessRequest(t, secret, false)
			b[0] = 99
			return b
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, tt.requireMA, accept)
			c := dial(t, ts.addr)
			req := tt.packet(t)
			reply := exchange(t, c, req)
			if (reply != nil) != tt.wantReply {
				t.Fatalf("reply = %v, want reply %v", reply != nil, tt.wantReply)
			}
			if reply != nil {
				checkResponse(t, reply, req, secret)
				if reply[1] != req[1] {
					t.Fatal("identifier not echoed")
				}
			}
		})
	}
}

func TestServerRetransmitAnsweredFromCache(t *testing.T) {
	ts := startServer(t, true, accept)
	c := dial(t, ts.addr)
	req := accessRequest(t, ts.secret, true)
	first := exchange(t, c, req)
	second := exchange(t, c, req)
	if first == nil || !bytes.Equal(first, second) {
		t.Fatal("retransmit did not get the identical reply")
	}
	if n := ts.calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
	// A new request (new authenticator, same ID) is processed again.
	exchange(t, c, accessRequest(t, ts.secret, true))
	if n := ts.calls.Load(); n != 2 {
		t.Fatalf("handler ran %d times, want 2", n)
	}
}

// A packet with a known request's source, Identifier and authenticator but other contents is
// no retransmit: it must not get that request's reply (nor be processed as it).
func TestServerConflictingRetransmitDropped(t *testing.T) {
	ts := startServer(t, true, accept)
	c := dial(t, ts.addr)
	as := func(user string) func(*radius.Packet) {
		return func(p *radius.Packet) {
			p.Identifier = 7
			copy(p.Authenticator[:], "0123456789abcdef")
			_ = rfc2865.UserName_SetString(p, user)
		}
	}
	req := accessRequest(t, ts.secret, true, as("alice"))
	first := exchange(t, c, req)
	if first == nil {
		t.Fatal("no reply to the first request")
	}
	if r := exchange(t, c, accessRequest(t, ts.secret, true, as("bob"))); r != nil {
		t.Fatal("a different request under the same Identifier and authenticator got a reply")
	}
	if n := ts.calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
	if r := exchange(t, c, req); !bytes.Equal(r, first) {
		t.Fatal("the true retransmit did not get the first reply")
	}
}

func TestServerProxyStateEchoed(t *testing.T) {
	ts := startServer(t, true, accept)
	c := dial(t, ts.addr)
	req := accessRequest(t, ts.secret, true, func(p *radius.Packet) {
		p.Add(rfc2865.ProxyState_Type, []byte("one"))
		p.Add(rfc2865.ProxyState_Type, []byte("two"))
	})
	reply := exchange(t, c, req)
	p, err := radius.Parse(reply, ts.secret)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := rfc2865.ProxyState_Gets(p)
	if len(got) != 2 || string(got[0]) != "one" || string(got[1]) != "two" {
		t.Fatalf("Proxy-State = %q", got)
	}
	if p.Attributes[0].Type != attrMessageAuthenticator {
		t.Fatal("Message-Authenticator is not the first attribute")
	}
}

func TestServerStatusServer(t *testing.T) {
	ts := startServer(t, true, accept)
	c := dial(t, ts.addr)
	p := radius.New(radius.CodeStatusServer, ts.secret)
	_ = rfc2869.MessageAuthenticator_Set(p, make([]byte, 16))
	b, _ := p.Encode()
	off, _ := findMA(b)
	copy(b[off:], requestMA(b, off, ts.secret))
	reply := exchange(t, c, b)
	if reply == nil || radius.Code(reply[0]) != radius.CodeAccessAccept {
		t.Fatalf("Status-Server reply = %v", reply)
	}
	checkResponse(t, reply, b, ts.secret)
	if ts.calls.Load() != 0 {
		t.Fatal("Status-Server reached the handler")
	}
	// Without Message-Authenticator it is dropped (RFC 5997 §3).
	p2 := radius.New(radius.CodeStatusServer, ts.secret)
	b2, _ := p2.Encode()
	if exchange(t, c, b2) != nil {
		t.Fatal("Status-Server without Message-Authenticator was answered")
	}
}

// On an accounting port Status-Server is answered with Accounting-Response (RFC 5997 §3),
// signed like any answer; Accounting-Request is still handed on.
func TestServerStatusServerAccountingPort(t *testing.T) {
	secret := []byte("s3cret-shared")
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	srv := NewServer(NewClients([]Client{{Name: "lo", Prefix: netip.MustParsePrefix("127.0.0.0/8"), Secret: secret,
		RequireMessageAuthenticator: true}}), Options{Logger: zerolog.Nop(),
		Handler: HandlerFunc(func(_ context.Context, r *Request) *radius.Packet {
			calls.Add(1)
			return r.Packet.Response(radius.CodeAccountingResponse)
		})})
	go func() { _ = srv.ServeAccounting(conn) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	c := dial(t, conn.LocalAddr().String())

	p := radius.New(radius.CodeStatusServer, secret)
	_ = rfc2869.MessageAuthenticator_Set(p, make([]byte, 16))
	b, _ := p.Encode()
	off, _ := findMA(b)
	copy(b[off:], requestMA(b, off, secret))
	reply := exchange(t, c, b)
	if reply == nil || radius.Code(reply[0]) != radius.CodeAccountingResponse {
		t.Fatalf("Status-Server on the accounting port: reply %v, want Accounting-Response", reply)
	}
	checkResponse(t, reply, b, secret)
	if calls.Load() != 0 {
		t.Fatal("Status-Server reached the handler")
	}

	acct := radius.New(radius.CodeAccountingRequest, secret)
	_ = rfc2865.UserName_SetString(acct, "alice")
	ab, err := acct.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if r := exchange(t, c, ab); r == nil || radius.Code(r[0]) != radius.CodeAccountingResponse {
		t.Fatalf("Accounting-Request: reply %v", r)
	}
	if calls.Load() != 1 {
		t.Fatalf("handler ran %d times for one Accounting-Request", calls.Load())
	}
}

func TestServerPanicRejects(t *testing.T) {
	ts := startServer(t, true, func(context.Context, *Request) *radius.Packet { panic("boom") })
	c := dial(t, ts.addr)
	req := accessRequest(t, ts.secret, true)
	reply := exchange(t, c, req)
	if reply == nil || radius.Code(reply[0]) != radius.CodeAccessReject {
		t.Fatalf("panic reply = %v, want Access-Reject", reply)
	}
	// Still serving.
	if exchange(t, c, accessRequest(t, ts.secret, true)) == nil {
		t.Fatal("server stopped answering after a panic")
	}
}

func TestServerUnknownClientDropped(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(NewClients([]Client{{Name: "x", Prefix: netip.MustParsePrefix("10.0.0.0/8"), Secret: []byte("k")}}),
		Options{Logger: zerolog.Nop(), Handler: HandlerFunc(accept)})
	go func() { _ = srv.Serve(conn) }()
	defer srv.Shutdown(context.Background())
	c := dial(t, conn.LocalAddr().String())
	if exchange(t, c, accessRequest(t, []byte("k"), true)) != nil {
		t.Fatal("unknown client was answered")
	}
	if srv.Stats().Dropped == 0 {
		t.Fatal("drop not counted")
	}
}

func TestClientsLongestPrefix(t *testing.T) {
	tab := NewClients([]Client{
		{Name: "net", Prefix: netip.MustParsePrefix("127.0.0.0/8")},
		{Name: "host", Prefix: netip.MustParsePrefix("127.0.0.2/32")},
		{Name: "v6", Prefix: netip.MustParsePrefix("::1/128")},
	})
	tests := []struct{ addr, want string }{
		{"127.0.0.2", "host"}, {"127.0.0.3", "net"}, {"::1", "v6"}, {"::ffff:127.0.0.2", "host"}, {"10.0.0.1", ""},
	}
	for _, tt := range tests {
		c := tab.Lookup(netip.MustParseAddr(tt.addr))
		got := ""
		if c != nil {
			got = c.Name
		}
		if got != tt.want {
			t.Errorf("Lookup(%s) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

// An Accounting-Request's Message-Authenticator is computed with the authenticator zeroed (its
// authenticator is an MD5 over the packet, MA included): FreeRADIUS's radclient signs it so.
// Checked against the real radclient when it is installed.
func TestServerAccountingWithMA(t *testing.T) {
	acct := func(_ context.Context, r *Request) *radius.Packet {
		return r.Packet.Response(radius.CodeAccountingResponse)
	}
	ts := startServerOn(t, true, acct, portAcct)
	c := dial(t, ts.addr)

	p := radius.New(radius.CodeAccountingRequest, ts.secret)
	_ = rfc2865.UserName_SetString(p, "bob")
	_ = rfc2869.MessageAuthenticator_Set(p, make([]byte, 16))
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	clear(b[4:20])
	off, _ := findMA(b)
	m := hmac.New(md5.New, ts.secret)
	m.Write(b)
	copy(b[off:], m.Sum(nil))
	h := md5.New()
	h.Write(b)
	h.Write(ts.secret)
	copy(b[4:20], h.Sum(nil))
	reply := exchange(t, c, b)
	if reply == nil || radius.Code(reply[0]) != radius.CodeAccountingResponse {
		t.Fatalf("Accounting-Request with Message-Authenticator: reply %v", reply)
	}
	if !radius.IsAuthenticResponse(reply, b, ts.secret) {
		t.Fatal("Accounting-Response does not verify")
	}
	// Altered after signing: dropped.
	b[len(b)-1] ^= 1
	if exchange(t, c, b) != nil {
		t.Fatal("altered Accounting-Request answered")
	}

	if _, err := exec.LookPath("radclient"); err != nil {
		t.Skip("radclient not installed")
	}
	for _, withMA := range []bool{false, true} {
		in := `User-Name = bob, Acct-Status-Type = Start, Acct-Session-Id = "s1"`
		if withMA {
			in += ", Message-Authenticator = 0x00"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cmd := exec.CommandContext(ctx, "radclient", "-x", "-r", "1", "-t", "2", ts.addr, "acct", string(ts.secret))
		cmd.Stdin = strings.NewReader(in + "\n")
		out, _ := cmd.CombinedOutput()
		cancel()
		if !strings.Contains(string(out), "Received Accounting-Response") {
			t.Fatalf("radclient acct (Message-Authenticator %v) got no answer:\n%s", withMA, out)
		}
	}
}

// Shutdown stops reading but answers what was read: a request in flight when it is called
// still gets its reply, and only then is the socket closed.
func TestServerShutdownAnswersInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	ts := startServer(t, true, func(ctx context.Context, r *Request) *radius.Packet {
		close(entered)
		<-release
		return accept(ctx, r)
	})
	c := dial(t, ts.addr)
	req := accessRequest(t, ts.secret, true)
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("request never reached the handler")
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- ts.srv.Shutdown(ctx)
	}()
	// Shutdown waits for the request in flight.
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("request in flight at Shutdown got no reply: %v", err)
	}
	checkResponse(t, buf[:n], req, ts.secret)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// Closed now: nothing more is answered.
	if exchange(t, c, accessRequest(t, ts.secret, true)) != nil {
		t.Fatal("answered after Shutdown")
	}
}

// With every in-flight slot taken, a retransmit of an answered request is still answered from
// the reply cache; a new request is dropped.
func TestServerRetransmitAnsweredWhenFull(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	secret := []byte("s3cret-shared")
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	srv := NewServer(NewClients([]Client{{Name: "lo", Prefix: netip.MustParsePrefix("127.0.0.0/8"), Secret: secret, RequireMessageAuthenticator: true}}),
		Options{Logger: zerolog.Nop(), MaxInFlight: 1, Handler: HandlerFunc(func(ctx context.Context, r *Request) *radius.Packet {
			if calls.Add(1) == 2 {
				entered <- struct{}{}
				<-release
			}
			return accept(ctx, r)
		})})
	go func() { _ = srv.Serve(conn) }()
	defer func() {
		close(release)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	c := dial(t, conn.LocalAddr().String())
	answered := accessRequest(t, secret, true)
	first := exchange(t, c, answered)
	if first == nil {
		t.Fatal("no answer")
	}
	// Take the only slot.
	other := dial(t, conn.LocalAddr().String())
	if _, err := other.Write(accessRequest(t, secret, true)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("second request never reached the handler")
	}
	if again := exchange(t, c, answered); !bytes.Equal(again, first) {
		t.Fatalf("retransmit while full: got %x, want the cached %x", again, first)
	}
	if exchange(t, c, accessRequest(t, secret, true)) != nil {
		t.Fatal("a new request was answered with no slot free")
	}
	if calls.Load() != 2 {
		t.Fatalf("handler ran %d times, want 2", calls.Load())
	}
}

// After Shutdown a RadSec connection that is still open gets no more requests processed.
func TestRadSecAfterShutdown(t *testing.T) {
	pki := newTestPKI(t)
	tc, err := TLSConfig(pki.certFile, pki.keyFile, pki.caFile)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", tc)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	srv := NewServer(NewClients([]Client{{Name: "lo", Prefix: netip.MustParsePrefix("127.0.0.0/8"), Secret: []byte("x"), RequireMessageAuthenticator: true}}),
		Options{Logger: zerolog.Nop(), Handler: HandlerFunc(func(ctx context.Context, r *Request) *radius.Packet {
			calls.Add(1)
			return accept(ctx, r)
		})})
	go func() { _ = srv.ServeTLS(l) }()
	defer l.Close()
	c, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(accessRequest(t, radsecSecret, true)); err != nil {
		return // closed already: fine
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := c.Read(make([]byte, 4096)); err == nil {
		t.Fatalf("answered (%d bytes) after Shutdown", n)
	}
	if calls.Load() != 0 {
		t.Fatal("the handler ran after Shutdown")
	}
}

// Each UDP port takes its own kind of request (RFC 2865 §3, RFC 2866 §3): an Access-Request on
// the accounting port and an Accounting-Request on the authentication port are dropped unseen.
func TestServerWrongPortDropped(t *testing.T) {
	answer := func(_ context.Context, r *Request) *radius.Packet {
		if r.Packet.Code == radius.CodeAccountingRequest {
			return r.Packet.Response(radius.CodeAccountingResponse)
		}
		return r.Packet.Response(radius.CodeAccessAccept)
	}
	acctReq := func(secret []byte) []byte {
		p := radius.New(radius.CodeAccountingRequest, secret)
		_ = rfc2865.UserName_SetString(p, "alice")
		b, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	auth := startServerOn(t, true, answer, portAuth)
	if r := exchange(t, dial(t, auth.addr), acctReq(auth.secret)); r != nil {
		t.Fatal("Accounting-Request answered on the authentication port")
	}
	acct := startServerOn(t, true, answer, portAcct)
	if r := exchange(t, dial(t, acct.addr), accessRequest(t, acct.secret, true)); r != nil {
		t.Fatal("Access-Request answered on the accounting port")
	}
	if auth.calls.Load()+acct.calls.Load() != 0 {
		t.Fatal("a request on the wrong port reached the handler")
	}
	// Each port still answers its own.
	if r := exchange(t, dial(t, acct.addr), acctReq(acct.secret)); r == nil {
		t.Fatal("Accounting-Request not answered on the accounting port")
	}
	if r := exchange(t, dial(t, auth.addr), accessRequest(t, auth.secret, true)); r == nil {
		t.Fatal("Access-Request not answered on the authentication port")
	}
}
