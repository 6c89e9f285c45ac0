package wstest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// PromtoolCheck pipes a /metrics scrape through Prometheus's linter,
// `promtool check metrics`, and fails the test on any finding (a family
// without HELP text, a counter without _total, a malformed line). promtool
// comes from Debian's prometheus package, which scripts/setup-test-deps.sh
// installs. Without it the test is skipped, unless WSGATE_REQUIRE_INTEROP
// is set (make test sets it): then a missing promtool is a failure.
func PromtoolCheck(tb testing.TB, scrape string) {
	tb.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("WSGATE_REQUIRE_INTEROP") != "" {
			tb.Fatal("promtool not found and WSGATE_REQUIRE_INTEROP is set: run scripts/setup-test-deps.sh (Debian's prometheus package)")
		}
		tb.Skip("promtool not found: scripts/setup-test-deps.sh installs it (Debian's prometheus package); WSGATE_REQUIRE_INTEROP=1 makes this a failure")
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		tb.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
