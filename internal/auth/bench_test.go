package auth

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkVerify measures one handshake's token check per algorithm.
// jwt/v5 decodes header and claims into maps, so Verify allocates (about
// 60-100 allocations); that is fine on the handshake path.
func BenchmarkVerify(b *testing.B) {
	k := testKeys(b)
	v := fullVerifier(b)
	cases := []struct {
		name string
		m    jwt.SigningMethod
		key  any
		kid  string
	}{
		{"HS256", jwt.SigningMethodHS256, k.secret, "hs"},
		{"HS512", jwt.SigningMethodHS512, k.secret, "hs"},
		{"RS256", jwt.SigningMethodRS256, k.rsa, "rsa"},
		{"ES256", jwt.SigningMethodES256, k.ec, "ec"},
		{"EdDSA", jwt.SigningMethodEdDSA, k.ed, "ed"},
	}
	for _, c := range cases {
		tok := sign(b, c.m, c.key, c.kid, goodClaims())
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("reject-alg-none", func(b *testing.B) {
		tok := sign(b, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", goodClaims())
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(tok); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}

func BenchmarkTokenCollector(b *testing.B) {
	var c TokenCollector
	q := []byte("user=a&access_token=a%2Eb.c")
	h := []byte("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.sig")
	b.ReportAllocs()
	for b.Loop() {
		c.Reset()
		c.Query(q)
		c.Header(h)
		if _, _, err := c.Token(); err != nil {
			b.Fatal(err)
		}
	}
}
