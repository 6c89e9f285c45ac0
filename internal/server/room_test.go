package server

// End-to-end tests of the room endpoint (/room/NAME): delivery between
// members, opcodes, name checks, per-room ordering to a thousand readers,
// the slow-consumer policies, and cleanup of the hub after thousands of
// connections come and go.
//
// Large client populations are a swarm (room_bench_test.go).

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

// heapAfterGC returns HeapAlloc and HeapInuse after two collections (the
// second one empties sync.Pools' victim caches).
func heapAfterGC() (alloc, inuse uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.HeapInuse
}

// noRoomPings turns off the idle timers, so no ping frame joins the
// streams the tests count.
func noRoomPings(c *config.Config) {
	c.PingInterval = 0
	c.IdleTimeout = 0
}

func TestRoomBasics(t *testing.T) {
	srv := startTestServer(t, noRoomPings)
	addr := srv.Addr().String()
	a := wstest.Dial(t, addr, "/room/basics")
	b := wstest.Dial(t, addr, "/room/basics")
	c := wstest.Dial(t, addr, "/room/basics")
	other := wstest.Dial(t, addr, "/room/other")
	wstest.WaitFor(t, 10*time.Second, "3 members", func() bool { return srv.hub.Count("basics") == 3 })

	a.Send(true, 0, frame.OpText, []byte("from a"))
	b.ExpectMessage(frame.OpText, []byte("from a"))
	c.ExpectMessage(frame.OpText, []byte("from a"))
	bin := []byte{0, 1, 2, 0xff, 0xfe}
	b.Send(true, 0, frame.OpBinary, bin)
	// a's first message is b's: a did not get its own.
	a.ExpectMessage(frame.OpBinary, bin)
	c.ExpectMessage(frame.OpBinary, bin)
	c.Send(true, 0, frame.OpText, []byte("from c"))
	a.ExpectMessage(frame.OpText, []byte("from c"))
	b.ExpectMessage(frame.OpText, []byte("from c"))
	// A fragmented message is delivered whole, with its opcode.
	a.Send(false, 0, frame.OpBinary, []byte("frag"))
	a.Send(true, 0, frame.OpContinuation, []byte("mented"))
	b.ExpectMessage(frame.OpBinary, []byte("fragmented"))
	c.ExpectMessage(frame.OpBinary, []byte("fragmented"))

	// Nothing crossed into the other room, and nobody got their own.
	other.Send(true, 0, frame.OpText, []byte("alone"))
	for _, m := range []*wstest.Conn{a, b, c} {
		m.Send(true, 0, frame.OpText, []byte("sync"))
	}
	// Each member now gets exactly two "sync" messages (not three).
	for _, m := range []*wstest.Conn{a, b, c} {
		m.ExpectMessage(frame.OpText, []byte("sync"))
		m.ExpectMessage(frame.OpText, []byte("sync"))
	}
	other.Send(true, 0, frame.OpText, []byte("alone2"))
	a.Send(true, 0, frame.OpText, []byte("last"))
	b.ExpectMessage(frame.OpText, []byte("last"))
	c.ExpectMessage(frame.OpText, []byte("last"))
	if st := srv.Stats(); st.Rooms != 2 {
		t.Errorf("Stats().Rooms = %d, want 2", st.Rooms)
	}

	// A member that leaves is gone from the room.
	c.Close()
	wstest.WaitFor(t, 10*time.Second, "c to leave", func() bool { return srv.hub.Count("basics") == 2 })
	a.Send(true, 0, frame.OpText, []byte("after c"))
	b.ExpectMessage(frame.OpText, []byte("after c"))
}

