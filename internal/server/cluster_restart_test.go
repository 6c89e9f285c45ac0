package server

// Rolling restarts with zero loss: three wsgate processes on an embedded
// NATS cluster with JetStream (three servers in this test process, the
// history stream on all three), clients of one room with history spread
// over the three, a publisher sending through the admin API at a steady
// rate. Every node is restarted in turn: drained with SIGTERM (close code
// 1012, -restart) or killed with SIGKILL, then started again. Clients
// whose connection ends reconnect to another node and resume from the
// last offset they have. Every client must end with every message the
// publisher had acknowledged, exactly once, in order, and every resume
// must be recovered.

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/broker"
	"github.com/wsgate/wsgate/internal/wstest"
)

// restartScale is the size of a rolling-restart run.
type restartScale struct {
	clients int
	rate    int // messages per second
}

// wsgateProc is one wsgate process that can be stopped and started again
// on the same addresses.
type wsgateProc struct {
	t           *testing.T
	bin         string
	args        []string
	addr, admin string
	cmd         *exec.Cmd
	out         *wstest.SyncBuffer
	exited      chan struct{}
}

func (p *wsgateProc) start() {
	p.cmd = exec.Command(p.bin, p.args...)
	p.out = &wstest.SyncBuffer{}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(p.cmd, p.exited)
}

// ready waits until the process answers /readyz with 200 and no
// degradation (NATS connected, history stream open).
func (p *wsgateProc) ready() {
	wstest.WaitFor(p.t, clusterPatience, p.admin+" to be ready", func() bool {
		resp, err := adminClient.Get(p.admin + "/readyz")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 200 && !strings.Contains(string(b), "degraded")
	})
}

// stop signals the process and waits for it to exit.
func (p *wsgateProc) stop(sig syscall.Signal) {
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(clusterPatience):
		p.t.Fatalf("%s did not exit after %v:\n%s", p.addr, sig, tail(p.out.String(), 20))
	}
}

// histClient is one client of the room: it reads, and when its
// connection ends reconnects to another node and resumes.
type histClient struct {
	id, node int
	epoch    string
	offset   uint64
	last     map[string]int // publisher -> the last message number received
	ended    int            // publishers whose end marker came
	resumes  int
	err      error
}

// run serves the client until every publisher's end marker came, or stop
// closes.
func (c *histClient) run(nodes []*wsgateProc, room string, publishers int, stop <-chan struct{}) {
	c.last = map[string]int{}
	for {
		conn, err := wstest.Connect(nodes[c.node].addr, "/ws")
		if err != nil {
			select {
			case <-stop:
				c.err = fmt.Errorf("client %d stopped at %v: %w", c.id, c.last, err)
				return
			case <-time.After(50 * time.Millisecond):
			}
			c.node = c.other(len(nodes))
			continue
		}
		conn.Timeout = clusterPatience
		cmd := `{"type":"join","room":"` + room + `"}`
		if c.epoch != "" {
			cmd = sinceCmd(room, c.offset, c.epoch)
			c.resumes++
		}
		if err = conn.WriteMessage(frame.OpText, []byte(cmd)); err == nil {
			err = c.read(conn, publishers)
		}
		conn.Close()
		if err == nil || c.err != nil {
			return
		}
		c.node = c.other(len(nodes))
	}
}

// other picks another node.
func (c *histClient) other(n int) int { return (c.node + 1 + rand.IntN(n-1)) % n }

// read reads until the connection ends (an error; c.err set when the
// client found something wrong) or every publisher's end marker has come
// (nil). Messages are "P:N" (N counting from 1 per publisher P) and
// "P:end".
func (c *histClient) read(conn *wstest.Conn, publishers int) error {
	for c.ended < publishers {
		op, p, err := conn.ReadMessage()
		if op == frame.OpClose {
			_ = conn.WriteClose(1000, "")
			return errors.New("closed")
		}
		if err != nil {
			return err
		}
		var m histMsg
		if err := decodeStrict(p, &m); err != nil {
			c.err = err
			return err
		}
		switch m.Type {
		case "joined":
			if c.epoch != "" && (m.Recovered == nil || !*m.Recovered || m.Epoch != c.epoch) {
				c.err = fmt.Errorf("client %d: resume after offset %d (%v) on node %d: %v", c.id, c.offset, c.last, c.node, m)
				return c.err
			}
			if c.epoch == "" {
				c.epoch, c.offset = m.Epoch, *m.Offset
			}
		case "message":
			pub, seq, _ := strings.Cut(strings.Trim(string(m.Data), `"`), ":")
			n, _ := strconv.Atoi(seq)
			if m.Offset == nil || *m.Offset <= c.offset || m.Epoch != c.epoch || (seq != "end" && n != c.last[pub]+1) {
				c.err = fmt.Errorf("client %d on node %d: after %s's message %d (offset %d) got %v", c.id, c.node, pub, c.last[pub], c.offset, m)
				return c.err
			}
			c.offset = *m.Offset
			if seq == "end" {
				c.ended++
			} else {
				c.last[pub] = n
			}
		default:
			c.err = fmt.Errorf("client %d: %v", c.id, m)
			return c.err
		}
	}
	return nil
}

