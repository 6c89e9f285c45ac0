package loadtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key as PEM files.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wsload test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
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
