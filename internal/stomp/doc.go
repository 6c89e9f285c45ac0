// Package stomp is wsgate's STOMP 1.2 codec: an incremental, in-place frame
// parser, append-style frame encoders, and the version and heart-beat
// negotiation helpers. It knows nothing about sockets, sessions or
// subscriptions; the STOMP protocol endpoint is built on top of it, as the
// WebSocket endpoints are built on package frame.
//
// # Parsing
//
// A Parser is fed the payload of each WebSocket message as it arrives:
//
//	var p stomp.Parser
//	lim := stomp.DefaultLimits()
//	p.Init(&lim)
//	err := p.Feed(payload, handler) // handler.OnFrame(f), handler.OnHeartbeat()
//
// One message may hold several frames, a frame may be split over several
// messages, and heart-beat EOLs ("\n" or "\r\n") may come between frames;
// each EOL is reported to Handler.OnHeartbeat. A frame that lies wholly
// inside the data given to Feed is parsed in place and handed over as
// sub-slices of that data. Only a frame split across Feed calls is copied,
// into a buffer from a size-classed pool that goes back to the pool as soon
// as the frame completes: a Parser between frames holds nothing but its
// configuration.
//
// Headers are unescaped (\r \n \c \\) in place, in the bytes being parsed,
// so Frame.Headers.Get(name) returns the decoded value without copying or
// allocating. An undefined escape is an error. CONNECT, STOMP and CONNECTED
// frames are not unescaped; after negotiating, Parser.SetVersion selects
// the 1.1 (no \r) or 1.0 (no escaping) rules. Repeated headers keep wire
// order; lookups return the first, as STOMP says. Lines may end in LF or
// CRLF. The body is content-length bytes followed by a required NUL when
// that header is present (the body may then contain NULs), otherwise
// everything up to the first NUL. Only SEND, MESSAGE and ERROR frames may
// have a body.
//
// Every malformed frame or exceeded Limits value ends Feed with one of the
// *Error sentinels. Its Code names the kind (a metric label such as
// "too_large") and its Reason is a short phrase for the message header of
// the ERROR frame the server sends before closing. The parse, including
// which error is reported, does not depend on how the input was split.
//
// # Encoding
//
// Encoders append to a caller's buffer and escape header names and values
// (except in CONNECT, STOMP and CONNECTED frames). AppendFrame writes a
// whole frame and adds content-length to SEND, MESSAGE and ERROR frames.
// The pieces it is made of, AppendCommand, AppendHeader (string or []byte
// names and values, no conversion), AppendContentLength and AppendBody, let
// callers build a frame step by step. AppendConnected, AppendReceipt and
// AppendError build the frames a server answers with.
//
// A MESSAGE sent to many subscribers is encoded once, in two parts: a shared
// tail built once per message by AppendMessageTail (content-type,
// content-length, blank line, body, NUL, optionally preceded by shared
// headers), and a small head per subscriber built into a reused buffer by
// AppendMessageHead (command, destination, subscription, message-id, plus
// any per-subscriber headers such as ack). Written one after the other
// (for example with writev), head and tail are byte for byte the frame
// AppendFrame produces.
//
// # Negotiation
//
// NegotiateVersion picks the session's version from accept-version (1.2
// over 1.1 over 1.0; missing means 1.0). ParseHeartBeat and AppendHeartBeat
// read and write heart-beat values, and HeartBeat.Negotiate applies the
// STOMP rule: a direction is active only if its sender can send and its
// receiver wants heart-beats, at the larger of the two intervals.
package stomp
