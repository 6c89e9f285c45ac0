package server

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
)

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
	waitFor(b, 60*time.Second, "members to join", func() bool { return srv.hub.Count("fanout") == fanoutMembers+1 })
	sw.startReaders(4)
	b.Logf("%d members joined in %v", fanoutMembers, time.Since(start).Round(time.Millisecond))
	payload := []byte(strings.Repeat(`{"event":"tick","symbol":"WSG","price":101.25,"volume":4200}`, 16)[:payloadLen])
	for _, inflight := range []int{1, 16} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			runFanout(b, srv, sw, pub, payload, inflight)
		})
	}
	sw.check()
}

// runFanout publishes b.N messages on pub, with at most inflight of them
// not yet delivered to every member.
func runFanout(b *testing.B, srv *Server, sw *swarm, pub int, payload []byte, inflight int) {
	members := int64(len(sw.conns))
	base := sw.total.Load()
	// Each message carries the next sequence number for every member.
	next := uint64(base / members)
	out := make([]byte, 0, frame.HeaderSize(len(payload), true)+len(payload))
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
	publish := func(seq uint64) {
		binary.BigEndian.PutUint64(payload, seq)
		out = frame.AppendMaskedFrame(out[:0], true, 0, frame.OpBinary, [4]byte{1, 2, 3, 4}, payload)
		if err := writeFull(pub, out, time.Now().Add(10*time.Second)); err != nil {
			b.Fatal(err)
		}
	}
	// Warm up: one burst grows the workers' scratch slices and fills the
	// buffer pools, so the measurement below sees the steady state.
	for i := range inflight {
		publish(next + uint64(i))
	}
	wait(int64(inflight))
	base, next = sw.total.Load(), next+uint64(inflight)
	st0 := srv.Stats()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		wait(int64(i - inflight + 1))
		publish(next + uint64(i))
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
	if got := st1.MessagesOut - st0.MessagesOut; got != uint64(b.N)*uint64(members) {
		b.Errorf("MessagesOut grew by %d, want %d", got, uint64(b.N)*uint64(members))
	}
	if st1.SlowClosed != 0 || st1.Dropped != 0 {
		b.Errorf("slow consumers in the benchmark: %+v", st1)
	}
}
