// Package wstest is a small WebSocket client for wsgate's end-to-end tests.
// It speaks RFC 6455 over a plain net.Conn, one call at a time on the
// caller's goroutine, and deliberately lets a test write anything: frames
// with reserved bits, reserved opcodes, bad lengths, unmasked frames, or raw
// bytes split into arbitrary writes. Every read runs under a deadline, so a
// test never hangs on a server that does not answer.
//
// A Conn starts no goroutine, which lets tests hold thousands of them and
// count the process's goroutines.
package wstest

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
)

// DefaultTimeout bounds each read and write of a Conn unless the test sets
// Conn.Timeout. It guards against a test hanging for good, not a timing
// assertion: tests run on busy 2-core machines beside other packages'
// tests, where a loaded server may take seconds to answer.
const DefaultTimeout = 30 * time.Second

// Errors reported by the client.
var (
	// ErrMaskedServerFrame reports a server frame with the mask bit set.
	ErrMaskedServerFrame = errors.New("wstest: server frame is masked")
	// ErrBadAccept reports a 101 response whose Sec-WebSocket-Accept does
	// not match the key sent.
	ErrBadAccept = errors.New("wstest: wrong Sec-WebSocket-Accept")
	// ErrNotClosed reports a frame where the end of the stream was expected.
	ErrNotClosed = errors.New("wstest: connection still open")
)

// StatusError is returned by Connect when the server answers the upgrade
// request with a status other than 101.
type StatusError struct {
	Status int
	Header http.Header
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("wstest: handshake answered %d: %s", e.Status, strings.TrimSpace(e.Body))
}

// Frame is one frame read from the server.
type Frame struct {
	Fin     bool
	Rsv     byte // reserved bits in wire position (frame.RSV1 = 0x40)
	Op      frame.Opcode
	Payload []byte
}

// String describes f briefly for failure messages.
func (f Frame) String() string {
	p := f.Payload
	if len(p) > 32 {
		p = p[:32]
	}
	return fmt.Sprintf("{op=%v fin=%v rsv=%#x len=%d %q}", f.Op, f.Fin, f.Rsv, len(f.Payload), p)
}

// Conn is a client connection that has completed the opening handshake.
// It is not safe for concurrent use, except that one goroutine may write
// (WriteRaw and the frame writers) while another reads.
type Conn struct {
	// NC is the underlying connection; tests may use it directly.
	NC net.Conn
	// Response is the server's 101 response when it was parsed with
	// net/http (a response that did not start with "HTTP/1.1 101 ");
	// nil otherwise.
	Response *http.Response
	// Extensions is the Sec-WebSocket-Extensions value of the 101
	// response ("" when absent), whichever way it was parsed.
	Extensions string
	// Timeout bounds each read and write; DefaultTimeout when zero.
	Timeout time.Duration

	tb  testing.TB // for the Expect methods; nil unless Dial or Bind set it
	br  *bufio.Reader
	hdr [14]byte
	wb  []byte
}

// NewKey returns a fresh random Sec-WebSocket-Key.
func NewKey() string {
	var k [16]byte
	for i := range k {
		k[i] = byte(rand.Uint32())
	}
	return base64.StdEncoding.EncodeToString(k[:])
}

