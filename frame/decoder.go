package frame

import (
	"encoding/binary"
	"sync"

	"github.com/wsgate/wsgate/frame/bufpool"
)

// Limits bounds what a Decoder accepts. Zero means no limit. One Limits value
// is shared read-only by many decoders; do not modify it while they run.
type Limits struct {
	MaxFrame   int64 // largest frame payload; larger headers fail with ErrFrameTooBig (1009)
	MaxMessage int64 // largest data message (sum of its fragments); ErrMessageTooBig (1009)
	// MaxFragments is the most frames one data message may span (its first
	// frame and its continuations); the header of one more fails with
	// ErrTooManyFragments (1009). Control frames between fragments do not
	// count.
	MaxFragments int64
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
	// returns. A non-nil error stops Feed and is returned from it. The
	// decoder keeps decoding after a close frame; return an error to stop.
	OnControl(op Opcode, payload []byte) error
}

// maxHeader is the longest frame header: 2 + 8 (length) + 4 (mask key).
const maxHeader = 14

// maxPrealloc caps how much of a split frame's announced length is
// allocated before the bytes arrive, so a header alone cannot make a decoder
// without limits allocate much. Longer frames grow the buffer by doubling.
const maxPrealloc = 1 << 20

// Decoder flag bits.
const (
	fClient     uint8 = 1 << iota // decoding server frames: must be unmasked
	fAllowRSV1                    // RSV1 allowed on the first frame of a data message
	fInPayload                    // header parsed, payload bytes pending
	fFin                          // current frame has FIN
	fCompressed                   // current data message had RSV1
	fBuffered                     // current frame's payload is being collected in buf
	fDead                         // Feed returned an error
	fFeeding                      // inside Feed (Release then only marks the decoder dead)
)

// state is a Decoder's progress through a frame or fragmented message. A
// Decoder that is between messages holds none: Feed works on a state on its
// stack and moves it to a pooled one only when input ends mid-frame or
// mid-message, so an idle connection costs the 24 bytes of its Decoder.
//
// Invariant: buf is non-nil only while a frame split across Feed calls or a
// fragmented message is in progress. Inside a fragmented message buf holds
// exactly the msgLen message bytes received so far, followed by the bytes of
// a split control frame if one is in progress.
type state struct {
	lim     *Limits         // shared, read-only; nil = no limits
	outer   *Decoder        // the Decoder being fed (Release may be called from a Handler)
	buf     *[]byte         // pooled scratch / message buffer, nil when idle
	left    int64           // payload bytes of the current frame still to come
	msgLen  int64           // bytes of the fragmented message so far
	frags   int64           // frames of the fragmented message so far
	utf8    UTF8State       // validator for the current text message
	key     [4]byte         // masking key of the current frame
	hdr     [maxHeader]byte // partial header carried across Feed calls
	hdrN    uint8           // bytes in hdr
	maskPos uint8           // key position for the next payload byte
	op      Opcode          // opcode of the current frame
	msgOp   Opcode          // opcode of the fragmented message in progress, or 0
	flags   uint8           // f* bits
}

// Decoder is an incremental, in-place RFC 6455 frame decoder for one
// connection. Call Init before use (the zero value behaves like
// Init(nil, false, false): server role, no limits, no RSV1). A Decoder is not
// safe for concurrent use; it is owned by the goroutine that reads its
// connection. Between messages it holds no buffer and no state beyond its
// configuration.
type Decoder struct {
	lim   *Limits // shared, read-only; nil = no limits
	st    *state  // progress mid-frame or mid-message (pooled), nil when idle
	flags uint8   // fClient, fAllowRSV1, fDead
	// frames counts frame headers decoded since the last TakeFrames, so a
	// caller can meter frames once per read instead of once per frame.
	frames uint32
}

var statePool = sync.Pool{New: func() any { return new(state) }}

