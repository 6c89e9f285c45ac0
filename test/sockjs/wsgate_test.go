package sockjsconf

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// nodeClient returns node's path, or skips (fails with
// WSGATE_REQUIRE_INTEROP) when node or the npm clients are missing.
func nodeClient(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		requireDep(t, "node")
	}
	for _, p := range []string{"sockjs-client", "@stomp/stompjs"} {
		if _, err := os.Stat("../node/node_modules/" + p + "/package.json"); err != nil {
			requireDep(t, "npm "+p+" in test/node")
		}
	}
	return node
}

// nodeTransports are the sockjs-client transports that work outside a
// browser; the browser test covers the others.
var nodeTransports = []string{"websocket", "xhr-streaming", "xhr-polling", "eventsource"}

// TestSockJSClientWsgate runs sockjs-client 1.6 against wsgate's /echo
// with each transport forced: every size from 0 B to 64 KiB and every
// JSON escaping edge, echoed in order. The response limit is 4 KiB, so
// the streaming transports reconnect many times mid-run.
func TestSockJSClientWsgate(t *testing.T) {
	node := nodeClient(t)
	base, _ := startWsgate(t, wsgateConfig())
	for _, tr := range nodeTransports {
		t.Run(tr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, node, "wsgate_client.js", "echo", base+"/echo",
				"--transport", tr, "--timeout-ms", "150000").CombinedOutput()
			if err != nil || !strings.Contains(string(out), `"failed":0`) {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

// nodeMember is one sockjs-client room member run by node.
type nodeMember struct {
	tag   string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan map[string]any
}

func startNodeMember(t *testing.T, node, url, transport, tag string, send, expect int) *nodeMember {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	cmd := exec.CommandContext(ctx, node, "wsgate_client.js", "room", url, "--transport", transport,
		"--tag", tag, "--send", fmt.Sprint(send), "--expect", fmt.Sprint(expect), "--timeout-ms", "150000")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	m := &nodeMember{tag: tag, cmd: cmd, stdin: stdin, lines: make(chan map[string]any, 4)}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var v map[string]any
			if json.Unmarshal(sc.Bytes(), &v) == nil {
				m.lines <- v
			} else {
				t.Logf("%s: %s", tag, sc.Text())
			}
		}
		close(m.lines)
	}()
	return m
}

// next waits for the member's next event line.
func (m *nodeMember) next(t *testing.T, event string) map[string]any {
	t.Helper()
	for {
		select {
		case v, ok := <-m.lines:
			if !ok {
				t.Fatalf("%s ended before %q", m.tag, event)
			}
			if v["event"] == event {
				return v
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("%s: no %q", m.tag, event)
		}
	}
}

// checkOrder reports whether got holds exactly want[tag] messages of each
// tag, each tag's in order.
func checkOrder(got []string, want map[string]int) error {
	next := map[string]int{}
	for _, m := range got {
		tag, num, ok := strings.Cut(m, ":")
		if !ok {
			return fmt.Errorf("stray message %q", m)
		}
		if num != fmt.Sprint(next[tag]) {
			return fmt.Errorf("from %s: got #%s, want #%d", tag, num, next[tag])
		}
		next[tag]++
	}
	for tag, n := range want {
		if next[tag] != n {
			return fmt.Errorf("from %s: %d messages, want %d", tag, next[tag], n)
		}
	}
	return nil
}

// TestMixedRoom: one room with two WebSocket members and a sockjs-client
// member per transport; every member publishes and every message reaches
// every other member, each publisher's in order.
func TestMixedRoom(t *testing.T) {
	node := nodeClient(t)
	cfg := wsgateConfig()
	cfg.SockJS.ResponseLimit = 16 << 10
	base, _ := startWsgate(t, cfg)
	const wsSend, sjSend = 150, 60
	tags := map[string]int{"ws0": wsSend, "ws1": wsSend}
	for _, tr := range nodeTransports {
		tags["sj-"+tr] = sjSend
	}
	total := 2*wsSend + len(nodeTransports)*sjSend
	var members []*nodeMember
	for _, tr := range nodeTransports {
		members = append(members, startNodeMember(t, node, base+"/room/mixed", tr, "sj-"+tr, sjSend, total-sjSend))
	}
	for _, m := range members {
		m.next(t, "open")
	}
	type wsMember struct {
		tag  string
		conn net.Conn
		rd   io.Reader
	}
	var wsm []*wsMember
	for i := range 2 {
		conn, br, _, err := ws.Dial(context.Background(), "ws"+strings.TrimPrefix(base, "http")+"/room/mixed")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		w := &wsMember{tag: fmt.Sprintf("ws%d", i), conn: conn, rd: conn}
		if br != nil {
			w.rd = io.MultiReader(br, conn)
		}
		wsm = append(wsm, w)
	}
	time.Sleep(200 * time.Millisecond) // the WebSocket joins take effect on the room's worker
	var wg sync.WaitGroup
	errs := make(chan error, len(wsm))
	for _, w := range wsm {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got []string
			rw := struct {
				io.Reader
				io.Writer
			}{w.rd, w.conn}
			_ = w.conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
			for len(got) < total-wsSend {
				b, err := wsutil.ReadServerText(rw)
				if err != nil {
					errs <- fmt.Errorf("%s: after %d messages: %v", w.tag, len(got), err)
					return
				}
				got = append(got, string(b))
			}
			want := map[string]int{}
			for k, v := range tags {
				if k != w.tag {
					want[k] = v
				}
			}
			if err := checkOrder(got, want); err != nil {
				errs <- fmt.Errorf("%s: %v", w.tag, err)
			}
		}()
	}
	for _, m := range members {
		fmt.Fprintln(m.stdin, "go")
	}
	for _, w := range wsm {
		for i := range wsSend {
			if err := wsutil.WriteClientText(w.conn, []byte(fmt.Sprintf("%s:%d", w.tag, i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, m := range members {
		v := m.next(t, "done")
		var got []string
		for _, s := range v["received"].([]any) {
			got = append(got, s.(string))
		}
		want := map[string]int{}
		for k, n := range tags {
			if k != m.tag {
				want[k] = n
			}
		}
		if err := checkOrder(got, want); err != nil {
			t.Errorf("%s: %v", m.tag, err)
		}
	}
	for _, m := range members {
		m.stdin.Close()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestStompOverSockJS runs @stomp/stompjs over sockjs-client against the
// /stomp endpoint, as Spring clients do. SockJS serves whatever endpoint
// is registered; a build without a STOMP endpoint skips.
func TestStompOverSockJS(t *testing.T) {
	node := nodeClient(t)
	base, _ := startWsgate(t, wsgateConfig())
	c := &C{}
	func() {
		defer func() { _ = recover() }()
		if r := do(c, "GET", base+"/stomp/info", nil, ""); r.status == 404 {
			c.Errorf("no /stomp")
		}
	}()
	if len(c.failed) > 0 {
		t.Skip("no STOMP endpoint is registered in this build: SockJS serves every registered endpoint, so /stomp works once it is")
	}
	for _, tr := range nodeTransports {
		t.Run(tr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, node, "wsgate_client.js", "stomp", base+"/stomp", "--transport", tr).CombinedOutput()
			if err != nil || !strings.Contains(string(out), `"failed":0`) {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}
