package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/wstest"
)

// checkFixture writes a usable configuration: a public key, a secret, a
// TLS pair, an API key file, and a TOML file naming them all.
func checkFixture(t *testing.T) (dir, cfgFile string) {
	t.Helper()
	dir = t.TempDir()
	der, err := x509.MarshalPKIXPublicKey(wstest.Keys().EC.Public())
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pub := write("ec.pub.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	secret := write("jwt.secret", strings.Repeat("s", 32)+"\n")
	apiKey := write("api-key", "k3y\n")
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	wstest.WriteTestCert(t, cert, key, 1)
	cfgFile = write("wsgate.toml", `listen = "127.0.0.1:0"
admin = ""
auth-key-file = ["ec=`+pub+`"]
auth-secret-file = "hs=`+secret+`"
tls-cert = "`+cert+`"
tls-key = "`+key+`"
api-key-file = "`+apiKey+`"
`)
	return dir, cfgFile
}

// TestCheck: wsgate check (and -t) accepts a usable configuration with
// exit 0 and starts nothing; every unusable file is then reported at
// once, with exit 2.
func TestCheck(t *testing.T) {
	dir, cfgFile := checkFixture(t)
	for _, args := range [][]string{{"check", "-config", cfgFile}, {"-t", "-config", cfgFile}} {
		if code, out := runArgs(t, args...); code != 0 || !strings.Contains(out, "configuration OK") {
			t.Errorf("%v: exit %d, output:\n%s\nwant 0 and configuration OK", args, code, out)
		}
	}

	// Break every file: a missing key, a short secret, a certificate with
	// someone else's key, an empty API key file.
	short := filepath.Join(dir, "short.secret")
	empty := filepath.Join(dir, "empty")
	other := filepath.Join(dir, "other-key.pem")
	os.WriteFile(short, []byte("too short"), 0o600)
	os.WriteFile(empty, []byte("\n"), 0o600)
	wstest.WriteTestCert(t, filepath.Join(dir, "other-cert.pem"), other, 2)
	code, out := runArgs(t, "check", "-config", cfgFile,
		"-auth-key-file", filepath.Join(dir, "missing.pem"),
		"-auth-secret-file", short,
		"-tls-key", other,
		"-api-key-file", empty,
		"-slow-policy", "bogus")
	if code != 2 {
		t.Errorf("exit status %d, want 2", code)
	}
	for _, want := range []string{"missing.pem", "secret is 9 bytes", "tls-cert", "private key does not match public key",
		"api-key-file " + empty + " is empty", `slow-policy "bogus"`} {
		if !strings.Contains(out, want) {
			t.Errorf("report does not mention %q:\n%s", want, out)
		}
	}
}

// TestMissingKeyFileExits2: at start, like in check, a file that cannot
// be used is a configuration problem: exit 2, before anything listens.
func TestMissingKeyFileExits2(t *testing.T) {
	code, out := runArgs(t, "-auth-key-file", "/nonexistent/jwt.pub.pem", "-listen", "127.0.0.1:0", "-admin", "")
	if code != 2 || !strings.Contains(out, "/nonexistent/jwt.pub.pem") || strings.Contains(out, "listening") {
		t.Errorf("exit %d, output:\n%s\nwant 2 naming the file, without listening", code, out)
	}
}

func TestCheckTLSPairValidity(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	wstest.WriteTestCert(t, cert, key, 3)
	if err := checkTLSPair(cert, key, time.Now()); err != nil {
		t.Fatalf("fresh pair: %v", err)
	}
	if err := checkTLSPair(cert, key, time.Now().Add(100*365*24*time.Hour)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("a century later: %v, want expired", err)
	}
	if err := checkTLSPair(cert, key, time.Now().Add(-100*365*24*time.Hour)); err == nil || !strings.Contains(err.Error(), "not valid before") {
		t.Errorf("a century earlier: %v, want not valid before", err)
	}
}