func TestRoomEchoSelf(t *testing.T) {
	srv := startTestServer(t, func(c *config.Config) { noRoomPings(c); c.EchoSelf = true })
	addr := srv.Addr().String()
	a := wstest.Dial(t, addr, "/room/echo")
	b := wstest.Dial(t, addr, "/room/echo")
	wstest.WaitFor(t, 10*time.Second, "2 members", func() bool { return srv.hub.Count("echo") == 2 })
	a.Send(true, 0, frame.OpText, []byte("mine"))
	a.ExpectMessage(frame.OpText, []byte("mine"))
	b.ExpectMessage(frame.OpText, []byte("mine"))
	b.Send(true, 0, frame.OpBinary, []byte{7})
	a.ExpectMessage(frame.OpBinary, []byte{7})
	b.ExpectMessage(frame.OpBinary, []byte{7})
}

func TestRoomNames(t *testing.T) {
	srv := startTestServer(t, noRoomPings)
	addr := srv.Addr().String()
	for _, tc := range []struct {
		path string
		want int // 0 means upgraded
	}{
		{"/room/bad%name", 400},
		{"/room/bad%20name", 400},
		{"/room/" + strings.Repeat("n", 200), 400},
		{"/room/" + strings.Repeat("n", 129), 400},
		{"/room/", 400},
		{"/room/a/b", 400},
		{"/room/" + strings.Repeat("n", 128), 0},
		{"/room/A-z.0_9:x@y~", 0},
	} {
		c, err := wstest.Connect(addr, tc.path)
		var se *wstest.StatusError
		switch {
		case tc.want == 0 && err != nil:
			t.Errorf("%.40s: %v, want an upgrade", tc.path, err)
		case tc.want == 0:
			c.Close()
		case errors.As(err, &se):
			if se.Status != tc.want {
				t.Errorf("%.40s: status %d, want %d", tc.path, se.Status, tc.want)
			}
		default:
			if c != nil {
				c.Close()
			}
			t.Errorf("%.40s: err %v, want status %d", tc.path, err, tc.want)
		}
	}
}

// dialStalled joins path with a client socket whose receive buffer is set
// to 4 KiB before connecting, and which the test never reads until it
// drains it at the end.
func dialStalled(t *testing.T, addr, path string) *wstest.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	key := wstest.NewKey()
	c, err := wstest.Upgrade(nc, wstest.Request(addr, path, key), key)
	if err != nil {
		t.Fatal(err)
	}
	c.Timeout = 20 * time.Second
	return c.Bind(t)
}

// findMember returns the server's connection for the client whose local
// address is local.
func findMember(srv *Server, room string, local net.Addr) *conn {
	for _, m := range srv.hub.AppendMembers(nil, room) {
		if c, ok := m.(*conn); ok && c.RemoteAddr().String() == local.String() {
			return c
		}
	}
	return nil
}

// TestRoomOrderSlowConsumer sends n sequence-numbered messages from one
// publisher to a room of readers plus one member that never reads: every
// reader gets all of them in order, and the stalled member is handled by
// the slow-consumer policy without hurting the others.
func TestRoomOrderSlowConsumer(t *testing.T) {
	for _, policy := range []string{"close", "drop-oldest"} {
		t.Run(policy, func(t *testing.T) { testOrderSlow(t, policy) })
	}
}

