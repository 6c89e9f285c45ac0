package server

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

// What history costs, end to end over sockets. The server is a wsgate
// child process, so that its 10,000 sockets do not count against this
// process's descriptor limit; clients are a swarm (room_bench_test.go).

// historyChild is a wsgate process serving addr and admin (host:port),
// which can be stopped and started again on the same addresses.
type historyChild struct {
	tb          testing.TB
	bin         string
	addr, admin string
	args        []string
	cmd         *exec.Cmd
	exited      chan error
	stderr      *wstest.SyncBuffer
}

func newHistoryChild(tb testing.TB, args ...string) *historyChild {
	c := &historyChild{tb: tb, bin: buildWsgate(tb), addr: freeAddr(tb), admin: freeAddr(tb), args: args}
	c.start()
	tb.Cleanup(func() { c.stop(syscall.SIGKILL) })
	return c
}

// start runs the process and waits until /readyz answers.
func (c *historyChild) start() {
	tb := c.tb
	tb.Helper()
	argv := append([]string{"-listen", c.addr, "-admin", c.admin, "-anonymous", "-no-limits",
		"-ping-interval", "0", "-idle-timeout", "0"}, c.args...)
	c.cmd = exec.Command(c.bin, argv...)
	c.stderr = &wstest.SyncBuffer{}
	c.cmd.Stderr = c.stderr
	if err := c.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	c.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, ch chan error) { ch <- cmd.Wait() }(c.cmd, c.exited)
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-c.exited:
			c.exited <- err
			tb.Fatalf("wsgate exited: %v\n%s", err, c.stderr.String())
		default:
		}
		if resp, err := http.Get("http://" + c.admin + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("wsgate not ready after 60s\n%s", c.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends sig to the process (by its pid) and waits for it to exit.
func (c *historyChild) stop(sig syscall.Signal) {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(sig)
	<-c.exited
	c.cmd = nil
}

// dialJoin opens n /ws clients as fast as dialers goroutines can, each
// sending cmd (a join) at once, and returns them as a swarm (not yet
// read).
func dialJoin(tb testing.TB, addr string, n, dialers int, cmd string) *swarm {
	tb.Helper()
	sw := newSwarm(tb, addr)
	sw.wantOp = frame.OpText
	sw.conns = make([]*swarmConn, n)
	join := muxCommandFrame(cmd)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range dialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				sa := sw.sa
				fd, err := dialRaw(&sa, addr, "/ws", "")
				if err == nil {
					err = writeFull(fd, join, time.Now().Add(30*time.Second))
				}
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					next.Store(int64(n))
					if fd >= 0 {
						syscall.Close(fd)
					}
					return
				}
				sw.conns[i] = &swarmConn{idx: i, fd: fd}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		tb.Fatalf("dialing: %v", firstErr)
	}
	return sw
}

// reset drops every socket of sw with a TCP reset, as a network failure
// would.
func (s *swarm) reset() {
	for _, c := range s.conns {
		if c != nil && c.fd >= 0 {
			_ = syscall.SetsockoptLinger(c.fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
		}
	}
	s.close()
}

// publishAdmin sends n messages to room through the admin API.
func publishAdmin(tb testing.TB, admin, room string, n int) {
	tb.Helper()
	for i := range n {
		if code, body := adminPost("http://"+admin, publishBody(room, []byte(`{"n":`+strconv.Itoa(i)+`}`), false)); code != 200 {
			tb.Fatalf("publish: %d %s", code, body)
		}
	}
}

// historyPosition returns room's epoch and latest offset, from the admin
// API.
func historyPosition(tb testing.TB, admin, room string) (string, uint64) {
	tb.Helper()
	var p struct {
		Epoch string `json:"epoch"`
		Last  uint64 `json:"last"`
	}
	code, body := adminDo(tb, "GET", "http://"+admin, "/api/rooms/"+room+"/history?limit=1", "")
	if code != 200 || json.Unmarshal([]byte(body), &p) != nil {
		tb.Fatalf("history of %s: %d %s", room, code, body)
	}
	return p.Epoch, p.Last
}

// BenchmarkHistoryFanoutSockets is the fan-out of one /ws message to
// 10,000 members over real sockets, to a room with history and to one
// without (the same members are in both), in turns: bursts of 16
// messages, each burst timed until every member has all of it. It reports
// both rooms' deliveries/s and history's cost in per cent.
func BenchmarkHistoryFanoutSockets(b *testing.B) {
	logMachine(b)
	const members, burst = 10000, 16
	c := newHistoryChild(b, "-history", "h.*=1000/10m", "-worker-queue", "1024")
	sw := dialJoin(b, c.addr, members, 16, `{"type":"join","room":"h.bench"}`)
	sw.startReaders(2)
	sw.waitAll(1, 2*time.Minute)
	for _, conn := range sw.conns {
		if err := writeFull(conn.fd, muxCommandFrame(`{"type":"join","room":"p.bench"}`), time.Now().Add(30*time.Second)); err != nil {
			b.Fatal(err)
		}
	}
	sw.waitAll(2, 2*time.Minute)
	sa := sw.sa
	pub, err := dialRaw(&sa, c.addr, "/ws", "")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { syscall.Close(pub) })
	var out []byte
	publish := func(room string, k int) {
		cmd := `{"type":"publish","room":"` + room + `","data":{"event":"tick","symbol":"WSG","price":101.25,"seq":` + strconv.Itoa(k) + `}}`
		out = frame.AppendMaskedFrame(out[:0], true, 0, frame.OpText, [4]byte{1, 2, 3, 4}, []byte(cmd))
		if err := writeFull(pub, out, time.Now().Add(30*time.Second)); err != nil {
			b.Fatal(err)
		}
	}
	var spent [2]time.Duration
	var ratios []float64 // per pair of rounds: time with history over time without
	k := 0
	round := func(on bool) time.Duration {
		room := "p.bench"
		if on {
			room = "h.bench"
		}
		base := sw.total.Load()
		t := time.Now()
		for range burst {
			publish(room, k)
			k++
		}
		deadline := time.Now().Add(2 * time.Minute)
		for sw.total.Load()-base < burst*members {
			if time.Now().After(deadline) {
				sw.check()
				b.Fatalf("a burst did not reach every member in 2 minutes")
			}
			time.Sleep(50 * time.Microsecond)
		}
		d := time.Since(t)
		if on {
			spent[1] += d
		} else {
			spent[0] += d
		}
		return d
	}
	round(false) // warm up
	round(true)
	spent = [2]time.Duration{}
	i := 0
	for b.Loop() {
		first := i%2 == 0
		a, c := round(first), round(!first)
		if !first {
			a, c = c, a
		}
		ratios = append(ratios, float64(a)/float64(c))
		i++
	}
	sw.check()
	deliveries := float64(b.N) * burst * members
	b.ReportMetric(deliveries/spent[0].Seconds(), "off-deliveries/s")
	b.ReportMetric(deliveries/spent[1].Seconds(), "on-deliveries/s")
	b.ReportMetric(100*(median(ratios)-1), "history-cost-%")
}

