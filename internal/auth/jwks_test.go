package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/wsgate/wsgate/internal/wstest"
)

// idp is a local identity provider's JWKS endpoint, on 127.0.0.1, whose
// key set a test rotates, or takes down (status 503).
type idp struct {
	srv      *httptest.Server
	mu       sync.Mutex
	set      []byte
	down     bool
	requests atomic.Int64
}

func newIDP(t *testing.T) *idp {
	p := &idp{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.down {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(p.set)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// publish puts a set of public keys in service at the provider.
func (p *idp) publish(t *testing.T, keys ...jwkset.JWKMarshal) {
	t.Helper()
	b, err := json.Marshal(jwkset.JWKSMarshal{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	p.publishRaw(b)
}

func (p *idp) publishRaw(b []byte) {
	p.mu.Lock()
	p.set, p.down = b, false
	p.mu.Unlock()
}

func (p *idp) setDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
}

func (p *idp) url() string { return p.srv.URL + "/.well-known/jwks.json" }

// jwk is the public JWK of a key, as a provider publishes it.
func jwk(t *testing.T, pub any, kid string, alg jwkset.ALG) jwkset.JWKMarshal {
	t.Helper()
	j, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: alg, USE: jwkset.UseSig}})
	if err != nil {
		t.Fatal(err)
	}
	return j.Marshal()
}

// syncLog collects log output for assertions.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func jwksVerifier(t *testing.T, p *idp, refresh time.Duration, log *syncLog) *Verifier {
	t.Helper()
	return jwksVerifierGap(t, p, refresh, 20*time.Millisecond, log)
}

func jwksVerifierGap(t *testing.T, p *idp, refresh, earlyGap time.Duration, log *syncLog) *Verifier {
	t.Helper()
	o := Options{
		JWKSURL: p.url(), JWKSRefresh: refresh, JWKSEarlyGap: earlyGap,
		Issuer: "https://issuer.example", Audience: "wsgate", Now: func() time.Time { return testNow },
	}
	if log != nil {
		o.Logger = slog.New(slog.NewTextHandler(log, nil))
	}
	v, err := NewVerifier(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

// TestJWKSRotation: the verifier takes keys from the provider's set, and
// follows a rotation by kid without a restart: a token signed with a key
// the set did not have is refused, asks for an early fetch, and passes
// once the new set is in service; a key the provider withdrew stops
// verifying.
func TestJWKSRotation(t *testing.T) {
	k := testKeys(t)
	p := newIDP(t)
	p.publish(t, jwk(t, &k.rsa.PublicKey, "2026a", jwkset.AlgRS256))
	v := jwksVerifier(t, p, time.Hour, nil)

	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, k.rsa, "2026a", goodClaims())); err != nil {
		t.Fatalf("token signed with the published key: %v", err)
	}
	if st := v.JWKSStatus(); st.Keys != 1 || st.Fetches != 1 || st.Failures != 0 || st.LastSuccess.IsZero() {
		t.Errorf("status after start %+v, want 1 key, 1 fetch", st)
	}

	// Rotation: the provider now publishes 2026b (ECDSA) and drops 2026a.
	p.publish(t, jwk(t, &k.ec.PublicKey, "2026b", jwkset.AlgES256))
	newToken := sign(t, jwt.SigningMethodES256, k.ec, "2026b", goodClaims())
	if _, err := v.Verify(newToken); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("token with the new kid before the set is fetched again: %v, want ErrUnknownKey", err)
	}
	wstest.WaitFor(t, 20*time.Second, "the token with the new kid to verify", func() bool {
		_, err := v.Verify(newToken)
		return err == nil
	})
	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, k.rsa, "2026a", goodClaims())); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("token with the withdrawn kid: %v, want ErrUnknownKey", err)
	}
	if st := v.JWKSStatus(); st.Keys != 1 || st.Fetches < 2 {
		t.Errorf("status after rotation %+v", st)
	}
}

