package server

// A cluster of processes: Debian's nats-server as a real external NATS
// server and three wsgate processes connected to it. A room and a user
// spread over the three; one wsgate is killed with SIGKILL, and the other
// two go on, with its members gone from the cluster's counts.

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/wstest"
)

// natsServerBin finds Debian's nats-server (installed by
// scripts/setup-test-deps.sh); without it the test skips, unless
// WSGATE_REQUIRE_INTEROP=1 (make test) makes that a failure.
func natsServerBin(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"nats-server", "/usr/sbin/nats-server", "/usr/bin/nats-server"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("WSGATE_REQUIRE_INTEROP") == "1" {
		t.Fatal("nats-server not found: run scripts/setup-test-deps.sh")
	}
	t.Skip("nats-server not found (Debian package nats-server; scripts/setup-test-deps.sh installs it)")
	return ""
}

// runProcess starts a child process that is killed when the test ends.
func runProcess(t *testing.T, bin string, args ...string) (*exec.Cmd, *wstest.SyncBuffer) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out wstest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s output:\n%s", bin, out.String())
		}
	})
	return cmd, &out
}

// waitHTTP waits until GET url answers 200.
func waitHTTP(t testing.TB, url string) {
	t.Helper()
	wstest.WaitFor(t, clusterPatience, url+" to answer", func() bool {
		resp, err := adminClient.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// procNode is one wsgate process of the cluster.
type procNode struct {
	cmd         *exec.Cmd
	out         *wstest.SyncBuffer
	addr, admin string
}

func TestClusterProcesses(t *testing.T) {
	natsBin := natsServerBin(t)
	natsAddr := freeAddr(t)
	host, port, _ := net.SplitHostPort(natsAddr)
	runProcess(t, natsBin, "-a", host, "-p", port)
	wstest.WaitFor(t, clusterPatience, "nats-server to listen", func() bool {
		c, err := net.Dial("tcp", natsAddr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	bin := buildWsgate(t)
	var nodes []procNode
	for i := range 3 {
		n := procNode{addr: freeAddr(t), admin: freeAddr(t)}
		n.cmd, n.out = runProcess(t, bin, "-listen", n.addr, "-admin", n.admin, "-dev", "-no-limits",
			"-ping-interval", "0", "-idle-timeout", "0", "-cluster-timeout", "3s",
			"-nats", "nats://"+natsAddr, "-node-name", fmt.Sprintf("w%d", i))
		n.admin = "http://" + n.admin
		waitHTTP(t, n.admin+"/readyz")
		nodes = append(nodes, n)
	}
	var members []*wstest.Conn
	for i, n := range nodes {
		members = append(members, wstest.Dial(t, n.addr, fmt.Sprintf("/room/hall?user=u%d", i)))
	}
	// Every node knows the two others and sees all three members.
	for i, n := range nodes {
		wstest.WaitFor(t, clusterPatience, fmt.Sprintf("w%d to count the room's 3 members", i), func() bool {
			_, body := adminDo(t, "GET", n.admin, "/api/rooms?scope=cluster", "")
			return strings.Contains(body, `{"name":"hall","members":3,"nodes":3}`) && strings.Contains(body, `"missing":[]`)
		})
	}
	// A publish on each node reaches the members of the other two.
	for i, m := range members {
		msg := []byte(fmt.Sprintf("from w%d", i))
		m.Send(true, 0, frame.OpText, msg)
		for j, o := range members {
			if j != i {
				o.ExpectMessage(frame.OpText, msg)
			}
		}
	}
	// A user send through w0 reaches u2 on w2.
	if n := userSendLocal(t, nodes[0].admin, "u2", "to u2"); n != 0 {
		t.Fatalf("w0 counted %d local recipients for u2, want 0", n)
	}
	members[2].ExpectMessage(frame.OpText, []byte("to u2"))

	// SIGKILL w2: the others go on, and its member is gone from the
	// cluster's counts at once (w2 is named missing until its
	// announcements expire).
	if err := nodes[2].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	members[0].Send(true, 0, frame.OpText, []byte("after the kill"))
	members[1].ExpectMessage(frame.OpText, []byte("after the kill"))
	status, body := adminDo(t, "GET", nodes[0].admin, "/api/stats?scope=cluster", "")
	var stats struct {
		Totals  Stats `json:"totals"`
		Nodes   []struct{ Name string }
		Missing []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(body), &stats); err != nil || status != 200 {
		t.Fatalf("cluster stats after the kill: %d %s", status, body)
	}
	if stats.Totals.Open != 2 || len(stats.Nodes) != 2 || len(stats.Missing) != 1 || stats.Missing[0].Name != "w2" {
		t.Fatalf("cluster stats after w2's SIGKILL: %s; want 2 connections on 2 nodes, w2 missing", body)
	}
	if _, body = adminDo(t, "GET", nodes[1].admin, "/api/users/u2", ""); !strings.Contains(body, `"conns":0`) {
		t.Fatalf("u2 after w2's SIGKILL: %s", body)
	}
	_, body = adminDo(t, "GET", nodes[1].admin, "/metrics", "")
	for _, want := range []string{"wsgate_broker_connected 1", "wsgate_broker_nodes "} {
		if !strings.Contains(body, want) {
			t.Errorf("w1 /metrics lacks %q", want)
		}
	}
	if !strings.Contains(nodes[0].out.String(), `msg="node joined" component=broker node=w2`) {
		t.Errorf("w0 did not log w2 joining:\n%s", tail(nodes[0].out.String(), 10))
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
