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
// # Keys from an identity provider
//
// Options.JWKSURL names a JSON Web Key Set (an identity provider's
// jwks_uri). Its signature keys join the key files, selected by kid; the
// set is fetched at start, refreshed by a goroutine of its own (with
// backoff after failures, and early when a token names an unknown kid),
// and a failed fetch leaves the last good set in service. Reading the set
// never blocks the caller. JWKSStatus reports it; Close stops the refresh.
package auth
