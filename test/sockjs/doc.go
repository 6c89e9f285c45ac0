// Package sockjsconf tests SockJS conformance and interoperability: our
// own SockJS 0.3.3 checks run against the reference server (npm sockjs)
// and wsgate; sockjs-client (Node and headless Chromium) and
// @stomp/stompjs against wsgate's SockJS fallback; sockjs-client and the
// SockJS protocol conformance suite (when a clone is given) against the
// sockjs package's test server and wsgate. See README.md.
package sockjsconf
