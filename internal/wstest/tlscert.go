package wstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"strconv"
	"testing"
	"time"
)

// NewTestCert returns a self-signed ECDSA P-256 certificate (a CA, so it
// can be trusted directly) for 127.0.0.1 and localhost, valid for an hour
// and carrying serial, and a pool that trusts it.
func NewTestCert(tb testing.TB, serial int64) (tls.Certificate, *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "wsgate test " + strconv.FormatInt(serial, 10)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// WriteTestCert writes a NewTestCert certificate to certFile and its
// private key to keyFile (both PEM), and returns a pool that trusts it.
func WriteTestCert(tb testing.TB, certFile, keyFile string, serial int64) *x509.CertPool {
	tb.Helper()
	cert, pool := NewTestCert(tb, serial)
	kd, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return pool
}

// ConnectTLS is Connect over TLS: it dials addr, completes a TLS handshake
// trusting roots (server name 127.0.0.1) and upgrades path. Conn.NC is the
// *tls.Conn.
func ConnectTLS(addr, path string, roots *x509.CertPool, extra ...string) (*Conn, error) {
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: DefaultTimeout}, "tcp", addr,
		&tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		return nil, err
	}
	return upgradePath(nc, addr, path, extra)
}

// PeerSerial returns the serial number of the certificate the server of a
// ConnectTLS connection presented, or -1 for a plain connection.
func (c *Conn) PeerSerial() int64 {
	tc, ok := c.NC.(*tls.Conn)
	if !ok {
		return -1
	}
	return tc.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}
