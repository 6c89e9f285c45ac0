// Package config holds wsgate's one configuration struct, its defaults, its
// validation (which reports every problem at once) and its binding to
// command-line flags with WSGATE_* environment-variable twins.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"strings"
	"time"
)

// Config is the whole of wsgate's configuration. Each field's comment gives
// its default; Default returns a Config holding all of them.
type Config struct {
	// File is the TOML file the settings were read from, if any (Load);
	// flags and WSGATE_* twins override what it says. Default none.
	File string

	// Listen is the WebSocket listener's address. Default 127.0.0.1:8080.
	Listen string
	// ReusePort sets SO_REUSEPORT so several wsgate processes share Listen.
	ReusePort bool
	// EchoPath is the path of the echo endpoint; empty disables it.
	// Default /echo.
	EchoPath string
	// RoomPrefix is the path prefix of the room endpoint: a connection to
	// RoomPrefix+NAME joins room NAME, and each message it sends goes to
	// every other member. Empty disables it. Default /room/.
	RoomPrefix string
	// MuxPath is the path of the multi-room endpoint, where a connection
	// joins, leaves and publishes to rooms with JSON commands (see README).
	// Empty disables it. Default /ws.
	MuxPath string
	// EchoSelf makes a room member receive its own messages too.
	EchoSelf bool
	// Stomp configures the STOMP endpoint (see STOMP).
	Stomp STOMP
	// DevMode allows what a production listener must not: the user id from
	// a ?user= query parameter without authentication, requests without a
	// token (as Anonymous), and any Origin. Default false.
	DevMode bool

	// TLSCert and TLSKey are PEM files; when both are set the listener
	// serves wss (TLS 1.2 or later) on the event loop. SIGHUP reloads them
	// without dropping connections.
	TLSCert string
	TLSKey  string
	// TLSHandshakes caps the TLS handshakes in progress at once (each runs
	// on a short-lived goroutine); more wait their turn within
	// HandshakeTimeout. Default 1024.
	TLSHandshakes int

	// AuthSecretFiles are HMAC (HS256/384/512) secret files, "path" or
	// "kid=path". Default none.
	AuthSecretFiles []string
	// AuthKeyFiles are PEM public keys (RSA, ECDSA P-256, Ed25519), "path"
	// or "kid=path", for RS*/ES256/EdDSA tokens. Default none.
	AuthKeyFiles []string
	// AuthJWKSURL is the address of a JSON Web Key Set (an identity
	// provider's jwks_uri) whose public keys verify RS*/ES256/EdDSA
	// tokens, selected by kid, beside any key files. Fetched at start
	// (wsgate starts even when the fetch fails, and keeps trying), then
	// every AuthJWKSRefresh, and early for a token with an unknown kid.
	// https, or http on a loopback address. Default none.
	AuthJWKSURL string
	// AuthJWKSRefresh is the interval between JWKS fetches. Default 10m.
	AuthJWKSRefresh time.Duration
	// AuthIssuer, when set, is required in a token's iss claim.
	AuthIssuer string
	// AuthAudience, when set, must be among a token's aud values.
	AuthAudience string
	// AuthLeeway is the clock skew tolerated on exp, nbf and iat. Default 5s.
	AuthLeeway time.Duration
	// AuthRoomsClaim names the claim with the room patterns a token may
	// join. Default "rooms".
	AuthRoomsClaim string
	// AuthPublishClaim names the claim with the patterns a token may
	// publish to; without it the join patterns allow publishing. Default
	// "publish".
	AuthPublishClaim string
	// AuthExpiryGrace is how long past its token's exp an open connection
	// may stay before it is closed with 4001 "token expired". Default 0.
	AuthExpiryGrace time.Duration
	// Anonymous admits requests that carry no token (a request with a bad
	// token is still refused). Without it, and without DevMode, a token is
	// required. Default false.
	Anonymous bool
	// AllowAnyOrigin is needed for "*" in Origins: admitting every
	// browser origin is logged as a warning at start.
	AllowAnyOrigin bool

	// RateMsgs and RateMsgsBurst limit the messages per second one
	// connection may send. Defaults 100/s, burst 200; 0 is unlimited.
	RateMsgs      float64
	RateMsgsBurst int
	// RateBytes and RateBytesBurst limit the message bytes per second one
	// connection may send. Defaults 1 MiB/s, burst 2 MiB (keep the burst
	// at least MaxMessage); 0 is unlimited.
	RateBytes      int64
	RateBytesBurst int64
	// UserRateMsgs/UserRateBytes (and bursts) are the same limits across
	// all of one user's connections. Defaults 500/s burst 1000, 4 MiB/s
	// burst 8 MiB.
	UserRateMsgs       float64
	UserRateMsgsBurst  int
	UserRateBytes      int64
	UserRateBytesBurst int64
	// RateCloseAfter is the rate-limit violation that closes a connection
	// with 1008 "rate limit exceeded"; the ones before it drop the message
	// and send the client an error. Default 10.
	RateCloseAfter int
	// RateFrames and RateFramesBurst limit the frames per second one
	// connection may send, whatever they carry (data, continuations,
	// pings, pongs, close): a connection over it is closed with 1008
	// "frame rate limit exceeded", since a frame of a message cannot be
	// dropped alone. Defaults 2000/s, burst 4000 (20 times the message
	// rate: clients send one frame per message, or a few); 0 is unlimited.
	RateFrames      float64
	RateFramesBurst int
	// ConnRate and ConnRateBurst limit new connections per second from one
	// source address (IPv6: one /IPv6Prefix network); past it, 429 with
	// Retry-After. Defaults 20/s, burst 50; 0 is unlimited.
	ConnRate      float64
	ConnRateBurst int
	// MaxConns is the most connections held (503 with Retry-After past
	// it). Default 0: unlimited (the descriptor limit applies).
	MaxConns int
	// MaxConnsPerUser is the most connections one user holds (429).
	// Default 16; 0 is unlimited.
	MaxConnsPerUser int
	// MaxConnsPerIP is the most connections one source address holds
	// (429). Default 256; 0 is unlimited.
	MaxConnsPerIP int
	// IPv6Prefix groups IPv6 sources for the per-address limits. Default 64.
	IPv6Prefix int
	// MaxPendingHandshakesPerIP is the most connections one source
	// address (IPv6: one /IPv6Prefix network) may have accepted and not
	// yet upgraded (TLS and WebSocket handshakes in progress); one more is
	// closed as soon as it is accepted, before it costs a read. Default
	// 64 (above -conn-rate-burst, which bounds an honest burst); 0 is
	// unlimited.
	MaxPendingHandshakesPerIP int
	// MaxPendingHandshakes is the most connections accepted and not yet
	// upgraded, all sources together; when one more is accepted, the
	// oldest pending one is closed (a stalled handshake, in practice),
	// rather than the newest refused. Default 16384; 0 is unlimited.
	MaxPendingHandshakes int
	// NoLimits turns off every rate limit and connection maximum above
	// (size limits stay): for benchmarks and load tests that open
	// thousands of connections from one address. Default false.
	NoLimits bool

	// Admin is the admin HTTP listener (publish API, stats, metrics,
	// health); empty disables it. Default 127.0.0.1:9090.
	Admin string
	// APIKey, when set, is required on admin API requests as
	// "Authorization: Bearer KEY" or "X-API-Key: KEY". Prefer
	// APIKeyFile or the WSGATE_API_KEY environment variable to a flag,
	// which other users can read in the process list.
	APIKey string
	// APIKeyFile names a file holding the API key (trailing newline ignored).
	APIKeyFile string

	// Deflate offers permessage-deflate (RFC 7692) to clients that ask.
	// In the default mode nothing is held per idle connection. Default true.
	Deflate bool
	// DeflateLevel is the flate level, 1 (fastest, default) to 9.
	DeflateLevel int
	// DeflateThreshold: messages shorter than this go uncompressed.
	// Default 128 bytes.
	DeflateThreshold int
	// DeflateContextTakeover keeps a compression context per connection
	// across messages (better ratios for small repetitive messages) at a
	// cost of about 850 KiB per connection that uses it (a level-1 flate
	// writer, about 810 KiB, and an inflate window, about 37 KiB). Only for deployments with few
	// connections. Default false.
	DeflateContextTakeover bool

	// SendQueue is the most bytes that may wait in one connection's
	// outbound queue; past it the slow-consumer policy acts. Default 512 KiB.
	SendQueue int64
	// SlowPolicy is what happens to a slow consumer, whose queue passes
	// SendQueue or whose socket refuses bytes for WriteTimeout: "close"
	// (default: close 1008 "slow consumer") or "drop-oldest" (discard the
	// oldest queued messages, counted, and keep the connection).
	SlowPolicy string
	// WorkerQueue is the number of jobs each worker may have waiting;
	// publishers wait when it is full. Default 4096.
	WorkerQueue int

	// DrainBatch is how many connections a graceful shutdown closes at a
	// time. Default 1000.
	DrainBatch int
	// DrainInterval is the pause between drain batches, so clients do not
	// all reconnect at once. Default 100ms.
	DrainInterval time.Duration
	// DrainTimeout bounds the whole drain; connections still open then are
	// dropped. Default 30s.
	DrainTimeout time.Duration
	// Restart makes shutdown close with 1012 (service restart) instead of
	// 1001 (going away), telling clients to come back soon.
	Restart bool

	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string
	// LogFormat is text or json. Default text.
	LogFormat string
	// Metrics records per-message metrics (message and byte counts,
	// compression, loop latency). Connection, handshake and policy metrics
	// are always on. Default true; off only to measure what metrics cost.
	Metrics bool
	// Pprof serves net/http/pprof under /debug/pprof/ on the admin listener.
	Pprof bool

	// Logger receives the server's logs; nil discards them. Not a flag.
	Logger *slog.Logger

	// MaxMessage is the largest message (after reassembly) accepted, in
	// bytes; larger ones close the connection with 1009. Default 64 KiB.
	MaxMessage int64
	// MaxFrame is the largest single frame accepted; 0 means MaxMessage.
	MaxFrame int64
	// MaxFragments is the most frames one message may span; a message in
	// more closes the connection with 1009. Default 1024 (64-byte
	// fragments of a 64 KiB message); 0 is unlimited.
	MaxFragments int
	// RoomMaxMessage and RoomMaxFrame override MaxMessage and MaxFrame on
	// the fan-out endpoints (/room/NAME, /ws and the publish API), where a
	// message is queued once per member; 0 means the same as MaxMessage
	// and MaxFrame.
	RoomMaxMessage int64
	RoomMaxFrame   int64
	// MaxHeader is the largest handshake request (request line and headers)
	// accepted; larger ones get 431. Default 8 KiB.
	MaxHeader int

	// HandshakeTimeout bounds the time from accept to a complete request.
	// Default 5s.
	HandshakeTimeout time.Duration
	// PingInterval is how long a connection may be silent before the server
	// pings it. Default 30s; 0 disables pings.
	PingInterval time.Duration
	// IdleTimeout closes a connection that has sent nothing (not even a
	// pong) for this long. Default 75s; 0 disables it.
	IdleTimeout time.Duration
	// CloseTimeout is how long a server-initiated close waits for the
	// peer's close frame before dropping TCP. Default 5s.
	CloseTimeout time.Duration
	// WriteTimeout is how long a connection's socket may refuse bytes
	// before the connection is treated as a slow consumer. Default 20s.
	WriteTimeout time.Duration

	// Pollers is the number of event-loop goroutines. Default GOMAXPROCS.
	Pollers int
	// Workers is the size of the worker pool for handler work. Default
	// 2×GOMAXPROCS.
	Workers int
	// ReadBuffer is each poller's shared read buffer, in bytes. Default 64 KiB.
	ReadBuffer int
	// Tick is the resolution of the deadline timer wheel. Default 250ms.
	Tick time.Duration
	// IOUring makes each event loop send the replies to one readiness
	// batch with one io_uring_enter instead of a write system call per
	// connection. Where io_uring is unavailable the loops write as
	// without it, and the start-up log and wsgate_io_uring_loops say so.
	IOUring bool

	// Origins is the Origin allow-list: exact origins ("https://app.example.com"),
	// patterns with one leading "*." host label ("https://*.example.com"),
	// "null" to admit the opaque origin, "*" for every origin (only with
	// AllowAnyOrigin). Requests without an Origin header (non-browser
	// clients) always pass; with the list empty, a page passes only when
	// its Origin's host and port are those of the request's Host header
	// (the scheme is not compared: behind a TLS-terminating proxy the page
	// is https and wsgate sees ws); DevMode admits any.
	Origins []string
	// SockJS configures the SockJS fallback served on the same listener.
	SockJS SockJS

	// Subprotocols lists the subprotocols the server speaks, in preference
	// order; the first one the client offers is selected.
	Subprotocols []string

	// History lists the rooms that keep history (offsets on their
	// messages, resume from an offset) and how much; the first rule that
	// matches a room applies. Default none: no room keeps history.
	History []HistoryRule
	// HistoryMemory bounds the memory of all rooms' history together;
	// past it the oldest messages are dropped first. Default 256 MiB.
	HistoryMemory int64
	// HistoryStore says where history lives: "memory" (each process
	// its own), "jetstream" (a JetStream stream shared by the nodes of a
	// cluster; needs NATS) or "auto" (jetstream in a cluster, memory
	// otherwise). Default "auto".
	HistoryStore string
	// HistoryReplicas is the number of NATS servers that hold the
	// history stream. Default 1.
	HistoryReplicas int
	// HistoryStreamBytes bounds the history stream; past it its oldest
	// messages go. Default 1 GiB.
	HistoryStreamBytes int64

	// Cluster joins this node to other wsgate nodes on NATS; its zero
	// value is a node on its own (see Cluster).
	Cluster
}