// TestClusterRollingRestart drains each node in turn with SIGTERM
// (1012) and starts it again; TestClusterKillNode does the same with
// SIGKILL.
func TestClusterRollingRestart(t *testing.T) { rollingRestart(t, syscall.SIGTERM) }

// TestClusterKillNode: see TestClusterRollingRestart.
func TestClusterKillNode(t *testing.T) { rollingRestart(t, syscall.SIGKILL) }

// restartRoom is the room of the rolling-restart tests, and publishers
// the number of admin publishers.
const (
	restartRoom = "live.feed"
	publishers  = 16
)

func rollingRestart(t *testing.T, sig syscall.Signal) {
	if testing.Short() {
		t.Skip("three wsgate processes and a JetStream cluster: not in -short")
	}
	scale := restartScale{clients: 300, rate: 200}
	if raceEnabled {
		scale = restartScale{clients: 150, rate: 100}
	}
	nodes := startProcNodes(t, startJetStream(t, 3))
	began := time.Now()
	clients, clientsDone, stop := startClients(t, nodes, scale.clients)
	pubs := startPublishers(nodes, scale.rate)

	// Each node in turn: the publishers move to the next one, the node
	// stops (drained, or killed) and starts again.
	var steps []string
	for i, p := range nodes {
		pubs.node.Store(int32((i + 1) % 3))
		time.Sleep(1500 * time.Millisecond)
		t0 := time.Now()
		p.stop(sig)
		down := time.Since(t0)
		p.start()
		p.ready()
		steps = append(steps, fmt.Sprintf("w%d down in %v, back in %v", i, down.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond)))
	}
	time.Sleep(time.Second)
	total, err := pubs.finish()
	if err != nil {
		t.Fatal(err)
	}
	published := time.Since(began)

	// Every client gets every message, to the end markers.
	select {
	case <-clientsDone:
	case <-time.After(2 * clusterPatience):
		close(stop)
		<-clientsDone
	}
	resumes, moved := checkClients(t, clients, pubs.sent)
	t.Logf("%v: %d clients, %d messages from %d publishers over %v (%.0f/s), %d deliveries, %d resumes by %d clients, all recovered, every message once and in order; all done %v after the last publish",
		sig, scale.clients, total, publishers, published.Round(time.Millisecond), float64(total)/published.Seconds(), total*scale.clients, resumes, moved,
		time.Since(began.Add(published)).Round(time.Millisecond))
	for _, s := range steps {
		t.Log(s)
	}
	for i, p := range nodes {
		_, body := adminDo(t, "GET", p.admin, "/metrics", "")
		t.Logf("w%d: %s", i, historySeries(body))
	}
}

// startProcNodes starts a wsgate process on each NATS server (failing over
// to the others), with history in the stream on all three, and waits
// until each is ready.
func startProcNodes(t *testing.T, servers []*broker.Embedded) []*wsgateProc {
	bin := buildWsgate(t)
	nodes := make([]*wsgateProc, len(servers))
	for i := range nodes {
		p := &wsgateProc{t: t, bin: bin, addr: freeAddr(t), admin: freeAddr(t)}
		urls := []string{servers[i].ClientURL(), servers[(i+1)%3].ClientURL(), servers[(i+2)%3].ClientURL()}
		p.args = []string{"-listen", p.addr, "-admin", p.admin, "-dev", "-no-limits",
			"-ping-interval", "0", "-idle-timeout", "0", "-node-name", fmt.Sprintf("w%d", i),
			"-nats", strings.Join(urls, ","), "-history", "live.*=100000/10m", "-history-replicas", "3",
			"-restart", "-drain-batch", "50", "-drain-interval", "20ms", "-close-timeout", "2s"}
		p.admin = "http://" + p.admin
		p.start()
		nodes[i] = p
		t.Cleanup(func() {
			_ = p.cmd.Process.Kill()
			<-p.exited
			if t.Failed() {
				t.Logf("w%d output:\n%s", i, tail(p.out.String(), 30))
			}
		})
	}
	for _, p := range nodes {
		p.ready()
	}
	return nodes
}

