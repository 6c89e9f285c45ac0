// Package auth authenticates WebSocket handshakes with JWTs
// (github.com/golang-jwt/jwt/v5) and turns a token's claims into an
// Identity: the connection's user id, its expiry, and the rooms it may
// join and publish to.
//
// # Verifying
//
// A Verifier is built once from Options: HMAC secrets from files (HS256,
// HS384, HS512) and PEM public keys (RSA for RS256/384/512, ECDSA P-256
// for ES256, Ed25519 for EdDSA), each file optionally "kid=path". A token
// with a kid uses that key; a token without one uses the single key
// configured without a kid. The alg must fit the selected key's kind, so
// "none", algs we do not list (PS*, ES384, ...), and an HS256 token made
// with an RSA public key's bytes as the HMAC secret (the key-confusion
// attack) are refused before any signature check. Then: signature, exp
// (required), nbf and iat (not in the future), with Options.Leeway of
// clock skew, iss and aud when configured, sub (required, a ValidID).
// Every refusal is one sentinel error (errors.Is); Status maps each to
// 401 and Reason to a short text for the response body. Verify allocates
// (jwt/v5 decodes into maps), which is fine once per handshake.
//
// # Permissions
//
// The rooms claim (default "rooms", a string or a list of strings) holds
// glob patterns for joining; the publish claim (default "publish"), when
// present, holds the patterns for publishing, otherwise the join patterns
// allow publishing too. A token without a rooms claim joins nothing. See
// Patterns for the syntax ('*' within one '.'-separated segment, a final
// ">" or "**" for the rest). Patterns are compiled in Verify;
// Identity.CanJoin and CanPublish do not allocate.
//
// # Tokens in the handshake
//
// TokenCollector gathers the token from the gobwas/ws hooks without
// allocating: Query in OnRequest, Header for "Authorization" in OnHeader,
// Protocol in ProtocolCustom (where Protocols then picks a real
// subprotocol, never the token). Precedence: header > protocol > query;
// the deciding source's malformation is an error, never "no token".
//
// # Configuration the server wires (proposed config.Config fields)
//
//	AuthSecretFiles []string  -auth-secret-file   HMAC secret files, [kid=]path, comma-separated. Default none.
//	AuthKeyFiles    []string  -auth-key-file      PEM public key files (RSA, ECDSA P-256, Ed25519), [kid=]path. Default none.
//	AuthIssuer      string    -auth-issuer        required iss claim; empty: not checked. Default "".
//	AuthAudience    string    -auth-audience      required aud value; empty: not checked. Default "".
//	AuthLeeway      Duration  -auth-leeway        clock skew tolerated on exp/nbf/iat, at most 5m. Default 5s.
//	AuthRoomsClaim  string    -auth-rooms-claim   claim with join patterns. Default "rooms".
//	AuthPublishClaim string   -auth-publish-claim claim with publish patterns. Default "publish".
//	AuthExpiryGrace Duration  -auth-expiry-grace  how long past exp an open connection may stay before close 4001 "token expired". Default 0.
//	Anonymous       bool      -anonymous          admit requests without a token (dev only); a request with a bad token is still 401. Default false.
//
// With neither secret nor key files set and Anonymous false, Validate
// should fail for a non-loopback listener (a production listener requires
// tokens).
package auth
