package loadtest

import (
	"path/filepath"
	"testing"

	"github.com/wsgate/wsgate/internal/wstest"
)

// selfSigned writes a certificate for 127.0.0.1 and its key as PEM files.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	wstest.WriteTestCert(t, certFile, keyFile, 1)
	return certFile, keyFile
}

// wss:// through the event loop: certificate verified against the test CA,
// exact echo counts with deflate, a broadcast with a stalled reader, and an
// unverifiable server reported as failure kind "tls".
func TestNodeWSS(t *testing.T) {
	cert, key := selfSigned(t)
	srv := startNode(t, "--tls-cert", cert, "--tls-key", key)
	cfg := echoCfg(srv.URL)
	cfg.CAFile, cfg.InFlight, cfg.Deflate, cfg.Size = cert, 2, true, 3000
	s := run(t, cfg)
	checkExactEcho(t, s, 20)

	b := bcastCfg(srv.URL)
	b.CAFile, b.Conns, b.StalledFraction = cert, 10, 0.2
	s = run(t, b)
	c := s.Counters
	if c.StalledConns != 2 || c.Subscribers != 8 || c.Published == 0 || c.Delivered != c.Published*8 {
		t.Errorf("wss broadcast: %+v", c)
	}

	cfg = echoCfg(srv.URL)
	cfg.Conns = 3
	s = run(t, cfg)
	if s.Counters.Connected != 0 || s.Failures["tls"] != 3 {
		t.Errorf("unverified server: connected %d failures %v", s.Counters.Connected, s.Failures)
	}
}
