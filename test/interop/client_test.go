package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// echoClient is one third-party client's echo check script.
type echoClient struct {
	name string
	// require returns the interpreter, skipping or failing t without it.
	require func(t *testing.T) string
	// script is the path of the script under the repository root.
	script string
	// timeoutFlag sets the per-step timeout; toTimeout formats a duration
	// for it.
	timeoutFlag string
	toTimeout   func(time.Duration) string
}

// nodeClient is npm ws, run by node.
func nodeClient() echoClient {
	return echoClient{
		name:        "node-ws",
		require:     requireNode,
		script:      filepath.Join("test", "node", "echo_client.js"),
		timeoutFlag: "--timeout-ms",
		toTimeout:   func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) },
	}
}

// pythonClient is Debian's Python websockets, run by Debian's python3.
func pythonClient() echoClient {
	return echoClient{
		name:        "python-websockets",
		require:     requirePython,
		script:      filepath.Join("test", "python", "echo_client.py"),
		timeoutFlag: "--timeout",
		toTimeout:   func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) },
	}
}

// autobahnClient is Debian's Autobahn|Python, run by Debian's python3.
func autobahnClient() echoClient {
	c := pythonClient()
	c.name = "python-autobahn"
	c.require = requireAutobahn
	c.script = filepath.Join("test", "python", "autobahn_echo_client.py")
	return c
}

// echoClients returns every third-party echo client.
func echoClients() []echoClient {
	return []echoClient{nodeClient(), pythonClient(), autobahnClient()}
}

// clientSummary is the JSON object a client prints on its last line.
type clientSummary struct {
	Client     string            `json:"client"`
	Version    string            `json:"version"`
	Deflate    bool              `json:"deflate"`
	Extensions string            `json:"extensions"`
	OK         bool              `json:"ok"`
	Passed     int               `json:"passed"`
	Failed     int               `json:"failed"`
	Skipped    int               `json:"skipped"`
	MS         int               `json:"ms"`
	Failures   []json.RawMessage `json:"failures"`
}

// clientRun is the outcome of one client run.
type clientRun struct {
	summary  clientSummary
	exitCode int
	output   string
}

// failed reports whether the run has a failed check named name.
func (r clientRun) failed(name string) bool {
	for _, raw := range r.summary.Failures {
		var f struct{ Name string }
		if json.Unmarshal(raw, &f) == nil && f.Name == name {
			return true
		}
	}
	return false
}

// runClient runs c against url with extra arguments and returns what it
// printed, its exit code and its summary. It fails t only when the client
// could not be run or printed no summary.
func runClient(t *testing.T, c echoClient, url string, stepTimeout time.Duration, args ...string) clientRun {
	t.Helper()
	interp := c.require(t)
	limit := 5 * time.Minute
	if d, ok := t.Deadline(); ok && time.Until(d)-10*time.Second < limit {
		limit = time.Until(d) - 10*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	argv := append([]string{filepath.Join(repoRoot(t), c.script), url,
		c.timeoutFlag, c.toTimeout(stepTimeout)}, args...)
	cmd := exec.CommandContext(ctx, interp, argv...)
	// Sizes and limits come from the arguments only.
	cmd.Env = append(cmd.Environ(), "WSGATE_ECHO_SIZES=", "WSGATE_ECHO_MAX_SIZE=")
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	run := clientRun{output: out.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		run.exitCode = exit.ExitCode()
	default:
		t.Fatalf("%s: %v\n--- output ---\n%s", c.name, err, run.output)
	}
	lines := strings.Split(strings.TrimSpace(run.output), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &run.summary); err != nil {
		t.Fatalf("%s (exit %d) printed no JSON summary on its last line: %v\n--- output ---\n%s",
			c.name, run.exitCode, err, run.output)
	}
	return run
}

// echoSizes returns the message sizes for the clients' --sizes: the frame
// length boundaries (0, 1, 125/126, 65535/65536), 1 MiB and, unless -short,
// 16 MiB.
func echoSizes(short bool) string {
	if short {
		return "0,1,125,126,65535,65536,1MiB"
	}
	return "0,1,125,126,65535,65536,1MiB,16MiB"
}

// expectedChecks returns how many checks a passing client run reports:
// the handshake, a text and a binary echo per size up to maxSize, two pings,
// the close, and the deflate negotiation when offered.
func expectedChecks(sizes string, maxSize int, deflate bool) int {
	n := 1 + 2 + 1
	if deflate {
		n++
	}
	for _, s := range strings.Split(sizes, ",") {
		if parseSize(s) <= maxSize {
			n += 2
		}
	}
	return n
}

// parseSize reads a size as the clients do: bytes with an optional KiB or
// MiB suffix; it returns -1 for anything else.
func parseSize(s string) int {
	mult := 1
	switch {
	case strings.HasSuffix(s, "MiB"):
		mult, s = 1<<20, strings.TrimSuffix(s, "MiB")
	case strings.HasSuffix(s, "KiB"):
		mult, s = 1<<10, strings.TrimSuffix(s, "KiB")
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n * mult
}

// runEcho runs c's echo check against url and fails t, with the client's
// output, unless every check passed and none was missing.
func runEcho(t *testing.T, c echoClient, url, sizes string, deflate bool, args ...string) clientSummary {
	t.Helper()
	args = append([]string{"--sizes", sizes, "--max-size", strconv.Itoa(serverMaxMessageSize)}, args...)
	if deflate {
		args = append(args, "--deflate")
	}
	// A step's timeout only decides how long a failure takes to show; a
	// machine shared with load tests has taken 25s to echo 16 MiB.
	run := runClient(t, c, url, time.Minute, args...)
	s := run.summary
	want := expectedChecks(sizes, serverMaxMessageSize, deflate)
	if run.exitCode != 0 || !s.OK || s.Failed != 0 || s.Passed != want {
		t.Fatalf("%s against %s: exit %d, %d passed (want %d), %d failed\n--- output ---\n%s",
			c.name, url, run.exitCode, s.Passed, want, s.Failed, run.output)
	}
	t.Logf("%s %s: %d checks passed in %d ms (extensions %q)", s.Client, s.Version, s.Passed, s.MS, s.Extensions)
	return s
}
