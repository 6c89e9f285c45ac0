package wsclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wsgate/wsgate/frame"

	"github.com/wsgate/wsgate/loadtest/stats"
)

// SockJS transports of the client. A SockJS connection receives on its
// event-loop socket (one keep-alive HTTP connection carrying one
// receiving request after another: xhr-streaming responses until their
// response limit, or one xhr-polling response per batch) and sends with
// xhr_send requests on a shared HTTP client, one request in flight per
// session with whatever queued meanwhile batched into it, as
// sockjs-client does.
const (
	TransportWebSocket    = "websocket"
	TransportXHRStreaming = "xhr-streaming"
	TransportXHRPolling   = "xhr-polling"
)

// ErrSockJS reports a SockJS response the client cannot follow.
var ErrSockJS = errors.New("loadtest: malformed SockJS response")

// sjState is a SockJS connection's state. The receive side belongs to
// the event loop (under Conn.mu); the send side has its own lock.
type sjState struct {
	transport string
	base      string // /base/server/session
	host      string
	url       string // http://host/base/server/session
	// Receive side.
	head    bool // reading a response head
	chunked bool
	left    int    // bytes left in the current chunk (-1: reading a size line)
	in      []byte // bytes not yet parsed
	line    []byte // the frame line being assembled
	open    bool   // "o" seen
	// Send side.
	smu     sync.Mutex
	out     []byte // queued messages as JSON strings, comma separated
	n       int    // messages in out
	sending bool
}

// newSJState makes the SockJS state of connection id to t.
func newSJState(t *Target, r *Rand) *sjState {
	base, _, _ := strings.Cut(t.Path, "?")
	session := strconv.FormatUint(r.Next(), 36)
	s := &sjState{transport: t.SockJS, host: t.Host, head: true, left: -1}
	s.base = fmt.Sprintf("%s/%03d/%s", strings.TrimSuffix(base, "/"), r.Next()%1000, session)
	scheme := "http://"
	if t.TLS {
		scheme = "https://"
	}
	s.url = scheme + t.Host + s.base
	return s
}

// appendRequest appends the next receiving request.
func (s *sjState) appendRequest(dst []byte) []byte {
	name := "/xhr_streaming"
	if s.transport == TransportXHRPolling {
		name = "/xhr"
	}
	dst = append(dst, "POST "...)
	dst = append(dst, s.base...)
	dst = append(dst, name...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, s.host...)
	return append(dst, "\r\nContent-Length: 0\r\n\r\n"...)
}

// sjDataLocked handles bytes received on a SockJS connection.
func (c *Conn) sjDataLocked(data []byte) {
	s := c.sj
	s.in = append(s.in, data...)
	for len(s.in) > 0 && c.state != stClosed && !c.local {
		if s.head {
			end := bytes.Index(s.in, []byte("\r\n\r\n"))
			if end < 0 {
				if len(s.in) > maxResponseHeader {
					c.sjFailLocked(ErrHeaderTooBig)
				}
				return
			}
			if !c.sjHeadLocked(s.in[:end+4]) {
				return
			}
			s.in = s.in[end+4:]
			continue
		}
		if !c.sjBodyLocked() {
			return
		}
	}
	if cap(s.in) > 64<<10 && len(s.in) == 0 {
		s.in = nil
	}
}

// sjHeadLocked checks a response head; it reports false when the
// connection failed.
func (c *Conn) sjHeadLocked(h []byte) bool {
	s := c.sj
	line, _, _ := bytes.Cut(h, []byte("\r\n"))
	f := bytes.Fields(line)
	if len(f) < 2 {
		c.sjFailLocked(ErrBadResponse)
		return false
	}
	code, err := strconv.Atoi(string(f[1]))
	if err != nil {
		c.sjFailLocked(ErrBadResponse)
		return false
	}
	if code != 200 {
		c.sjFailLocked(&StatusError{Code: code})
		return false
	}
	s.head = false
	s.chunked = bytes.Contains(bytes.ToLower(h), []byte("transfer-encoding: chunked"))
	s.left = -1
	if !s.chunked {
		c.sjFailLocked(ErrSockJS) // the client speaks HTTP/1.1: responses are chunked
		return false
	}
	return true
}

// sjBodyLocked consumes chunked body bytes; false when it needs more.
func (c *Conn) sjBodyLocked() bool {
	s := c.sj
	if s.left < 0 {
		i := bytes.Index(s.in, []byte("\r\n"))
		if i < 0 {
			return false
		}
		size, err := strconv.ParseUint(string(bytes.TrimSpace(s.in[:i])), 16, 32)
		if err != nil {
			c.sjFailLocked(ErrSockJS)
			return false
		}
		if size == 0 {
			// The response ended (its limit, or a poll's one frame):
			// after the last chunk's CRLF, ask for the next.
			if len(s.in) < i+4 {
				return false
			}
			s.in = s.in[i+4:]
			s.head = true
			c.sjNextLocked()
			return true
		}
		s.in = s.in[i+2:]
		s.left = int(size)
		return true
	}
	if s.left == 0 {
		if len(s.in) < 2 {
			return false
		}
		s.in = s.in[2:] // the chunk's CRLF
		s.left = -1
		return true
	}
	n := min(s.left, len(s.in))
	c.sjFramesLocked(s.in[:n])
	s.in = s.in[n:]
	s.left -= n
	return true
}

