package config

import (
	"flag"
	"fmt"
	"strings"
)

// EnvPrefix prefixes every flag's environment-variable twin: the flag
// -max-message is also read from WSGATE_MAX_MESSAGE.
const EnvPrefix = "WSGATE_"

// byteSize is a flag.Value for sizes written as 65536, 64KiB or 16MiB,
// stored in an int or int64 field.
type byteSize[T int | int64] struct{ p *T }

func (b byteSize[T]) String() string {
	if b.p == nil {
		return "0"
	}
	return FormatBytes(int64(*b.p))
}

// Type names the value kind in -help.
func (byteSize[T]) Type() string { return "size" }

func (b byteSize[T]) Set(s string) error {
	n, err := ParseBytes(s)
	if err != nil {
		return err
	}
	*b.p = T(n)
	return nil
}

type stringList struct{ p *[]string }

func (l stringList) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

// Type names the value kind in -help.
func (stringList) Type() string { return "list" }

func (l stringList) Set(s string) error {
	*l.p = (*l.p)[:0]
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			*l.p = append(*l.p, f)
		}
	}
	return nil
}

// ParseBytes parses a byte count: a plain integer or one with a B, KiB,
// MiB or GiB suffix (KB, MB and GB mean the same binary units).
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GiB", 1 << 30}, {"GB", 1 << 30}, {"MiB", 1 << 20}, {"MB", 1 << 20}, {"KiB", 1 << 10}, {"KB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suf) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suf)), u.m
			break
		}
	}
	var n int64
	if _, err := fmt.Sscanf(t, "%d", &n); err != nil || fmt.Sprint(n) != t {
		return 0, fmt.Errorf("bad byte size %q", s)
	}
	return n * mult, nil
}

