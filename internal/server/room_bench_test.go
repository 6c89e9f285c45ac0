package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

// Large client populations, for these benchmarks and for the tests in
// room_test.go and admin_test.go, are a swarm: raw sockets opened with
// syscalls (no net.Conn, so no runtime poller registration) and read by a
// few goroutines through their own epoll sets, so a process holds
// thousands of clients for the cost of a handful of goroutines.

// swarm is a set of raw WebSocket client sockets. Dial them first (dial
// and closeConn run on the test goroutine); startReaders then reads every
// socket from a few epoll goroutines, counting data messages per socket
// and checking sequence numbers when seq is set.
type swarm struct {
	tb    testing.TB
	sa    syscall.SockaddrInet4
	host  string
	conns []*swarmConn
	eps   []int

	// seq: every data payload starts with a big-endian uint64 sequence
	// number, and each socket must see 0, 1, 2, ... in order.
	seq bool
	// wantOp, when set, is the only data opcode allowed.
	wantOp frame.Opcode
	// header holds extra request header lines, each ending in CRLF.
	header string
	// rsv1 admits compressed (RSV1) frames, which are counted, not
	// inflated, and carry no sequence number to check.
	rsv1 bool
	// total counts data messages over all sockets.
	total atomic.Int64

	stop   atomic.Bool
	wg     sync.WaitGroup
	nerr   atomic.Int64
	errMu  sync.Mutex
	errs   []string
	closed bool
}

// swarmConn is one client socket. fd, pend and next belong to the reader
// goroutine that owns the socket; the atomics are read by the test.
type swarmConn struct {
	idx       int
	fd        int
	pend      []byte // a frame split across reads
	next      uint64 // next expected sequence number
	got       atomic.Int64
	eof       atomic.Bool
	closeCode atomic.Int32
}

// newSwarm returns an empty swarm of clients of the server at addr
// (127.0.0.1:port); every socket is closed when the test ends.
func newSwarm(tb testing.TB, addr string) *swarm {
	tb.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	ip := net.ParseIP(host).To4()
	if ip == nil {
		tb.Fatalf("swarm: %q is not IPv4", addr)
	}
	s := &swarm{tb: tb, host: addr}
	s.sa.Port = p
	copy(s.sa.Addr[:], ip)
	tb.Cleanup(s.close)
	return s
}

// dial opens n more sockets, upgrading each to path(i) (i counts from 0
// in this call), with 16 dialers at a time. Any failure fails the test.
func (s *swarm) dial(n int, path func(i int) string) {
	s.tb.Helper()
	base := len(s.conns)
	s.conns = append(s.conns, make([]*swarmConn, n)...)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				sa := s.sa // Connect writes into its argument: one per call
				fd, err := dialRaw(&sa, s.host, path(i), s.header)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("dial %d (%s): %w", i, path(i), err)
					}
					mu.Unlock()
					next.Store(int64(n)) // stop the others
					return
				}
				s.conns[base+i] = &swarmConn{idx: base + i, fd: fd}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		s.tb.Fatalf("swarm: %v", firstErr)
	}
}

// dialRaw connects a blocking socket (with 20 s send and receive
// timeouts), upgrades path, checks for a 101 with nothing after it, and
// returns the socket in non-blocking mode.
func dialRaw(sa *syscall.SockaddrInet4, host, path, header string) (int, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := upgradeRaw(fd, sa, host, path, header); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

func upgradeRaw(fd int, sa *syscall.SockaddrInet4, host, path, header string) error {
	tv := syscall.Timeval{Sec: 20}
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv)
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := syscall.Connect(fd, sa)
		if err == nil || err == syscall.EISCONN {
			break
		}
		if err != syscall.EINTR && err != syscall.EALREADY && err != syscall.EINPROGRESS {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("connect: %w", err)
		}
		time.Sleep(time.Millisecond)
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + header + "\r\n"
	if err := writeFull(fd, []byte(req), deadline); err != nil {
		return err
	}
	var buf [1024]byte
	n := 0
	for {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading the response: %w", err)
		}
		if m == 0 {
			return fmt.Errorf("EOF before the response ended: %q", buf[:n])
		}
		n += m
		if i := bytes.Index(buf[:n], []byte("\r\n\r\n")); i >= 0 {
			if !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 101 ")) {
				line, _, _ := bytes.Cut(buf[:n], []byte("\r\n"))
				return fmt.Errorf("handshake answered %q", line)
			}
			if i+4 != n {
				return fmt.Errorf("%d unexpected bytes after the 101", n-i-4)
			}
			return nil
		}
		if n == len(buf) {
			return errors.New("response headers too long")
		}
	}
}

