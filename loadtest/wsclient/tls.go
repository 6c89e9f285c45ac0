package wsclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/lesismal/nbio"
)

// wss:// on the event loop without a goroutine per connection.
//
// A crypto/tls client runs over a tlsPipe. During the TLS handshake, on the
// dial goroutine, the pipe reads and writes the TCP connection directly
// (blocking, bounded by the handshake timeout). Then the socket is handed to
// the nbio engine: the event loop pushes ciphertext into the pipe and drains
// plaintext with tls.Conn.Read, which stops with errWouldBlock when the pipe
// is empty. crypto/tls keeps a partial record across such a temporary error
// (it only makes non-temporary errors sticky). Writes go through tls.Conn to
// the nbio connection, which queues what the socket does not take.

// ErrBadCAFile reports a --ca-file without usable PEM certificates.
var ErrBadCAFile = errors.New("loadtest: no certificates in the CA file")

// wouldBlock is the temporary error a drained tlsPipe returns.
type wouldBlock struct{}

func (wouldBlock) Error() string   { return "loadtest: tls pipe empty" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

var errWouldBlock net.Error = wouldBlock{}

// tlsPipe is the net.Conn under a client tls.Conn; see above. Its fields
// are guarded by mu (the event loop pushes while a sender may write).
type tlsPipe struct {
	mu sync.Mutex
	tc net.Conn   // the TCP connection until the handoff
	nc *nbio.Conn // the event-loop connection after it
	in []byte     // ciphertext pushed by the event loop, not yet read
}

func (p *tlsPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	tc := p.tc
	if tc == nil {
		defer p.mu.Unlock()
		if len(p.in) == 0 {
			return 0, errWouldBlock
		}
		n := copy(b, p.in)
		p.in = p.in[n:]
		if len(p.in) == 0 {
			p.in = p.in[:0:0] // drop the buffer of an idle connection
		}
		return n, nil
	}
	p.mu.Unlock()
	return tc.Read(b)
}

func (p *tlsPipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	tc, nc := p.tc, p.nc
	p.mu.Unlock()
	if tc != nil {
		return tc.Write(b)
	}
	return nc.Write(b)
}

func (p *tlsPipe) push(data []byte) {
	p.mu.Lock()
	p.in = append(p.in, data...)
	p.mu.Unlock()
}

// handoff switches the pipe to the event loop.
func (p *tlsPipe) handoff(nc *nbio.Conn) {
	p.mu.Lock()
	p.tc, p.nc = nil, nc
	p.mu.Unlock()
}

func (p *tlsPipe) Close() error                       { return nil }
func (p *tlsPipe) LocalAddr() net.Addr                { return nil }
func (p *tlsPipe) RemoteAddr() net.Addr               { return nil }
func (p *tlsPipe) SetDeadline(t time.Time) error      { return nil }
func (p *tlsPipe) SetReadDeadline(t time.Time) error  { return nil }
func (p *tlsPipe) SetWriteDeadline(t time.Time) error { return nil }

// tlsConfig builds the client TLS configuration.
func tlsConfig(caFile string, insecure bool) (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: insecure, ClientSessionCache: tls.NewLRUClientSessionCache(1024)}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, ErrBadCAFile
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// tlsHandshake runs the TLS handshake on tc for target t and returns the
// client connection over a pipe that still uses tc.
func (cl *Client) tlsHandshake(tc net.Conn, t *Target) (*tls.Conn, *tlsPipe, error) {
	cfg := cl.tlsCfg.Clone()
	host, _, err := net.SplitHostPort(t.Addr)
	if err != nil {
		host = t.Addr
	}
	cfg.ServerName = host
	pipe := &tlsPipe{tc: tc}
	tconn := tls.Client(pipe, cfg)
	_ = tc.SetDeadline(time.Now().Add(cl.opts.HandshakeTimeout))
	if err := tconn.Handshake(); err != nil {
		return nil, nil, &tlsError{err}
	}
	_ = tc.SetDeadline(time.Time{})
	return tconn, pipe, nil
}

// tlsError wraps a TLS handshake failure (failure kind "tls", or
// "timeout" when it timed out).
type tlsError struct{ err error }

func (e *tlsError) Error() string { return "loadtest: tls handshake: " + e.err.Error() }
func (e *tlsError) Unwrap() error { return e.err }

// readTLSLocked feeds ciphertext to c's TLS connection and hands every
// plaintext chunk to plain. It returns a non-nil error when the connection
// must close.
func (c *Conn) readTLSLocked(data []byte, plain func([]byte)) error {
	c.pipe.push(data)
	b := c.cl.getBuf()
	defer c.cl.putBuf(b)
	if cap(*b) < 16<<10 {
		*b = make([]byte, 0, 16<<10)
	}
	buf := (*b)[:cap(*b)]
	for c.state != stClosed {
		n, err := c.tls.Read(buf)
		if n > 0 {
			plain(buf[:n])
		}
		if err != nil {
			if errors.Is(err, errWouldBlock) {
				return nil
			}
			return err
		}
	}
	return nil
}
