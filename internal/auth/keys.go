package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Configuration errors, returned by NewVerifier (never by Verify).
var (
	// ErrNoKeys: no secret and no public key was configured.
	ErrNoKeys = errors.New("auth: no verification keys configured")
	// ErrKeyFile: a key or secret file could not be used; the wrapping
	// error names the file and the problem.
	ErrKeyFile = errors.New("auth: bad key file")
)

// MinSecretLen is the shortest HMAC secret accepted, in bytes (RFC 7518
// section 3.2 asks for at least the hash size; 32 bytes suit HS256).
const MinSecretLen = 32

// MinRSABits is the smallest RSA modulus accepted.
const MinRSABits = 2048

// keyKind is the family of a verification key; each admits its own algs.
type keyKind uint8

const (
	kindHMAC keyKind = iota + 1
	kindRSA
	kindECDSA
	kindEd25519
)

// Key is one verification key: an HMAC Secret or a Public key
// (*rsa.PublicKey, *ecdsa.PublicKey on P-256, ed25519.PublicKey). ID is
// the kid that selects it; an empty ID makes it the key for tokens
// without a kid (at most one such key).
type Key struct {
	ID     string
	Secret []byte
	Public crypto.PublicKey
}

// key is a Key checked and classified.
type key struct {
	kind keyKind
	k    any    // []byte, *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey
	alg  string // the one alg the key verifies (a JWK's alg); empty: any of its kind
}

// splitKidPath splits a "kid=path" flag value; a value without "=" is a
// path with no kid.
func splitKidPath(s string) (kid, path string) {
	if k, p, ok := strings.Cut(s, "="); ok && !strings.ContainsAny(k, `/\`) {
		return k, p
	}
	return "", s
}

// loadSecret reads an HMAC secret file ([kid=]path). One trailing newline
// is ignored.
func loadSecret(spec string) (Key, error) {
	kid, path := splitKidPath(spec)
	b, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	return Key{ID: kid, Secret: b}, nil
}

// loadPublic reads a PEM public key file ([kid=]path): a PKIX "PUBLIC
// KEY" block (RSA, ECDSA P-256, Ed25519), a PKCS#1 "RSA PUBLIC KEY", or a
// "CERTIFICATE" whose key is used.
func loadPublic(spec string) (Key, error) {
	kid, path := splitKidPath(spec)
	b, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	pub, err := parsePublicPEM(b)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %s: %v", ErrKeyFile, path, err)
	}
	return Key{ID: kid, Public: pub}, nil
}

func parsePublicPEM(b []byte) (crypto.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	switch blk.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(blk.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(blk.Bytes)
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		return c.PublicKey, nil
	}
	return nil, fmt.Errorf("PEM block %q is not a public key", blk.Type)
}

// check classifies k and refuses weak or unsupported keys.
func (k Key) check() (key, error) {
	name := k.ID
	if name == "" {
		name = "(no kid)"
	}
	bad := func(format string, args ...any) (key, error) {
		return key{}, fmt.Errorf("%w: key %s: %s", ErrKeyFile, name, fmt.Sprintf(format, args...))
	}
	if (k.Secret == nil) == (k.Public == nil) {
		return bad("exactly one of Secret and Public must be set")
	}
	if k.Secret != nil {
		if bytes.HasPrefix(bytes.TrimSpace(k.Secret), []byte("-----BEGIN")) {
			return bad("secret is a PEM block; give public keys as key files")
		}
		if len(k.Secret) < MinSecretLen {
			return bad("secret is %d bytes, want at least %d", len(k.Secret), MinSecretLen)
		}
		return key{kind: kindHMAC, k: bytes.Clone(k.Secret)}, nil
	}
	switch p := k.Public.(type) {
	case *rsa.PublicKey:
		if p.N.BitLen() < MinRSABits {
			return bad("RSA key has %d bits, want at least %d", p.N.BitLen(), MinRSABits)
		}
		return key{kind: kindRSA, k: p}, nil
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return bad("ECDSA key is on %s, only P-256 (ES256) is supported", p.Curve.Params().Name)
		}
		return key{kind: kindECDSA, k: p}, nil
	case ed25519.PublicKey:
		return key{kind: kindEd25519, k: p}, nil
	}
	return bad("unsupported public key type %T", k.Public)
}

// kindOfAlg is the key family an alg needs, or 0 for algs we refuse.
func kindOfAlg(alg string) keyKind {
	switch alg {
	case "HS256", "HS384", "HS512":
		return kindHMAC
	case "RS256", "RS384", "RS512":
		return kindRSA
	case "ES256":
		return kindECDSA
	case "EdDSA":
		return kindEd25519
	}
	return 0
}
