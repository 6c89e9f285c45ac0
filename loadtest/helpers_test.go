package loadtest

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/loadtest/stats"
)

// TestMain lets the test binary act as a wsload worker process, so that
// --procs tests re-execute it instead of building cmd/wsload.
func TestMain(m *testing.M) {
	if os.Getenv("WSLOAD_TEST_WORKER") == "1" {
		os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	code := m.Run()
	if shared.stop != nil {
		shared.stop()
	}
	if wsgateBuild.dir != "" {
		os.RemoveAll(wsgateBuild.dir)
	}
	os.Exit(code)
}

// shared is the default-flags Node server that most tests use; TestMain
// stops it after the last test.
var shared struct {
	mu   sync.Mutex
	srv  *nodeServer
	stop func()
}

// repoRoot returns the repository root (the parent of loadtest/).
func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

var npmOnce sync.Once
var npmErr error

// nodeModules installs the npm packages of test/node (ws@8 among them)
// once, idempotently, and returns the node_modules path.
func nodeModules(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("WSGATE_REQUIRE_INTEROP") == "1" {
			t.Fatal("node is required (scripts/setup-test-deps.sh installs it)")
		}
		t.Skip("node is not installed (apt-get install -y nodejs npm)")
	}
	dir := filepath.Join(repoRoot(t), "test", "node")
	mods := filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(mods, "ws", "package.json")); err != nil && testing.Short() {
		t.Skip("-short: npm ws is not installed and -short installs nothing")
	}
	npmOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(mods, "ws", "package.json")); err == nil {
			return
		}
		cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--prefix", dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			npmErr = err
			t.Logf("npm install: %s", out)
		}
	})
	if npmErr != nil {
		t.Fatalf("npm install in %s: %v", dir, npmErr)
	}
	return mods
}

// nodeServer is a running loadtest/testdata/wsserver.js.
type nodeServer struct {
	URL  string // ws://127.0.0.1:PORT
	HTTP string // http://127.0.0.1:PORT
	PID  int
}

// startNode returns a Node ws server: the shared one when there are no
// flags, else a new one with those flags that stops when the test ends.
func startNode(t testing.TB, flags ...string) *nodeServer {
	t.Helper()
	if len(flags) > 0 {
		srv, stop := launchNode(t, flags...)
		t.Cleanup(stop)
		return srv
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil {
		shared.srv, shared.stop = launchNode(t)
	}
	return shared.srv
}

// launchNode starts loadtest/testdata/wsserver.js with flags.
func launchNode(t testing.TB, flags ...string) (*nodeServer, func()) {
	t.Helper()
	mods := nodeModules(t)
	script := filepath.Join(repoRoot(t), "loadtest", "testdata", "wsserver.js")
	cmd := exec.Command("node", append([]string{script, "--port", "0"}, flags...)...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	line := make(chan string, 1)
	go func() {
		br := bufio.NewReader(stdout)
		s, _ := br.ReadString('\n')
		line <- s
		_, _ = io.Copy(io.Discard, br)
	}()
	select {
	case s := <-line:
		u := strings.TrimSpace(strings.TrimPrefix(s, "listening "))
		if !strings.HasPrefix(u, "ws://") && !strings.HasPrefix(u, "wss://") {
			stop()
			t.Fatalf("node server said %q", s)
		}
		return &nodeServer{URL: u, HTTP: "http" + strings.TrimPrefix(u, "ws"), PID: cmd.Process.Pid}, stop
	case <-time.After(15 * time.Second):
		stop()
		t.Fatal("node server did not start")
	}
	return nil, nil
}

// run runs cfg and fails the test on error.
func run(t testing.TB, cfg *Config) *stats.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Run(ctx, cfg, nil, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return s
}
