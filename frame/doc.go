// Package frame is wsgate's RFC 6455 codec: opcodes and close codes, an
// append-style frame encoder, fast masking, a streaming UTF-8 validator and an
// incremental, zero-copy, strict frame decoder.
//
// The package knows nothing about sockets or policy. It imports only the
// standard library, so every other wsgate package may depend on it.
//
// Decoding is done in place: complete frames inside the slice given to
// Decoder.Feed are unmasked in that slice and handed to the Handler as
// sub-slices. Only a frame split across Feed calls, or a fragmented message,
// is copied into a pooled buffer, which goes back to its pool as soon as the
// frame or message completes, so an idle Decoder holds no buffer.
//
// Every protocol violation is reported as a *ProtocolError carrying the close
// code the caller should send (1002, 1007 or 1009).
package frame
