package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/wstest"
)

// dialUpgrade connects to addr and upgrades path. A rcvbuf above zero sets
// SO_RCVBUF before connecting, so the advertised window stays small and a
// client that does not read soon leaves the server with queued bytes.
func dialUpgrade(t *testing.T, addr, path string, rcvbuf int) *wstest.Conn {
	c, err := tryDialUpgrade(addr, path, rcvbuf)
	if err != nil {
		t.Fatalf("dial %s%s: %v", addr, path, err)
	}
	return c
}

func tryDialUpgrade(addr, path string, rcvbuf int) (*wstest.Conn, error) {
	d := net.Dialer{Timeout: 30 * time.Second}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			}); err != nil {
				return err
			}
			return serr
		}
	}
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

// drainPayload is the k-th message published in the drain test.
func drainPayload(k int) string {
	p := fmt.Sprintf("message %03d ", k)
	return p + strings.Repeat(string(rune('a'+k%26)), 2048-len(p))
}

// heavyPayload is the k-th 1 MiB message sent to one heavy user.
func heavyPayload(user, k int) string {
	p := fmt.Sprintf("user %d heavy %d ", user, k)
	return p + strings.Repeat(string(rune('A'+k%26)), 1<<20-len(p))
}

// wmemMax is the kernel's largest TCP send buffer (net.ipv4.tcp_wmem).
func wmemMax(t *testing.T) int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_wmem")
	f := strings.Fields(string(b))
	if err != nil || len(f) != 3 {
		return 4 << 20
	}
	n, err := strconv.Atoi(f[2])
	if err != nil {
		t.Fatalf("tcp_wmem %q", b)
	}
	return n
}

// TestGracefulDrain runs the binary with 2,000 room members (300 with
// -short) that do not read while K messages are published to them; then
// sends SIGTERM. Readiness must turn false while the listener refuses new
// connections, and every client must receive all its messages in order,
// then a close frame with 1001 (1012 with -restart) and a reason; the
// process exits 0.
//
// On loopback Linux grows each server socket's send buffer to the
// tcp_wmem maximum (4 MiB here: MSS is 64 KiB), so KiB-sized messages sit
// in the kernel, not in wsgate's queue. One member in 100 (500 under
// -race) is therefore
// also sent, by user, more 1 MiB messages than that buffer holds: those
// connections provably have messages in wsgate's own queue
// (wsgate_queued_bytes) when the drain starts.
func TestGracefulDrain(t *testing.T) {
	for _, restart := range []bool{false, true} {
		name, code := "going_away", frame.CloseGoingAway
		if restart {
			name, code = "restart", frame.CloseServiceRestart
		}
		t.Run(name, func(t *testing.T) { testDrain(t, restart, code) })
	}
}

