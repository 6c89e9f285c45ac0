package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxLeeway bounds Options.Leeway: clock skew is seconds, not minutes.
const MaxLeeway = 5 * time.Minute

// Options configure a Verifier. The zero value is not usable: at least one
// key is needed.
type Options struct {
	// SecretFiles are HMAC secret files, each "path" or "kid=path" (HS256,
	// HS384, HS512). A secret must be at least MinSecretLen bytes; one
	// trailing newline is ignored.
	SecretFiles []string
	// KeyFiles are PEM public key files, each "path" or "kid=path": RSA
	// (RS256/384/512, at least 2048 bits), ECDSA P-256 (ES256), Ed25519
	// (EdDSA).
	KeyFiles []string
	// Keys are keys given directly (tests, or keys from elsewhere), used
	// beside the files.
	Keys []Key
	// JWKSURL is an identity provider's JSON Web Key Set (its jwks_uri):
	// RSA, ECDSA P-256 and Ed25519 keys selected by a token's kid, beside
	// the keys above, which win on a kid both have. NewVerifier fetches it
	// once, waiting up to 10s (a failure is logged and retried), then a
	// goroutine fetches it every JWKSRefresh, after failures with
	// exponential backoff from 1s, and early (at most every JWKSEarlyGap)
	// when a token names a kid the set lacks; the token is refused
	// meanwhile and accepted once the set has its key. A failed fetch
	// leaves the last good set in service. Close stops the goroutine.
	JWKSURL string
	// JWKSRefresh is the interval between fetches; 0 means
	// DefaultJWKSRefresh.
	JWKSRefresh time.Duration
	// JWKSEarlyGap is the least time between fetches that unknown kids ask
	// for; 0 means DefaultJWKSEarlyGap.
	JWKSEarlyGap time.Duration
	// JWKSClient fetches the set; nil means a client with a 10s timeout.
	JWKSClient *http.Client
	// Logger receives the JWKS fetch failures and changes; nil discards.
	Logger *slog.Logger
	// Issuer, when set, is required in the iss claim.
	Issuer string
	// Audience, when set, must be one of the aud claim's values.
	Audience string
	// Leeway is the clock skew tolerated on exp, nbf and iat. Default 0;
	// at most MaxLeeway.
	Leeway time.Duration
	// RoomsClaim names the claim holding the join patterns. Default "rooms".
	RoomsClaim string
	// PublishClaim names the claim holding the publish patterns; when a
	// token lacks it, the join patterns also allow publishing. Default
	// "publish".
	PublishClaim string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifier checks JWTs and turns their claims into Identities. It is safe
// for concurrent use; its keys from files are immutable after NewVerifier,
// and its JWKS, if any, is replaced whole by its refresh goroutine.
type Verifier struct {
	byKid        map[string]key
	jwks         *jwksSource // nil without Options.JWKSURL
	noKid        key         // kind 0 when no key lacks a kid
	hasHMAC      bool
	parser       *jwt.Parser
	issuer       string
	audience     string
	leeway       time.Duration
	roomsClaim   string
	publishClaim string
	now          func() time.Time
}

// NewVerifier loads every key file and checks the options, reporting all
// problems at once.
func NewVerifier(o Options) (*Verifier, error) {
	v := &Verifier{
		byKid:        make(map[string]key),
		issuer:       o.Issuer,
		audience:     o.Audience,
		leeway:       o.Leeway,
		roomsClaim:   o.RoomsClaim,
		publishClaim: o.PublishClaim,
		now:          o.Now,
		// Claims are validated by Verify itself, with our own errors.
		parser: jwt.NewParser(jwt.WithoutClaimsValidation()),
	}
	if v.roomsClaim == "" {
		v.roomsClaim = "rooms"
	}
	if v.publishClaim == "" {
		v.publishClaim = "publish"
	}
	if v.now == nil {
		v.now = time.Now
	}
	var errs []error
	if o.Leeway < 0 || o.Leeway > MaxLeeway {
		errs = append(errs, fmt.Errorf("auth: leeway %v must be within 0 and %v", o.Leeway, MaxLeeway))
	}
	keys := append([]Key(nil), o.Keys...)
	for _, f := range o.SecretFiles {
		k, err := loadSecret(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		keys = append(keys, k)
	}
	for _, f := range o.KeyFiles {
		k, err := loadPublic(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		keys = append(keys, k)
	}
	for _, k := range keys {
		if err := v.add(k); err != nil {
			errs = append(errs, err)
		}
	}
	if len(o.Keys)+len(o.SecretFiles)+len(o.KeyFiles) == 0 && o.JWKSURL == "" {
		errs = append(errs, ErrNoKeys)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if o.JWKSURL != "" {
		v.jwks = newJWKSSource(o)
		v.jwks.start()
	}
	return v, nil
}

// Close stops the JWKS refresh goroutine, if any. The Verifier keeps
// verifying with the keys it holds.
func (v *Verifier) Close() {
	if v != nil && v.jwks != nil {
		v.jwks.close()
	}
}

// JWKSStatus reports the state of the JWKS; the zero value without one.
func (v *Verifier) JWKSStatus() JWKSStatus {
	if v == nil || v.jwks == nil {
		return JWKSStatus{}
	}
	return v.jwks.status()
}

func (v *Verifier) add(k Key) error {
	ck, err := k.check()
	if err != nil {
		return err
	}
	if ck.kind == kindHMAC {
		v.hasHMAC = true
	}
	if k.ID == "" {
		if v.noKid.kind != 0 {
			return fmt.Errorf("%w: more than one key without a kid", ErrKeyFile)
		}
		v.noKid = ck
		return nil
	}
	if _, dup := v.byKid[k.ID]; dup {
		return fmt.Errorf("%w: kid %q given twice", ErrKeyFile, k.ID)
	}
	v.byKid[k.ID] = ck
	return nil
}

// keyFor is the jwt.Keyfunc: it selects the key by kid and refuses an alg
// that does not fit the key's kind, which closes the door on alg "none"
// and on HS256 tokens made with a public key as the HMAC secret.
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if strings.EqualFold(alg, "none") {
		return nil, ErrAlgNone
	}
	want := kindOfAlg(alg)
	if want == 0 {
		return nil, ErrUnsupportedAlg
	}
	if want == kindHMAC && !v.hasHMAC {
		return nil, ErrHMACDisabled
	}
	k := v.noKid
	if raw, present := t.Header["kid"]; present {
		kid, ok := raw.(string)
		if !ok {
			return nil, ErrMalformed
		}
		k = v.byKid[kid]
		if k.kind == 0 && v.jwks != nil {
			if k = v.jwks.lookup(kid); k.kind == 0 {
				v.jwks.askEarly() // a rotation the set does not show yet
			}
		}
	}
	if k.kind == 0 {
		return nil, ErrUnknownKey
	}
	if k.kind != want || k.alg != "" && k.alg != alg {
		return nil, ErrKeyMismatch
	}
	return k.k, nil
}

// Verify checks token (signature, then exp, nbf, iat, iss, aud, sub and
// the permission claims) and returns the Identity it grants. Every error
// matches one sentinel of this package with errors.Is. Verify allocates
// (jwt/v5 decodes into maps); it is meant for the handshake, not for
// messages.
func (v *Verifier) Verify(token []byte) (*Identity, error) {
	if len(token) == 0 {
		return nil, ErrNoToken
	}
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(string(token), claims, v.keyFor); err != nil {
		return nil, classify(err)
	}
	return v.identity(claims)
}

// classify maps a jwt/v5 error to our sentinel.
func classify(err error) error {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return ErrMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return ErrSignature
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return ErrUnsupportedAlg
	}
	return ErrMalformed
}

// identity validates the registered claims and builds the Identity.
func (v *Verifier) identity(c jwt.MapClaims) (*Identity, error) {
	now := v.now()
	exp, err := c.GetExpirationTime()
	if err != nil {
		return nil, ErrMalformed
	}
	if exp == nil {
		return nil, ErrMissingExp
	}
	if !now.Before(exp.Add(v.leeway)) {
		return nil, ErrExpired
	}
	nbf, err := c.GetNotBefore()
	if err != nil {
		return nil, ErrMalformed
	}
	if nbf != nil && now.Before(nbf.Add(-v.leeway)) {
		return nil, ErrNotYetValid
	}
	iat, err := c.GetIssuedAt()
	if err != nil {
		return nil, ErrMalformed
	}
	if iat != nil && now.Before(iat.Add(-v.leeway)) {
		return nil, ErrIssuedInFuture
	}
	if v.issuer != "" {
		if iss, err := c.GetIssuer(); err != nil || iss != v.issuer {
			return nil, ErrIssuer
		}
	}
	if v.audience != "" {
		aud, err := c.GetAudience()
		if err != nil || !containsString(aud, v.audience) {
			return nil, ErrAudience
		}
	}
	sub, err := c.GetSubject()
	if err != nil || !ValidID(sub) {
		return nil, ErrSubject
	}
	id := &Identity{Subject: sub, Expires: exp.Time}
	if id.join, err = compileClaim(c[v.roomsClaim]); err != nil {
		return nil, err
	}
	if raw, ok := c[v.publishClaim]; ok {
		if id.publish, err = compileClaim(raw); err != nil {
			return nil, err
		}
		id.ownPublish = true
	}
	return id, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ValidID reports whether s is a safe id: 1-128 characters of A-Z a-z
// 0-9 . _ - : @ ~ (the room-name alphabet, so ids are safe in logs,
// metrics labels and room names).
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !idByte(s[i]) {
			return false
		}
	}
	return true
}

func idByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '.' || c == '_' || c == '-' || c == ':' || c == '@' || c == '~':
		return true
	}
	return false
}
