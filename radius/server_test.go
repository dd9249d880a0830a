package radius

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"net"
	"net/netip"
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
	go func() { _ = ts.srv.Serve(conn) }()
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
