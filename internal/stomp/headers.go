package stomp

import "bytes"

// Frame is one parsed frame, as handed to Handler.OnFrame. Everything in it
// aliases parser-owned or caller-owned memory that is reused once OnFrame
// returns.
type Frame struct {
	Command Command
	Headers Headers
	// Body is the frame's body: content-length bytes when that header is
	// present (NUL bytes allowed), otherwise everything up to the first NUL.
	// Empty for frames without a body.
	Body []byte
}

// span locates one header in a frame's bytes, after unescaping.
type span struct{ ns, ne, vs, ve int }

// Headers gives access to a parsed frame's headers in wire order, already
// unescaped (in place, in the bytes given to Feed; no copies). Lookups scan
// the few headers a frame has and do not allocate. Returned slices are
// valid only until OnFrame returns; their capacity is clipped, so appending
// to one never overwrites the frame.
type Headers struct {
	raw   []byte
	spans []span
}

// Standard header names.
const (
	HeaderAcceptVersion = "accept-version"
	HeaderAck           = "ack"
	HeaderContentLength = "content-length"
	HeaderContentType   = "content-type"
	HeaderDestination   = "destination"
	HeaderHeartBeat     = "heart-beat"
	HeaderHost          = "host"
	HeaderID            = "id"
	HeaderLogin         = "login"
	HeaderMessage       = "message"
	HeaderMessageID     = "message-id"
	HeaderPasscode      = "passcode"
	HeaderReceipt       = "receipt"
	HeaderReceiptID     = "receipt-id"
	HeaderServer        = "server"
	HeaderSession       = "session"
	HeaderSubscription  = "subscription"
	HeaderTransaction   = "transaction"
	HeaderVersion       = "version"
)

// Len returns the number of header lines, repeats included.
func (h Headers) Len() int { return len(h.spans) }

// At returns the i-th header line's name and value (0 <= i < Len()).
func (h Headers) At(i int) (name, value []byte) {
	s := h.spans[i]
	return h.raw[s.ns:s.ne:s.ne], h.raw[s.vs:s.ve:s.ve]
}

// Lookup returns the value of the first header called name, as STOMP says
// repeated headers resolve, and whether there is one. Names are case
// sensitive.
func (h Headers) Lookup(name string) ([]byte, bool) {
	for i := range h.spans {
		s := &h.spans[i]
		if s.ne-s.ns == len(name) && string(h.raw[s.ns:s.ne]) == name {
			return h.raw[s.vs:s.ve:s.ve], true
		}
	}
	return nil, false
}

// Get returns the value of the first header called name, or nil if there
// is none (an empty value is a non-nil empty slice).
func (h Headers) Get(name string) []byte {
	v, _ := h.Lookup(name)
	return v
}

// unescape decodes the STOMP escapes in b[i:j] in place and returns the
// new end. \r is defined only when v12 is set (STOMP 1.2).
func unescape(b []byte, i, j int, v12 bool) (int, error) {
	k := bytes.IndexByte(b[i:j], '\\')
	if k < 0 {
		return j, nil
	}
	w := i + k
	for r := w; r < j; r++ {
		c := b[r]
		if c == '\\' {
			if r++; r == j {
				return 0, ErrBadEscape
			}
			switch b[r] {
			case 'n':
				c = '\n'
			case 'c':
				c = ':'
			case '\\':
				c = '\\'
			case 'r':
				if !v12 {
					return 0, ErrBadEscape
				}
				c = '\r'
			default:
				return 0, ErrBadEscape
			}
		}
		b[w] = c
		w++
	}
	return w, nil
}