// Default returns the configuration wsgate runs with when given no flags.
func Default() Config {
	n := runtime.GOMAXPROCS(0)
	return Config{
		Listen:           "127.0.0.1:8080",
		EchoPath:         "/echo",
		RoomPrefix:       "/room/",
		MuxPath:          "/ws",
		Stomp:            DefaultSTOMP(),
		Admin:            "127.0.0.1:9090",
		SendQueue:        512 << 10,
		Deflate:          true,
		DeflateLevel:     1,
		DeflateThreshold: 128,
		SlowPolicy:       "close",
		WorkerQueue:      4096,
		DrainBatch:       1000,
		DrainInterval:    100 * time.Millisecond,
		DrainTimeout:     30 * time.Second,
		LogLevel:         "info",
		Metrics:          true,
		LogFormat:        "text",
		MaxMessage:       64 << 10,
		MaxHeader:        8 << 10,
		HandshakeTimeout: 5 * time.Second,
		PingInterval:     30 * time.Second,
		IdleTimeout:      75 * time.Second,
		CloseTimeout:     5 * time.Second,
		WriteTimeout:     20 * time.Second,
		Pollers:          n,
		Workers:          2 * n,
		ReadBuffer:       64 << 10,
		IOUring:          true,
		Tick:             250 * time.Millisecond,

		TLSHandshakes:      1024,
		AuthLeeway:         5 * time.Second,
		AuthJWKSRefresh:    10 * time.Minute,
		AuthRoomsClaim:     "rooms",
		AuthPublishClaim:   "publish",
		RateMsgs:           100,
		RateMsgsBurst:      200,
		RateBytes:          1 << 20,
		RateBytesBurst:     2 << 20,
		UserRateMsgs:       500,
		UserRateMsgsBurst:  1000,
		UserRateBytes:      4 << 20,
		UserRateBytesBurst: 8 << 20,
		RateCloseAfter:     10,
		ConnRate:           20,
		ConnRateBurst:      50,
		MaxConnsPerUser:    16,
		MaxConnsPerIP:      256,
		IPv6Prefix:         64,
		SockJS:             DefaultSockJS(),
		HistoryMemory:      256 << 20,
		HistoryStore:       "auto",
		HistoryReplicas:    1,
		HistoryStreamBytes: 1 << 30,
		Cluster:            defaultCluster(),

		// Overload: every inbound frame metered, stalled handshakes capped.
		RateFrames:                2000,
		RateFramesBurst:           4000,
		MaxFragments:              1024,
		MaxPendingHandshakesPerIP: 64,
		MaxPendingHandshakes:      16384,
	}
}