// writeFull writes b to fd (blocking or not) until done or deadline.
func writeFull(fd int, b []byte, deadline time.Time) error {
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		if n > 0 {
			b = b[n:]
		}
		switch {
		case err == nil || err == syscall.EINTR:
		case err == syscall.EAGAIN:
			if time.Now().After(deadline) {
				return fmt.Errorf("write: socket full until the deadline")
			}
			time.Sleep(time.Millisecond)
		default:
			return err
		}
	}
	return nil
}

// closeConn closes socket i, after a close frame when withFrame is set.
// Use it only on a swarm whose readers are not running.
func (s *swarm) closeConn(i int, withFrame bool) {
	c := s.conns[i]
	if withFrame {
		b := frame.AppendMaskedFrame(nil, true, 0, frame.OpClose, [4]byte{9, 8, 7, 6}, []byte{0x03, 0xe8})
		_ = writeFull(c.fd, b, time.Now().Add(5*time.Second))
	}
	syscall.Close(c.fd)
	c.fd = -1
}

// startReaders starts r epoll goroutines that read every socket dialled so
// far until the test ends.
func (s *swarm) startReaders(r int) {
	s.tb.Helper()
	s.eps = make([]int, r)
	for k := range s.eps {
		ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			s.tb.Fatal(err)
		}
		s.eps[k] = ep
	}
	for i, c := range s.conns {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(i)}
		if err := syscall.EpollCtl(s.eps[i%r], syscall.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
			s.tb.Fatal(err)
		}
	}
	for _, ep := range s.eps {
		s.wg.Add(1)
		go s.readLoop(ep)
	}
}

func (s *swarm) readLoop(ep int) {
	defer s.wg.Done()
	buf := make([]byte, 64<<10)
	events := make([]syscall.EpollEvent, 256)
	for !s.stop.Load() {
		n, err := syscall.EpollWait(ep, events, 50)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			s.fail("epoll_wait: %v", err)
			return
		}
		for _, ev := range events[:n] {
			s.drain(ep, s.conns[ev.Fd], buf)
		}
	}
}

// drain reads socket c until it would block (or one full buffer: the
// level-triggered epoll brings it back).
func (s *swarm) drain(ep int, c *swarmConn, buf []byte) {
	for {
		n, err := syscall.Read(c.fd, buf)
		switch {
		case n > 0:
			s.parse(c, buf[:n])
			if n == len(buf) {
				return
			}
		case err == syscall.EAGAIN:
			return
		case err == syscall.EINTR:
		default: // EOF or reset
			c.eof.Store(true)
			_ = syscall.EpollCtl(ep, syscall.EPOLL_CTL_DEL, c.fd, &syscall.EpollEvent{})
			return
		}
	}
}

// parse handles every complete frame in the bytes read, keeping a split
// frame's start for the next read.
func (s *swarm) parse(c *swarmConn, data []byte) {
	if len(c.pend) > 0 {
		c.pend = append(c.pend, data...)
		data = c.pend
	}
	for {
		op, rsv1, payload, n := nextServerFrame(data, s.rsv1)
		if n == 0 {
			break
		}
		if n < 0 {
			s.fail("conn %d: bad server frame header % x", c.idx, data[:min(len(data), 10)])
			data = nil
			break
		}
		s.onFrame(c, op, rsv1, payload)
		data = data[n:]
	}
	c.pend = append(c.pend[:0], data...)
}

// nextServerFrame decodes one unmasked, final frame from b: n is its
// length, 0 when b holds only part of it, -1 when the header is not one a
// server may send for these tests (masked, fragmented, or with RSV bits
// other than RSV1 when rsv1 is allowed).
func nextServerFrame(b []byte, allowRSV1 bool) (op frame.Opcode, rsv1 bool, payload []byte, n int) {
	if len(b) < 2 {
		return 0, false, nil, 0
	}
	rsv := b[0] & 0x70
	if allowRSV1 {
		rsv &^= 0x40
	}
	if b[0]&0x80 == 0 || rsv != 0 || b[1]&0x80 != 0 {
		return 0, false, nil, -1
	}
	rsv1 = b[0]&0x40 != 0
	l, h := int(b[1]&0x7f), 2
	switch l {
	case 126:
		if len(b) < 4 {
			return 0, false, nil, 0
		}
		l, h = int(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return 0, false, nil, 0
		}
		v := binary.BigEndian.Uint64(b[2:])
		if v > 1<<30 {
			return 0, false, nil, -1
		}
		l, h = int(v), 10
	}
	if len(b) < h+l {
		return 0, false, nil, 0
	}
	return frame.Opcode(b[0] & 0x0f), rsv1, b[h : h+l], h + l
}

