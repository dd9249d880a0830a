package radius

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// radsecSecret is the shared secret RFC 6614 §2.3 fixes for RADIUS over TLS: the TLS session
// protects the packets; the secret only keeps the packet format.
var radsecSecret = []byte("radsec")

// ServeTLS serves RADIUS over TLS (RadSec, RFC 6614) on l, which must be a TLS listener that
// requires and verifies client certificates. A connection is accepted only from a source
// address that matches a configured client; packets are framed by their own length field.
func (s *Server) ServeTLS(l net.Listener) error {
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if s.shutdown.Load() || errors.Is(err, net.ErrClosed) {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("radius: radsec accept: %w", err)
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			s.serveTLSConn(c)
		}()
	}
}

func (s *Server) serveTLSConn(c net.Conn) {
	defer c.Close()
	src, ok := addrPort(c.RemoteAddr())
	if !ok {
		return
	}
	log := s.log.With().Str("remote", src.String()).Str("transport", "radsec").Logger()
	client := s.clients.Load().Lookup(src.Addr())
	if client == nil {
		s.drop(zerolog.Dict().Str("remote", src.String()), "radsec: unknown client")
		return
	}
	if tc, ok := c.(*tls.Conn); ok {
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err != nil {
			log.Warn().Err(err).Msg("radius: radsec handshake failed")
			return
		}
	}
	tlsClient := *client
	tlsClient.Secret = radsecSecret
	var wmu sync.Mutex
	var inflight sync.WaitGroup
	defer inflight.Wait()
	hdr := make([]byte, 4)
	for {
		// An idle connection is closed after a while; the NAS reconnects.
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Minute))
		if _, err := io.ReadFull(c, hdr); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[2:4]))
		if n < headerLen || n > maxPacketLen {
			log.Warn().Int("length", n).Msg("radius: radsec packet length out of range; closing")
			return
		}
		b := make([]byte, n)
		copy(b, hdr)
		if _, err := io.ReadFull(c, b[4:]); err != nil {
			return
		}
		s.received.Add(1)
		select {
		case s.sem <- struct{}{}:
		default:
			s.drop(zerolog.Dict().Str("remote", src.String()), "too many requests in flight")
			continue
		}
		if !s.track() {
			<-s.sem
			return // shutting down: the NAS reconnects to another server
		}
		inflight.Add(1)
		go func() {
			defer func() { <-s.sem; s.wg.Done(); inflight.Done() }()
			ctx, cancel := context.WithTimeout(context.Background(), s.opts.RequestTimeout)
			defer cancel()
			reply := s.process(ctx, b, src, &tlsClient, portBoth)
			if reply == nil {
				return
			}
			wmu.Lock()
			defer wmu.Unlock()
			_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write(reply); err == nil {
				s.replied.Add(1)
			}
		}()
	}
}

// TLSConfig builds the server side of RadSec: our certificate, and client certificates required
// and verified against caFile (mutual TLS), TLS 1.2 at least.
func TLSConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("radius: radsec certificate: %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("radius: radsec client CAs: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("radius: radsec client CAs: no PEM certificates in %s", caFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}, nil
}