// startClients starts n clients spread over the nodes and waits until
// each has joined; done closes when all have ended, stop makes those
// still reconnecting give up.
func startClients(t *testing.T, nodes []*wsgateProc, n int) (clients []*histClient, done, stop chan struct{}) {
	stop, done = make(chan struct{}), make(chan struct{})
	clients = make([]*histClient, n)
	var wg sync.WaitGroup
	for i := range clients {
		clients[i] = &histClient{id: i, node: i % len(nodes)}
		wg.Add(1)
		go func(c *histClient) { defer wg.Done(); c.run(nodes, restartRoom, publishers, stop) }(clients[i])
	}
	go func() { wg.Wait(); close(done) }()
	wstest.WaitFor(t, clusterPatience, "every client to join", func() bool {
		joined := 0
		for _, p := range nodes {
			joined += roomMembers(p.admin, restartRoom)
		}
		return joined == n
	})
	return clients, done, stop
}

// checkClients checks that every client ended with every message of
// every publisher, and counts the resumes.
func checkClients(t *testing.T, clients []*histClient, sent []int) (resumes, moved int) {
	for _, c := range clients {
		if c.err != nil {
			t.Fatal(c.err)
		}
		for k := range publishers {
			if got := c.last[fmt.Sprintf("p%d", k)]; got != sent[k] {
				t.Fatalf("client %d got %d of p%d's %d messages", c.id, got, k, sent[k])
			}
		}
		resumes += c.resumes
		if c.resumes > 0 {
			moved++
		}
	}
	return resumes, moved
}

// restartPublishers are the admin publishers: together rate messages a
// second through the admin API of node (one that is not being
// restarted), each message of one publisher acknowledged (the stream
// holds it) before its next.
type restartPublishers struct {
	node atomic.Int32
	stop chan struct{}
	wg   sync.WaitGroup
	sent []int
	errs []error
}

func startPublishers(nodes []*wsgateProc, rate int) *restartPublishers {
	ps := &restartPublishers{stop: make(chan struct{}), sent: make([]int, publishers), errs: make([]error, publishers)}
	for k := range publishers {
		ps.wg.Add(1)
		go ps.run(nodes, k, time.Second*publishers/time.Duration(rate))
	}
	return ps
}

// run is publisher k: "pK:1", "pK:2", ... every interval, and "pK:end"
// when stopped.
func (ps *restartPublishers) run(nodes []*wsgateProc, k int, interval time.Duration) {
	defer ps.wg.Done()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	publish := func(data string) bool {
		base := nodes[ps.node.Load()].admin
		if code, body := adminPost(base, publishBody(restartRoom, []byte(data), false)); code != 200 {
			ps.errs[k] = fmt.Errorf("publish %s through %s: %d %s", data, base, code, body)
			return false
		}
		return true
	}
	for n := 1; ; n++ {
		select {
		case <-ps.stop:
			publish(fmt.Sprintf("p%d:end", k))
			return
		case <-tick.C:
		}
		if !publish(fmt.Sprintf("p%d:%d", k, n)) {
			return
		}
		ps.sent[k] = n
	}
}

// finish stops the publishers and returns how many messages they sent.
func (ps *restartPublishers) finish() (int, error) {
	close(ps.stop)
	ps.wg.Wait()
	total := 0
	for k, err := range ps.errs {
		if err != nil {
			return 0, err
		}
		total += ps.sent[k]
	}
	return total, nil
}

// roomMembers is the member count of room on one node (0 on error).
func roomMembers(admin, room string) int {
	resp, err := adminClient.Get(admin + "/api/rooms")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0
	}
	b, _ := io.ReadAll(resp.Body)
	i := strings.Index(string(b), `"name":"`+room+`","members":`)
	if i < 0 {
		return 0
	}
	rest := string(b)[i+len(`"name":"`+room+`","members":`):]
	n, _ := strconv.Atoi(rest[:strings.IndexAny(rest, ",}")])
	return n
}

// historySeries picks the history series out of a scrape.
func historySeries(scrape string) string {
	var out []string
	for _, l := range strings.Split(scrape, "\n") {
		if strings.HasPrefix(l, "wsgate_history_resumes_total") || strings.HasPrefix(l, "wsgate_history_catchups_total") ||
			strings.HasPrefix(l, "wsgate_history_gaps_total") || strings.HasPrefix(l, "wsgate_history_fetches_total") ||
			strings.HasPrefix(l, "wsgate_history_appends_total") {
			out = append(out, l)
		}
	}
	return strings.Join(out, " ")
}
