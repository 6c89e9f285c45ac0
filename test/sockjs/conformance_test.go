package sockjsconf

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/sockjs"
	"github.com/wsgate/wsgate/internal/sockjs/sockjstest"
)

// requireEnv turns a missing client into a failure instead of a skip.
const requireEnv = "WSGATE_REQUIRE_INTEROP"

func requireDep(t testing.TB, what string) {
	t.Helper()
	if os.Getenv(requireEnv) != "" {
		t.Fatalf("%s is missing and %s is set: run scripts/setup-test-deps.sh", what, requireEnv)
	}
	t.Skipf("%s is missing: run scripts/setup-test-deps.sh (set %s to make this a failure)", what, requireEnv)
}

func startServer(t *testing.T) string {
	t.Helper()
	srv, err := sockjstest.Start("127.0.0.1:0", sockjstest.ProtocolEndpoints(sockjs.Options{})...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return "http://" + srv.Addr()
}

// TestSockJSClient runs sockjs-client 1.6.1 (Node) against the echo
// endpoint once per transport it can use outside a browser.
func TestSockJSClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		requireDep(t, "node")
	}
	if _, err := os.Stat("../node/node_modules/sockjs-client/package.json"); err != nil {
		requireDep(t, "npm sockjs-client in test/node")
	}
	base := startServer(t)
	for _, tr := range []string{"websocket", "xhr-streaming", "xhr-polling", "eventsource"} {
		t.Run(tr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, node, "sockjs_client.js", base+"/echo",
				"--transport", tr, "--timeout-ms", "60000").CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.Contains(string(out), `"failed":0`) {
				t.Fatalf("no summary:\n%s", out)
			}
		})
	}
}

// knownFailures are the suite's tests our test server fails, with why.
var knownFailures = map[string]string{
	"test_haproxy (__main__.Websocket)":      "hixie-76 (draft-76) handshake: obsolete; the reference fails it too",
	"test_transport (__main__.RawWebsocket)": "raw /websocket is the gateway's plain WebSocket endpoint, not served by the test server",
	"test_close (__main__.RawWebsocket)":     "raw /websocket, as above",
}

var resultLine = regexp.MustCompile(`(?m)^(FAIL|ERROR): (\S+ \(\S+\))$`)

// TestProtocolSuite runs the SockJS protocol suite against wsgate and
// against the library's test server. The suite is assembled from a git
// clone given in SOCKJS_PROTOCOL_GIT (see README.md); without it the
// test skips, as no registry this project uses ships the suite.
func TestProtocolSuite(t *testing.T) {
	gitDir := os.Getenv("SOCKJS_PROTOCOL_GIT")
	if gitDir == "" {
		t.Skip("SOCKJS_PROTOCOL_GIT is not set: the protocol suite is not available (see test/sockjs/README.md)")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import ws4py, websocket, unittest2").Run(); err != nil {
		requireDep(t, "python3-ws4py, python3-websocket, python3-unittest2")
	}
	t.Run("wsgate", func(t *testing.T) {
		base, _ := startWsgate(t, wsgateConfig())
		runSuite(t, gitDir, base, map[string]string{"test_haproxy (__main__.Websocket)": knownFailures["test_haproxy (__main__.Websocket)"]})
	})
	t.Run("testserver", func(t *testing.T) {
		known := maps.Clone(knownFailures)
		// Its read goroutine may report the aborted request after the
		// next one arrived; wsgate probes the socket instead.
		known["test_abort_xhr_polling (__main__.HandlingClose)"] = "the test server sometimes sees the abort late (2010 instead of a new session)"
		runSuite(t, gitDir, startServer(t), known)
	})
}

func runSuite(t *testing.T, gitDir, base string, known map[string]string) {
	script, _ := filepath.Abs("run-protocol-suite.sh")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "bash", script, "--git", gitDir, "--url", base).CombinedOutput()
	ran := regexp.MustCompile(`Ran (\d+) tests`).FindStringSubmatch(string(out))
	if ran == nil {
		t.Fatalf("the suite did not run:\n%s", out)
	}
	failed := resultLine.FindAllStringSubmatch(string(out), -1)
	for _, f := range failed {
		if why, ok := known[f[2]]; ok {
			t.Logf("known: %s %s: %s", f[1], f[2], why)
			continue
		}
		t.Errorf("%s %s", f[1], f[2])
	}
	t.Logf("protocol suite: %s tests, %d failed (%d known)", ran[1], len(failed), len(known))
	if t.Failed() {
		t.Logf("suite output:\n%s", out)
	}
}