// AuthEnabled reports whether tokens can be verified (a secret or key is
// configured).
func (c *Config) AuthEnabled() bool {
	return len(c.AuthSecretFiles)+len(c.AuthKeyFiles) > 0 || c.AuthJWKSURL != ""
}

// AdmitsAnonymous reports whether requests without a token are admitted.
func (c *Config) AdmitsAnonymous() bool { return c.Anonymous || c.DevMode }

// Validate reports every problem in c at once, joined into one error.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("config: "+format, args...)) }
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen %q: %v", c.Listen, err)
	}
	if c.EchoPath != "" && !strings.HasPrefix(c.EchoPath, "/") {
		bad("echo-path %q must start with /", c.EchoPath)
	}
	if c.MuxPath != "" && !strings.HasPrefix(c.MuxPath, "/") {
		bad("mux-path %q must start with /", c.MuxPath)
	}
	c.Stomp.validate(bad)
	if c.RoomPrefix != "" && (!strings.HasPrefix(c.RoomPrefix, "/") || !strings.HasSuffix(c.RoomPrefix, "/")) {
		bad("room-prefix %q must start and end with /", c.RoomPrefix)
	}
	if c.Admin != "" {
		if _, _, err := net.SplitHostPort(c.Admin); err != nil {
			bad("admin %q: %v", c.Admin, err)
		}
	}
	if c.APIKey != "" && c.APIKeyFile != "" {
		bad("api-key and api-key-file are exclusive")
	}
	if c.SendQueue < 4<<10 || c.SendQueue > 1<<30 {
		bad("send-queue %d must be between 4 KiB and 1 GiB", c.SendQueue)
	}
	if c.SlowPolicy != "close" && c.SlowPolicy != "drop-oldest" {
		bad("slow-policy %q must be close or drop-oldest", c.SlowPolicy)
	}
	if c.WorkerQueue < 1 || c.WorkerQueue > 1<<20 {
		bad("worker-queue %d must be between 1 and 1Mi", c.WorkerQueue)
	}
	if c.DeflateLevel < 1 || c.DeflateLevel > 9 {
		bad("deflate-level %d must be between 1 and 9", c.DeflateLevel)
	}
	if c.DeflateThreshold < 0 {
		bad("deflate-threshold %d must be >= 0", c.DeflateThreshold)
	}
	if c.DrainBatch < 1 {
		bad("drain-batch %d must be at least 1", c.DrainBatch)
	}
	if c.DrainInterval < 0 || c.DrainTimeout <= 0 {
		bad("drain-interval must be >= 0 and drain-timeout > 0")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log-level %q must be debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log-format %q must be text or json", c.LogFormat)
	}
	if c.MaxMessage < 1 || c.MaxMessage > 1<<30 {
		bad("max-message %d must be between 1 and 1 GiB", c.MaxMessage)
	}
	if c.MaxFrame < 0 || c.MaxFrame > c.MaxMessage {
		bad("max-frame %d must be between 0 (same as max-message) and max-message %d", c.MaxFrame, c.MaxMessage)
	}
	if c.RoomMaxMessage < 0 || c.RoomMaxMessage > 1<<30 {
		bad("room-max-message %d must be between 0 (same as max-message) and 1 GiB", c.RoomMaxMessage)
	}
	if c.RoomMaxFrame < 0 || c.RoomMaxFrame > c.RoomMessageLimit() {
		bad("room-max-frame %d must be between 0 (same as max-frame) and the room message limit %d", c.RoomMaxFrame, c.RoomMessageLimit())
	}
	if c.MaxFragments < 0 {
		bad("max-fragments %d must be >= 0 (0 is unlimited)", c.MaxFragments)
	}
	if c.MaxHeader < 256 || c.MaxHeader > 1<<20 {
		bad("max-header %d must be between 256 B and 1 MiB", c.MaxHeader)
	}
	if c.HandshakeTimeout <= 0 {
		bad("handshake-timeout %v must be positive", c.HandshakeTimeout)
	}
	if c.PingInterval < 0 || c.IdleTimeout < 0 || c.CloseTimeout <= 0 || c.WriteTimeout <= 0 {
		bad("ping-interval and idle-timeout must be >= 0, close-timeout and write-timeout > 0")
	}
	if c.PingInterval > 0 && c.IdleTimeout > 0 && c.IdleTimeout <= c.PingInterval {
		bad("idle-timeout %v must exceed ping-interval %v so a live peer can answer the ping", c.IdleTimeout, c.PingInterval)
	}
	if c.Pollers < 1 || c.Pollers > 1024 {
		bad("pollers %d must be between 1 and 1024", c.Pollers)
	}
	if c.Workers < 1 || c.Workers > 65536 {
		bad("workers %d must be between 1 and 65536", c.Workers)
	}
	if c.ReadBuffer < 4<<10 || c.ReadBuffer > 16<<20 {
		bad("read-buffer %d must be between 4 KiB and 16 MiB", c.ReadBuffer)
	}
	if c.Tick < 10*time.Millisecond || c.Tick > 5*time.Second {
		bad("tick %v must be between 10ms and 5s", c.Tick)
	}
	for _, o := range c.Origins {
		if o == "*" {
			if !c.AllowAnyOrigin {
				bad("origin * admits every web page: it needs -allow-any-origin as well")
			}
			continue
		}
		if err := CheckOriginPattern(o); err != nil {
			bad("origin %q: %v", o, err)
		}
	}
	c.validateSecurity(bad)
	c.validateSockJS(bad)
	c.validateHistory(bad)
	c.validateCluster(bad)
	return errors.Join(errs...)
}