// TestJWKSUnknownKidFloodIsRateLimited: many tokens with kids nobody
// published ask for early fetches; the provider sees few of them.
func TestJWKSUnknownKidFloodIsRateLimited(t *testing.T) {
	k := testKeys(t)
	p := newIDP(t)
	p.publish(t, jwk(t, &k.rsa.PublicKey, "a", ""))
	v := jwksVerifierGap(t, p, time.Hour, time.Hour, nil) // no early fetch within an hour of the last
	for i := 0; i < 200; i++ {
		if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, k.rsa2, "nobody", goodClaims())); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	// The start fetch, and at most one early fetch once an hour has
	// passed since it: none within this test.
	time.Sleep(100 * time.Millisecond)
	if n := p.requests.Load(); n != 1 {
		t.Errorf("the provider saw %d requests for 200 unknown-kid tokens, want 1 (the start fetch)", n)
	}
}

// TestJWKSProviderDown: while the provider fails, the last good set stays
// in service, failures are counted and logged, retries back off, and the
// verifier recovers when the provider does.
func TestJWKSProviderDown(t *testing.T) {
	k := testKeys(t)
	p := newIDP(t)
	p.publish(t, jwk(t, &k.rsa.PublicKey, "a", jwkset.AlgRS256))
	var log syncLog
	v := jwksVerifier(t, p, 200*time.Millisecond, &log)
	tok := sign(t, jwt.SigningMethodRS256, k.rsa, "a", goodClaims())

	p.setDown(true)
	wstest.WaitFor(t, 20*time.Second, "two failed fetches", func() bool { return v.JWKSStatus().Failures >= 2 })
	if _, err := v.Verify(tok); err != nil {
		t.Errorf("with the provider down, a token the last good set verifies: %v", err)
	}
	if st := v.JWKSStatus(); st.Keys != 1 {
		t.Errorf("with the provider down the set in service has %d keys, want 1", st.Keys)
	}
	if out := log.String(); !strings.Contains(out, "JWKS fetch failed") || !strings.Contains(out, "HTTP status 503") ||
		!strings.Contains(out, "keys_in_service=1") {
		t.Errorf("the failure is not logged with its cause and the set in service:\n%s", out)
	}

	p.publish(t, jwk(t, &k.rsa.PublicKey, "a", jwkset.AlgRS256), jwk(t, k.ed.Public(), "b", jwkset.AlgEdDSA))
	wstest.WaitFor(t, 20*time.Second, "the set to be fetched again", func() bool { return v.JWKSStatus().Keys == 2 })
	if _, err := v.Verify(sign(t, jwt.SigningMethodEdDSA, k.ed, "b", goodClaims())); err != nil {
		t.Errorf("after recovery, a key of the new set: %v", err)
	}
}

// TestJWKSDownAtStart: a provider that is down when the gateway starts
// does not keep it from starting; tokens verify once the set arrives.
func TestJWKSDownAtStart(t *testing.T) {
	k := testKeys(t)
	p := newIDP(t)
	p.setDown(true)
	v := jwksVerifier(t, p, 200*time.Millisecond, nil)
	tok := sign(t, jwt.SigningMethodRS256, k.rsa, "a", goodClaims())
	if _, err := v.Verify(tok); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("before any set: %v, want ErrUnknownKey", err)
	}
	// At least the first fetch failed; on a busy machine the retry every
	// 200 ms may have failed too before the status is read.
	if st := v.JWKSStatus(); st.Keys != 0 || st.Failures < 1 || !st.LastSuccess.IsZero() {
		t.Errorf("status with the provider down at start: %+v", st)
	}
	p.publish(t, jwk(t, &k.rsa.PublicKey, "a", ""))
	wstest.WaitFor(t, 20*time.Second, "the first set", func() bool {
		_, err := v.Verify(tok)
		return err == nil
	})
}

// TestJWKSBadDocumentKeepsSet: a document that is not a set, or has no
// usable key, is a failed fetch; the set in service stays.
func TestJWKSBadDocumentKeepsSet(t *testing.T) {
	k := testKeys(t)
	p := newIDP(t)
	p.publish(t, jwk(t, &k.rsa.PublicKey, "a", ""))
	v := jwksVerifier(t, p, 100*time.Millisecond, nil)
	tok := sign(t, jwt.SigningMethodRS256, k.rsa, "a", goodClaims())
	for i, doc := range []string{`<html>`, `{"keys":[]}`, `{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"}]}`} {
		before := v.JWKSStatus().Failures
		p.publishRaw([]byte(doc))
		wstest.WaitFor(t, 20*time.Second, "a failed fetch", func() bool { return v.JWKSStatus().Failures > before })
		if _, err := v.Verify(tok); err != nil {
			t.Errorf("document %d %s: the last good set no longer verifies: %v", i, doc, err)
		}
	}
}

