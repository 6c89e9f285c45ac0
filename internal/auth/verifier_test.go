package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestVerifyGoodEachAlgorithm(t *testing.T) {
	k := testKeys(t)
	v := fullVerifier(t)
	cases := []struct {
		name string
		m    jwt.SigningMethod
		key  any
		kid  string
	}{
		{"HS256", jwt.SigningMethodHS256, k.secret, "hs"},
		{"HS384", jwt.SigningMethodHS384, k.secret, "hs"},
		{"HS512", jwt.SigningMethodHS512, k.secret, "hs"},
		{"RS256", jwt.SigningMethodRS256, k.rsa, "rsa"},
		{"RS384", jwt.SigningMethodRS384, k.rsa, "rsa"},
		{"RS512", jwt.SigningMethodRS512, k.rsa, "rsa"},
		{"RS256 no kid", jwt.SigningMethodRS256, k.rsa, ""},
		{"ES256", jwt.SigningMethodES256, k.ec, "ec"},
		{"EdDSA", jwt.SigningMethodEdDSA, k.ed, "ed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := v.Verify(sign(t, c.m, c.key, c.kid, goodClaims()))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if id.Subject != "user-1" {
				t.Errorf("Subject = %q, want user-1", id.Subject)
			}
			if want := testNow.Add(time.Hour).Truncate(time.Second); !id.Expires.Equal(want) {
				t.Errorf("Expires = %v, want %v", id.Expires, want)
			}
			if !id.CanJoin("chat.lobby") || id.CanJoin("admin") {
				t.Errorf("permissions not taken from the rooms claim")
			}
			if Status(err) != http.StatusOK {
				t.Errorf("Status(nil) = %d", Status(err))
			}
		})
	}
}

func TestVerifyRejections(t *testing.T) {
	k := testKeys(t)
	v := fullVerifier(t)
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: mustPKIX(t, &k.rsa.PublicKey)})
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := sign(t, jwt.SigningMethodRS256, k.rsa, "rsa", goodClaims())
	parts := strings.Split(string(good), ".")
	hs := func(c jwt.MapClaims) []byte { return sign(t, jwt.SigningMethodHS256, k.secret, "hs", c) }
	b64 := base64.RawURLEncoding.EncodeToString
	cases := []struct {
		name  string
		token []byte
		want  error
	}{
		{"empty", nil, ErrNoToken},
		{"one segment", []byte("abc"), ErrMalformed},
		{"two segments", []byte("abc.def"), ErrMalformed},
		{"garbage segments", []byte("a.b.c"), ErrMalformed},
		{"bad base64 payload", []byte(parts[0] + ".!!!." + parts[2]), ErrMalformed},
		{"payload not JSON", []byte(parts[0] + "." + b64([]byte("nope")) + "." + parts[2]), ErrMalformed},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", goodClaims()), ErrAlgNone},
		{"alg none with kid", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "rsa", goodClaims()), ErrAlgNone},
		{"alg missing", []byte(b64([]byte(`{"typ":"JWT"}`)) + "." + parts[1] + "." + parts[2]), ErrUnsupportedAlg},
		{"alg unknown", []byte(b64([]byte(`{"alg":"XX999"}`)) + "." + parts[1] + "." + parts[2]), ErrUnsupportedAlg},
		{"alg PS256", sign(t, jwt.SigningMethodPS256, k.rsa, "rsa", goodClaims()), ErrUnsupportedAlg},
		{"alg ES384", sign(t, jwt.SigningMethodES384, p384, "ec", goodClaims()), ErrUnsupportedAlg},
		{"key confusion HS256 with RSA PEM, kid rsa", sign(t, jwt.SigningMethodHS256, rsaPEM, "rsa", goodClaims()), ErrKeyMismatch},
		{"key confusion HS256 with RSA PEM, no kid", sign(t, jwt.SigningMethodHS256, rsaPEM, "", goodClaims()), ErrKeyMismatch},
		{"RS256 against the EC key", sign(t, jwt.SigningMethodRS256, k.rsa, "ec", goodClaims()), ErrKeyMismatch},
		{"ES256 against the HMAC key", sign(t, jwt.SigningMethodES256, k.ec, "hs", goodClaims()), ErrKeyMismatch},
		{"unknown kid", sign(t, jwt.SigningMethodRS256, k.rsa, "nope", goodClaims()), ErrUnknownKey},
		{"kid not a string", []byte(b64([]byte(`{"alg":"RS256","kid":7}`)) + "." + parts[1] + "." + parts[2]), ErrMalformed},
		{"bad signature RSA (other key)", sign(t, jwt.SigningMethodRS256, k.rsa2, "rsa", goodClaims()), ErrSignature},
		{"bad signature HMAC (other secret)", sign(t, jwt.SigningMethodHS256, k.secret2, "hs", goodClaims()), ErrSignature},
		{"tampered payload", []byte(parts[0] + "." + b64([]byte(`{"sub":"admin","exp":9999999999}`)) + "." + parts[2]), ErrSignature},
		{"expired", hs(with("exp", testNow.Add(-time.Minute).Unix())), ErrExpired},
		{"expired just beyond leeway", hs(with("exp", testNow.Add(-6*time.Second).Unix())), ErrExpired},
		{"missing exp", hs(with("exp", nil)), ErrMissingExp},
		{"exp not a number", hs(with("exp", "tomorrow")), ErrMalformed},
		{"nbf in the future", hs(with("nbf", testNow.Add(time.Minute).Unix())), ErrNotYetValid},
		{"iat in the future", hs(with("iat", testNow.Add(time.Minute).Unix())), ErrIssuedInFuture},
		{"wrong issuer", hs(with("iss", "https://evil.example")), ErrIssuer},
		{"missing issuer", hs(with("iss", nil)), ErrIssuer},
		{"wrong audience", hs(with("aud", "other")), ErrAudience},
		{"wrong audience list", hs(with("aud", []string{"a", "b"})), ErrAudience},
		{"missing audience", hs(with("aud", nil)), ErrAudience},
		{"missing subject", hs(with("sub", nil)), ErrSubject},
		{"unsafe subject", hs(with("sub", "bob\r\nX-Evil: 1")), ErrSubject},
		{"long subject", hs(with("sub", strings.Repeat("a", 129))), ErrSubject},
		{"rooms not a list of strings", hs(with("rooms", []any{1, 2})), ErrPermissions},
		{"rooms bad pattern", hs(with("rooms", []string{"chat.**.x"})), ErrPermissions},
		{"publish bad pattern", hs(with("publish", []string{"a b"})), ErrPermissions},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := v.Verify(c.token)
			if err == nil {
				t.Fatalf("Verify accepted the token: %+v", id)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify error = %v, want %v", err, c.want)
			}
			for _, s := range sentinels {
				if s != c.want && errors.Is(err, s) {
					t.Errorf("error %v also matches %v", err, s)
				}
			}
			if Status(err) != http.StatusUnauthorized {
				t.Errorf("Status = %d, want 401", Status(err))
			}
			if want := strings.TrimPrefix(c.want.Error(), "auth: "); Reason(err) != want {
				t.Errorf("Reason = %q, want %q", Reason(err), want)
			}
		})
	}
}