// Init prepares d for a new connection. client=true decodes frames sent by a
// server (they must be unmasked); client=false decodes frames sent by a
// client (they must be masked). allowRSV1 accepts RSV1 on the first frame of
// a data message (permessage-deflate negotiated). lim may be nil (no limits).
func (d *Decoder) Init(lim *Limits, client bool, allowRSV1 bool) {
	d.releaseState()
	*d = Decoder{lim: lim}
	if client {
		d.flags |= fClient
	}
	if allowRSV1 {
		d.flags |= fAllowRSV1
	}
}

// TakeFrames returns the number of frames (data and control, whole or
// not yet complete) whose header Feed has decoded since the last call, and
// starts counting again from zero.
func (d *Decoder) TakeFrames() int {
	n := d.frames
	d.frames = 0
	return int(n)
}

// Buffered reports whether d holds a pooled buffer: true while a frame split
// across Feed calls or a fragmented message with payload is in progress.
func (d *Decoder) Buffered() bool { return d.st != nil && d.st.buf != nil }

// Release returns any pooled buffer. Call it when the connection closes.
// The decoder is dead afterwards (Feed returns ErrDecoderFailed) until Init;
// called from inside a Handler callback, it makes Feed stop after the
// callback returns.
func (d *Decoder) Release() {
	d.flags |= fDead
	if d.flags&fFeeding == 0 {
		d.releaseState()
	}
}

func (d *Decoder) releaseState() {
	if st := d.st; st != nil {
		d.st = nil
		st.releaseBuf()
		*st = state{}
		statePool.Put(st)
	}
}

// Feed decodes data, calling h for every complete message and control frame.
// data is modified in place (unmasking) and must not be used by the caller
// afterwards except through what h received. Bytes of an incomplete frame at
// the end of data are kept (copied) until the next Feed. After Feed returns
// an error the decoder is dead: close the connection with the close code of
// the *ProtocolError; an error returned by h is passed through unchanged.
func (d *Decoder) Feed(data []byte, h Handler) error {
	if d.flags&fDead != 0 {
		return ErrDecoderFailed
	}
	if d.st != nil {
		return d.feedPooled(data, h)
	}
	// Between messages: work on a state on the stack, and keep it (in a
	// pooled state) only if the input ends mid-frame or mid-message.
	var local state
	local.lim, local.flags, local.outer = d.lim, d.flags, d
	d.flags |= fFeeding
	err := local.feed(data, h)
	d.flags &^= fFeeding
	local.outer = nil
	if err != nil || d.flags&fDead != 0 {
		d.flags |= fDead
		local.releaseBuf()
		return err
	}
	if !local.idle() {
		p := statePool.Get().(*state)
		*p = local
		d.st = p
	}
	return nil
}

// feedPooled is Feed for a decoder that is mid-frame or mid-message.
func (d *Decoder) feedPooled(data []byte, h Handler) error {
	st := d.st
	st.outer = d
	d.flags |= fFeeding
	err := st.feed(data, h)
	d.flags &^= fFeeding
	st.outer = nil
	if err != nil || d.flags&fDead != 0 {
		d.flags |= fDead
		d.releaseState()
		return err
	}
	if st.idle() {
		d.releaseState()
	}
	return nil
}

// idle reports whether s is between messages, holding nothing.
func (s *state) idle() bool {
	return s.buf == nil && s.hdrN == 0 && s.msgOp == 0 && s.flags&fInPayload == 0
}

// releaseBuf returns the pooled buffer, if any, to its pool.
func (d *state) releaseBuf() {
	if d.buf != nil {
		bufpool.Put(d.buf)
		d.buf = nil
	}
}

// feed is Feed's loop over one state.
func (d *state) feed(data []byte, h Handler) error {
	for {
		if d.flags&fInPayload == 0 {
			if len(data) == 0 {
				return nil
			}
			n, err := d.readHeader(data)
			if err != nil {
				return d.fail(err)
			}
			data = data[n:]
			if d.flags&fInPayload == 0 {
				return nil // header incomplete, kept in d.hdr
			}
		}
		n := len(data)
		if int64(n) > d.left {
			n = int(d.left)
		}
		if err := d.payload(data[:n], h); err != nil {
			return d.fail(err)
		}
		data = data[n:]
		if d.flags&fInPayload != 0 || d.outer.flags&fDead != 0 {
			return nil // frame continues in the next Feed, or Release was called
		}
	}
}

