// Package deflate implements the permessage-deflate WebSocket extension of
// RFC 7692: negotiation of its parameters (server and client side), and the
// per-message payload transformation with pooled klauspost/compress flate
// writers and readers.
//
// # Modes
//
// The default mode (Options.ContextTakeover false) negotiates
// server_no_context_takeover and client_no_context_takeover, so every message
// is compressed and decompressed on its own with the stateless Compress and
// Decompress functions. Their flate writers and readers come from pools and
// go back right after the call: an idle connection holds no compression
// memory at all.
//
// Context-takeover mode keeps the LZ77 window from message to message, which
// compresses small similar messages much better, at a price per connection.
// A Compressor or Decompressor holds its flate state for the connection's
// whole life. Measured with klauspost/compress v1.20.4 on amd64, Go 1.26
// (go test -run TestHeldMemory -v prints it; heap bytes per connection
// after one message; CompressorMemory and DecompressorMemory return these
// figures for flag help texts and capacity planning):
//
//   - Compressor, level 1, 15-bit window: about 810 KiB (the fast
//     encoder's hash table and history buffers plus a 64 KiB block buffer);
//     levels 2-9: 0.9 to 1.4 MiB.
//   - Compressor with server_max_window_bits below 15 (custom-window
//     encoder, any level): about 1.04 MiB; a small window does not shrink it.
//   - Decompressor: about 37 KiB (32 KiB window plus Huffman tables).
//
// So 10,000 connections in context-takeover mode hold about 7.9 GiB of
// compressors (level 1) plus 0.36 GiB of decompressors. The default mode
// holds nothing per idle connection: one writer or reader per call in
// progress, from a pool.
//
// # Messages
//
// Compress removes the 00 00 ff ff tail of the sync flush (RFC 7692 section
// 7.2.1); Decompress appends it again without copying the input. Decompress
// stops with ErrTooBig (a *frame.ProtocolError with close code 1009) as soon
// as the output would pass the limit, and never allocates much more than the
// limit: a decompression bomb costs the receiver at most limit bytes.
//
// A message sent to many receivers is compressed once per negotiated
// encoding with Prepared (for connections without server context takeover:
// a stateless frame would desynchronize a connection's Compressor).
package deflate

import "github.com/wsgate/wsgate/frame"

// ExtensionName is the extension token of RFC 7692 section 7.
const ExtensionName = "permessage-deflate"

// Window bits bounds of the *_max_window_bits parameters (RFC 7692 section
// 7.1.2): the LZ77 window is 1<<bits bytes.
const (
	MinWindowBits = 8
	MaxWindowBits = 15
)

// Defaults used for the zero values of Options.
const (
	DefaultLevel     = 1   // flate BestSpeed: the best bytes-per-CPU trade for a gateway
	DefaultThreshold = 128 // smaller messages rarely shrink enough to pay for the CPU
)

// Errors returned by Decompress and Decompressor.Decompress. Both are
// *frame.ProtocolError so the server closes the connection with their Code.
var (
	// ErrTooBig: the decompressed message would pass the limit (close 1009).
	ErrTooBig = &frame.ProtocolError{Code: frame.CloseMessageTooBig, Msg: "deflate: decompressed message too big"}
	// ErrCorrupt: the compressed payload is not a valid DEFLATE stream
	// ending with a sync flush (close 1007, invalid payload data).
	ErrCorrupt = &frame.ProtocolError{Code: frame.CloseInvalidPayload, Msg: "deflate: corrupt compressed message"}
)

// Params are the negotiated permessage-deflate parameters (RFC 7692 section
// 7.1). As returned by Negotiator.Accepted they are what the server answers
// and then applies; as given to AppendOffer they are what a client offers.
type Params struct {
	// ServerNoContextTakeover: the server resets its compression context
	// after every message.
	ServerNoContextTakeover bool
	// ClientNoContextTakeover: the client resets its compression context
	// after every message (the server may then decompress statelessly).
	ClientNoContextTakeover bool
	// ServerMaxWindowBits is the server's LZ77 window (8..15); 0 means the
	// parameter is absent (15).
	ServerMaxWindowBits int
	// ClientMaxWindowBits is the client's LZ77 window (8..15); 0 means the
	// parameter is absent or carried no value.
	ClientMaxWindowBits int
	// ClientMaxWindowBitsNoValue: the offer carried client_max_window_bits
	// without a value (the client supports the parameter). Only meaningful
	// in offers; a response never carries it without a value.
	ClientMaxWindowBitsNoValue bool
}

// Options is the server's compression policy. The zero value is ready to
// use: no context takeover, DefaultLevel, DefaultThreshold. An Options value
// is read-only once shared.
type Options struct {
	// ContextTakeover false (default): the server always answers with
	// server_no_context_takeover and client_no_context_takeover, so nothing
	// is held per idle connection. True: the server keeps its compression
	// context unless the client asked otherwise (a Compressor per
	// connection, see the package doc for its memory).
	ContextTakeover bool
	// Level is the flate level 1 (fastest, default when 0) .. 9 (smallest).
	// Out of range values mean DefaultLevel. It does not apply when the
	// client limits server_max_window_bits below 15: the custom-window
	// encoder has a single level.
	Level int
	// Threshold: messages shorter than this many bytes are sent
	// uncompressed. 0 means DefaultThreshold (128); a negative value
	// compresses every message.
	Threshold int
}

// EffectiveLevel returns the flate level o stands for (DefaultLevel for a
// nil o or an out-of-range Level).
func (o *Options) EffectiveLevel() int {
	if o == nil {
		return DefaultLevel
	}
	return normLevel(o.Level)
}

// EffectiveThreshold returns the compression threshold o stands for
// (DefaultThreshold for a nil o or a zero Threshold, 0 for a negative one).
func (o *Options) EffectiveThreshold() int {
	switch {
	case o == nil || o.Threshold == 0:
		return DefaultThreshold
	case o.Threshold < 0:
		return 0
	}
	return o.Threshold
}

// normLevel maps a flate level to 1..9.
func normLevel(level int) int {
	if level < 1 || level > 9 {
		return DefaultLevel
	}
	return level
}

// normBits maps window bits to 8..15 (0 and out-of-range values mean 15).
func normBits(bits int) int {
	if bits < MinWindowBits || bits > MaxWindowBits {
		return MaxWindowBits
	}
	return bits
}

// DecompressorMemory is the approximate heap a Decompressor holds once it
// has decompressed a message (see the package doc).
const DecompressorMemory = 37 << 10

// CompressorMemory returns the approximate heap in bytes a Compressor for
// level and windowBits (as given to NewCompressor) holds once it has
// compressed a message (see the package doc). TestHeldMemory keeps these
// measured figures within 25%.
func CompressorMemory(level, windowBits int) int {
	if normBits(windowBits) < MaxWindowBits {
		return 1064 << 10 // custom-window encoder, any level
	}
	switch normLevel(level) {
	case 1:
		return 809 << 10
	case 2, 3:
		return 1192 << 10
	case 4:
		return 936 << 10
	case 5, 6:
		return 1064 << 10
	case 7, 8:
		return 1000 << 10
	}
	return 1397 << 10 // level 9
}