// TestJWKKeyRules: which keys of a set are used, and how a JWK's alg pins
// the algorithm.
func TestJWKKeyRules(t *testing.T) {
	k := testKeys(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	enc := jwk(t, &k.rsa2.PublicKey, "enc", "")
	enc.USE = jwkset.UseEnc
	noKid := jwk(t, &k.rsa2.PublicKey, "", "")
	p := newIDP(t)
	p.publish(t,
		jwk(t, &k.rsa.PublicKey, "rs384-only", jwkset.AlgRS384),
		jwk(t, &k.ec.PublicKey, "ec", ""),
		jwk(t, &small.PublicKey, "small", ""),
		jwk(t, &p384.PublicKey, "p384", ""),
		enc, noKid,
	)
	v := jwksVerifier(t, p, time.Hour, nil)
	if st := v.JWKSStatus(); st.Keys != 2 {
		t.Errorf("usable keys %d, want 2 (rs384-only, ec): small RSA, P-384, encryption and kid-less keys are skipped", st.Keys)
	}
	for _, tc := range []struct {
		name string
		tok  []byte
		want error
	}{
		{"pinned alg", sign(t, jwt.SigningMethodRS384, k.rsa, "rs384-only", goodClaims()), nil},
		{"other alg of the pinned key", sign(t, jwt.SigningMethodRS256, k.rsa, "rs384-only", goodClaims()), ErrKeyMismatch},
		{"ec", sign(t, jwt.SigningMethodES256, k.ec, "ec", goodClaims()), nil},
		{"rsa token for an ec key", sign(t, jwt.SigningMethodRS256, k.rsa, "ec", goodClaims()), ErrKeyMismatch},
		{"hmac with a public key", sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), "ec", goodClaims()), ErrHMACDisabled},
		{"skipped small key", sign(t, jwt.SigningMethodRS256, small, "small", goodClaims()), ErrUnknownKey},
		{"no kid", sign(t, jwt.SigningMethodRS256, k.rsa2, "", goodClaims()), ErrUnknownKey},
	} {
		if _, err := v.Verify(tc.tok); !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestJWKSBesideKeyFiles: key files and the set work together; a file's
// kid wins over the same kid in the set.
func TestJWKSBesideKeyFiles(t *testing.T) {
	k := testKeys(t)
	p := newIDP(t)
	p.publish(t, jwk(t, &k.rsa2.PublicKey, "file", ""), jwk(t, &k.ec.PublicKey, "idp", ""))
	v, err := NewVerifier(Options{
		KeyFiles: []string{"file=" + writePEM(t, t.TempDir(), "rsa.pem", &k.rsa.PublicKey)},
		JWKSURL:  p.url(), Now: func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, k.rsa, "file", goodClaims())); err != nil {
		t.Errorf("key file: %v", err)
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, k.rsa2, "file", goodClaims())); !errors.Is(err, ErrSignature) {
		t.Errorf("the set's key under a kid a file has: %v, want ErrSignature (the file wins)", err)
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodES256, k.ec, "idp", goodClaims())); err != nil {
		t.Errorf("set key: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		n        int
		limit    time.Duration
		low, top time.Duration
	}{
		{1, time.Hour, 800 * time.Millisecond, time.Second},
		{2, time.Hour, 1600 * time.Millisecond, 2 * time.Second},
		{5, time.Hour, 12800 * time.Millisecond, 16 * time.Second},
		{40, 5 * time.Minute, 4 * time.Minute, 5 * time.Minute},
		{3, 200 * time.Millisecond, 160 * time.Millisecond, 200 * time.Millisecond},
	} {
		for i := 0; i < 50; i++ {
			if d := backoff(tc.n, tc.limit); d < tc.low || d > tc.top {
				t.Fatalf("backoff(%d, %v) = %v, want within [%v, %v]", tc.n, tc.limit, d, tc.low, tc.top)
			}
		}
	}
}