// median returns the median of v (which it sorts).
func median(v []float64) float64 {
	sort.Float64s(v)
	if n := len(v); n%2 == 1 {
		return v[n/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// BenchmarkHistoryReplaySockets is a resume of 1,000 messages over a
// socket: one /ws client joins with since 1,000 messages back and reads
// the replay and "joined", then leaves; msgs/s counts replayed messages.
func BenchmarkHistoryReplaySockets(b *testing.B) {
	logMachine(b)
	srv := historyServer(b, "h.*=1000/1h", func(c *config.Config) { c.SendQueue = 1 << 20 })
	admin := srv.AdminAddr().String()
	publishAdmin(b, admin, "h.replay", 1000)
	epoch, last := historyPosition(b, admin, "h.replay")
	if last != 1000 {
		b.Fatalf("room at %d", last)
	}
	sw := newSwarm(b, srv.Addr().String())
	sw.wantOp = frame.OpText
	sw.dial(1, func(int) string { return "/ws" })
	sw.startReaders(1)
	conn := sw.conns[0]
	join := muxCommandFrame(sinceCmd("h.replay", 0, epoch))
	leave := muxCommandFrame(`{"type":"leave","room":"h.replay"}`)
	wait := func(want int64) {
		deadline := time.Now().Add(time.Minute)
		for conn.got.Load() < want {
			if time.Now().After(deadline) {
				b.Fatalf("got %d of %d messages", conn.got.Load(), want)
			}
			time.Sleep(10 * time.Microsecond)
		}
	}
	got := int64(0)
	for b.Loop() {
		if err := writeFull(conn.fd, join, time.Now().Add(30*time.Second)); err != nil {
			b.Fatal(err)
		}
		got += 1001 // the replay and joined
		wait(got)
		if err := writeFull(conn.fd, leave, time.Now().Add(30*time.Second)); err != nil {
			b.Fatal(err)
		}
		got++
		wait(got)
	}
	sw.check()
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkHistoryReconnectStorm: 10,000 /ws clients of one room with
// history lose their connections at once and all come back at once,
// dialing as fast as 64 dialers can; the time is from the first dial to
// the last client live again (its "joined" read).
//
// blip: the clients are cut by TCP resets while the server stays up, 100
// messages are published while they are away, and each resumes: 100
// replayed, then joined. restart: the server drains with 1012 and a new
// one starts on the same port; the in-memory history went with the old
// process, so each client learns it cannot resume (recovered false) and
// is live again.
func BenchmarkHistoryReconnectStorm(b *testing.B) {
	logMachine(b)
	const clients, missed = 10000, 100
	for _, mode := range []string{"blip", "restart"} {
		b.Run(mode, func(b *testing.B) {
			c := newHistoryChild(b, "-history", "storm.*=1000/10m", "-restart", "-drain-batch", "2000", "-drain-interval", "20ms")
			sw := dialJoin(b, c.addr, clients, 16, `{"type":"join","room":"storm.room"}`)
			sw.startReaders(2)
			sw.waitAll(1, 2*time.Minute)
			var total time.Duration
			for b.Loop() {
				base := sw.minGot()
				publishAdmin(b, c.admin, "storm.room", missed)
				sw.waitAll(base+missed, 2*time.Minute)
				epoch, last := historyPosition(b, c.admin, "storm.room")
				want := int64(1) // joined
				switch mode {
				case "blip":
					sw.reset()
					publishAdmin(b, c.admin, "storm.room", missed)
					want += missed
				case "restart":
					c.stop(syscall.SIGTERM)
					sw.close()
					c.start()
				}
				t := time.Now()
				sw = dialJoin(b, c.addr, clients, 64, sinceCmd("storm.room", last, epoch))
				sw.startReaders(2)
				sw.waitAll(want, 5*time.Minute)
				total += time.Since(t)
				sw.check()
			}
			b.ReportMetric(total.Seconds()/float64(b.N), "s-to-all-live")
			b.ReportMetric(float64(b.N*clients)/total.Seconds(), "rejoins/s")
		})
	}
}
