package main

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of the client side.
var (
	errBadHandshake = errors.New("idle: handshake: server did not answer 101 with the right accept key")
	errBadEcho      = errors.New("idle: echo: reply differs from what was sent")
)

// exchange is what one client connection does right after it is dialled:
// a WebSocket handshake and maybe an echo, or a plain TCP echo. It must
// leave the connection idle (nothing in flight) when it returns nil.
type exchange func(c net.Conn) error

// wsExchange returns the WebSocket client's exchange: GET path with the
// Upgrade headers, check the 101, then (if echo) one masked text frame and
// its echo.
func wsExchange(host, path string, echo bool) exchange {
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: " + host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	return func(c net.Conn) error {
		if _, err := c.Write(req); err != nil {
			return err
		}
		var buf [1024]byte
		head, rest, err := readHead(c, buf[:])
		if err != nil {
			return err
		}
		// RFC 6455 section 1.3's sample key and its accept value.
		if !bytes.HasPrefix(head, []byte("HTTP/1.1 101 ")) ||
			!bytes.Contains(head, []byte("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")) {
			return fmt.Errorf("%w: %q", errBadHandshake, firstLine(head))
		}
		if !echo {
			if len(rest) > 0 {
				return fmt.Errorf("idle: %d unexpected bytes after the 101", len(rest))
			}
			return nil
		}
		return wsEcho(c, rest)
	}
}

// echoPayload is what each connection sends once to touch the read path.
var echoPayload = []byte("idle")

// wsEcho sends one masked text frame and expects the same payload back
// unmasked; early holds bytes already read after the handshake response.
func wsEcho(c net.Conn, early []byte) error {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	f := []byte{0x81, 0x80 | byte(len(echoPayload)), key[0], key[1], key[2], key[3]}
	for i, b := range echoPayload {
		f = append(f, b^key[i%4])
	}
	if _, err := c.Write(f); err != nil {
		return err
	}
	want := append([]byte{0x81, byte(len(echoPayload))}, echoPayload...)
	got := make([]byte, len(want))
	n := copy(got, early)
	if err := readFull(c, got[n:]); err != nil {
		return fmt.Errorf("idle: echo: %w", err)
	}
	if !bytes.Equal(got, want) || len(early) > len(want) {
		return fmt.Errorf("%w: got % x", errBadEcho, got)
	}
	return nil
}

// tcpExchange is the floor's exchange: a few bytes out, the same back.
func tcpExchange(c net.Conn) error {
	if _, err := c.Write(echoPayload); err != nil {
		return err
	}
	got := make([]byte, len(echoPayload))
	if err := readFull(c, got); err != nil {
		return fmt.Errorf("idle: echo: %w", err)
	}
	if !bytes.Equal(got, echoPayload) {
		return fmt.Errorf("%w: got %q", errBadEcho, got)
	}
	return nil
}

// readHead reads until the end of an HTTP response head and returns the
// head and any bytes after it.
func readHead(c net.Conn, buf []byte) (head, rest []byte, err error) {
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if i := bytes.Index(buf[:n], []byte("\r\n\r\n")); i >= 0 {
			return buf[:i+4], buf[i+4 : n], nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("idle: handshake: %w after %q", err, firstLine(buf[:n]))
		}
	}
	return nil, nil, fmt.Errorf("idle: handshake: response head over %d bytes", len(buf))
}

func readFull(c net.Conn, p []byte) error {
	for len(p) > 0 {
		n, err := c.Read(p)
		p = p[n:]
		if err != nil && len(p) > 0 {
			return err
		}
	}
	return nil
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\r'); i >= 0 {
		return b[:i]
	}
	return b
}

// dialPlan says how to open the connections.
type dialPlan struct {
	addr    string
	n       int
	first   int // index of the first connection, for spreading over sources
	sources int // source addresses 127.0.0.2 .. 127.0.0.(1+sources)
	workers int // dialling goroutines; they exit once all are open
	timeout time.Duration
	ex      exchange
}

// sourceIP returns the i-th connection's source address.
func sourceIP(i, sources int) net.IP {
	k := 2 + i%sources
	return net.IPv4(127, byte(k>>16), byte(k>>8), byte(k))
}

// dialAll opens p.n connections (numbered from p.first) with a bounded pool of goroutines and
// returns them idle; no goroutine per connection remains. On any failure
// it closes what it opened and returns the first error and the failure
// count.
func dialAll(p dialPlan) ([]net.Conn, error) {
	conns := make([]net.Conn, p.n)
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < min(p.workers, p.n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= p.n || failed.Load() > 0 {
					return
				}
				c, err := dialOne(p, p.first+i)
				if err != nil {
					failed.Add(1)
					once.Do(func() { firstErr = fmt.Errorf("connection %d: %w", i, err) })
					continue
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		closeAll(conns)
		return nil, firstErr
	}
	return conns, nil
}

func dialOne(p dialPlan, i int) (net.Conn, error) {
	d := net.Dialer{Timeout: p.timeout, LocalAddr: &net.TCPAddr{IP: sourceIP(i, p.sources)}}
	c, err := d.Dial("tcp", p.addr)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(p.timeout))
	if err := p.ex(c); err != nil {
		abort(c)
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// abort closes c with a reset (SO_LINGER 0), so no TIME_WAIT entry holds
// its source port for the next round.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

func closeAll(conns []net.Conn) {
	for i, c := range conns {
		if c != nil {
			abort(c)
			conns[i] = nil
		}
	}
}

// wsDeflateExchange is wsExchange with a permessage-deflate offer: the 101
// must accept it, then one compressed (RSV1) masked text frame goes out and
// its echo (uncompressed: it is under the compression threshold) comes back.
func wsDeflateExchange(host, path string) exchange {
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: " + host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	compressed := deflateRaw(echoPayload)
	frame := []byte{0x80 | 0x40 | 0x1, 0x80 | byte(len(compressed)), 1, 2, 3, 4}
	for i, b := range compressed {
		frame = append(frame, b^frame[2+i%4])
	}
	return func(c net.Conn) error {
		if _, err := c.Write(req); err != nil {
			return err
		}
		var buf [1024]byte
		head, rest, err := readHead(c, buf[:])
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(head, []byte("HTTP/1.1 101 ")) || !bytes.Contains(head, []byte("permessage-deflate")) {
			return fmt.Errorf("%w (or permessage-deflate not accepted): %q", errBadHandshake, head)
		}
		if _, err := c.Write(frame); err != nil {
			return err
		}
		want := append([]byte{0x81, byte(len(echoPayload))}, echoPayload...)
		got := append([]byte(nil), rest...)
		for len(got) < len(want) {
			n, err := c.Read(buf[:])
			if err != nil {
				return err
			}
			got = append(got, buf[:n]...)
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%w: %x", errBadEcho, got)
		}
		return nil
	}
}

// deflateRaw compresses p as one permessage-deflate message: raw DEFLATE,
// sync-flushed, with the 00 00 ff ff tail removed (RFC 7692 section 7.2.1).
func deflateRaw(p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}
