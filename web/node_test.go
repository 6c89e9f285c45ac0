package web

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The JavaScript client, the demo and the dashboard are tested by Node's
// own test runner (web/test/*.test.mjs) against a live wsgate built here,
// with npm packages from test/node (ws, sockjs, sockjs-client,
// playwright-core, terser, typescript) and Debian's Chromium. Without them these tests skip, unless
// WSGATE_REQUIRE_INTEROP is set (as `make test` does after installing
// them with scripts/setup-test-deps.sh), when a missing one fails.

const requireEnv = "WSGATE_REQUIRE_INTEROP"

// historyArgsEnv holds the wsgate flags that give the live resume test's
// rooms history.
const historyArgsEnv = "WSGATE_TEST_HISTORY_ARGS"

// chromium is Debian's browser, which the browser tests drive.
const chromium = "/usr/bin/chromium"

func requireDep(t *testing.T, what string) {
	t.Helper()
	const hint = "run scripts/setup-test-deps.sh (as root), or make test"
	if os.Getenv(requireEnv) != "" {
		t.Fatalf("%s is missing and %s is set: %s", what, requireEnv, hint)
	}
	t.Skipf("%s is missing: %s (set %s to make this a failure)", what, hint, requireEnv)
}

// nodeSetup returns node's path and the repository root after checking
// that the npm packages the tests load are installed.
func nodeSetup(t *testing.T, pkgs ...string) (node, root string) {
	t.Helper()
	if testing.Short() {
		t.Skip("the Node tests take minutes; skipped with -short")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		requireDep(t, "node")
	}
	root, err = filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(root, "test", "node", "node_modules", p, "package.json")); err != nil {
			requireDep(t, "npm package "+p+" in test/node/node_modules")
		}
	}
	return node, root
}

// buildWsgate builds cmd/wsgate into a temporary folder once per test.
func buildWsgate(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wsgate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/wsgate")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/wsgate: %v\n%s", err, out)
	}
	return bin
}

var summaryRE = regexp.MustCompile(`(?m)^\s*ℹ (tests|pass|fail|skipped|cancelled) \d+$|^# wsgate\.js: .*$|^ℹ wsgate\.js: .*$`)

// runNodeTests runs node --test on files (in web/test) and fails t with
// the runner's report when a test fails. The runner and every process it
// starts share a process group, which is killed if it outlives timeout.
func runNodeTests(t *testing.T, node, root, bin string, timeout time.Duration, files ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := []string{"--test", "--test-reporter=spec", "--test-concurrency=1"}
	for _, f := range files {
		args = append(args, filepath.Join("test", f))
	}
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = filepath.Join(root, "web")
	cmd.Env = append(os.Environ(), "WSGATE_BIN="+bin, "NO_COLOR=1", "FORCE_COLOR=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("node --test %v did not finish within %v:\n%s", files, timeout, out.String())
	}
	if err != nil {
		t.Fatalf("node --test %v: %v\n%s", files, err, out.String())
	}
	t.Logf("node --test %s:\n%s", strings.Join(files, " "), strings.Join(summaryRE.FindAllString(out.String(), -1), "\n"))
	if !strings.Contains(out.String(), "ℹ pass ") {
		t.Fatalf("node --test printed no summary:\n%s", out.String())
	}
}

// TestClientNode runs the client's tests: against wsgate (messages,
// promises, backoff, the offline queue, close codes on restarts and policy
// closes, tokens), against the stand-in for acknowledgements, history and
// the SockJS transport, and as a package (size, npm pack, TypeScript
// declarations).
func TestClientNode(t *testing.T) {
	node, root := nodeSetup(t, "ws", "terser", "typescript", "sockjs", "sockjs-client")
	if _, err := exec.LookPath("npm"); err != nil {
		requireDep(t, "npm")
	}
	bin := buildWsgate(t, root)
	if os.Getenv(historyArgsEnv) == "" {
		// resume.test.mjs resumes against wsgate in rooms with history.
		t.Setenv(historyArgsEnv, "-history hist.*=1000/10m")
	}
	runNodeTests(t, node, root, bin, 8*time.Minute, "client.test.mjs", "resume.test.mjs", "sockjs.test.mjs", "package.test.mjs", "metrics.test.mjs")
}

// TestBrowser runs the demo chat and the dashboard in headless Chromium
// against wsgate.
func TestBrowser(t *testing.T) {
	node, root := nodeSetup(t, "ws", "playwright-core")
	if _, err := os.Stat(chromium); err != nil {
		requireDep(t, chromium)
	}
	bin := buildWsgate(t, root)
	runNodeTests(t, node, root, bin, 8*time.Minute, "browser.test.mjs")
}
