package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/server"
	"github.com/wsgate/wsgate/internal/wstest"
)

// startTLSServer starts wsgate in-process serving wss with certFile and
// keyFile and returns it with its echo URL (wss://127.0.0.1:PORT/echo).
func startTLSServer(t *testing.T, certFile, keyFile string, mods ...func(*config.Config)) (*server.Server, string) {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Admin = ""
	cfg.Anonymous, cfg.NoLimits = true, true
	for _, mod := range mods {
		mod(&cfg)
	}
	cfg.MaxMessage = serverMaxMessageSize
	cfg.TLSCert, cfg.TLSKey = certFile, keyFile
	cfg.HandshakeTimeout = 30 * time.Second // 200 handshakes at once under -race
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv, "wss://" + srv.Addr().String() + cfg.EchoPath
}

// wssSummary is the JSON line test/node/wss_echo_client.js ends with.
type wssSummary struct {
	Client   string            `json:"client"`
	Version  string            `json:"version"`
	Clients  int               `json:"clients"`
	OK       bool              `json:"ok"`
	Passed   int               `json:"passed"`
	Failed   int               `json:"failed"`
	MS       int               `json:"ms"`
	Failures []json.RawMessage `json:"failures"`
}

// runWSSClient runs the node wss echo script and returns its summary and
// exit code.
func runWSSClient(t *testing.T, url string, args ...string) (wssSummary, int, string) {
	t.Helper()
	node := requireNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append([]string{filepath.Join(repoRoot(t), "test", "node", "wss_echo_client.js"), url}, args...)
	cmd := exec.CommandContext(ctx, node, argv...)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("node: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var s wssSummary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
		t.Fatalf("wss_echo_client (exit %d) printed no JSON summary: %v\n%s", code, err, out.String())
	}
	return s, code, out.String()
}

// TestWSSNodeClient: npm ws connects 200 clients over wss (trusting only
// the test's certificate), all open at once, each echoing text and binary
// messages up to the 7-bit length boundary and one client a 1 MiB message,
// then closing with 1000; a run of 2 clients covers the 16-bit boundary
// (65535/65536). After a certificate reload a new run sees the new
// certificate.
func TestWSSNodeClient(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	wstest.WriteTestCert(t, certFile, keyFile, 0x5eed)
	srv, url := startTLSServer(t, certFile, keyFile)
	for _, run := range []struct {
		clients int
		sizes   string
		n       int
	}{{200, "0,1,125,126,4096", 5}, {2, "0,1,125,126,65535,65536", 6}} {
		s, code, out := runWSSClient(t, url, "--ca", certFile, "--clients", strconv.Itoa(run.clients),
			"--sizes", run.sizes, "--expect-serial", "5EED")
		want := run.clients + run.clients*run.n*2 + 2 + run.clients // opens, echoes, the 1 MiB echo, closes
		if code != 0 || !s.OK || s.Passed != want || s.Failed != 0 {
			t.Fatalf("%s %s: exit %d, passed %d of %d, failed %d\n%s", s.Client, s.Version, code, s.Passed, want, s.Failed, out)
		}
		t.Logf("%s %s: %d clients over wss, %d checks passed in %d ms", s.Client, s.Version, s.Clients, s.Passed, s.MS)
	}

	wstest.WriteTestCert(t, certFile, keyFile, 0xbeef)
	if err := srv.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	s, code, out := runWSSClient(t, url, "--ca", certFile, "--clients", "3", "--expect-serial", "BEEF")
	if code != 0 || !s.OK {
		t.Fatalf("after reload: exit %d, passed %d, failed %d\n%s", code, s.Passed, s.Failed, out)
	}
	// The check can fail: the old serial is refused now.
	s, code, _ = runWSSClient(t, url, "--ca", certFile, "--clients", "1", "--expect-serial", "5EED", "--big-size", "0")
	if code == 0 || s.OK {
		t.Fatal("the client accepted a certificate serial it was told not to expect")
	}
}

// TestWSSNodeClientToken: a production-shaped listener (wss, tokens
// required, no anonymous clients): 50 npm ws clients present an HS256 JWT
// in the Authorization header over wss and echo; the same client without
// a token, and with a token signed by another secret, is refused (401)
// before any upgrade.
func TestWSSNodeClientToken(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	wstest.WriteTestCert(t, certFile, keyFile, 0x70c)
	secret := []byte("wss-token-test-secret-0123456789abcdef")
	secretFile := filepath.Join(dir, "jwt.secret")
	if err := os.WriteFile(secretFile, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	_, url := startTLSServer(t, certFile, keyFile, func(c *config.Config) {
		c.Anonymous = false
		c.AuthSecretFiles = []string{secretFile}
		c.AuthAudience = "wsgate"
	})
	mint := func(key []byte) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": "node-wss", "aud": "wsgate", "exp": time.Now().Add(10 * time.Minute).Unix(),
		}).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	s, code, out := runWSSClient(t, url, "--ca", certFile, "--clients", "50", "--sizes", "0,1,125,126,4096",
		"--token", mint(secret), "--expect-serial", "070C")
	if want := 50 + 50*5*2 + 2 + 50; code != 0 || !s.OK || s.Passed != want {
		t.Fatalf("with a token: exit %d, passed %d of %d, failed %d\n%s", code, s.Passed, want, s.Failed, out)
	}
	t.Logf("%s %s: %d clients over wss with a JWT, %d checks passed in %d ms", s.Client, s.Version, s.Clients, s.Passed, s.MS)
	for name, args := range map[string][]string{
		"no token":     nil,
		"wrong secret": {"--token", mint([]byte("another-secret-another-secret-0123456789"))},
	} {
		s, code, out := runWSSClient(t, url, append([]string{"--ca", certFile, "--clients", "1", "--big-size", "0"}, args...)...)
		if code == 0 || s.OK || !strings.Contains(out, "401") {
			t.Errorf("%s: exit %d ok=%v, want a refusal with 401\n%s", name, code, s.OK, out)
		}
	}
}