// FormatBytes writes n in the largest binary unit that divides it.
func FormatBytes(n int64) string {
	switch {
	case n != 0 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n != 0 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n != 0 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprint(n)
}

// Bind defines every field of c as a flag on fs, with c's current values
// as defaults. Load parses the command line, the twins and the file.
func (c *Config) Bind(fs *flag.FlagSet) {
	fs.StringVar(&c.File, "config", c.File, "[general] TOML file with settings (keys are flag names); flags and WSGATE_* twins override it")
	// Listener.
	fs.StringVar(&c.Listen, "listen", c.Listen, "[listener] WebSocket listen address (host:port)")
	fs.BoolVar(&c.ReusePort, "reuseport", c.ReusePort, "[listener] set SO_REUSEPORT so several processes share -listen")
	fs.StringVar(&c.EchoPath, "echo-path", c.EchoPath, "[endpoints] path of the echo endpoint (empty disables it)")
	fs.StringVar(&c.RoomPrefix, "room-prefix", c.RoomPrefix, "[endpoints] path prefix of the room endpoint: PREFIX+NAME joins room NAME (empty disables it)")
	fs.BoolVar(&c.EchoSelf, "echo-self", c.EchoSelf, "[endpoints] room members also receive their own messages")
	fs.StringVar(&c.MuxPath, "mux-path", c.MuxPath, "[endpoints] path of the multi-room endpoint (JSON join/leave/publish commands; empty disables it)")
	c.Stomp.bind(fs)
	fs.BoolVar(&c.DevMode, "dev", c.DevMode, "[security] development mode: user id from ?user=, no token required, any Origin; never in production")
	fs.StringVar(&c.Admin, "admin", c.Admin, "[admin] admin HTTP listener for the publish API, stats, metrics and health (empty disables it)")
	fs.StringVar(&c.APIKey, "api-key", c.APIKey, "[admin] key required on admin API requests (prefer -api-key-file or WSGATE_API_KEY: flags show in ps)")
	fs.StringVar(&c.APIKeyFile, "api-key-file", c.APIKeyFile, "[admin] file holding the admin API key")
	fs.Var(byteSize[int64]{&c.SendQueue}, "send-queue", "[outbound] most bytes queued for one connection before the slow-consumer policy acts")
	fs.StringVar(&c.SlowPolicy, "slow-policy", c.SlowPolicy, "[outbound] slow consumer policy: close (1008 \"slow consumer\") or drop-oldest (discard oldest queued messages)")
	fs.IntVar(&c.WorkerQueue, "worker-queue", c.WorkerQueue, "[engine] jobs each worker may have waiting before publishers wait")
	fs.Var(stringList{&c.Origins}, "origins", "[security] comma-separated Origin allow-list: exact origins (scheme://host[:port]), https://*.example.com patterns, null; empty admits non-browser clients and pages whose Origin has the host and port of the request's Host header; * needs -allow-any-origin")
	fs.BoolVar(&c.AllowAnyOrigin, "allow-any-origin", c.AllowAnyOrigin, "[security] let -origins contain * (every web page may connect; logged as a warning)")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "[security] PEM certificate chain: serve wss (TLS 1.2+) on the listener; SIGHUP reloads it")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "[security] PEM private key for -tls-cert")
	fs.IntVar(&c.TLSHandshakes, "tls-handshakes", c.TLSHandshakes, "[security] TLS handshakes in progress at once (each on a short-lived goroutine); more wait within -handshake-timeout")
	fs.Var(stringList{&c.AuthSecretFiles}, "auth-secret-file", "[auth] comma-separated HMAC secret files ([kid=]path, 32+ bytes) for HS256/384/512 tokens")
	fs.Var(stringList{&c.AuthKeyFiles}, "auth-key-file", "[auth] comma-separated PEM public key files ([kid=]path: RSA, ECDSA P-256, Ed25519) for RS*/ES256/EdDSA tokens")
	fs.StringVar(&c.AuthIssuer, "auth-issuer", c.AuthIssuer, "[auth] required iss claim (empty: not checked)")
	fs.StringVar(&c.AuthAudience, "auth-audience", c.AuthAudience, "[auth] required aud value (empty: not checked)")
	fs.DurationVar(&c.AuthLeeway, "auth-leeway", c.AuthLeeway, "[auth] clock skew tolerated on exp, nbf and iat (at most 5m)")
	fs.StringVar(&c.AuthRoomsClaim, "auth-rooms-claim", c.AuthRoomsClaim, "[auth] claim listing the room patterns a token may join (chat.*, news.>)")
	fs.StringVar(&c.AuthPublishClaim, "auth-publish-claim", c.AuthPublishClaim, "[auth] claim listing the room patterns a token may publish to (absent: the join patterns)")
	fs.DurationVar(&c.AuthExpiryGrace, "auth-expiry-grace", c.AuthExpiryGrace, "[auth] how long an open connection may outlive its token's exp before close 4001 \"token expired\"")
	fs.StringVar(&c.AuthJWKSURL, "auth-jwks-url", c.AuthJWKSURL, "[auth] URL of an identity provider's JWKS (RS*/ES256/EdDSA keys by kid), fetched at start and refreshed in the background")
	fs.DurationVar(&c.AuthJWKSRefresh, "auth-jwks-refresh", c.AuthJWKSRefresh, "[auth] how often the JWKS is fetched again; a token with an unknown kid asks for an early fetch")
	fs.BoolVar(&c.Anonymous, "anonymous", c.Anonymous, "[auth] admit clients without a token (a bad token is still refused with 401)")
	// Rate and connection limits.
	fs.Float64Var(&c.RateMsgs, "rate-msgs", c.RateMsgs, "[rate limits] messages per second one connection may send (0: unlimited)")
	fs.IntVar(&c.RateMsgsBurst, "rate-msgs-burst", c.RateMsgsBurst, "[rate limits] message burst per connection")
	fs.Var(byteSize[int64]{&c.RateBytes}, "rate-bytes", "[rate limits] message bytes per second one connection may send (0: unlimited)")
	fs.Var(byteSize[int64]{&c.RateBytesBurst}, "rate-bytes-burst", "[rate limits] byte burst per connection (at least max-message)")
	fs.Float64Var(&c.UserRateMsgs, "user-rate-msgs", c.UserRateMsgs, "[rate limits] messages per second across all of one user's connections (0: unlimited)")
	fs.IntVar(&c.UserRateMsgsBurst, "user-rate-msgs-burst", c.UserRateMsgsBurst, "[rate limits] message burst per user")
	fs.Var(byteSize[int64]{&c.UserRateBytes}, "user-rate-bytes", "[rate limits] message bytes per second per user (0: unlimited)")
	fs.Var(byteSize[int64]{&c.UserRateBytesBurst}, "user-rate-bytes-burst", "[rate limits] byte burst per user (at least max-message)")
	fs.Float64Var(&c.RateFrames, "rate-frames", c.RateFrames, "[rate limits] frames per second one connection may send, control frames and fragments included (over it: 1008; 0: unlimited)")
	fs.IntVar(&c.RateFramesBurst, "rate-frames-burst", c.RateFramesBurst, "[rate limits] frame burst per connection")
	fs.IntVar(&c.RateCloseAfter, "rate-close-after", c.RateCloseAfter, "[rate limits] the violation that closes with 1008; earlier ones drop the message and send an error")
	fs.Float64Var(&c.ConnRate, "conn-rate", c.ConnRate, "[rate limits] new connections per second from one source address (429 past it; 0: unlimited)")
	fs.IntVar(&c.ConnRateBurst, "conn-rate-burst", c.ConnRateBurst, "[rate limits] new-connection burst per source address")
	fs.IntVar(&c.MaxConns, "max-conns", c.MaxConns, "[limits] connections held in total (503 with Retry-After past it; 0: unlimited)")
	fs.IntVar(&c.MaxConnsPerUser, "max-conns-per-user", c.MaxConnsPerUser, "[limits] connections one user may hold (429; 0: unlimited)")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", c.MaxConnsPerIP, "[limits] connections one source address may hold (429; 0: unlimited)")
	fs.IntVar(&c.MaxPendingHandshakesPerIP, "max-pending-handshakes-per-ip", c.MaxPendingHandshakesPerIP, "[limits] connections one source address may have in the handshake (TLS or WebSocket) at once; more are closed at accept (0: unlimited)")
	fs.IntVar(&c.MaxPendingHandshakes, "max-pending-handshakes", c.MaxPendingHandshakes, "[limits] connections in the handshake at once, all sources; one more closes the oldest (0: unlimited)")
	fs.BoolVar(&c.NoLimits, "no-limits", c.NoLimits, "[rate limits] turn off every rate limit and connection maximum (benchmarks, load tests from one address); size limits stay")
	fs.IntVar(&c.IPv6Prefix, "ipv6-prefix", c.IPv6Prefix, "[limits] IPv6 sources are grouped by this prefix length for per-address limits")
	fs.Var(stringList{&c.Subprotocols}, "subprotocols", "[endpoints] comma-separated subprotocols the server speaks, in preference order")
	// Limits.
	fs.Var(byteSize[int64]{&c.MaxMessage}, "max-message", "[limits] largest message accepted (bigger closes with 1009)")
	fs.Var(byteSize[int64]{&c.MaxFrame}, "max-frame", "[limits] largest frame accepted; 0 means max-message")
	fs.IntVar(&c.MaxFragments, "max-fragments", c.MaxFragments, "[limits] most frames one message may span (more closes with 1009; 0: unlimited)")
	fs.Var(byteSize[int64]{&c.RoomMaxMessage}, "room-max-message", "[limits] largest message on the fan-out endpoints (/room/NAME, /ws, publish API); 0 means max-message")
	fs.Var(byteSize[int64]{&c.RoomMaxFrame}, "room-max-frame", "[limits] largest frame on the fan-out endpoints; 0 means max-frame")
	fs.Var(byteSize[int]{&c.MaxHeader}, "max-header", "[limits] largest handshake request accepted (bigger gets 431)")
	// Timeouts.
	fs.DurationVar(&c.HandshakeTimeout, "handshake-timeout", c.HandshakeTimeout, "[timeouts] time allowed from accept to a complete upgrade request")
	fs.DurationVar(&c.PingInterval, "ping-interval", c.PingInterval, "[timeouts] ping a connection silent this long (0 disables)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "[timeouts] close a connection silent this long, pongs included (0 disables)")
	fs.DurationVar(&c.CloseTimeout, "close-timeout", c.CloseTimeout, "[timeouts] wait this long for the peer's close frame after sending ours")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", c.WriteTimeout, "[timeouts] a socket refusing bytes this long marks a slow consumer")
	// Compression.
	fs.BoolVar(&c.Deflate, "deflate", c.Deflate, "[compression] offer permessage-deflate (RFC 7692); idle connections hold no compression state")
	fs.IntVar(&c.DeflateLevel, "deflate-level", c.DeflateLevel, "[compression] flate level, 1 (fastest) to 9 (smallest)")
	fs.IntVar(&c.DeflateThreshold, "deflate-threshold", c.DeflateThreshold, "[compression] messages shorter than this many bytes go uncompressed")
	fs.BoolVar(&c.DeflateContextTakeover, "deflate-context-takeover", c.DeflateContextTakeover, "[compression] keep a compression context per connection across messages: better ratios, about 850 KiB per connection that negotiates it (measured in frame/deflate); for few connections only")
	// Shutdown.
	fs.IntVar(&c.DrainBatch, "drain-batch", c.DrainBatch, "[shutdown] connections closed per batch during a graceful drain")
	fs.DurationVar(&c.DrainInterval, "drain-interval", c.DrainInterval, "[shutdown] pause between drain batches")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", c.DrainTimeout, "[shutdown] bound on the whole drain; what is still open then is dropped")
	fs.BoolVar(&c.Restart, "restart", c.Restart, "[shutdown] close with 1012 (service restart) instead of 1001 (going away)")
	// Logging and diagnostics.
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "[logging] debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "[logging] text or json")
	fs.BoolVar(&c.Metrics, "metrics", c.Metrics, "[admin] record per-message metrics (counts, bytes, compression, loop latency); connection and policy metrics are always on")
	fs.BoolVar(&c.Pprof, "pprof", c.Pprof, "[admin] serve net/http/pprof under /debug/pprof/ on the admin listener")
	// Engine.
	fs.IntVar(&c.Pollers, "pollers", c.Pollers, "[engine] event-loop goroutines")
	fs.IntVar(&c.Workers, "workers", c.Workers, "[engine] worker pool size for handler work")
	fs.Var(byteSize[int]{&c.ReadBuffer}, "read-buffer", "[engine] shared read buffer per poller")
	fs.DurationVar(&c.Tick, "tick", c.Tick, "[engine] resolution of the deadline timer wheel")
	fs.BoolVar(&c.IOUring, "io-uring", c.IOUring, "[engine] send each loop's replies to a readiness batch with one io_uring_enter, not a write per connection (writes where io_uring is unavailable)")
	c.bindSockJS(fs)
	c.bindHistory(fs)
	c.bindCluster(fs)
}

// EnvName returns the environment-variable twin of a flag name.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}
