package interop

import (
	"bufio"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// startNodeEchoServer runs test/node/echo_server.js with args, waits for its
// "listening URL" line, and stops it (by its own pid) when t ends. It skips or
// fails t, as requireDeps decides, when node or npm's ws is missing.
func startNodeEchoServer(t *testing.T, args ...string) string {
	t.Helper()
	node := requireNode(t)
	root := repoRoot(t)
	argv := append([]string{filepath.Join(root, "test", "node", "echo_server.js"),
		"--exit-on-stdin-close"}, args...)
	cmd := exec.Command(node, argv...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// The server exits when its stdin closes, so it cannot outlive a test
	// binary that dies before the cleanup below runs.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node echo server: %v", err)
	}
	stop := sync.OnceFunc(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	t.Cleanup(stop)

	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-lines:
		url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
		if !ok {
			stop() // stderr is complete once the process is waited for
			t.Fatalf("node echo server did not start: %q\nstderr:\n%s", line, stderr.String())
		}
		return url
	case <-time.After(30 * time.Second):
		stop()
		t.Fatalf("node echo server printed no listening line within 30s\nstderr:\n%s", stderr.String())
	}
	return ""
}
