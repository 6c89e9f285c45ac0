package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsgate/wsgate/internal/wstest"
)

// testNow is the fixed clock of every verifier in these tests.
var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// keySet is one of each kind of key, generated once per test binary (RSA
// 2048 generation is slow).
type keySet struct {
	rsa     *rsa.PrivateKey
	rsa2    *rsa.PrivateKey
	ec      *ecdsa.PrivateKey
	ed      ed25519.PrivateKey
	secret  []byte
	secret2 []byte
}

var (
	keysOnce sync.Once
	keys     keySet
)

func testKeys(tb testing.TB) *keySet {
	tb.Helper()
	keysOnce.Do(func() {
		k := wstest.Keys()
		keys.rsa, keys.rsa2, keys.ec, keys.ed = k.RSA, k.RSA2, k.EC, k.Ed
		keys.secret = []byte("0123456789abcdef0123456789abcdef-hs")
		keys.secret2 = []byte("another secret, also long enough!!")
	})
	return &keys
}

// writePEM writes pub as a PKIX PEM file in dir and returns its path.
func writePEM(tb testing.TB, dir, name string, pub any) string {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

func writeFile(tb testing.TB, dir, name string, b []byte) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// sign makes a token with method, key, optional kid and claims.
func sign(tb testing.TB, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) []byte {
	tb.Helper()
	t := jwt.NewWithClaims(m, c)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return []byte(s)
}

// goodClaims are valid claims at testNow.
func goodClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub":   "user-1",
		"iss":   "https://issuer.example",
		"aud":   "wsgate",
		"exp":   testNow.Add(time.Hour).Unix(),
		"iat":   testNow.Add(-time.Minute).Unix(),
		"nbf":   testNow.Add(-time.Minute).Unix(),
		"rooms": []string{"chat.*", "team.*.general"},
	}
}

// with returns goodClaims changed by kv pairs; a nil value deletes.
func with(kv ...any) jwt.MapClaims {
	c := goodClaims()
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(c, k)
		} else {
			c[k] = kv[i+1]
		}
	}
	return c
}

// fullVerifier trusts every kind of key: kid "hs" (secret file), "rsa",
// "ec", "ed" (PEM files), and the no-kid key rsa.
func fullVerifier(tb testing.TB) *Verifier {
	tb.Helper()
	k := testKeys(tb)
	dir := tb.TempDir()
	v, err := NewVerifier(Options{
		SecretFiles: []string{"hs=" + writeFile(tb, dir, "secret", append(append([]byte(nil), k.secret...), '\n'))},
		KeyFiles: []string{
			"rsa=" + writePEM(tb, dir, "rsa.pem", &k.rsa.PublicKey),
			"ec=" + writePEM(tb, dir, "ec.pem", &k.ec.PublicKey),
			"ed=" + writePEM(tb, dir, "ed.pem", k.ed.Public()),
			writePEM(tb, dir, "default.pem", &k.rsa.PublicKey),
		},
		Issuer:   "https://issuer.example",
		Audience: "wsgate",
		Leeway:   5 * time.Second,
		Now:      func() time.Time { return testNow },
	})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}
