package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/internal/wstest"
)

// opsRawEcho starts a server with per-message metrics on or off and
// returns a raw upgraded connection to its /echo endpoint.
func opsRawEcho(b *testing.B, metricsOn bool) net.Conn {
	b.Helper()
	_, addr, _ := opsServer(b, func(c *config.Config) {
		c.Metrics = metricsOn
		c.Admin = "" // nothing scrapes during the benchmark
	})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	key := wstest.NewKey()
	if _, err := nc.Write(wstest.Request(addr, "/echo", key)); err != nil {
		b.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReaderSize(nc, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols || br.Buffered() != 0 {
		b.Fatalf("upgrade: %v %v", resp, err)
	}
	_ = nc.SetReadDeadline(time.Time{})
	return nc
}

var opsMachineOnce sync.Once

// opsLogMachine logs the machine the benchmark ran on, once per run.
func opsLogMachine(b *testing.B) {
	opsMachineOnce.Do(func() {
		model := "unknown cpu"
		if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if v, ok := strings.CutPrefix(line, "model name"); ok {
					model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
					break
				}
			}
		}
		b.Logf("machine: %s/%s, %d CPUs (%s), GOMAXPROCS %d, %s", runtime.GOOS, runtime.GOARCH,
			runtime.NumCPU(), model, runtime.GOMAXPROCS(0), runtime.Version())
	})
}

// BenchmarkEchoMetrics measures what per-message metrics cost on the echo
// path: 64-byte text messages echoed over a real loopback socket by an
// in-process server, with -metrics on and off in the same run. "rtt" does
// one round trip per op (latency-bound: syscalls and wake-ups dominate);
// "burst32" writes 32 messages in one write and reads the 32 echoes
// (throughput-bound, so the server's per-message work shows more).
func BenchmarkEchoMetrics(b *testing.B) {
	payload := []byte(strings.Repeat("m", 64))
	msg := frame.AppendMaskedFrame(nil, true, 0, frame.OpText, [4]byte{7, 1, 9, 3}, payload)
	echo := frame.HeaderSize(len(payload), false) + len(payload)
	for _, mode := range []struct {
		name  string
		burst int
	}{{"rtt", 1}, {"burst32", 32}} {
		out := make([]byte, 0, mode.burst*len(msg))
		for i := 0; i < mode.burst; i++ {
			out = append(out, msg...)
		}
		in := make([]byte, mode.burst*echo)
		for _, on := range []bool{true, false} {
			name := fmt.Sprintf("%s/metrics=%s", mode.name, map[bool]string{true: "on", false: "off"}[on])
			b.Run(name, func(b *testing.B) {
				opsLogMachine(b)
				nc := opsRawEcho(b, on)
				b.ReportAllocs()
				b.SetBytes(int64(mode.burst * len(payload)))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := nc.Write(out); err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(nc, in); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				if string(in[len(in)-len(payload):]) != string(payload) {
					b.Fatal("echo corrupted")
				}
				b.ReportMetric(float64(b.N*mode.burst)/b.Elapsed().Seconds(), "msgs/s")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*mode.burst), "ns/msg")
			})
		}
	}
}

// BenchmarkMetricsRecordEcho isolates what -metrics adds to one echoed
// message: the four counter updates OnMessage makes (messages and bytes,
// in and out). "serial" is one poller; "parallel" has every CPU update the
// same series at once, as all pollers do under load (the counters are
// shared, so this is the contended cost).
func BenchmarkMetricsRecordEcho(b *testing.B) {
	m := metrics.New([]string{"r"}, []string{"ok"}, []string{"k"}, 1, metrics.Gauges{})
	rec := func() {
		m.MessagesIn[metrics.OpText].Inc()
		m.BytesIn[metrics.OpText].Add(64)
		m.MessagesOut[metrics.OpText].Inc()
		m.BytesOut[metrics.OpText].Add(64)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			rec()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				rec()
			}
		})
	})
	if got := m.MessagesIn[metrics.OpText].Get(); got == 0 {
		b.Fatal("nothing recorded")
	}
}
