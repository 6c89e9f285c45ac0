package wstest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"sync"
)

// SigningKeys are one private key of each kind a token verifier accepts,
// plus a second RSA key nobody trusts (for bad signatures).
type SigningKeys struct {
	RSA, RSA2 *rsa.PrivateKey
	EC        *ecdsa.PrivateKey // P-256
	Ed        ed25519.PrivateKey
}

var (
	keysOnce sync.Once
	keys     SigningKeys
)

// Keys returns the test binary's SigningKeys, generated on first use
// (RSA-2048 generation takes a while under the race detector). Callers
// must not change them.
func Keys() *SigningKeys {
	keysOnce.Do(func() {
		var err error
		if keys.RSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if keys.RSA2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if keys.EC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if _, keys.Ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
	})
	return &keys
}