// AcceptFor returns the Sec-WebSocket-Accept value for key.
func AcceptFor(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// Request returns a valid upgrade request for path on host with key, plus
// the extra header lines ("Name: value") given.
func Request(host, path, key string, extra ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", path, host)
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", key)
	for _, h := range extra {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// Connect dials addr and upgrades path with the extra header lines given
// ("Origin: https://x"). A non-101 answer is returned as *StatusError.
func Connect(addr, path string, extra ...string) (*Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, DefaultTimeout)
	if err != nil {
		return nil, err
	}
	return upgradePath(nc, addr, path, extra)
}

// upgradePath upgrades path over the dialled nc, closing nc on failure.
func upgradePath(nc net.Conn, addr, path string, extra []string) (*Conn, error) {
	key := NewKey()
	c, err := Upgrade(nc, Request(addr, path, key, extra...), key)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// Upgrade writes req (an upgrade request carrying key, possibly followed
// by early frames) to nc in one write and reads the response.
func Upgrade(nc net.Conn, req []byte, key string) (*Conn, error) {
	c := &Conn{NC: nc, br: bufio.NewReader(nc)}
	if err := c.WriteRaw(req); err != nil {
		return nil, err
	}
	if err := c.ReadUpgradeResponse(key); err != nil {
		return nil, err
	}
	return c, nil
}

// NewConn wraps nc, on which the caller writes the request itself (for
// instance a byte at a time); call ReadUpgradeResponse next.
func NewConn(nc net.Conn) *Conn { return &Conn{NC: nc, br: bufio.NewReader(nc)} }

// ReadUpgradeResponse reads the server's answer to an upgrade request
// carrying key and checks it is a valid 101.
func (c *Conn) ReadUpgradeResponse(key string) error {
	_ = c.NC.SetReadDeadline(time.Now().Add(c.timeout()))
	if head, err := c.br.Peek(13); err == nil && string(head) == "HTTP/1.1 101 " {
		return c.read101(key)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return fmt.Errorf("wstest: reading handshake response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		return &StatusError{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != AcceptFor(key) {
		return fmt.Errorf("%w: %q", ErrBadAccept, got)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		return fmt.Errorf("wstest: 101 without Upgrade: websocket")
	}
	c.Response = resp
	c.Extensions = resp.Header.Get("Sec-WebSocket-Extensions")
	return nil
}

// read101 parses a 101 response without net/http, which matters when a
// test opens thousands of connections under the race detector. Response
// stays nil.
func (c *Conn) read101(key string) error {
	var accept, upgrade bool
	want := AcceptFor(key)
	for first := true; ; first = false {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("wstest: reading handshake response: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		if first {
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return fmt.Errorf("wstest: malformed response header %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Accept")):
			if string(value) != want {
				return fmt.Errorf("%w: %q", ErrBadAccept, value)
			}
			accept = true
		case bytes.EqualFold(name, []byte("Upgrade")):
			upgrade = bytes.EqualFold(value, []byte("websocket"))
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Extensions")):
			c.Extensions = string(value)
		}
	}
	if !accept || !upgrade {
		return fmt.Errorf("wstest: 101 without Sec-WebSocket-Accept or Upgrade: websocket")
	}
	return nil
}

// ReadHTTPResponse reads an HTTP response (a handshake rejection, say)
// and up to 4 KiB of its body under the read deadline.
func (c *Conn) ReadHTTPResponse() (*http.Response, string, error) {
	_ = c.NC.SetReadDeadline(time.Now().Add(c.timeout()))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	return resp, string(body), err
}

// Close closes the TCP connection without a close handshake.
func (c *Conn) Close() error { return c.NC.Close() }

func (c *Conn) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// WriteRaw writes b as is in one write.
func (c *Conn) WriteRaw(b []byte) error {
	_ = c.NC.SetWriteDeadline(time.Now().Add(c.timeout()))
	_, err := c.NC.Write(b)
	return err
}

// WriteChunked writes b in writes of at most chunk bytes, sleeping pause
// between them (none when zero), so the server sees the bytes split across
// reads.
func (c *Conn) WriteChunked(b []byte, chunk int, pause time.Duration) error {
	for len(b) > 0 {
		n := min(chunk, len(b))
		if err := c.WriteRaw(b[:n]); err != nil {
			return err
		}
		b = b[n:]
		if pause > 0 && len(b) > 0 {
			time.Sleep(pause)
		}
	}
	return nil
}

// AppendFrame appends a client frame to dst: masked with a random key when
// mask is set, with any fin, rsv (wire position, frame.RSV1...) and opcode,
// valid or not.
func AppendFrame(dst []byte, fin bool, rsv byte, op frame.Opcode, payload []byte, mask bool) []byte {
	if !mask {
		return frame.AppendFrame(dst, fin, rsv, op, payload)
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], rand.Uint32())
	return frame.AppendMaskedFrame(dst, fin, rsv, op, key, payload)
}

// WriteFrame writes one frame in one write (see AppendFrame).
func (c *Conn) WriteFrame(fin bool, rsv byte, op frame.Opcode, payload []byte, mask bool) error {
	c.wb = AppendFrame(c.wb[:0], fin, rsv, op, payload, mask)
	err := c.WriteRaw(c.wb)
	if cap(c.wb) > 64<<10 {
		c.wb = nil
	}
	return err
}

// WriteMessage writes a single masked, final, unreserved frame.
func (c *Conn) WriteMessage(op frame.Opcode, payload []byte) error {
	return c.WriteFrame(true, 0, op, payload, true)
}

// WriteClose writes a masked close frame with code and reason; code 0
// writes an empty close frame. Any code is written, valid or not.
func (c *Conn) WriteClose(code uint16, reason string) error {
	var p []byte
	if code != 0 {
		p = binary.BigEndian.AppendUint16(nil, code)
		p = append(p, reason...)
	}
	return c.WriteFrame(true, 0, frame.OpClose, p, true)
}

// ReadFrame reads one frame from the server under the read deadline. It
// checks nothing but the mask bit, which a server must never set.
func (c *Conn) ReadFrame() (Frame, error) {
	_ = c.NC.SetReadDeadline(time.Now().Add(c.timeout()))
	h := c.hdr[:2]
	if _, err := io.ReadFull(c.br, h); err != nil {
		return Frame{}, err
	}
	f := Frame{Fin: h[0]&0x80 != 0, Rsv: h[0] & 0x70, Op: frame.Opcode(h[0] & 0x0F)}
	if h[1]&0x80 != 0 {
		return f, ErrMaskedServerFrame
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		if _, err := io.ReadFull(c.br, c.hdr[2:4]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(c.hdr[2:4]))
	case 127:
		if _, err := io.ReadFull(c.br, c.hdr[2:10]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(c.hdr[2:10])
	}
	if n > 1<<30 {
		return f, fmt.Errorf("wstest: server frame of %d bytes", n)
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, f.Payload); err != nil {
		return f, err
	}
	return f, nil
}

// ReadMessage reads one data message, joining continuation frames. A
// control frame or reserved bit on the way is an error.
func (c *Conn) ReadMessage() (frame.Opcode, []byte, error) {
	f, err := c.ReadFrame()
	if err != nil {
		return 0, nil, err
	}
	if f.Op != frame.OpText && f.Op != frame.OpBinary || f.Rsv != 0 {
		return f.Op, f.Payload, fmt.Errorf("wstest: want a data message, got %v", f)
	}
	op, msg := f.Op, f.Payload
	for !f.Fin {
		if f, err = c.ReadFrame(); err != nil {
			return op, msg, err
		}
		if f.Op != frame.OpContinuation || f.Rsv != 0 {
			return op, msg, fmt.Errorf("wstest: want a continuation frame, got %v", f)
		}
		msg = append(msg, f.Payload...)
	}
	return op, msg, nil
}

// ReadClose reads the next frame, which must be a close frame, and returns
// its code (frame.CloseNoStatus for an empty payload) and reason. The
// payload's shape is checked: a 1-byte payload or a reason that is not
// UTF-8 is an error.
func (c *Conn) ReadClose() (frame.CloseCode, string, error) {
	f, err := c.ReadFrame()
	if err != nil {
		return 0, "", err
	}
	if f.Op != frame.OpClose || !f.Fin || f.Rsv != 0 {
		return 0, "", fmt.Errorf("wstest: want a close frame, got %v", f)
	}
	switch {
	case len(f.Payload) == 0:
		return frame.CloseNoStatus, "", nil
	case len(f.Payload) == 1 || len(f.Payload) > frame.MaxControlPayload:
		return 0, "", fmt.Errorf("wstest: close payload of %d bytes", len(f.Payload))
	}
	code := frame.CloseCode(binary.BigEndian.Uint16(f.Payload))
	reason := f.Payload[2:]
	if !code.ValidOnWire() {
		return code, string(reason), fmt.Errorf("wstest: server sent close code %d", code)
	}
	if !frame.ValidUTF8(reason) {
		return code, string(reason), fmt.Errorf("wstest: close reason is not UTF-8: %q", reason)
	}
	return code, string(reason), nil
}

// ReadEOF waits for the server to close TCP: it succeeds on io.EOF or a
// connection reset, and fails if a frame or the deadline comes first.
func (c *Conn) ReadEOF() error {
	_ = c.NC.SetReadDeadline(time.Now().Add(c.timeout()))
	var b [1]byte
	n, err := c.br.Read(b[:])
	switch {
	case n > 0:
		rest, _ := c.br.Peek(c.br.Buffered())
		return fmt.Errorf("%w: got %q", ErrNotClosed, append(b[:1:1], rest...))
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
		return nil
	case err == nil:
		return ErrNotClosed
	}
	return fmt.Errorf("wstest: waiting for the server to close TCP: %w", err)
}
