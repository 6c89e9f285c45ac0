// Package sockjs implements the server side of the SockJS protocol
// (version 0.3.3, the one sockjs-client 1.x speaks) as a library that an
// event loop drives: no sockets, no goroutines, no timers of its own.
//
// The pieces, from the wire inwards:
//
//   - Parser: an incremental HTTP/1.1 request parser that works in place on
//     the caller's read buffer and copies only a request split across
//     reads into a bounded scratch buffer (pipelined requests, keep-alive,
//     Content-Length and chunked bodies; other transfer codings are refused with 501).
//   - Route: classifies a path under an endpoint's base path (greeting,
//     /info, /iframe*.html, /websocket, /{server}/{session}/{transport}).
//   - Quote and Message: SockJS's JSON string escaping, done once per
//     message into a shared Message from which every transport's bytes
//     (WebSocket frame, xhr line, EventSource event, htmlfile script, each
//     chunked or not) are derived once per message, never per session.
//   - AppendHead and the endpoint's one-shot answers: status line and
//     headers (content type, caching, CORS, JSESSIONID, length or chunked)
//     appended to caller buffers.
//   - Endpoint and Session: the protocol state machine. Sessions outlive
//     the requests that carry them; a session queues messages (bounded)
//     while no receiving request is attached and flushes them into the
//     next one; heartbeats, the disconnect delay and the response limit are
//     driven by the caller's clock and timer (Endpoint.Tick or a
//     Scheduler), never by a time.Timer per session.
//
// The server supplies a Stream per receiving request (its connection: write
// bytes, queue a shared poller.Buf, end the response) and a Handler for the
// application (open, message, close).
package sockjs
