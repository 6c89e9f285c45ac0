package sockjs

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/wsgate/wsgate/poller"
)

// Frame texts the protocol defines besides message arrays.
const (
	frameOpen      = "o"
	frameHeartbeat = "h"
)

// wire is the byte form in which a receiving transport carries frames.
type wire uint8

const (
	wireWebSocket          wire = iota // RFC 6455 text frame holding the frame text
	wireXHR                            // frame + "\n"
	wireXHRChunked                     // the same as one HTTP chunk
	wireEventSource                    // "data: " + frame + "\r\n\r\n"
	wireEventSourceChunked             // the same as one HTTP chunk
	wireHTMLFile                       // <script>\np("frame");\n</script>\r\n
	wireHTMLFileChunked                // the same as one HTTP chunk
	numWires
)

const (
	htmlPrefix = "<script>\np(\""
	htmlSuffix = "\");\n</script>\r\n"
	esPrefix   = "data: "
	esSuffix   = "\r\n\r\n"
)

// base returns w without chunking.
func (w wire) base() wire {
	switch w {
	case wireXHRChunked, wireEventSourceChunked, wireHTMLFileChunked:
		return w - 1
	}
	return w
}

func (w wire) chunked() bool { return w != w.base() }

// jsLen returns the length of appendJSString(nil, p).
func jsLen(p []byte) int {
	n := len(p)
	for _, c := range p {
		switch c {
		case '"', '\\':
			n++
		case '<':
			n += 5
		}
	}
	return n
}

// eventLen returns the length of appendEventData(nil, p).
func eventLen(p []byte) int {
	n := len(p)
	for _, c := range p {
		switch c {
		case '%', '\r', '\n', 0:
			n += 2
		}
	}
	return n
}

// bodyLen returns the length of frame text a+b+c wrapped for w, without
// HTTP chunk framing or WebSocket header: the bytes the response limit
// counts.
func bodyLen(w wire, a, b, c []byte) int {
	switch w.base() {
	case wireXHR:
		return len(a) + len(b) + len(c) + 1
	case wireEventSource:
		return len(esPrefix) + eventLen(a) + eventLen(b) + eventLen(c) + len(esSuffix)
	case wireHTMLFile:
		return len(htmlPrefix) + jsLen(a) + jsLen(b) + jsLen(c) + len(htmlSuffix)
	}
	return len(a) + len(b) + len(c)
}

// appendWire appends the frame whose text is a+b+c in wire form w and
// returns the buffer and the frame's counted length (see bodyLen).
func appendWire(dst []byte, w wire, a, b, c []byte) ([]byte, int) {
	n := bodyLen(w, a, b, c)
	switch {
	case w == wireWebSocket:
		dst = appendWSHeader(dst, n)
	case w.chunked():
		dst = strconv.AppendUint(dst, uint64(n), 16)
		dst = append(dst, '\r', '\n')
	}
	switch w.base() {
	case wireWebSocket:
		dst = append(append(append(dst, a...), b...), c...)
	case wireXHR:
		dst = append(append(append(dst, a...), b...), c...)
		dst = append(dst, '\n')
	case wireEventSource:
		dst = append(dst, esPrefix...)
		dst = appendEventData(appendEventData(appendEventData(dst, a), b), c)
		dst = append(dst, esSuffix...)
	case wireHTMLFile:
		dst = append(dst, htmlPrefix...)
		dst = appendJSString(appendJSString(appendJSString(dst, a), b), c)
		dst = append(dst, htmlSuffix...)
	}
	if w.chunked() {
		dst = append(dst, '\r', '\n')
	}
	return dst, n
}

// appendWSHeader appends the header of an unmasked, final RFC 6455 text
// frame with an n-byte payload.
func appendWSHeader(dst []byte, n int) []byte {
	switch {
	case n < 126:
		return append(dst, 0x81, byte(n))
	case n <= 0xffff:
		return append(dst, 0x81, 126, byte(n>>8), byte(n))
	}
	dst = append(dst, 0x81, 127)
	for s := 56; s >= 0; s -= 8 {
		dst = append(dst, byte(uint64(n)>>s))
	}
	return dst
}

