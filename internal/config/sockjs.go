package config

import (
	"flag"
	"fmt"
	"strconv"
	"time"
)

// SockJS is the configuration of the SockJS fallback: every endpoint path
// also answers the SockJS protocol (0.3.3, sockjs-client 1.x) under it.
type SockJS struct {
	// Enabled turns SockJS on. Default off outside DevMode, on in DevMode
	// unless turned off explicitly (Off).
	Enabled bool
	// Off records an explicit -sockjs=false, which wins over DevMode.
	Off bool
	// Heartbeat is the interval of "h" frames on an idle receiving
	// request. Default 25s.
	Heartbeat time.Duration
	// DisconnectDelay is how long a session waits for its next receiving
	// request before it is closed. Default 5s.
	DisconnectDelay time.Duration
	// ResponseLimit is the number of bytes after which a streaming
	// response is ended so that proxies do not buffer it forever. Default
	// 128 KiB.
	ResponseLimit int
	// Cookie sets a JSESSIONID cookie for load balancers that stick
	// sessions by it (and /info says cookie_needed).
	Cookie bool
	// TestEndpoints also serves the SockJS test server's endpoints
	// (/close, /disabled_websocket_echo, /cookie_needed_echo) for the
	// protocol's conformance suite. DevMode only.
	TestEndpoints bool
	// ClientURL is the sockjs-client script the iframe page loads.
	// Default: sockjs-client 1.x from a public CDN.
	ClientURL string
}

// DefaultSockJS returns the SockJS defaults.
func DefaultSockJS() SockJS {
	return SockJS{Heartbeat: 25 * time.Second, DisconnectDelay: 5 * time.Second, ResponseLimit: 128 << 10}
}

// SockJSEnabled reports whether the SockJS fallback is served: -sockjs, or
// -dev without -sockjs=false.
func (c *Config) SockJSEnabled() bool {
	return c.SockJS.Enabled || c.DevMode && !c.SockJS.Off
}

// validateSockJS reports the SockJS settings' problems through bad.
func (c *Config) validateSockJS(bad func(format string, args ...any)) {
	s := &c.SockJS
	if s.Heartbeat < time.Second || s.Heartbeat > time.Hour {
		bad("sockjs-heartbeat %v must be between 1s and 1h", s.Heartbeat)
	}
	if s.DisconnectDelay < 100*time.Millisecond || s.DisconnectDelay > time.Hour {
		bad("sockjs-disconnect-delay %v must be between 100ms and 1h", s.DisconnectDelay)
	}
	if s.ResponseLimit < 1<<10 || s.ResponseLimit > 1<<30 {
		bad("sockjs-response-limit %d must be between 1 KiB and 1 GiB", s.ResponseLimit)
	}
	if s.TestEndpoints && !c.DevMode {
		bad("sockjs-test-endpoints is for development only: it needs -dev")
	}
}

// sockjsFlag is -sockjs: a boolean flag (-sockjs alone means true) whose
// default, auto, follows DevMode, so that -dev -sockjs=false turns SockJS
// off.
type sockjsFlag struct{ s *SockJS }

func (f sockjsFlag) IsBoolFlag() bool { return true }

func (f sockjsFlag) String() string {
	switch {
	case f.s == nil || !f.s.Enabled && !f.s.Off:
		return "auto"
	case f.s.Enabled:
		return "true"
	}
	return "false"
}

func (f sockjsFlag) Set(v string) error {
	if v == "auto" {
		f.s.Enabled, f.s.Off = false, false
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("bad value %q: want true, false or auto", v)
	}
	f.s.Enabled, f.s.Off = b, !b
	return nil
}

// bindSockJS defines the SockJS flags.
func (c *Config) bindSockJS(fs *flag.FlagSet) {
	s := &c.SockJS
	fs.Var(sockjsFlag{s}, "sockjs", "[sockjs] serve the SockJS fallback (0.3.3) under every endpoint path: true, false, or auto (on in dev mode)")
	fs.DurationVar(&s.Heartbeat, "sockjs-heartbeat", s.Heartbeat, "[sockjs] heartbeat frame interval on idle SockJS responses")
	fs.DurationVar(&s.DisconnectDelay, "sockjs-disconnect-delay", s.DisconnectDelay, "[sockjs] close a SockJS session this long after its last receiving request ended")
	fs.Var(byteSize[int]{&s.ResponseLimit}, "sockjs-response-limit", "[sockjs] end a streaming SockJS response after this many bytes (the client opens a new one)")
	fs.BoolVar(&s.Cookie, "sockjs-cookie", s.Cookie, "[sockjs] set a JSESSIONID cookie for sticky load balancers")
	fs.BoolVar(&s.TestEndpoints, "sockjs-test-endpoints", s.TestEndpoints, "[sockjs] also serve /close, /disabled_websocket_echo and /cookie_needed_echo for the SockJS conformance suite (needs -dev)")
	fs.StringVar(&s.ClientURL, "sockjs-url", s.ClientURL, "[sockjs] sockjs-client script loaded by the iframe page (default: sockjs-client 1.x from a CDN)")
}
