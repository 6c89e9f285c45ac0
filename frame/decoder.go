package frame

// Limits bounds what a Decoder accepts. Zero means no limit. One Limits value
// is shared read-only by many decoders; do not modify it while they run.
type Limits struct {
	MaxFrame   int64 // largest frame payload; larger headers fail with ErrFrameTooBig (1009)
	MaxMessage int64 // largest data message (sum of its fragments); ErrMessageTooBig (1009)
}

// DefaultMaxMessage is the message size limit wsgate uses unless configured.
const DefaultMaxMessage = 64 << 10

// Handler receives what a Decoder decodes. Both methods run synchronously
// inside Decoder.Feed.
type Handler interface {
	// OnMessage gets one complete data message (OpText or OpBinary). payload
	// aliases the caller's read buffer or a pooled buffer: valid only until
	// OnMessage returns. compressed reports RSV1 on the first frame (only
	// possible when allowRSV1 is set). For compressed text the decoder does
	// NOT check UTF-8 (the caller does after inflating). A non-nil error
	// stops Feed and is returned from it.
	OnMessage(op Opcode, compressed bool, payload []byte) error
	// OnControl gets ping, pong and close frames (a close payload is already
	// validated by ParseClose). payload is valid only until OnControl
	// returns. A non-nil error stops Feed and is returned from it.
	OnControl(op Opcode, payload []byte) error
}

// Decoder is an incremental, in-place RFC 6455 frame decoder for one
// connection. The zero value must be Init'ed before use. A Decoder is not
// safe for concurrent use; it is owned by the goroutine that reads its
// connection.
type Decoder struct {
	lim    *Limits
	client bool
	rsv1   bool
}

// Init prepares d for a new connection. client=true decodes frames sent by a
// server (they must be unmasked); client=false decodes frames sent by a
// client (they must be masked). allowRSV1 accepts RSV1 on the first frame of
// a data message (permessage-deflate negotiated). lim may be nil (no limits).
func (d *Decoder) Init(lim *Limits, client bool, allowRSV1 bool) {
	d.Release()
	*d = Decoder{lim: lim, client: client, rsv1: allowRSV1}
}

// Feed decodes data, calling h for every complete message and control frame.
// data is modified in place (unmasking) and must not be used by the caller
// afterwards except through what h received. After Feed returns an error the
// decoder is dead: close the connection with the error's close code.
func (d *Decoder) Feed(data []byte, h Handler) error {
	return ErrDecoderFailed // TODO: decoder under construction
}

// Buffered reports whether d holds a pooled buffer: true while a frame split
// across Feed calls or a fragmented message is in progress.
func (d *Decoder) Buffered() bool { return false }

// Release returns any pooled buffer. Call it when the connection closes.
func (d *Decoder) Release() {}