// wireBuf is one frame in one wire form, shared by every receiver that
// uses the form.
type wireBuf struct {
	buf     *poller.Buf
	counted int
}

// staticFrames holds "o" and "h" in every wire form. The package keeps
// one reference to each Buf forever, so they never return to a pool.
var staticFrames [2][numWires]wireBuf

func init() {
	for i, f := range []string{frameOpen, frameHeartbeat} {
		for w := wire(0); w < numWires; w++ {
			b := poller.NewBuf(64)
			var n int
			b.B, n = appendWire(b.B, w, []byte(f), nil, nil)
			staticFrames[i][w] = wireBuf{buf: b, counted: n}
		}
	}
}

// Message is one application message encoded once for every SockJS
// session that receives it. NewMessage escapes the payload into a JSON
// string (the costly step) at once; the bytes of each wire form (a
// WebSocket frame, an xhr line, an EventSource event, an htmlfile script
// tag, each chunked or not) are built the first time a session of that
// kind needs them and then shared, by reference, with every other
// session: a delivery costs a session one reference, never a copy.
//
// A Message is reference counted. NewMessage returns it with one
// reference, owned by the caller; a session queueing it takes its own.
// Methods are safe for concurrent use.
type Message struct {
	refs  atomic.Int32
	quote []byte // the payload as a SockJS JSON string, quotes included
	forms [numWires]atomic.Pointer[poller.Buf]
	sizes [numWires]atomic.Int32
}

var messagePool = sync.Pool{New: func() any { return new(Message) }}

// NewMessage encodes payload (text; invalid UTF-8 travels as U+FFFD) and
// returns the Message with one reference.
func NewMessage(payload []byte) *Message {
	m := messagePool.Get().(*Message)
	m.quote = AppendQuote(m.quote[:0], payload)
	m.refs.Store(1)
	return m
}

// Retain adds a reference.
func (m *Message) Retain() { m.refs.Add(1) }

// Release drops a reference; the last one releases the wire forms and
// returns the Message to its pool.
func (m *Message) Release() {
	n := m.refs.Add(-1)
	if n > 0 {
		return
	}
	if n < 0 {
		panic("sockjs: Message released more times than retained")
	}
	for i := range m.forms {
		if b := m.forms[i].Swap(nil); b != nil {
			b.Release()
		}
	}
	if cap(m.quote) > 64<<10 {
		m.quote = nil // do not pin a huge buffer in the pool
	}
	messagePool.Put(m)
}

// Quoted returns the payload as a SockJS JSON string, quotes included.
// The bytes belong to m.
func (m *Message) Quoted() []byte { return m.quote }

// AppendFrame appends the message's frame text, a["..."].
func (m *Message) AppendFrame(dst []byte) []byte {
	dst = append(dst, 'a', '[')
	dst = append(dst, m.quote...)
	return append(dst, ']')
}

var (
	arrayOpen  = []byte("a[")
	arrayClose = []byte("]")
)

// form returns the message's frame in wire form w, building it on first
// use, and its counted length. The Buf belongs to m: Retain it to queue it.
func (m *Message) form(w wire) (*poller.Buf, int) {
	if b := m.forms[w].Load(); b != nil {
		return b, int(m.sizes[w].Load())
	}
	b := poller.NewBuf(len(m.quote) + len(m.quote)/4 + 48)
	var n int
	b.B, n = appendWire(b.B, w, arrayOpen, m.quote, arrayClose)
	m.sizes[w].Store(int32(n))
	if !m.forms[w].CompareAndSwap(nil, b) {
		b.Release() // another goroutine built it first
		return m.forms[w].Load(), n
	}
	return b, n
}

// Frame returns the message's frame as an unmasked RFC 6455 text frame,
// for a server that carries SockJS over WebSocket itself. The Buf belongs
// to m and is shared: Retain it before queueing it.
func (m *Message) Frame() *poller.Buf {
	b, _ := m.form(wireWebSocket)
	return b
}

// AppendCloseFrame appends the frame text c[code,"reason"].
func AppendCloseFrame(dst []byte, code int, reason string) []byte {
	dst = append(dst, 'c', '[')
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ',')
	dst = AppendQuote(dst, []byte(reason))
	return append(dst, ']')
}
