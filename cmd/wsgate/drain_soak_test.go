//go:build soak

package main

// The drain repro, run as an operator would: a wsgate process, 500 room
// members that read slowly (8 KiB receive buffers), 100 admin publishes of
// 1 KiB each answered 200, and SIGTERM at once. Every member must get all
// 100 messages, then 1001, and the process exit 0. The run is repeated
// (WSGATE_SOAK_RUNS, default 10) and each run's completeness printed;
// WSGATE_BIN runs another build of wsgate instead of this tree's (to
// measure an older release the same way).
//
//	make soak
//	WSGATE_BIN=/path/to/old/wsgate go test -tags soak -run TestSoakDrainRepro -v ./cmd/wsgate

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/wstest"
)

func TestSoakDrainRepro(t *testing.T) {
	if bin := os.Getenv("WSGATE_BIN"); bin != "" {
		binOnce.Do(func() { binPath = bin })
	}
	runs := 10
	if v, err := strconv.Atoi(os.Getenv("WSGATE_SOAK_RUNS")); err == nil && v > 0 {
		runs = v
	}
	const n, k = 500, 100
	complete := 0
	for run := 1; run <= runs; run++ {
		r := drainRun(t, n, k)
		t.Logf("run %2d: %3d of %d members got all %d messages then 1001 (fewest %d, most %d; closes %v); exit %d",
			run, r.complete, n, k, r.fewest, r.most, r.codes, r.exit)
		if r.complete == n && r.exit == 0 {
			complete++
		}
	}
	t.Logf("drain completeness: %d of %d runs delivered every accepted message to every member", complete, runs)
	if complete != runs {
		t.Errorf("%d of %d runs lost accepted messages in the drain", runs-complete, runs)
	}
}

type drainResult struct {
	complete, fewest, most, exit int
	codes                        map[frame.CloseCode]int
}

func drainRun(t *testing.T, n, k int) drainResult {
	srv := startWsgate(t, nil, "-ping-interval", "0")
	clients := make([]*wstest.Conn, n)
	for i := range clients {
		c, err := tryDialUpgrade(srv.addr, "/room/drain", 8<<10)
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		defer c.Close()
		clients[i] = c
	}
	wstest.WaitFor(t, 60*time.Second, "every member open", func() bool { return srv.stats(t).Open == int64(n) })
	payload := func(i int) string {
		p := fmt.Sprintf("message %03d ", i)
		return p + strings.Repeat("x", 1024-len(p))
	}
	var mu sync.Mutex
	r := drainResult{fewest: k, codes: map[frame.CloseCode]int{}}
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, code := readSlowly(c, k, payload)
			mu.Lock()
			defer mu.Unlock()
			r.fewest, r.most = min(r.fewest, got), max(r.most, got)
			r.codes[code]++
			if got == k && code == frame.CloseGoingAway {
				r.complete++
			}
		}()
	}
	for i := range k {
		srv.post(t, "/api/publish", fmt.Sprintf(`{"room":"drain","payload":%q}`, payload(i)))
	}
	srv.signal(t, syscall.SIGTERM)
	wg.Wait()
	r.exit = srv.wait(t, 120*time.Second)
	return r
}

// readSlowly reads messages in order (pausing 1 ms every 8 KiB) until the
// server's close frame, answers it, and returns how many of the k
// expected messages came before it, and its code.
func readSlowly(c *wstest.Conn, k int, payload func(int) string) (int, frame.CloseCode) {
	c.Timeout = 90 * time.Second
	got, read := 0, 0
	for {
		f, err := c.ReadFrame()
		if err != nil {
			return got, 0
		}
		if f.Op == frame.OpClose {
			var code frame.CloseCode
			if len(f.Payload) >= 2 {
				code = frame.CloseCode(int(f.Payload[0])<<8 | int(f.Payload[1]))
			}
			_ = c.WriteClose(uint16(code), "")
			return got, code
		}
		if got < k && string(f.Payload) == payload(got) {
			got++
		}
		if read += len(f.Payload); read >= 8<<10 {
			read = 0
			time.Sleep(time.Millisecond)
		}
	}
}
