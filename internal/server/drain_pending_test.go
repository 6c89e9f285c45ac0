package server

// A graceful drain delivers what was accepted before it: fan-out jobs
// still queued when Shutdown begins reach every member's queue before any
// member is sent its close frame.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/wstest"
)

// holdCtl is a Control that blocks its worker until release closes;
// entered is closed once the worker is inside it.
type holdCtl struct {
	entered chan struct{}
	release chan struct{}
}

func (h holdCtl) Apply(*fanout.Delivery) bool {
	close(h.entered)
	<-h.release
	return false
}

// holdRoom blocks the worker that serves room until the returned function
// is called: jobs for the room queue up behind it, provably pending.
func holdRoom(t *testing.T, s *Server, room string) (release func()) {
	t.Helper()
	h := holdCtl{entered: make(chan struct{}), release: make(chan struct{})}
	if err := s.pool.Submit(context.Background(), fanout.Job{Room: room, Ctl: h}); err != nil {
		t.Fatal(err)
	}
	<-h.entered
	var once sync.Once
	release = func() { once.Do(func() { close(h.release) }) }
	t.Cleanup(release)
	return release
}

// dialSlowReader connects a client with an 8 KiB receive buffer, so what
// the server sends it waits in the server's queue rather than in the
// client's kernel.
func dialSlowReader(addr, path string) (*wstest.Conn, error) {
	d := net.Dialer{Timeout: 30 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8<<10)
		}); err != nil {
			return err
		}
		return serr
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	key := wstest.NewKey()
	c, err := wstest.Upgrade(nc, wstest.Request(addr, path, key), key)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// drainMessage is the i-th admin publish of the drain tests: 1 KiB.
func drainMessage(i int) string {
	p := fmt.Sprintf("admin %03d ", i)
	return p + strings.Repeat(string(rune('a'+i%26)), 1024-len(p))
}