// fail returns err; Feed kills the decoder.
func (d *state) fail(err error) error {
	d.hdrN = 0
	return err
}

// headerLen returns the full header length implied by the second header byte.
func headerLen(b1 byte) int {
	n := 2
	switch b1 & 0x7F {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// readHeader consumes header bytes from data, completing a header saved by
// an earlier call if any. It returns the bytes consumed. When the header is
// complete it starts the frame (fInPayload set); otherwise the bytes are kept
// in d.hdr and what they show is already checked, so errors come early.
func (d *state) readHeader(data []byte) (int, error) {
	var hb []byte
	n := 0
	if d.hdrN == 0 && len(data) >= 2 && len(data) >= headerLen(data[1]) {
		n = headerLen(data[1])
		hb = data[:n]
	} else {
		have := int(d.hdrN)
		if have < 2 {
			k := copy(d.hdr[have:2], data)
			have += k
			n += k
		}
		need := 2
		if have >= 2 {
			need = headerLen(d.hdr[1])
			k := copy(d.hdr[have:need], data[n:])
			have += k
			n += k
		}
		if have < need {
			d.hdrN = uint8(have)
			_, err := d.checkHeader(d.hdr[:have])
			return n, err
		}
		d.hdrN = 0
		hb = d.hdr[:need]
	}
	length, err := d.checkHeader(hb)
	if err != nil {
		return n, err
	}
	d.startFrame(hb, length)
	if d.outer != nil && d.outer.frames < ^uint32(0) {
		d.outer.frames++
	}
	return n, nil
}

// checkHeader validates the header bytes in h, which may be a prefix of the
// header: it checks whatever the available bytes show, always in the same
// order, so the first error found does not depend on how input was split.
// For a complete header it returns the payload length.
func (d *state) checkHeader(h []byte) (int64, error) {
	b0 := h[0]
	op := Opcode(b0 & 0xF)
	if op.reserved() {
		return 0, ErrReservedOpcode
	}
	ctl := op.IsControl()
	if rsv := b0 & 0x70; rsv != 0 {
		if rsv != RSV1 || d.flags&fAllowRSV1 == 0 || ctl || op == OpContinuation {
			return 0, ErrReservedBits
		}
	}
	switch {
	case ctl && b0&0x80 == 0:
		return 0, ErrFragmentedControl
	case op == OpContinuation && d.msgOp == 0:
		return 0, ErrUnexpectedContinuation
	case (op == OpText || op == OpBinary) && d.msgOp != 0:
		return 0, ErrExpectedContinuation
	case op == OpContinuation && d.lim != nil && d.lim.MaxFragments > 0 && d.frags >= d.lim.MaxFragments:
		return 0, ErrTooManyFragments
	}
	if len(h) < 2 {
		return 0, nil
	}
	b1 := h[1]
	masked := b1&0x80 != 0
	if client := d.flags&fClient != 0; client && masked {
		return 0, ErrMaskedServerFrame
	} else if !client && !masked {
		return 0, ErrUnmasked
	}
	var length int64
	switch l7 := b1 & 0x7F; {
	case ctl && l7 > MaxControlPayload:
		return 0, ErrControlTooLong
	case l7 == 126:
		if len(h) < 4 {
			return 0, nil
		}
		length = int64(binary.BigEndian.Uint16(h[2:4]))
	case l7 == 127:
		if len(h) < 10 {
			return 0, nil
		}
		u := binary.BigEndian.Uint64(h[2:10])
		if u>>63 != 0 {
			return 0, ErrLengthTopBit
		}
		length = int64(u)
	default:
		length = int64(l7)
	}
	if lim := d.lim; lim != nil {
		if lim.MaxFrame > 0 && length > lim.MaxFrame {
			return 0, ErrFrameTooBig
		}
		if !ctl && lim.MaxMessage > 0 && length > lim.MaxMessage-d.msgLen {
			return 0, ErrMessageTooBig
		}
	}
	return length, nil
}

// startFrame sets up the decoder for the payload of the checked header hb.
func (d *state) startFrame(hb []byte, length int64) {
	b0, b1 := hb[0], hb[1]
	op := Opcode(b0 & 0xF)
	d.op = op
	d.left = length
	d.maskPos = 0
	if b1&0x80 != 0 {
		copy(d.key[:], hb[len(hb)-4:])
	}
	d.flags = d.flags&^(fFin|fBuffered) | fInPayload
	if b0&0x80 != 0 {
		d.flags |= fFin
	}
	if op == OpText || op == OpBinary {
		d.utf8 = 0
		d.flags &^= fCompressed
		if b0&RSV1 != 0 {
			d.flags |= fCompressed
		}
		if b0&0x80 == 0 {
			d.msgOp, d.frags = op, 1
		}
	} else if op == OpContinuation {
		d.frags++
	}
}

// payload handles the next chunk of the current frame's payload: unmask,
// validate, deliver in place if the whole frame is here, otherwise collect.
func (d *state) payload(chunk []byte, h Handler) error {
	if len(chunk) == 0 && d.left > 0 {
		return nil // header ended the data; the payload may still come whole
	}
	if d.flags&fClient == 0 {
		d.maskPos = uint8(Mask(chunk, d.key, int(d.maskPos)))
	}
	d.left -= int64(len(chunk))
	done := d.left == 0
	if done {
		d.flags &^= fInPayload
	}
	if d.op.IsControl() {
		return d.control(chunk, done, h)
	}
	msgOp := d.op
	if msgOp == OpContinuation {
		msgOp = d.msgOp
	}
	fin := d.flags&fFin != 0
	compressed := d.flags&fCompressed != 0
	if msgOp == OpText && !compressed {
		if !d.utf8.Feed(chunk) || (done && fin && !d.utf8.Complete()) {
			return ErrInvalidUTF8
		}
	}
	if done && fin && d.msgOp == 0 && d.flags&fBuffered == 0 {
		return h.OnMessage(msgOp, compressed, chunk) // whole frame in data: zero copy
	}
	d.appendBuf(chunk)
	if d.msgOp != 0 {
		d.msgLen += int64(len(chunk))
	}
	if !done {
		d.flags |= fBuffered
		return nil
	}
	d.flags &^= fBuffered
	if !fin {
		return nil
	}
	var msg []byte
	if d.buf != nil {
		msg = *d.buf
	}
	err := h.OnMessage(msgOp, compressed, msg)
	d.msgOp, d.msgLen, d.frags = 0, 0, 0
	d.releaseBuf()
	return err
}

// control handles a chunk of a ping, pong or close frame payload. A control
// frame split across Feed calls is collected after the message bytes in buf.
func (d *state) control(chunk []byte, done bool, h Handler) error {
	p := chunk
	if !done || d.flags&fBuffered != 0 {
		d.appendBuf(chunk)
		if !done {
			d.flags |= fBuffered
			return nil
		}
		d.flags &^= fBuffered
		p = (*d.buf)[d.msgLen:]
	}
	var err error
	if d.op == OpClose {
		_, _, err = ParseClose(p)
	}
	if err == nil {
		err = h.OnControl(d.op, p)
	}
	if d.buf != nil {
		if *d.buf = (*d.buf)[:d.msgLen]; d.msgLen == 0 {
			d.releaseBuf()
		}
	}
	return err
}

// appendBuf appends p to the pooled buffer, taking or growing it as needed.
// A new buffer is sized for the rest of the current frame too (up to
// maxPrealloc), so a split frame is normally copied only once.
func (d *state) appendBuf(p []byte) {
	if len(p) == 0 {
		return
	}
	var cur []byte
	if d.buf != nil {
		cur = *d.buf
	}
	need := len(cur) + len(p)
	if need > cap(cur) {
		want := int64(need) + min(d.left, maxPrealloc)
		if c := int64(2 * cap(cur)); c > want {
			want = c
		}
		nb := bufpool.Get(int(want))
		*nb = append(*nb, cur...)
		if d.buf != nil {
			bufpool.Put(d.buf)
		}
		d.buf = nb
		cur = *nb
	}
	*d.buf = append(cur, p...)
}
