package auth

import (
	"errors"
	"net/http"
)

// Rejections of a token. Verify returns errors that match exactly one of
// these with errors.Is. Every one means HTTP 401 at the handshake; Reason
// gives the short text for the response body.
var (
	// ErrNoToken: the request carried no token and anonymous access is off.
	ErrNoToken = errors.New("auth: no token")
	// ErrMalformed: the token is not a well-formed JWT (segments, base64,
	// JSON, claim types), or a token source held garbage.
	ErrMalformed = errors.New("auth: malformed token")
	// ErrAlgNone: the token is unsigned ("alg": "none").
	ErrAlgNone = errors.New("auth: unsigned token")
	// ErrUnsupportedAlg: the token's alg is missing or not one we verify.
	ErrUnsupportedAlg = errors.New("auth: unsupported algorithm")
	// ErrHMACDisabled: an HMAC (HS*) token while no secret is configured,
	// including an HS256 token "signed" with an RSA public key's bytes.
	ErrHMACDisabled = errors.New("auth: HMAC tokens not accepted")
	// ErrKeyMismatch: the token's alg does not fit the kind of the key it
	// selects (say RS256 against an ECDSA key, HS256 against an RSA key).
	ErrKeyMismatch = errors.New("auth: algorithm does not match key")
	// ErrUnknownKey: the token's kid names no configured key, or the token
	// has no kid and no key is configured without one.
	ErrUnknownKey = errors.New("auth: unknown key")
	// ErrSignature: the signature does not verify.
	ErrSignature = errors.New("auth: bad signature")
	// ErrMissingExp: the token has no exp claim.
	ErrMissingExp = errors.New("auth: token has no expiry")
	// ErrExpired: exp is past (beyond the leeway).
	ErrExpired = errors.New("auth: token expired")
	// ErrNotYetValid: nbf is in the future (beyond the leeway).
	ErrNotYetValid = errors.New("auth: token not yet valid")
	// ErrIssuedInFuture: iat is in the future (beyond the leeway).
	ErrIssuedInFuture = errors.New("auth: token issued in the future")
	// ErrIssuer: an issuer is required and iss is missing or different.
	ErrIssuer = errors.New("auth: wrong issuer")
	// ErrAudience: an audience is required and aud does not contain it.
	ErrAudience = errors.New("auth: wrong audience")
	// ErrSubject: sub is missing or not a safe id (1-128 characters of
	// A-Z a-z 0-9 . _ - : @ ~).
	ErrSubject = errors.New("auth: missing or invalid subject")
	// ErrPermissions: the rooms or publish claim is not a list of valid
	// patterns.
	ErrPermissions = errors.New("auth: malformed permission claim")
)

// sentinels lists the rejections in the order classify tests them.
var sentinels = [...]error{
	ErrNoToken, ErrAlgNone, ErrUnsupportedAlg, ErrHMACDisabled, ErrKeyMismatch,
	ErrUnknownKey, ErrSignature, ErrMissingExp, ErrExpired, ErrNotYetValid,
	ErrIssuedInFuture, ErrIssuer, ErrAudience, ErrSubject, ErrPermissions,
	ErrMalformed,
}

// IsRejection reports whether err is (or wraps) one of the token
// rejections above.
func IsRejection(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// Status is the HTTP status a handshake answers for err: 200 for nil and
// 401 for every other error (all Verify errors are 401).
func Status(err error) int {
	if err == nil {
		return http.StatusOK
	}
	return http.StatusUnauthorized
}

// Reason is the short text for a handshake rejection caused by err: the
// sentinel's message without the "auth: " prefix ("token expired"), or
// "invalid token" for an error that is none of them. It does not
// allocate.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s.Error()[len("auth: "):]
		}
	}
	return "invalid token"
}

// Challenge is the WWW-Authenticate header value (RFC 6750) for a 401
// caused by err: `Bearer` when no token came, else
// `Bearer error="invalid_token"`. It does not allocate.
func Challenge(err error) string {
	if errors.Is(err, ErrNoToken) {
		return "Bearer"
	}
	return `Bearer error="invalid_token"`
}
