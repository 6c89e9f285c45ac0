package server_test

// Inbound floods: every frame a client sends is metered, whatever it
// carries. Each flood runs against a server with its rate limits on while
// echo clients on the same event loops keep measuring round trips; the
// flooding connection must be closed with the documented code, and no
// bystander may lose a message.

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/server"
	"github.com/wsgate/wsgate/internal/wstest"
)

// floodLimit bounds what one flooding client writes: a server that has
// not closed the connection by then has let the flood through.
const floodLimit = 64 << 20

// limitedServer starts a server with the default per-connection rate
// limits on (connection maxima and per-address rates off, so the test's
// many clients from one address are admitted).
func limitedServer(t *testing.T, mod func(*config.Config)) (*server.Server, string) {
	return startServer(t, func(c *config.Config) {
		c.NoLimits = false
		c.ConnRate, c.MaxConnsPerIP, c.MaxPendingHandshakesPerIP = 0, 0, 0
		c.PingInterval = 0
		if mod != nil {
			mod(c)
		}
	})
}

// inFlood is what one flood measured.
type inFlood struct {
	code    frame.CloseCode // the server's close code; 0 if none came
	reason  string
	written int64 // bytes the client wrote before it read the close
	frames  int64 // frames in those bytes
}

// flood sends first, then batch over and over on a new connection to
// path, until the server's close frame arrives or floodLimit bytes are
// written.
func inboundFlood(t *testing.T, addr, path string, first, batch []byte, perBatch int) inFlood {
	t.Helper()
	c := wstest.Dial(t, addr, path)
	defer c.Close()
	c.Timeout = 60 * time.Second
	var closed atomic.Bool
	got := make(chan inFlood, 1)
	go func() {
		for {
			f, err := c.ReadFrame()
			if err != nil {
				got <- inFlood{}
				return
			}
			if f.Op == frame.OpClose {
				closed.Store(true)
				r := inFlood{}
				if len(f.Payload) >= 2 {
					r.code = frame.CloseCode(int(f.Payload[0])<<8 | int(f.Payload[1]))
					r.reason = string(f.Payload[2:])
				}
				got <- r
				return
			}
		}
	}()
	var written, frames int64
	if len(first) > 0 {
		if err := c.WriteRaw(first); err != nil {
			t.Fatalf("first frame: %v", err)
		}
		written += int64(len(first))
		frames++
	}
	for written < floodLimit && !closed.Load() {
		if err := c.WriteRaw(batch); err != nil {
			break // the server closed TCP after its close frame
		}
		written += int64(len(batch))
		frames += int64(perBatch)
	}
	if !closed.Load() {
		_ = c.NC.(*net.TCPConn).CloseWrite()
	}
	r := <-got
	r.written, r.frames = written, frames
	return r
}

// batchOf returns n copies of one masked frame.
func batchOf(n int, fin bool, op frame.Opcode, payload []byte) []byte {
	f := wstest.AppendFrame(nil, fin, 0, op, payload, true)
	return bytes.Repeat(f, n)
}

// bystanders runs n echo clients, each doing a round trip every pace,
// until stop closes; it returns the latencies and the failures.
func echoBystanders(t *testing.T, addr string, n int, pace time.Duration, stop <-chan struct{}) func() ([]time.Duration, int) {
	var mu sync.Mutex
	var lat []time.Duration
	var failed atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		c := wstest.Dial(t, addr, "/echo")
		c.Timeout = 60 * time.Second
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			msg := fmt.Appendf(nil, "bystander %d", i)
			for {
				select {
				case <-stop:
					return
				case <-time.After(pace):
				}
				t0 := time.Now()
				if err := c.WriteMessage(frame.OpText, msg); err != nil {
					failed.Add(1)
					return
				}
				op, p, err := c.ReadMessage()
				if err != nil || op != frame.OpText || !bytes.Equal(p, msg) {
					failed.Add(1)
					return
				}
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
			}
		}()
	}
	return func() ([]time.Duration, int) {
		wg.Wait()
		return lat, int(failed.Load())
	}
}

// TestInboundFloods floods one connection at a time with pongs, pings,
// small messages and empty continuation frames, while 20 echo clients (at
// 25 round trips a second, inside their own message budget) share the
// event loops. Each flooding connection must be closed with the code the
// README documents before it has written floodLimit bytes; every
// bystander round trip must succeed. What each flood got through is
// printed.
func TestInboundFloods(t *testing.T) {
	srv, addr := limitedServer(t, nil)
	_, addrBytes := limitedServer(t, func(c *config.Config) { c.RateMsgs = 0; c.RateBytes, c.RateBytesBurst = 64<<10, 64<<10 })
	_, addrFrames := limitedServer(t, func(c *config.Config) { c.MaxFragments = 0 })
	stop := make(chan struct{})
	done := echoBystanders(t, addr, 20, 40*time.Millisecond, stop)
	pong := make([]byte, 125)
	cases := []struct {
		name, addr string
		first      []byte
		batch      []byte
		n          int
		want       frame.CloseCode
	}{
		{"pongs", addr, nil, batchOf(500, true, frame.OpPong, pong), 500, frame.ClosePolicyViolation},
		{"pongs_over_the_byte_budget", addrBytes, nil, batchOf(500, true, frame.OpPong, pong), 500, frame.ClosePolicyViolation},
		{"empty_pongs", addr, nil, batchOf(2000, true, frame.OpPong, nil), 2000, frame.ClosePolicyViolation},
		{"pings", addr, nil, batchOf(500, true, frame.OpPing, []byte("ping")), 500, frame.ClosePolicyViolation},
		{"messages", addr, nil, batchOf(500, true, frame.OpText, []byte("flood")), 500, frame.ClosePolicyViolation},
		{"empty_continuations", addr, wstest.AppendFrame(nil, false, 0, frame.OpText, nil, true),
			batchOf(2000, false, frame.OpContinuation, nil), 2000, frame.CloseMessageTooBig},
		{"empty_continuations_over_the_frame_rate", addrFrames, wstest.AppendFrame(nil, false, 0, frame.OpBinary, nil, true),
			batchOf(2000, false, frame.OpContinuation, nil), 2000, frame.ClosePolicyViolation},
	}
	for _, tc := range cases {
		r := inboundFlood(t, tc.addr, "/echo", tc.first, tc.batch, tc.n)
		t.Logf("%-40s closed %d %q after the client wrote %d frames (%d KiB)", tc.name, r.code, r.reason, r.frames, r.written>>10)
		if r.code != tc.want {
			t.Errorf("%s: close %d %q after %d frames (%d MiB), want %d", tc.name, r.code, r.reason, r.frames, r.written>>20, tc.want)
		}
	}
	close(stop)
	lat, failed := done()
	t.Logf("bystanders: %d round trips during the floods, p50 %v p99 %v; %d failed", len(lat), percentile(lat, 0.5), percentile(lat, 0.99), failed)
	if failed > 0 || len(lat) == 0 {
		t.Errorf("%d bystanders lost a round trip (%d completed)", failed, len(lat))
	}
	_ = srv
}
