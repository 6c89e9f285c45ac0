package config

import (
	"strings"
	"testing"
	"time"
)

// valid is a configuration Validate accepts: the defaults plus a way to
// admit clients.
func valid() Config {
	c := Default()
	c.Anonymous = true
	return c
}

func TestDefaultsAreValid(t *testing.T) {
	c := valid()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default() with -anonymous: %v", err)
	}
	c = Default()
	c.AuthJWKSURL = "https://idp.example.com/.well-known/jwks.json"
	if err := c.Validate(); err != nil {
		t.Fatalf("Default() with a JWKS URL: %v", err)
	}
}

// TestValidate gives one bad setting (or a bad combination) per case and
// expects the report to name it, and to hold exactly that many problems.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want []string
	}{
		{"listen", func(c *Config) { c.Listen = "foo" }, []string{`listen "foo"`}},
		{"admin", func(c *Config) { c.Admin = "9090" }, []string{`admin "9090"`}},
		{"echo path", func(c *Config) { c.EchoPath = "echo" }, []string{`echo-path "echo" must start with /`}},
		{"mux path", func(c *Config) { c.MuxPath = "ws" }, []string{`mux-path "ws"`}},
		{"room prefix", func(c *Config) { c.RoomPrefix = "/room" }, []string{`room-prefix "/room" must start and end with /`}},
		{"api key twice", func(c *Config) { c.APIKey, c.APIKeyFile = "k", "/f" }, []string{"api-key and api-key-file are exclusive"}},
		{"send queue", func(c *Config) { c.SendQueue = 100 }, []string{"send-queue 100"}},
		{"slow policy", func(c *Config) { c.SlowPolicy = "bogus" }, []string{`slow-policy "bogus"`}},
		{"worker queue", func(c *Config) { c.WorkerQueue = 0 }, []string{"worker-queue 0"}},
		{"deflate level", func(c *Config) { c.DeflateLevel = 10 }, []string{"deflate-level 10"}},
		{"deflate threshold", func(c *Config) { c.DeflateThreshold = -1 }, []string{"deflate-threshold -1"}},
		{"drain batch", func(c *Config) { c.DrainBatch = 0 }, []string{"drain-batch 0"}},
		{"drain timeout", func(c *Config) { c.DrainTimeout = 0 }, []string{"drain-timeout > 0"}},
		{"log level", func(c *Config) { c.LogLevel = "loud" }, []string{`log-level "loud"`}},
		{"log format", func(c *Config) { c.LogFormat = "xml" }, []string{`log-format "xml"`}},
		{"max message", func(c *Config) { c.MaxMessage = 0 }, []string{"max-message 0"}},
		{"max frame", func(c *Config) { c.MaxFrame = c.MaxMessage + 1 }, []string{"max-frame 65537"}},
		{"room max frame", func(c *Config) { c.RoomMaxMessage, c.RoomMaxFrame = 1024, 2048 }, []string{"room-max-frame 2048"}},
		{"max header", func(c *Config) { c.MaxHeader = 10 }, []string{"max-header 10"}},
		{"handshake timeout", func(c *Config) { c.HandshakeTimeout = 0 }, []string{"handshake-timeout 0s"}},
		{"idle under ping", func(c *Config) { c.IdleTimeout = 10 * time.Second }, []string{"idle-timeout 10s must exceed ping-interval 30s"}},
		{"pollers", func(c *Config) { c.Pollers = 0 }, []string{"pollers 0"}},
		{"workers", func(c *Config) { c.Workers = 0 }, []string{"workers 0"}},
		{"read buffer", func(c *Config) { c.ReadBuffer = 1 }, []string{"read-buffer 1"}},
		{"tick", func(c *Config) { c.Tick = time.Millisecond }, []string{"tick 1ms"}},
		{"origin star", func(c *Config) { c.Origins = []string{"*"} }, []string{"needs -allow-any-origin"}},
		{"origin path", func(c *Config) { c.Origins = []string{"https://a.example/x"} }, []string{`origin "https://a.example/x"`}},
		{"no auth", func(c *Config) { c.Anonymous = false }, []string{"no way to authenticate clients"}},
		{"tls half", func(c *Config) { c.TLSCert = "c.pem" }, []string{"tls-cert and tls-key go together"}},
		{"tls handshakes", func(c *Config) { c.TLSHandshakes = 0 }, []string{"tls-handshakes 0"}},
		{"leeway", func(c *Config) { c.AuthLeeway = time.Hour }, []string{"auth-leeway 1h0m0s"}},
		{"jwks scheme", func(c *Config) { c.AuthJWKSURL = "ftp://idp.example/jwks" }, []string{`auth-jwks-url "ftp://idp.example/jwks": want an https URL`}},
		{"jwks plain http", func(c *Config) { c.AuthJWKSURL = "http://idp.example/jwks" }, []string{"use https"}},
		{"jwks no host", func(c *Config) { c.AuthJWKSURL = "jwks.json" }, []string{"want https://host/path"}},
		{"jwks refresh", func(c *Config) { c.AuthJWKSRefresh = time.Second }, []string{"auth-jwks-refresh 1s"}},
		{"expiry grace", func(c *Config) { c.AuthExpiryGrace = -time.Second }, []string{"auth-expiry-grace -1s"}},
		{"claims", func(c *Config) { c.AuthRoomsClaim = "" }, []string{"auth-rooms-claim and auth-publish-claim"}},
		{"rates", func(c *Config) { c.RateMsgs = -1 }, []string{"rates must be >= 0"}},
		{"bursts", func(c *Config) { c.ConnRateBurst = -1 }, []string{"bursts must be >= 0"}},
		{"byte burst", func(c *Config) { c.RateBytesBurst = 1024 }, []string{"rate-bytes-burst 1024 is below"}},
		{"close after", func(c *Config) { c.RateCloseAfter = 0 }, []string{"rate-close-after 0"}},
		{"maxima", func(c *Config) { c.MaxConns = -1 }, []string{"max-conns, max-conns-per-user"}},
		{"ipv6 prefix", func(c *Config) { c.IPv6Prefix = 200 }, []string{"ipv6-prefix 200"}},
		{"every problem at once", func(c *Config) {
			c.Listen, c.SlowPolicy, c.LogLevel, c.DrainBatch, c.Anonymous = "x", "y", "z", 0, false
		}, []string{`listen "x"`, `slow-policy "y"`, `log-level "z"`, "drain-batch 0", "no way to authenticate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mod(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate accepted the configuration; want %q", tc.want)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("report does not mention %q:\n%s", w, msg)
				}
			}
			if n := strings.Count(msg, "config: "); n != len(tc.want) {
				t.Errorf("report holds %d problems, want %d:\n%s", n, len(tc.want), msg)
			}
		})
	}
}

// TestValidateLoopbackJWKS: plain http is allowed for a provider on the
// same machine only.
func TestValidateLoopbackJWKS(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8081/jwks", "http://localhost/jwks", "http://[::1]:9/jwks"} {
		c := Default()
		c.AuthJWKSURL = u
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}