func testOrderSlow(t *testing.T, policy string) {
	readers, n := 1000, 2000
	if raceEnabled || testing.Short() {
		readers, n = 200, 800 // still 200 KiB for the stalled member, over its 64 KiB queue
	}
	const (
		payloadLen = 256
		frameLen   = payloadLen + 4
		sendQueue  = 64 << 10
		// window bounds the messages in flight to the slowest reader, so
		// a reader that the loaded test process reads late is never
		// mistaken for a slow consumer; the stalled member is not paced.
		window = 32
		room   = "order"
	)
	srv := startTestServer(t, func(c *config.Config) {
		noRoomPings(c)
		c.DevMode = true // the stalled member has a user id, for fillStalled
		c.SlowPolicy = policy
		c.SendQueue = sendQueue
		if policy == "drop-oldest" {
			c.WriteTimeout = time.Hour // only the queue limit acts
		}
		// The stalled member is read only at the end: let its close
		// frame wait for that instead of dropping TCP after 5 s.
		c.CloseTimeout = 2 * time.Minute
	})
	addr := srv.Addr().String()
	sw := newSwarm(t, addr)
	sw.seq, sw.wantOp = true, frame.OpBinary
	sw.dial(readers, func(int) string { return "/room/" + room })
	stalled := dialStalled(t, addr, "/room/"+room+"?user=stalled")
	pub := wstest.Dial(t, addr, "/room/"+room)
	wstest.WaitFor(t, 30*time.Second, "members to join", func() bool { return srv.hub.Count(room) == readers+2 })
	sc := findMember(srv, room, stalled.NC.LocalAddr())
	if sc == nil {
		t.Fatal("stalled member not found in the room")
	}
	fillStalled(t, srv, sc)
	sw.startReaders(4)

	payload := make([]byte, payloadLen)
	maxQueued := 0
	deadline := time.Now().Add(90 * time.Second)
	for i := range n {
		for int64(i)-sw.minGot() > window {
			if time.Now().After(deadline) {
				sw.check()
				t.Fatalf("message %d: the slowest reader has %d (readers lost messages?)", i, sw.minGot())
			}
			time.Sleep(200 * time.Microsecond)
		}
		binary.BigEndian.PutUint64(payload, uint64(i))
		if err := pub.WriteMessage(frame.OpBinary, payload); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if i%16 == 0 {
			maxQueued = max(maxQueued, sc.Queued())
		}
	}
	sw.waitAll(int64(n), 60*time.Second)
	sw.check()
	_, inuse := heapAfterGC()
	t.Logf("%d readers x %d messages; stalled member queued at most %d bytes; HeapInuse %d KiB; %+v",
		readers, n, maxQueued, inuse>>10, srv.Stats())
	if inuse > 64<<20 {
		t.Errorf("HeapInuse after GC = %d MiB, want < 64 MiB", inuse>>20)
	}
	if policy == "close" {
		checkSlowClosed(t, srv, stalled, readers+1)
	} else {
		checkDropOldest(t, srv, stalled, n, readers+2, maxQueued, sendQueue+4*frameLen)
	}
}

// fillStalled fills the kernel's buffers for the stalled member, which
// hold megabytes for a socket that does not read (the server's send buffer
// grows up to tcp_wmem's maximum, 4 MiB here): it sends 32 KiB text
// messages to that member alone, by user id, until the server sees its
// socket refuse bytes. The room stream that follows then runs into the
// queue limit, whatever the kernel's tuning.
func fillStalled(t *testing.T, srv *Server, sc *conn) {
	t.Helper()
	body := publishBody("", bytes.Repeat([]byte("f"), 32<<10), false)
	for i := range 1000 { // 32 MiB at most
		status, resp := adminDo(t, "POST", adminBase(srv), "/api/users/stalled/send", body)
		if status != 200 {
			t.Fatalf("filling the stalled member: %d %s", status, resp)
		}
		// Wait until the worker has queued and flushed it.
		wstest.WaitFor(t, 10*time.Second, "the filler to be flushed", func() bool {
			return srv.Stats().MessagesOut >= uint64(i+1) && (sc.Queued() == 0 || sc.BlockedSince() != 0)
		})
		if sc.BlockedSince() != 0 {
			t.Logf("the stalled member's socket is full after %d KiB", (i+1)*32)
			return
		}
	}
	t.Fatal("the stalled member's socket never filled")
}