// sjNextLocked sends the next receiving request.
func (c *Conn) sjNextLocked() {
	b := c.cl.getBuf()
	*b = c.sj.appendRequest((*b)[:0])
	_, err := c.writeRaw(*b)
	c.cl.putBuf(b)
	if err != nil {
		_ = c.nc.Close()
	}
}

// sjFramesLocked splits body bytes into frame lines.
func (c *Conn) sjFramesLocked(p []byte) {
	s := c.sj
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.line = append(s.line, p...)
			return
		}
		line := p[:i]
		if len(s.line) > 0 {
			s.line = append(s.line, line...)
			line = s.line
		}
		c.sjFrameLocked(line)
		s.line = s.line[:0]
		p = p[i+1:]
	}
}

// sjFrameLocked handles one frame.
func (c *Conn) sjFrameLocked(f []byte) {
	if len(f) == 0 {
		return
	}
	switch f[0] {
	case 'o':
		c.sjOpenLocked()
	case 'a':
		c.sjMessagesLocked(f[1:])
	case 'c':
		c.reason = "sockjs_" + string(f)
		_ = c.nc.Close()
	case 'h': // heartbeat, or the streaming prelude
	default:
		c.sjFailLocked(ErrSockJS)
	}
}

// sjOpenLocked opens the connection on the open frame.
func (c *Conn) sjOpenLocked() {
	if c.sj.open {
		return
	}
	c.sj.open = true
	cl := c.cl
	cl.rec.Record(stats.KindHandshake, c.ID, time.Duration(cl.sinceStart()-c.startNs))
	cl.rec.C.Connected.Add(1)
	cl.rec.C.Open.Add(1)
	_ = c.nc.SetReadDeadline(time.Time{})
	c.state = stOpen
	c.ev.Open(c)
}

// sjMessagesLocked delivers the messages of an array frame. Payloads
// without escapes (the load generator's own) are taken as they are;
// others go through a JSON decoder.
func (c *Conn) sjMessagesLocked(arr []byte) {
	if c.state != stOpen {
		return
	}
	if bytes.IndexByte(arr, '\\') < 0 {
		rest := arr
		if len(rest) < 2 || rest[0] != '[' || rest[len(rest)-1] != ']' {
			c.sjFailLocked(ErrSockJS)
			return
		}
		rest = rest[1 : len(rest)-1]
		for len(rest) > 0 {
			if rest[0] != '"' {
				c.sjFailLocked(ErrSockJS)
				return
			}
			end := bytes.IndexByte(rest[1:], '"')
			if end < 0 {
				c.sjFailLocked(ErrSockJS)
				return
			}
			c.ev.Message(c, frame.OpText, rest[1:1+end])
			rest = bytes.TrimPrefix(rest[2+end:], []byte(","))
		}
		return
	}
	var msgs []string
	if err := json.Unmarshal(arr, &msgs); err != nil {
		c.sjFailLocked(ErrSockJS)
		return
	}
	for _, m := range msgs {
		c.ev.Message(c, frame.OpText, []byte(m))
	}
}

func (c *Conn) sjFailLocked(err error) {
	c.failErr = err
	if c.state == stOpen {
		c.cl.rec.C.ProtocolErrors.Add(1)
		c.reason = "protocol_error"
	}
	_ = c.nc.Close()
}

// sjSendLocked queues one message for the session's next xhr_send.
func (c *Conn) sjSendLocked(payload []byte) error {
	s := c.sj
	q, _ := json.Marshal(string(payload))
	s.smu.Lock()
	if s.n > 0 {
		s.out = append(s.out, ',')
	}
	s.out = append(s.out, q...)
	s.n++
	start := !s.sending
	s.sending = true
	s.smu.Unlock()
	c.cl.rec.C.MsgsOut.Add(1)
	c.cl.rec.C.BytesOut.Add(int64(len(payload)))
	if start {
		go c.sjSendLoop()
	}
	return nil
}

// sjSendLoop posts what is queued, one request at a time, until the
// queue is empty.
func (c *Conn) sjSendLoop() {
	s := c.sj
	hc := c.cl.sjHTTP()
	var body []byte
	for {
		s.smu.Lock()
		if s.n == 0 {
			s.sending = false
			s.smu.Unlock()
			return
		}
		body = append(append(append(body[:0], '['), s.out...), ']')
		s.out, s.n = s.out[:0], 0
		s.smu.Unlock()
		resp, err := hc.Post(s.url+"/xhr_send", "text/plain", bytes.NewReader(body))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				err = &StatusError{Code: resp.StatusCode}
			}
		}
		if err != nil {
			c.cl.rec.C.SendErrors.Add(1)
		}
	}
}

// sjHTTP returns the client's shared HTTP client for xhr_send.
func (cl *Client) sjHTTP() *http.Client {
	cl.sjOnce.Do(func() {
		tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256, IdleConnTimeout: 30 * time.Second, TLSClientConfig: cl.tlsCfg}
		cl.sjClient = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	})
	return cl.sjClient
}