func (s *swarm) onFrame(c *swarmConn, op frame.Opcode, rsv1 bool, p []byte) {
	switch op {
	case frame.OpText, frame.OpBinary:
		if s.wantOp != 0 && op != s.wantOp {
			s.fail("conn %d: opcode %v, want %v", c.idx, op, s.wantOp)
		}
		if s.seq && !rsv1 {
			if len(p) < 8 {
				s.fail("conn %d: payload of %d bytes has no sequence number", c.idx, len(p))
			} else {
				v := binary.BigEndian.Uint64(p)
				if v != c.next {
					s.fail("conn %d: message %d arrived when %d was due", c.idx, v, c.next)
				}
				c.next = v + 1
			}
		}
		c.got.Add(1)
		s.total.Add(1)
	case frame.OpClose:
		code := int32(frame.CloseNoStatus)
		if len(p) >= 2 {
			code = int32(binary.BigEndian.Uint16(p))
		}
		c.closeCode.Store(code)
	case frame.OpPing, frame.OpPong:
	default:
		s.fail("conn %d: unexpected opcode %v", c.idx, op)
	}
}

// fail records a problem seen by a reader goroutine (the first 10 are
// kept); check reports them to the test.
func (s *swarm) fail(format string, args ...any) {
	if s.nerr.Add(1) > 10 {
		return
	}
	s.errMu.Lock()
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
	s.errMu.Unlock()
}

// check fails the test if a reader saw anything wrong.
func (s *swarm) check() {
	s.tb.Helper()
	if n := s.nerr.Load(); n > 0 {
		s.errMu.Lock()
		defer s.errMu.Unlock()
		s.tb.Errorf("swarm: %d problems, first ones:\n%s", n, strings.Join(s.errs, "\n"))
	}
}

// minGot returns the fewest data messages any socket has received.
func (s *swarm) minGot() int64 {
	m := int64(-1)
	for _, c := range s.conns {
		if g := c.got.Load(); m < 0 || g < m {
			m = g
		}
	}
	return m
}

