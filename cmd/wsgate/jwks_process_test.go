package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/wsgate/wsgate/internal/wstest"
)

// TestJWKSProcess runs the binary against a local identity provider on
// 127.0.0.1 whose JWKS rotates: clients with tokens from the first key
// connect; after the provider rotates to a second key, tokens from it are
// accepted without a restart; while the provider is down, the last good
// set stays in service, the failure is logged and counted in /metrics,
// and the scrape still passes promtool.
func TestJWKSProcess(t *testing.T) {
	keys := wstest.Keys()
	var mu sync.Mutex
	set, down := []jwkset.JWKMarshal(nil), false
	publish := func(pub any, kid string) {
		j, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid}})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		set, down = []jwkset.JWKMarshal{j.Marshal()}, false
		mu.Unlock()
	}
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		json.NewEncoder(w).Encode(jwkset.JWKSMarshal{Keys: set})
	}))
	defer idp.Close()
	publish(&keys.RSA.PublicKey, "2026a")

	c := startWsgate(t, nil, "-auth-jwks-url", idp.URL+"/jwks.json", "-auth-jwks-refresh", "10s", "-no-limits", "-log-format", "json")
	token := func(m jwt.SigningMethod, key any, kid string) string {
		tk := jwt.NewWithClaims(m, jwt.MapClaims{"sub": "ann", "exp": time.Now().Add(time.Hour).Unix(), "rooms": []string{"chat.*"}})
		tk.Header["kid"] = kid
		s, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	connects := func(tok string) bool {
		ws, err := wstest.Connect(c.addr, "/room/chat.lobby", "Authorization: Bearer "+tok)
		if err != nil {
			return false
		}
		ws.Close()
		return true
	}
	if tokA := token(jwt.SigningMethodRS256, keys.RSA, "2026a"); !connects(tokA) {
		t.Fatal("a token from the published key was refused")
	}

	publish(&keys.EC.PublicKey, "2026b")
	tokB := token(jwt.SigningMethodES256, keys.EC, "2026b")
	wstest.WaitFor(t, 60*time.Second, "a token from the rotated-in key to connect", func() bool { return connects(tokB) })

	mu.Lock()
	down = true
	mu.Unlock()
	wstest.WaitFor(t, 60*time.Second, "a failed fetch in /metrics", func() bool {
		return c.metric(t, `wsgate_jwks_fetches_total{result="failed"}`) >= 1
	})
	if !connects(tokB) {
		t.Error("with the provider down, a token the last good set verifies was refused")
	}
	if v := c.metric(t, "wsgate_jwks_keys"); v != 1 {
		t.Errorf("wsgate_jwks_keys = %v with the provider down, want 1 (the last good set)", v)
	}
	if !strings.Contains(c.stderr.String(), "JWKS fetch failed") {
		t.Errorf("the failed fetch is not logged:\n%s", tail(c.stderr.String(), 2048))
	}
	_, body := c.get("/metrics")
	wstest.PromtoolCheck(t, body)
}