func testDrain(t *testing.T, restart bool, code frame.CloseCode) {
	n, k := 2000, 32
	if testing.Short() {
		n = 300
	}
	heavyEvery := 100
	if raceEnabled {
		// The race-instrumented client reads every byte: keep the volume down.
		k, heavyEvery = 8, 500
	}
	heavyN := (wmemMax(t)+(1<<20-1))>>20 + 1 // 1 MiB messages per heavy user
	args := []string{"-dev", "-drain-batch", "200", "-drain-interval", "50ms",
		"-max-message", "2MiB", "-send-queue", fmt.Sprint((heavyN + 1) << 20),
		// Timeouts far beyond the test's pace: the drain must finish
		// because clients read and answer, not because timers fire.
		"-close-timeout", "90s", "-drain-timeout", "150s", "-write-timeout", "150s",
		"-ping-interval", "0", "-idle-timeout", "0"}
	if restart {
		args = append(args, "-restart")
	}
	srv := startWsgate(t, nil, args...)
	clients := dialMany(t, srv.addr, n)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	wstest.WaitFor(t, 60*time.Second, fmt.Sprintf("%d connections open", n), func() bool { return srv.stats(t).Users == n })

	for i := 0; i < k; i++ {
		srv.post(t, "/api/publish", fmt.Sprintf(`{"room":"drain","payload":%q}`, drainPayload(i)))
	}
	out := `wsgate_messages_total{direction="out",opcode="text"}`
	wstest.WaitFor(t, 120*time.Second, "every message queued", func() bool { return srv.metric(t, out) == float64(n*k) })
	heavy := 0
	for i := 0; i < n; i += heavyEvery {
		for j := 0; j < heavyN; j++ {
			srv.post(t, fmt.Sprintf("/api/users/u%d/send", i), fmt.Sprintf(`{"payload":%q}`, heavyPayload(i, j)))
		}
		heavy++
	}
	wstest.WaitFor(t, 120*time.Second, "every heavy message queued", func() bool {
		return srv.metric(t, out) == float64(n*k+heavy*heavyN)
	})
	queued := srv.metric(t, "wsgate_queued_bytes")
	t.Logf("%d clients x %d messages of 2 KiB, %d of them also %d x 1 MiB: %.0f bytes queued in wsgate before SIGTERM",
		n, k, heavy, heavyN, queued)
	if queued < float64(heavy<<20) {
		t.Errorf("wsgate_queued_bytes = %v before the drain, want at least 1 MiB per heavy user (%d)", queued, heavy<<20)
	}
	if status, body := srv.get("/readyz"); status != 200 {
		t.Fatalf("/readyz before SIGTERM: %d %s", status, body)
	}

	srv.signal(t, syscall.SIGTERM)
	wstest.WaitFor(t, 30*time.Second, "/readyz 503 after SIGTERM", func() bool {
		status, _ := srv.get("/readyz")
		return status == 503
	})
	if status, body := srv.get("/healthz"); status != 200 {
		t.Errorf("/healthz during the drain: %d %s, want 200", status, body)
	}
	if c, err := tryDialUpgrade(srv.addr, "/echo", 0); err == nil {
		c.Close()
		t.Error("a new WebSocket connection was upgraded during the drain")
	}

	readAll(t, clients, k, heavyEvery, heavyN, code)
	if status := srv.wait(t, 120*time.Second); status != 0 {
		t.Errorf("exit status %d after the drain, want 0", status)
	}
	log := srv.stderr.String()
	for _, want := range []string{"graceful shutdown", "draining", "wsgate stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("log has no %q line", want)
		}
	}
	if strings.Contains(log, "drain timed out") || strings.Contains(log, "drain incomplete") {
		t.Error("the drain timed out")
	}
}

// dialMany connects n room members from 8 goroutines.
func dialMany(t *testing.T, addr string, n int) []*wstest.Conn {
	t.Helper()
	clients := make([]*wstest.Conn, n)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || failed.Load() != nil {
					return
				}
				c, err := tryDialUpgrade(addr, fmt.Sprintf("/room/drain?user=u%d", i), 4096)
				if err != nil {
					failed.Store(fmt.Errorf("client %d: %w", i, err))
					return
				}
				clients[i] = c
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
		t.Fatal(err)
	}
	return clients
}

// readAll reads every client from 16 goroutines: k room messages in
// order (and heavyN user messages for every heavyEvery-th client), then a
// close frame with code and a reason, answered; then the server's end of
// the stream.
func readAll(t *testing.T, clients []*wstest.Conn, k, heavyEvery, heavyN int, code frame.CloseCode) {
	t.Helper()
	var next atomic.Int64
	var mu sync.Mutex
	var problems []string
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(clients) {
					return
				}
				h := 0
				if i%heavyEvery == 0 {
					h = heavyN
				}
				if err := readDrained(clients[i], i, k, h, code); err != nil {
					mu.Lock()
					problems = append(problems, fmt.Sprintf("client %d: %v", i, err))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(problems) > 0 {
		t.Errorf("%d of %d clients did not get every message then close %d; first ones:\n%s",
			len(problems), len(clients), code, strings.Join(problems[:min(10, len(problems))], "\n"))
	}
}

func readDrained(c *wstest.Conn, user, k, heavyN int, code frame.CloseCode) error {
	c.Timeout = 90 * time.Second
	for i := 0; i < k+heavyN; i++ {
		want := drainPayload(i)
		if i >= k {
			want = heavyPayload(user, i-k)
		}
		f, err := c.ReadFrame()
		if err != nil {
			return fmt.Errorf("message %d: %v", i, err)
		}
		if f.Op != frame.OpText || !f.Fin || string(f.Payload) != want {
			return fmt.Errorf("message %d: got %v, want %q...", i, f, want[:16])
		}
	}
	got, reason, err := c.ReadClose()
	if err != nil {
		return fmt.Errorf("after %d messages, want close %d: %v", k, code, err)
	}
	if got != code || reason == "" {
		return fmt.Errorf("close %d %q, want %d with a reason", got, reason, code)
	}
	if err := c.WriteClose(uint16(code), ""); err != nil {
		return fmt.Errorf("answering the close: %v", err)
	}
	if err := c.ReadEOF(); err != nil {
		return fmt.Errorf("after the close handshake: %v", err)
	}
	return nil
}
