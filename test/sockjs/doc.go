// Package sockjsconf runs third-party SockJS clients and the SockJS
// protocol conformance suite against the sockjs package's test server
// (internal/sockjs/sockjstest), and the suite against the reference
// server (npm sockjs) to calibrate it. See README.md.
package sockjsconf
