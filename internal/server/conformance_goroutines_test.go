package server_test

import (
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/wstest"
)

// TestConformanceNoGoroutinePerConnection opens thousands of upgraded
// connections and checks the process's goroutine count stays within a
// small constant of its count before: the server starts no goroutine per
// connection (and neither does the client side, which dials with a small
// fixed pool and then holds the sockets idle).
//
// It is not parallel: sequential tests run while every parallel test of
// the package is still paused, so no other test's goroutines come and go.
func TestConformanceNoGoroutinePerConnection(t *testing.T) {
	const slack = 20
	const workers = 8
	n := 5000
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil {
		// Both ends of every connection live in this process.
		if max := (int(rl.Cur) - 300) / 2; max < n {
			t.Logf("RLIMIT_NOFILE %d: testing %d connections instead of %d", rl.Cur, max, n)
			n = max
		}
	}
	if testing.Short() {
		n = min(n, 500)
	}
	srv, addr := startServer(t, nil)
	before := runtime.NumGoroutine()

	conns := make([]*wstest.Conn, n)
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := wstest.Connect(addr, "/echo")
				if err != nil {
					errs <- err
					return
				}
				conns[i] = c
			}
		}()
	}
	peak := 0
	sample := func() { peak = max(peak, runtime.NumGoroutine()) }
	var dialErr error
feed:
	for i := range n {
		select {
		case next <- i:
		case dialErr = <-errs:
			break feed
		}
		if i%64 == 0 {
			sample()
		}
	}
	close(next)
	wg.Wait()
	if dialErr == nil && len(errs) > 0 {
		dialErr = <-errs
	}
	if dialErr != nil {
		t.Fatalf("dial: %v", dialErr)
	}
	waitOpen(t, srv, int64(n), 10*time.Second)
	sample()
	held := runtime.NumGoroutine()
	t.Logf("%d connections: goroutines before %d, peak while dialing %d, holding %d", n, before, peak, held)
	if peak > before+slack+2*workers || held > before+slack {
		t.Fatalf("goroutines grew with connections: before %d, peak %d, holding %d connections %d",
			before, peak, n, held)
	}

	step := max(n/50, 1)
	for i := 0; i < n; i += step {
		conns[i].Bind(t).Echo(frame.OpText, []byte("sampled"))
	}
	if after := runtime.NumGoroutine(); after > before+slack {
		t.Fatalf("goroutines after echoes: %d, before %d", after, before)
	}

	for i, c := range conns {
		c.Close()
		conns[i] = nil
	}
	waitOpen(t, srv, 0, 10*time.Second)
	if st := srv.Stats(); st.Accepted < int64(n) {
		t.Errorf("Accepted = %d, want at least %d", st.Accepted, n)
	}
}