// RoomMessageLimit returns the effective message limit of the fan-out
// endpoints.
func (c *Config) RoomMessageLimit() int64 {
	if c.RoomMaxMessage == 0 {
		return c.MaxMessage
	}
	return c.RoomMaxMessage
}

// RoomFrameLimit returns the effective frame limit of the fan-out
// endpoints.
func (c *Config) RoomFrameLimit() int64 {
	if c.RoomMaxFrame == 0 {
		return min(c.FrameLimit(), c.RoomMessageLimit())
	}
	return c.RoomMaxFrame
}

// FrameLimit returns the effective per-frame limit.
func (c *Config) FrameLimit() int64 {
	if c.MaxFrame == 0 {
		return c.MaxMessage
	}
	return c.MaxFrame
}

// checkJWKSURL accepts an https URL, or an http one on a loopback host
// (a provider on the same machine, or a test).
func checkJWKSURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Host == "" {
		return errors.New("want https://host/path")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return errors.New("keys fetched over plain http could be replaced on the way: use https (http only on a loopback address)")
	}
	return errors.New("want an https URL")
}

// validateSecurity checks the authentication, TLS and limit settings.
func (c *Config) validateSecurity(bad func(string, ...any)) {
	if !c.AuthEnabled() && !c.AdmitsAnonymous() {
		bad("no way to authenticate clients: give -auth-secret-file, -auth-key-file or -auth-jwks-url, or admit clients without a token with -anonymous (or -dev on a development machine)")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls-cert and tls-key go together")
	}
	if c.TLSHandshakes < 1 || c.TLSHandshakes > 1<<20 {
		bad("tls-handshakes %d must be between 1 and 1Mi", c.TLSHandshakes)
	}
	if c.AuthLeeway < 0 || c.AuthLeeway > 5*time.Minute {
		bad("auth-leeway %v must be between 0 and 5m", c.AuthLeeway)
	}
	if c.AuthJWKSURL != "" {
		if err := checkJWKSURL(c.AuthJWKSURL); err != nil {
			bad("auth-jwks-url %q: %v", c.AuthJWKSURL, err)
		}
	}
	if c.AuthJWKSRefresh < 10*time.Second || c.AuthJWKSRefresh > 24*time.Hour {
		bad("auth-jwks-refresh %v must be between 10s and 24h", c.AuthJWKSRefresh)
	}
	if c.AuthExpiryGrace < 0 {
		bad("auth-expiry-grace %v must be >= 0", c.AuthExpiryGrace)
	}
	if c.AuthRoomsClaim == "" || c.AuthPublishClaim == "" {
		bad("auth-rooms-claim and auth-publish-claim must not be empty")
	}
	if c.RateMsgs < 0 || c.UserRateMsgs < 0 || c.ConnRate < 0 || c.RateFrames < 0 ||
		c.RateBytes < 0 || c.UserRateBytes < 0 {
		bad("rates must be >= 0 (0 is unlimited)")
	}
	if c.RateMsgsBurst < 0 || c.UserRateMsgsBurst < 0 || c.ConnRateBurst < 0 || c.RateFramesBurst < 0 ||
		c.RateBytesBurst < 0 || c.UserRateBytesBurst < 0 {
		bad("bursts must be >= 0")
	}
	if c.NoLimits {
		return
	}
	largest := max(c.MaxMessage, c.RoomMessageLimit())
	if c.RateBytes > 0 && c.RateBytesBurst < largest {
		bad("rate-bytes-burst %d is below the largest message limit %d: such a message could never pass", c.RateBytesBurst, largest)
	}
	if c.UserRateBytes > 0 && c.UserRateBytesBurst < largest {
		bad("user-rate-bytes-burst %d is below the largest message limit %d: such a message could never pass", c.UserRateBytesBurst, largest)
	}
	if c.RateCloseAfter < 1 {
		bad("rate-close-after %d must be at least 1", c.RateCloseAfter)
	}
	if c.MaxConns < 0 || c.MaxConnsPerUser < 0 || c.MaxConnsPerIP < 0 {
		bad("max-conns, max-conns-per-user and max-conns-per-ip must be >= 0 (0 is unlimited)")
	}
	if c.MaxPendingHandshakes < 0 || c.MaxPendingHandshakesPerIP < 0 {
		bad("max-pending-handshakes and max-pending-handshakes-per-ip must be >= 0 (0 is unlimited)")
	}
	if c.IPv6Prefix < 8 || c.IPv6Prefix > 128 {
		bad("ipv6-prefix %d must be between 8 and 128", c.IPv6Prefix)
	}
}
