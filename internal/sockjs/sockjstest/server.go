// Package sockjstest serves sockjs Endpoints over plain sockets for tests:
// one goroutine per connection, a blocking read loop that feeds the
// package's Parser, and writes straight to the socket. It is scaffolding
// that exercises the sockjs library end to end (with third-party clients
// and the protocol's conformance suite) without wsgate's event loop; it
// is not how the gateway serves SockJS.
package sockjstest

import (
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsgate/wsgate/internal/sockjs"
	"github.com/wsgate/wsgate/poller"
)

// Server is a running test server.
type Server struct {
	ln        net.Listener
	endpoints []*sockjs.Endpoint
	stop      chan struct{}
	wg        sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// Start listens on addr (such as "127.0.0.1:0") and serves the endpoints;
// a path under none of them gets 404. It also ticks every endpoint's
// session timers every 50ms.
func Start(addr string, endpoints ...*sockjs.Endpoint) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, endpoints: endpoints, stop: make(chan struct{}), conns: make(map[net.Conn]struct{})}
	s.wg.Add(2)
	go s.accept()
	go s.tick()
	return s, nil
}

// Addr returns the listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server and closes every connection.
func (s *Server) Close() {
	close(s.stop)
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) tick() {
	defer s.wg.Done()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			for _, e := range s.endpoints {
				e.Tick(now)
			}
		}
	}
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			newConn(s, c).serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

// conn is one client connection. Its reader goroutine feeds reads; the
// serving goroutine parses and answers, and while a receiving response
// is open it waits for either the response's end or the peer's close.
type conn struct {
	srv   *Server
	nc    net.Conn
	reads chan []byte
	ended chan bool // End's keepAlive

	wmu    sync.Mutex
	closed bool
	ws     bool // the stream carries WebSocket frames

	parser sockjs.Parser
	recv   sockjs.Receiver
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{srv: s, nc: nc, reads: make(chan []byte, 4), ended: make(chan bool, 1)}
}

func (c *conn) readLoop() {
	defer close(c.reads)
	for {
		buf := make([]byte, 16<<10)
		n, err := c.nc.Read(buf)
		if n > 0 {
			c.reads <- buf[:n]
		}
		if err != nil {
			return
		}
	}
}

// Send implements sockjs.Stream.
func (c *conn) Send(b *poller.Buf) {
	c.Write(b.B)
	b.Release()
}

// Write implements sockjs.Stream.
func (c *conn) Write(p []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return
	}
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write(p); err != nil {
		c.closed = true
		c.nc.Close()
	}
}

// PeerGone implements sockjs.PeerProber: it peeks at the socket for an
// end of stream the read loop has not reported yet.
func (c *conn) PeerGone() bool {
	tc, ok := c.nc.(*net.TCPConn)
	if !ok {
		return false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	gone := false
	// Control, not Read: the read loop holds the descriptor's read lock
	// while it waits.
	rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		gone = n == 0 && err == nil
	})
	return gone
}

// Flush implements sockjs.Stream; writes are synchronous.
func (c *conn) Flush() {}

// End implements sockjs.Stream.
func (c *conn) End(keepAlive bool) {
	c.wmu.Lock()
	isWS := c.ws
	c.wmu.Unlock()
	if isWS {
		c.Write(ws.CompiledCloseNormalClosure)
		keepAlive = false
	}
	if !keepAlive {
		c.wmu.Lock()
		c.closed = true
		c.nc.Close()
		c.wmu.Unlock()
	}
	select {
	case c.ended <- keepAlive:
	default:
	}
}

func (c *conn) serve() {
	go c.readLoop()
	var pending []byte
	for {
		for len(pending) > 0 {
			req, n, err := c.parser.Parse(pending)
			pending = pending[n:]
			if err != nil {
				c.Write(sockjs.AppendStatusResponse(nil, sockjs.ErrorStatus(err), err.Error()+"\n"))
				return
			}
			if req == nil {
				break
			}
			if !c.handle(req, &pending) {
				return
			}
		}
		data, ok := <-c.reads
		if !ok {
			return
		}
		pending = append(pending, data...)
	}
}

// handle answers one request; it returns false when the connection is
// done.
func (c *conn) handle(req *sockjs.Request, pending *[]byte) bool {
	for _, e := range c.srv.endpoints {
		rt, ok := e.Match(req.Path)
		if !ok {
			continue
		}
		switch e.Serve(req, rt, c, &c.recv) {
		case sockjs.ResultDone, sockjs.ResultReceiving:
			keep, early := c.await()
			*pending = append(*pending, early...)
			return keep
		case sockjs.ResultUpgrade:
			c.serveWebSocket(e, req, *pending)
			return false
		case sockjs.ResultRawWebSocket:
			c.Write(sockjs.AppendStatusResponse(nil, 404, "raw websocket is not served here\n"))
			return false
		}
	}
	c.Write(sockjs.AppendStatusResponse(nil, 404, "404 Error: Page not found\n"))
	return false
}

// await waits for the current response's end; the peer closing first
// aborts the receiver. Bytes read meanwhile are kept for the next
// request.
func (c *conn) await() (keep bool, early []byte) {
	for {
		select {
		case keep := <-c.ended:
			return keep, early
		case data, ok := <-c.reads:
			if !ok {
				c.recv.Abort()
				return false, nil
			}
			early = append(early, data...)
		}
	}
}

// serveWebSocket completes the handshake of the SockJS websocket
// transport and relays text messages to the session.
func (c *conn) serveWebSocket(e *sockjs.Endpoint, req *sockjs.Request, rest []byte) {
	in := &chanReader{ch: c.reads, buf: append(append([]byte(nil), req.Head...), rest...)}
	rw := struct {
		io.Reader
		io.Writer
	}{in, c.nc}
	if _, err := ws.Upgrade(rw); err != nil {
		return
	}
	c.wmu.Lock()
	c.ws = true
	c.wmu.Unlock()
	e.AttachWebSocket(c, &c.recv)
	for {
		msg, op, err := wsutil.ReadClientData(struct {
			io.Reader
			io.Writer
		}{in, lockedWriter{c}})
		if err != nil {
			c.recv.Abort()
			return
		}
		if op != ws.OpText {
			continue
		}
		if c.recv.ReceiveWebSocket(msg) != nil {
			return
		}
	}
}

type lockedWriter struct{ c *conn }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.c.Write(p)
	return len(p), nil
}

// chanReader reads bytes handed over by the read loop.
type chanReader struct {
	ch  chan []byte
	buf []byte
}

func (r *chanReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		b, ok := <-r.ch
		if !ok {
			return 0, io.EOF
		}
		r.buf = b
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}