// waitAll waits until every socket has received want data messages; it
// fails the test at the deadline (or as soon as a socket holds more, or
// has hung up before its count is reached).
func (s *swarm) waitAll(want int64, timeout time.Duration) {
	s.tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		short, over, gone := 0, 0, 0
		example := -1
		for i, c := range s.conns {
			g := c.got.Load()
			switch {
			case g < want:
				short++
				if c.eof.Load() {
					gone++
				}
				example = i
			case g > want:
				over++
			}
		}
		if over > 0 {
			s.tb.Fatalf("swarm: %d sockets received more than %d messages", over, want)
		}
		if short == 0 {
			return
		}
		if gone > 0 || time.Now().After(deadline) {
			c := s.conns[example]
			s.tb.Fatalf("swarm: %d of %d sockets short of %d messages (%d hung up); e.g. socket %d has %d (eof %v, close code %d)",
				short, len(s.conns), want, gone, example, c.got.Load(), c.eof.Load(), c.closeCode.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// close stops the readers and closes every socket.
func (s *swarm) close() {
	if s.closed {
		return
	}
	s.closed = true
	s.stop.Store(true)
	s.wg.Wait()
	for _, ep := range s.eps {
		syscall.Close(ep)
	}
	for _, c := range s.conns {
		if c != nil && c.fd >= 0 {
			syscall.Close(c.fd)
			c.fd = -1
		}
	}
	s.conns = nil // the Cleanup closure keeps s: do not keep the sockets' state
}

// fanoutMembers is the room size of BenchmarkFanout10k. Server and client
// sockets share this process, whose descriptor limit is 20,000: 9,000
// members (18,000 descriptors) is the most that fits with room to spare.
const fanoutMembers = 9000

// logMachine records what the benchmark ran on: CPU model, cores and the
// load average (the benchmark machines are shared).
func logMachine(b *testing.B) {
	model := "unknown CPU"
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(info), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	b.Logf("machine: %s, %d CPUs, GOMAXPROCS %d, %s; load average %s",
		model, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), strings.TrimSpace(string(load)))
}

// BenchmarkFanout10k measures one publish to a room of fanoutMembers
// members (server in this process; clients are raw sockets drained by four
// epoll goroutines). One op is one message published by a member socket
// and delivered to every other member. Sub-benchmarks vary the number of
// messages in flight (1: each publish waits for the previous one to reach
// everyone; 16: a burst, which the worker folds into one writev per
// member) and permessage-deflate (members that negotiated it get a
// message compressed once for all of them).
//
// Metrics: deliveries/s; bytes/syscall, the written bytes per write
// syscall from Stats (the batching achieved); allocs/delivery, every heap
// allocation in the process (server and clients) per delivery.
func BenchmarkFanout10k(b *testing.B) {
	logMachine(b)
	for _, deflate := range []bool{false, true} {
		name := "plain"
		if deflate {
			name = "deflate"
		}
		b.Run(name, func(b *testing.B) { benchFanoutRoom(b, deflate) })
	}
}

func benchFanoutRoom(b *testing.B, deflate bool) {
	srv := startTestServer(b, func(c *config.Config) {
		noRoomPings(c)
		c.Deflate = deflate
		c.WorkerQueue = 1024
	})
	addr := srv.Addr().String()
	sw := newSwarm(b, addr)
	payloadLen := 64
	if deflate {
		// Above the compression threshold, and compressible (JSON-ish).
		payloadLen = 512
		sw.header = "Sec-WebSocket-Extensions: permessage-deflate\r\n"
		sw.rsv1 = true
	}
	sw.seq = !deflate // compressed payloads are counted, not inflated
	start := time.Now()
	sw.dial(fanoutMembers, func(int) string { return "/room/fanout" })
	sa := sw.sa
	pub, err := dialRaw(&sa, addr, "/room/fanout", sw.header)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { syscall.Close(pub) })
	wstest.WaitFor(b, 60*time.Second, "members to join", func() bool { return srv.hub.Count("fanout") == fanoutMembers+1 })
	sw.startReaders(4)
	b.Logf("%d members joined in %v", fanoutMembers, time.Since(start).Round(time.Millisecond))
	payload := []byte(strings.Repeat(`{"event":"tick","symbol":"WSG","price":101.25,"volume":4200}`, 16)[:payloadLen])
	for _, inflight := range []int{1, 16} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			// Each message carries the next sequence number for every member.
			members := int64(len(sw.conns))
			next := uint64(sw.total.Load() / members)
			out := make([]byte, 0, frame.HeaderSize(len(payload), true)+len(payload))
			publish := func(k int) {
				binary.BigEndian.PutUint64(payload, next+uint64(k))
				out = frame.AppendMaskedFrame(out[:0], true, 0, frame.OpBinary, [4]byte{1, 2, 3, 4}, payload)
				if err := writeFull(pub, out, time.Now().Add(10*time.Second)); err != nil {
					b.Fatal(err)
				}
			}
			runFanout(b, srv, sw, publish, inflight, true)
		})
	}
	sw.check()
}

// runFanout publishes b.N messages with publish(k) (k counts from 0 over
// the warm-up and the measured messages), with at most inflight of them
// not yet delivered to every member. countOut also checks that the
// server's MessagesOut grew by one per member and message.
func runFanout(b *testing.B, srv *Server, sw *swarm, publish func(k int), inflight int, countOut bool) {
	members := int64(len(sw.conns))
	base := sw.total.Load()
	delivered := func() int64 { return (sw.total.Load() - base) / members }
	wait := func(upTo int64) {
		deadline := time.Now().Add(60 * time.Second)
		for delivered() < upTo {
			if time.Now().After(deadline) {
				sw.check()
				b.Fatalf("only %d of %d messages reached every member after 60s", delivered(), upTo)
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
	// Warm up: one burst grows the workers' scratch slices and fills the
	// buffer pools, so the measurement below sees the steady state.
	for k := range inflight {
		publish(k)
	}
	wait(int64(inflight))
	base = sw.total.Load()
	st0 := srv.Stats()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		wait(int64(i - inflight + 1))
		publish(inflight + i)
	}
	wait(int64(b.N))
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	st1 := srv.Stats()
	deliveries := float64(b.N) * float64(members)
	sys, wb := st1.WriteSyscalls-st0.WriteSyscalls, st1.WrittenBytes-st0.WrittenBytes
	b.ReportMetric(deliveries/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(wb)/float64(max(sys, 1)), "bytes/syscall")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/deliveries, "allocs/delivery")
	if got := st1.MessagesOut - st0.MessagesOut; countOut && got != uint64(b.N)*uint64(members) {
		b.Errorf("MessagesOut grew by %d, want %d", got, uint64(b.N)*uint64(members))
	}
	if st1.SlowClosed != 0 || st1.Dropped != 0 {
		b.Errorf("slow consumers in the benchmark: %+v", st1)
	}
}
