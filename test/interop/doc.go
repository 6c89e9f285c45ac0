// Package interop tests wsgate against WebSocket clients that someone else
// wrote: npm's ws (test/node/echo_client.js), and Debian's Python websockets
// (test/python/echo_client.py) and Autobahn|Python
// (test/python/autobahn_echo_client.py). The package holds tests only.
//
// The clients come from scripts/setup-test-deps.sh, which `make test` runs
// before `go test`. Without them the tests skip, unless WSGATE_REQUIRE_INTEROP
// is set (as `make test` does), when a missing client is a failure.
//
// Which server the clients talk to is decided in one place, startServer in
// server_test.go.
package interop