func TestVerifyLeeway(t *testing.T) {
	v := fullVerifier(t) // leeway 5s
	k := testKeys(t)
	for _, c := range []jwt.MapClaims{
		with("exp", testNow.Add(-4*time.Second).Unix()),
		with("nbf", testNow.Add(4*time.Second).Unix()),
		with("iat", testNow.Add(4*time.Second).Unix()),
	} {
		if _, err := v.Verify(sign(t, jwt.SigningMethodHS256, k.secret, "hs", c)); err != nil {
			t.Errorf("within leeway: %v (claims %v)", err, c)
		}
	}
}

func TestHMACRefusedWithOnlyPublicKeys(t *testing.T) {
	k := testKeys(t)
	dir := t.TempDir()
	pemPath := writePEM(t, dir, "rsa.pem", &k.rsa.PublicKey)
	v, err := NewVerifier(Options{KeyFiles: []string{pemPath}, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: mustPKIX(t, &k.rsa.PublicKey)})
	for _, kid := range []string{"", "x"} {
		_, err := v.Verify(sign(t, jwt.SigningMethodHS256, pemBytes, kid, goodClaims()))
		if !errors.Is(err, ErrHMACDisabled) {
			t.Errorf("kid %q: HS256 with the RSA key's PEM as secret: err = %v, want ErrHMACDisabled", kid, err)
		}
	}
	// The same verifier takes the RS256 token without iss/aud checks.
	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, k.rsa, "", goodClaims())); err != nil {
		t.Errorf("RS256: %v", err)
	}
}