// checkSlowClosed: the stalled member was closed as a slow consumer and
// leaves the room. What it reads is an in-order prefix of the stream, then
// the 1008 close frame, then the end of the stream (the close timeout is
// long enough for the test to read it all).
func checkSlowClosed(t *testing.T, srv *Server, stalled *wstest.Conn, members int) {
	wstest.WaitFor(t, 30*time.Second, "Stats().SlowClosed >= 1", func() bool { return srv.Stats().SlowClosed >= 1 })
	next := uint64(0)
	for {
		f, err := stalled.ReadFrame()
		if err != nil {
			t.Fatalf("stalled member after %d messages: %v (want the stream to end)", next, err)
		}
		if f.Op == frame.OpText {
			continue // fillStalled's filler
		}
		if f.Op == frame.OpClose {
			code, reason, _ := frame.ParseClose(f.Payload)
			if code != frame.ClosePolicyViolation || string(reason) != "slow consumer" {
				t.Errorf("close frame %d %q, want 1008 \"slow consumer\"", code, reason)
			}
			if err := stalled.ReadEOF(); err != nil {
				t.Errorf("after the close frame: %v", err)
			}
			t.Logf("stalled member read %d messages, then close 1008 %q, then EOF", next, reason)
			break
		}
		if f.Op != frame.OpBinary || len(f.Payload) < 8 {
			t.Fatalf("stalled member: unexpected %v", f)
		}
		if v := binary.BigEndian.Uint64(f.Payload); v != next {
			t.Fatalf("stalled member: message %d arrived when %d was due", v, next)
		}
		next++
	}
	wstest.WaitFor(t, 30*time.Second, "the stalled member to leave", func() bool { return srv.hub.Count("order") == members })
	if st := srv.Stats(); st.Users != 0 {
		t.Errorf("Stats().Users = %d after the stalled member left, want 0", st.Users)
	}
}

// checkDropOldest: the stalled member stays, its queue stayed bounded,
// messages were dropped and counted, and what it reads is increasing (no
// frame torn by a drop), ending with the last message.
func checkDropOldest(t *testing.T, srv *Server, stalled *wstest.Conn, n, members, maxQueued, bound int) {
	st := srv.Stats()
	if st.Dropped == 0 {
		t.Errorf("Stats().Dropped = 0, want > 0")
	}
	if st.SlowClosed != 0 {
		t.Errorf("Stats().SlowClosed = %d with drop-oldest, want 0", st.SlowClosed)
	}
	if got := srv.hub.Count("order"); got != members {
		t.Errorf("room has %d members, want %d (the stalled one stays)", got, members)
	}
	if maxQueued > bound {
		t.Errorf("stalled member's queue reached %d bytes, want <= %d", maxQueued, bound)
	}
	got, last := 0, int64(-1)
	for last != int64(n-1) {
		f, err := stalled.ReadFrame()
		if err != nil {
			t.Fatalf("stalled member after %d messages (last %d): %v", got, last, err)
		}
		if f.Op == frame.OpText {
			continue // fillStalled's filler
		}
		if f.Op != frame.OpBinary || len(f.Payload) < 8 {
			t.Fatalf("stalled member: unexpected %v", f)
		}
		v := int64(binary.BigEndian.Uint64(f.Payload))
		if v <= last || v >= int64(n) {
			t.Fatalf("stalled member: message %d after %d", v, last)
		}
		last = v
		got++
	}
	t.Logf("stalled member read %d of %d messages, in order; %d dropped", got, n, st.Dropped)
}

// TestRoomCleanup joins and leaves thousands of connections in cycles and
// checks the hub ends empty and the heap where it started.
func TestRoomCleanup(t *testing.T) {
	cycles, per := 10, 5000
	if raceEnabled || testing.Short() {
		cycles, per = 3, 2000
	}
	const rooms, users = 50, 1000
	srv := startTestServer(t, func(c *config.Config) { noRoomPings(c); c.DevMode = true })
	addr := srv.Addr().String()
	heap0, _ := heapAfterGC()
	var heap1 uint64
	for cy := range cycles {
		sw := newSwarm(t, addr)
		sw.dial(per, func(i int) string { return fmt.Sprintf("/room/r%d?user=u%d", i%rooms, (cy+i)%users) })
		wstest.WaitFor(t, 30*time.Second, "everyone to join", func() bool {
			st := srv.Stats()
			return st.Open == int64(per) && st.Rooms == rooms && st.Users == min(per, users)
		})
		for i := range per {
			sw.closeConn(i, i%2 == 0)
		}
		wstest.WaitFor(t, 30*time.Second, "the hub to empty", func() bool {
			st := srv.Stats()
			return st.Open == 0 && st.Rooms == 0 && st.Users == 0
		})
		sw.close()
		if cy == 0 {
			heap1, _ = heapAfterGC()
		}
	}
	heapN, _ := heapAfterGC()
	st := srv.Stats()
	t.Logf("%d cycles of %d: heap %d KiB at start, %d KiB after one cycle, %d KiB at the end; %+v",
		cycles, per, heap0>>10, heap1>>10, heapN>>10, st)
	if st.Accepted != int64(cycles*per) {
		t.Errorf("Accepted = %d, want %d", st.Accepted, cycles*per)
	}
	if heapN > heap0+4<<20 {
		t.Errorf("heap grew from %d KiB to %d KiB over %d cycles", heap0>>10, heapN>>10, cycles)
	}
}

