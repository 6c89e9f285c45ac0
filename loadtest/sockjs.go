package loadtest

import "github.com/wsgate/wsgate/loadtest/wsclient"

// validateTransport checks Config.Transport.
func (c *Config) validateTransport(bad func(format string, a ...any)) {
	switch c.Transport {
	case "", wsclient.TransportWebSocket, wsclient.TransportXHRStreaming, wsclient.TransportXHRPolling:
	default:
		bad("--transport %q must be websocket, xhr-streaming or xhr-polling", c.Transport)
	}
	if c.sockJS() && (c.Scenario == "churn" || c.Binary || c.Deflate) {
		bad("--transport %s: SockJS carries text only, without deflate, in the connect, echo and broadcast scenarios", c.Transport)
	}
}

// sockJS reports whether the run's connections use a SockJS transport.
func (c *Config) sockJS() bool {
	return c.Transport == wsclient.TransportXHRStreaming || c.Transport == wsclient.TransportXHRPolling
}

// sockjsTargets marks the targets of a SockJS run.
func (e *env) sockjsTargets() {
	if !e.cfg.sockJS() {
		return
	}
	for i, t := range e.targets {
		st := *t
		st.SockJS = e.cfg.Transport
		e.targets[i] = &st
	}
}

// pubTarget returns the WebSocket target a broadcast publisher dials:
// publishers stay WebSocket whatever the subscribers' transport.
func (e *env) pubTarget(k int) *wsclient.Target {
	t := e.target(k)
	if t.SockJS == "" {
		return t
	}
	ws := *t
	ws.SockJS = ""
	return &ws
}
