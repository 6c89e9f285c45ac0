// Package peers_test builds every Go peer server and checks that each
// serves the harness's contract: /echo echoes with the opcode, /room/NAME
// delivers to the other members and not back to the sender, with and
// without -deflate where the peer has it. The Node peer is checked too
// when node and npm ws (test/node/node_modules) are available.
package peers_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

type peerCase struct {
	name    string
	deflate bool
}

var cases = []peerCase{
	{"nbio", true}, {"nbio-mixed", true}, {"quickws", true}, {"greatws", true}, {"gorilla", true}, {"gws", true}, {"gobwas", false}, {"coder", true}, {"node", true},
}

func TestPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every peer")
	}
	dir := t.TempDir()
	for _, pc := range cases {
		t.Run(pc.name, func(t *testing.T) {
			argv := peerArgv(t, dir, pc.name)
			for _, deflate := range []bool{false, true} {
				if deflate && !pc.deflate {
					continue
				}
				args := append(append([]string{}, argv...), "-addr", "127.0.0.1:0")
				if deflate {
					args = append(args, "-deflate")
				}
				addr := startPeer(t, pc.name, args)
				checkEcho(t, addr, deflate)
				checkRoom(t, addr)
			}
		})
	}
}

// peerArgv builds the peer (or finds node) and returns its command line.
func peerArgv(t *testing.T, dir, name string) []string {
	t.Helper()
	if name == "node" {
		node, err := exec.LookPath("node")
		mods, _ := filepath.Abs("../../test/node/node_modules")
		if _, serr := os.Stat(filepath.Join(mods, "ws")); err != nil || serr != nil {
			t.Skip("node or npm ws not installed")
		}
		t.Setenv("NODE_PATH", mods)
		return []string{node, "node/server.js"}
	}
	pkg, args := name, []string(nil)
	if name == "nbio-mixed" {
		pkg, args = "nbio", []string{"-iomod", "mixed"}
	}
	bin := filepath.Join(dir, name)
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/"+pkg).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, out)
	}
	return append([]string{bin}, args...)
}

// startPeer runs the peer until the test ends and returns the address
// from its "NAME listening ADDR" line.
func startPeer(t *testing.T, name string, args []string) string {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = os.Environ()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		if s.Scan() {
			line <- s.Text()
		}
		for s.Scan() {
		}
	}()
	select {
	case l := <-line:
		addr, ok := strings.CutPrefix(l, name+" listening ")
		if !ok {
			t.Fatalf("start line %q", l)
		}
		return addr
	case <-time.After(20 * time.Second):
		t.Fatal("peer did not announce itself")
	}
	return ""
}

func dial(t *testing.T, url string, deflate bool) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, EnableCompression: deflate}
	c, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	if deflate && !strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
		t.Errorf("%s: deflate not negotiated", url)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

func checkEcho(t *testing.T, addr string, deflate bool) {
	c := dial(t, "ws://"+addr+"/echo", deflate)
	for _, m := range []struct {
		op   int
		data string
	}{{websocket.TextMessage, "hello"}, {websocket.BinaryMessage, strings.Repeat("\x00\xff", 600)}} {
		if err := c.WriteMessage(m.op, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
		op, data, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if op != m.op || string(data) != m.data {
			t.Errorf("echo: got op %d %d bytes, want op %d %d bytes", op, len(data), m.op, len(m.data))
		}
	}
}

func checkRoom(t *testing.T, addr string) {
	a := dial(t, "ws://"+addr+"/room/r1", false)
	b := dial(t, "ws://"+addr+"/room/r1", false)
	other := dial(t, "ws://"+addr+"/room/r2", false)
	time.Sleep(100 * time.Millisecond) // joins complete after the 101 in some peers
	if err := a.WriteMessage(websocket.TextMessage, []byte("to the room")); err != nil {
		t.Fatal(err)
	}
	op, data, err := b.ReadMessage()
	if err != nil || op != websocket.TextMessage || string(data) != "to the room" {
		t.Fatalf("room member got op %d %q, %v", op, data, err)
	}
	// Neither the sender nor another room may receive it: a marker sent
	// from b arrives at a first if nothing else was queued for a.
	if err := b.WriteMessage(websocket.TextMessage, []byte("marker")); err != nil {
		t.Fatal(err)
	}
	if _, data, err := a.ReadMessage(); err != nil || string(data) != "marker" {
		t.Errorf("sender got %q, %v; want only the marker", data, err)
	}
	_ = other.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, data, err := other.ReadMessage(); err == nil {
		t.Errorf("other room got %q", data)
	}
}