// TestRoomConcurrentJoins upgrades thousands of connections at once, each
// to its own room and user, and checks every one landed where its request
// said: room names and user ids must not be taken from buffers another
// handshake reuses.
func TestRoomConcurrentJoins(t *testing.T) {
	n := 4000
	if raceEnabled || testing.Short() {
		n = 1500
	}
	srv := startTestServer(t, func(c *config.Config) { noRoomPings(c); c.DevMode = true })
	sw := newSwarm(t, srv.Addr().String())
	sw.dial(n, func(i int) string { return fmt.Sprintf("/room/room-%d?user=user-%d", i, i) })
	// A member joins its room just after its 101 is written: wait for
	// the hub, not for the handshakes.
	wstest.WaitFor(t, 30*time.Second, "everyone to join", func() bool {
		st := srv.Stats()
		return st.Open == int64(n) && st.Rooms >= n && st.Users >= n
	})
	if st := srv.Stats(); st.Rooms != n || st.Users != n {
		t.Errorf("%d rooms and %d users, want %d of each", st.Rooms, st.Users, n)
	}
	bad := 0
	for i := range n {
		if srv.hub.Count(fmt.Sprintf("room-%d", i)) != 1 || srv.hub.CountUser(fmt.Sprintf("user-%d", i)) != 1 {
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d connections are not alone in their room and user", bad, n)
	}
}

// TestRoomWriteTimeout: a member whose socket refuses bytes for the write
// timeout is a slow consumer even though its queue is under the limit.
func TestRoomWriteTimeout(t *testing.T) {
	for _, policy := range []string{"close", "drop-oldest"} {
		t.Run(policy, func(t *testing.T) {
			srv := startTestServer(t, func(c *config.Config) {
				noRoomPings(c)
				c.DevMode = true
				c.SlowPolicy = policy
				c.SendQueue = 64 << 20 // the queue limit never acts
				c.WriteTimeout = time.Second
				c.Tick = 50 * time.Millisecond
			})
			addr := srv.Addr().String()
			stalled := dialStalled(t, addr, "/room/order?user=stalled")
			wstest.WaitFor(t, 10*time.Second, "the member to join", func() bool { return srv.hub.Count("order") == 1 })
			sc := findMember(srv, "order", stalled.NC.LocalAddr())
			fillStalled(t, srv, sc)
			// Queue a few whole messages behind the blocked socket.
			for range 4 {
				adminDo(t, "POST", adminBase(srv), "/api/users/stalled/send", publishBody("", []byte("queued"), false))
			}
			if policy == "close" {
				wstest.WaitFor(t, 30*time.Second, "the write timeout to close the member", func() bool {
					return srv.Stats().SlowClosed == 1 && srv.hub.Count("order") == 0
				})
				// The connection is gone: draining ends in EOF or reset.
				for {
					if _, err := stalled.ReadFrame(); err != nil {
						if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) {
							t.Errorf("draining the closed member: %v, want the end of the stream", err)
						}
						break
					}
				}
				return
			}
			wstest.WaitFor(t, 30*time.Second, "the write timeout to drop queued messages", func() bool { return srv.Stats().Dropped >= 4 })
			if st := srv.Stats(); st.SlowClosed != 0 || srv.hub.Count("order") != 1 {
				t.Errorf("drop-oldest closed the member: %+v", st)
			}
			// The member still works once it reads: once its queue has
			// drained, a new message arrives whole.
			got := make(chan string, 1)
			go func() {
				for {
					f, err := stalled.ReadFrame()
					if err != nil {
						got <- "error: " + err.Error()
						return
					}
					if f.Op == frame.OpBinary {
						got <- string(f.Payload)
						return
					}
				}
			}()
			wstest.WaitFor(t, 30*time.Second, "the member's queue to drain", func() bool {
				return sc.Queued() == 0 && sc.BlockedSince() == 0
			})
			adminDo(t, "POST", adminBase(srv), "/api/users/stalled/send", publishBody("", []byte("after"), true))
			select {
			case msg := <-got:
				if msg != "after" {
					t.Errorf("got %q, want \"after\"", msg)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the message after the drain never arrived")
			}
		})
	}
}

// TestRoomWriteTimeoutProgress: a member that reads steadily is not a
// slow consumer by the write timeout, even while a backlog keeps its queue
// from emptying: the timeout is for a socket that refuses bytes, and this
// one takes some every few hundred milliseconds.
func TestRoomWriteTimeoutProgress(t *testing.T) {
	const writeTimeout = 3 * time.Second
	srv := startTestServer(t, func(c *config.Config) {
		noRoomPings(c)
		c.DevMode = true
		c.SendQueue = 1 << 30 // only the write timeout can act
		c.MaxMessage = 1 << 20
		c.WriteTimeout = writeTimeout
		c.Tick = 50 * time.Millisecond
	})
	addr := srv.Addr().String()
	member := wstest.Dial(t, addr, "/room/progress")
	pub := wstest.Dial(t, addr, "/room/progress")
	wstest.WaitFor(t, 10*time.Second, "both to join", func() bool { return srv.hub.Count("progress") == 2 })
	sc := findMember(srv, "progress", member.NC.LocalAddr())
	// A backlog of 30 MiB, far more than the reader below takes in the
	// time it reads, published by the other member (one masked frame,
	// written 30 times, on another goroutine: the reading must start as
	// soon as the member's socket is full).
	msg := wstest.AppendFrame(nil, true, 0, frame.OpBinary, bytes.Repeat([]byte("x"), 1<<20), true)
	published := make(chan error, 1)
	go func() {
		_ = pub.NC.SetWriteDeadline(time.Now().Add(2 * time.Minute))
		for range 30 {
			if _, err := pub.NC.Write(msg); err != nil {
				published <- err
				return
			}
		}
		published <- nil
	}()
	wstest.WaitFor(t, 60*time.Second, "the member's socket to fill", func() bool { return sc.BlockedSince() != 0 })
	// Read 32 KiB every 20 ms (at most 1.6 MB/s) for well over the write
	// timeout.
	buf := make([]byte, 32<<10)
	read := 0
	start := time.Now()
	for time.Since(start) < 3*writeTimeout {
		_ = member.NC.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := member.NC.Read(buf)
		read += n
		if err != nil {
			t.Fatalf("after reading %d KiB steadily for %v: %v; stats %+v", read>>10, time.Since(start).Round(time.Millisecond), err, srv.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := srv.Stats(); st.SlowClosed != 0 || srv.hub.Count("progress") != 2 {
		t.Fatalf("a member that read %d KiB in %v, some every 20 ms, was closed as a slow consumer: %+v",
			read>>10, time.Since(start).Round(time.Millisecond), st)
	}
	if sc.Queued() == 0 {
		t.Fatalf("the backlog drained (%d KiB read): the test did not keep the queue busy", read>>10)
	}
	t.Logf("read %d KiB in %v; %d KiB still queued", read>>10, time.Since(start).Round(time.Millisecond), sc.Queued()>>10)
	select {
	case err := <-published:
		if err != nil {
			t.Errorf("publishing the backlog: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Error("the backlog was never all published")
	}
}