// TestDrainDeliversPendingJobs holds the room's fan-out worker, queues
// 100 admin publishes of 1 KiB (each answered 200 with every member
// counted), a raw /room publish and an acknowledged /ws publish every
// tenth message, then starts Shutdown. Shutdown must wait for those jobs
// (it queues its fence behind them) and close no one meanwhile; once the
// worker is released, each of the slow-reading members (8 KiB receive
// buffers) gets every accepted message in order, then 1001, and Shutdown
// returns without dropping anything.
func TestDrainDeliversPendingJobs(t *testing.T) {
	n, k := 500, 100
	if raceEnabled || testing.Short() {
		n = 150
	}
	s := startTestServer(t, func(c *config.Config) {
		noRoomPings(c)
		c.DevMode = true
		c.Workers = 2
		c.DrainBatch, c.DrainInterval = 100, 10*time.Millisecond
		c.DrainTimeout = 120 * time.Second
	})
	addr, base := s.Addr().String(), adminBase(s)
	members := make([]*wstest.Conn, n)
	for i := range members {
		c, err := dialSlowReader(addr, "/room/drain")
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		defer c.Close()
		members[i] = c
	}
	raw := wstest.Dial(t, addr, "/room/drain") // a publishing member
	mux := wstest.Dial(t, addr, "/ws")
	wstest.WaitFor(t, 30*time.Second, "every member joined", func() bool { return s.hub.Count("drain") == n+1 })

	release := holdRoom(t, s, "drain")
	want := queueDrainJobs(t, s, base, raw, mux, k, n+1)
	pending := s.pool.Pending()
	if pending < len(want) {
		t.Fatalf("%d jobs pending before Shutdown, want at least %d", pending, len(want))
	}

	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	// Shutdown's fence goes behind the pending jobs of the held worker;
	// a drain without one starts closing members instead.
	wstest.WaitFor(t, 30*time.Second, "Shutdown waiting behind the pending jobs, or closing members", func() bool {
		return s.Draining() && (s.pool.Pending() > pending || closingMembers(s, "drain") > 0)
	})
	if c := closingMembers(s, "drain"); c > 0 {
		t.Fatalf("%d members closing while %d accepted jobs are pending", c, pending)
	}
	t.Logf("%d jobs pending when Shutdown began (%d messages to %d members); releasing the worker", pending, len(want), n)
	release()

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := readAllThenClose(c, want, frame.CloseGoingAway); err != nil {
				errs <- fmt.Errorf("member %d: %v", i, err)
			}
		}()
	}
	for _, c := range []*wstest.Conn{raw, mux} {
		go answerClose(c)
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed++; failed <= 5 {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d members did not get all %d messages then 1001", failed, n, len(want))
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if u := s.m.Undelivered.Get(); u != 0 {
		t.Errorf("%d deliveries skipped during the drain, want 0", u)
	}
}

// queueDrainJobs publishes k admin messages to room "drain" (each must be
// answered 200 with recipients counted), and after every tenth one a raw
// /room message from raw and an acknowledged /ws publish from mux, each
// waited for until it is queued; it returns the messages in the order the
// members must get them.
func queueDrainJobs(t *testing.T, s *Server, base string, raw, mux *wstest.Conn, k, recipients int) []string {
	t.Helper()
	var want []string
	for i := range k {
		status, body := adminDo(t, "POST", base, "/api/publish", publishBody("drain", []byte(drainMessage(i)), false))
		if status != 200 || !strings.Contains(body, fmt.Sprintf(`"recipients":%d`, recipients)) {
			t.Fatalf("publish %d: %d %s", i, status, body)
		}
		want = append(want, drainMessage(i))
		if i%10 != 9 {
			continue
		}
		before := s.pool.Pending()
		msg := fmt.Sprintf("raw %03d", i)
		raw.Send(true, 0, frame.OpText, []byte(msg))
		wstest.WaitFor(t, 30*time.Second, "the /room publish queued", func() bool { return s.pool.Pending() > before })
		want = append(want, msg)
		mux.Send(true, 0, frame.OpText, fmt.Appendf(nil, `{"type":"publish","room":"drain","id":%d,"data":"mux %03d"}`, i, i))
		mux.ExpectMessage(frame.OpText, fmt.Appendf(nil, `{"type":"published","room":"drain","id":%d}`, i))
		want = append(want, fmt.Sprintf(`"mux %03d"`, i))
	}
	return want
}

// readAllThenClose reads want in order, slowly (a pause every 8 KiB), then
// the server's close frame with code, answers it and expects EOF.
func readAllThenClose(c *wstest.Conn, want []string, code frame.CloseCode) error {
	c.Timeout = 90 * time.Second
	read := 0
	for i, w := range want {
		op, p, err := c.ReadMessage()
		if err != nil {
			return fmt.Errorf("message %d of %d: %v", i, len(want), err)
		}
		if op != frame.OpText || string(p) != w {
			return fmt.Errorf("message %d of %d: got %v %.24q, want %.24q", i, len(want), op, p, w)
		}
		if read += len(p); read >= 8<<10 {
			read = 0
			time.Sleep(time.Millisecond)
		}
	}
	got, _, err := c.ReadClose()
	if err != nil || got != code {
		return fmt.Errorf("after all %d messages: close %d, %v; want %d", len(want), got, err, code)
	}
	if err := c.WriteClose(uint16(code), ""); err != nil {
		return err
	}
	return c.ReadEOF()
}

// answerClose reads and discards until the server's close frame, answers
// it and closes.
func answerClose(c *wstest.Conn) {
	defer c.Close()
	c.Timeout = 90 * time.Second
	for {
		f, err := c.ReadFrame()
		if err != nil {
			return
		}
		if f.Op == frame.OpClose {
			_ = c.WriteClose(uint16(frame.CloseGoingAway), "")
			return
		}
	}
}

// closingMembers counts the members of room that are no longer open.
func closingMembers(s *Server, room string) int {
	n := 0
	for _, m := range s.hub.AppendMembers(nil, room) {
		if c, ok := m.(*conn); ok && c.loadState() != stateOpen {
			n++
		}
	}
	return n
}

// TestDrainCountsWhatItDrops: a member that never reads keeps its queue
// past the drain timeout; what is dropped with it is counted
// (wsgate_unsent_bytes_total) and logged, never silent.
func TestDrainCountsWhatItDrops(t *testing.T) {
	var logs wstest.SyncBuffer
	s := startTestServer(t, func(c *config.Config) {
		noRoomPings(c)
		c.DevMode = true
		c.DrainTimeout = time.Second
		c.WriteTimeout, c.CloseTimeout = time.Minute, time.Minute
		c.MaxMessage, c.SendQueue = 2<<20, 64<<20
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	stalled := dialStalled(t, s.Addr().String(), "/room/stuck")
	_ = stalled
	wstest.WaitFor(t, 10*time.Second, "the member joined", func() bool { return s.hub.Count("stuck") == 1 })
	base := adminBase(s)
	// Loopback grows a socket's send buffer to the tcp_wmem maximum (4 MiB
	// here): send more than that, so some of it waits in wsgate's queue.
	big := strings.Repeat("x", 1<<20)
	for range 8 {
		if status, body := adminDo(t, "POST", base, "/api/publish", publishBody("stuck", []byte(big), false)); status != 200 {
			t.Fatalf("publish: %d %s", status, body)
		}
	}
	wstest.WaitFor(t, 10*time.Second, "messages queued in wsgate", func() bool { return s.eng.QueuedBytes() > 0 && s.pool.Pending() == 0 })
	queued := s.eng.QueuedBytes()
	if err := s.Shutdown(context.Background()); err == nil {
		t.Fatal("Shutdown returned nil with a member that never reads")
	}
	unsent := s.eng.Unsent()
	t.Logf("%d bytes queued when the drain began; %d never written", queued, unsent)
	if unsent == 0 {
		t.Error("wsgate_unsent_bytes_total is 0 after dropping a stalled member's queue")
	}
	log := logs.String()
	for _, want := range []string{"drain timed out", "bytes queued for connections that closed before they were written"} {
		if !strings.Contains(log, want) {
			t.Errorf("log has no %q line:\n%s", want, log)
		}
	}
}