func TestKidSelection(t *testing.T) {
	k := testKeys(t)
	dir := t.TempDir()
	v, err := NewVerifier(Options{
		KeyFiles: []string{
			"one=" + writePEM(t, dir, "1.pem", &k.rsa.PublicKey),
			"two=" + writePEM(t, dir, "2.pem", &k.rsa2.PublicKey),
		},
		Now: func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(key *rsa.PrivateKey, kid string, want error) {
		t.Helper()
		_, err := v.Verify(sign(t, jwt.SigningMethodRS256, key, kid, goodClaims()))
		if !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Errorf("kid %q: err = %v, want %v", kid, err, want)
		}
	}
	check(k.rsa, "one", nil)
	check(k.rsa2, "two", nil)
	check(k.rsa, "two", ErrSignature)
	check(k.rsa2, "one", ErrSignature)
	check(k.rsa, "", ErrUnknownKey) // no key without a kid
	check(k.rsa, "three", ErrUnknownKey)
}

func TestNewVerifierErrors(t *testing.T) {
	k := testKeys(t)
	dir := t.TempDir()
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	rsaPath := writePEM(t, dir, "rsa.pem", &k.rsa.PublicKey)
	cases := []struct {
		name string
		o    Options
		want string
	}{
		{"no keys", Options{}, "no verification keys"},
		{"missing file", Options{KeyFiles: []string{dir + "/absent.pem"}}, "absent.pem"},
		{"not PEM", Options{KeyFiles: []string{writeFile(t, dir, "x.pem", []byte("hello"))}}, "no PEM block"},
		{"private key PEM", Options{KeyFiles: []string{writeFile(t, dir, "priv.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}))}}, "not a public key"},
		{"P-384", Options{KeyFiles: []string{writePEM(t, dir, "p384.pem", &p384.PublicKey)}}, "only P-256"},
		{"RSA 1024", Options{KeyFiles: []string{writePEM(t, dir, "small.pem", &small.PublicKey)}}, "1024 bits"},
		{"short secret", Options{SecretFiles: []string{writeFile(t, dir, "short", []byte("tiny\n"))}}, "at least 32"},
		{"PEM as secret", Options{SecretFiles: []string{rsaPath}}, "PEM block"},
		{"two keys without kid", Options{KeyFiles: []string{rsaPath, rsaPath}}, "more than one key without a kid"},
		{"duplicate kid", Options{KeyFiles: []string{"a=" + rsaPath, "a=" + rsaPath}}, `kid "a" given twice`},
		{"leeway too large", Options{KeyFiles: []string{rsaPath}, Leeway: time.Hour}, "leeway"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewVerifier(c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("NewVerifier error = %v, want it to contain %q", err, c.want)
			}
		})
	}
	// All problems at once.
	_, err := NewVerifier(Options{KeyFiles: []string{dir + "/a.pem", dir + "/b.pem"}, Leeway: -1})
	if err == nil || !strings.Contains(err.Error(), "a.pem") || !strings.Contains(err.Error(), "b.pem") || !strings.Contains(err.Error(), "leeway") {
		t.Errorf("NewVerifier did not report every problem: %v", err)
	}
}

func TestPublishClaim(t *testing.T) {
	k := testKeys(t)
	v := fullVerifier(t)
	id, err := v.Verify(sign(t, jwt.SigningMethodHS256, k.secret, "hs", with("rooms", []string{"chat.*"}, "publish", []string{"chat.ops"})))
	if err != nil {
		t.Fatal(err)
	}
	if !id.CanJoin("chat.ops") || !id.CanJoin("chat.lobby") {
		t.Error("join patterns lost")
	}
	if !id.CanPublish("chat.ops") || id.CanPublish("chat.lobby") {
		t.Error("publish claim not applied on its own")
	}
	// No publish claim: join patterns allow publishing.
	id, _ = v.Verify(sign(t, jwt.SigningMethodHS256, k.secret, "hs", with("rooms", "chat.*")))
	if !id.CanPublish("chat.lobby") || id.CanPublish("other") {
		t.Error("without a publish claim, publish should follow join")
	}
	// Empty publish list: read-only.
	id, _ = v.Verify(sign(t, jwt.SigningMethodHS256, k.secret, "hs", with("publish", []string{})))
	if !id.CanJoin("chat.lobby") || id.CanPublish("chat.lobby") {
		t.Error("an empty publish claim should make the token read-only")
	}
	// No rooms claim: nothing.
	id, _ = v.Verify(sign(t, jwt.SigningMethodHS256, k.secret, "hs", with("rooms", nil)))
	if id.CanJoin("chat.lobby") || id.CanPublish("chat.lobby") {
		t.Error("a token without rooms claim should join nothing")
	}
}

func TestCustomClaimNames(t *testing.T) {
	k := testKeys(t)
	v, err := NewVerifier(Options{
		Keys:         []Key{{Secret: k.secret}},
		RoomsClaim:   "can_join",
		PublishClaim: "can_pub",
		Now:          func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(sign(t, jwt.SigningMethodHS512, k.secret, "", with("rooms", nil, "can_join", []string{"a.>"}, "can_pub", "a.b")))
	if err != nil {
		t.Fatal(err)
	}
	if !id.CanJoin("a.x.y") || id.CanJoin("b") || !id.CanPublish("a.b") || id.CanPublish("a.c") {
		t.Error("custom claim names not used")
	}
}

func mustPKIX(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
