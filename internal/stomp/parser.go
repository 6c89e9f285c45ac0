package stomp

import (
	"sync"

	"github.com/wsgate/wsgate/frame/bufpool"
)

// Limits bounds what a Parser accepts. Zero in any field means no limit.
// One Limits value is shared read-only by many parsers; do not modify it
// while they run.
type Limits struct {
	MaxFrame      int // longest frame, command line to NUL inclusive (ErrFrameTooLarge)
	MaxHeaderLine int // longest command or header line, its EOL included (ErrHeaderTooLong)
	MaxHeaders    int // most header lines in one frame, repeats included (ErrTooManyHeaders)
	MaxBody       int // longest body (ErrBodyTooLarge)
}

// Default limits, used by DefaultLimits.
const (
	DefaultMaxFrame      = 64 << 10
	DefaultMaxHeaderLine = 8 << 10
	DefaultMaxHeaders    = 64
	DefaultMaxBody       = DefaultMaxFrame
)

// DefaultLimits returns the limits wsgate uses unless configured: frames
// and bodies up to 64 KiB, header lines up to 8 KiB, 64 header lines.
func DefaultLimits() Limits {
	return Limits{
		MaxFrame:      DefaultMaxFrame,
		MaxHeaderLine: DefaultMaxHeaderLine,
		MaxHeaders:    DefaultMaxHeaders,
		MaxBody:       DefaultMaxBody,
	}
}

// Handler receives what a Parser parses. Both methods run synchronously
// inside Parser.Feed; a non-nil error stops Feed and is returned from it
// unchanged.
type Handler interface {
	// OnFrame gets one complete frame. f, its header names and values and
	// its body alias the data given to Feed or a pooled buffer: they are
	// valid only until OnFrame returns. Copy what must outlive the call.
	OnFrame(f *Frame) error
	// OnHeartbeat gets one EOL ("\n" or "\r\n") seen between frames: a
	// heart-beat, or one of the optional EOLs after a frame's NUL. Any data
	// proves the peer alive; this lets a caller count the bare EOLs.
	OnHeartbeat() error
}

// Parser flag bits.
const (
	fDead    uint8 = 1 << iota // Feed returned an error, or Release was called
	fFeeding                   // inside Feed (Release then only marks the parser dead)
)

// Parser is an incremental, in-place STOMP frame parser for one
// connection. The zero value is ready to use (no limits, STOMP 1.2); Init
// sets limits. A Parser is not safe for concurrent use: it belongs to the
// goroutine that reads its connection. Between frames it holds no buffer
// and no state beyond its configuration (24 bytes).
type Parser struct {
	lim   *Limits // shared, read-only; nil = no limits
	st    *state  // progress of a frame split across Feed calls (pooled), nil between frames
	ver   Version // header escaping rules; 0 = V12
	flags uint8
}

// Init prepares p for a new connection with the given limits (nil: no
// limits) and version 1.2 escaping, releasing anything p held.
func (p *Parser) Init(lim *Limits) {
	p.releaseState()
	*p = Parser{lim: lim}
}

// SetVersion sets the header escaping rules for the frames that follow,
// including those later in the data being fed when called from a Handler:
// V12 decodes \r \n \c \\, V11 decodes \n \c \\ (\r is an error), V10
// decodes nothing. CONNECT, STOMP and CONNECTED frames are never unescaped.
// Call it once the session's version is negotiated.
func (p *Parser) SetVersion(v Version) { p.ver = v }

// Version returns the escaping rules in use (V12 unless SetVersion chose
// another).
func (p *Parser) Version() Version {
	if p.ver == 0 {
		return V12
	}
	return p.ver
}

// Buffered reports whether p holds a pooled buffer: true while a frame is
// split across Feed calls.
func (p *Parser) Buffered() bool { return p.st != nil && p.st.buf != nil }

// Release returns anything p holds to its pool. Call it when the
// connection closes. The parser is dead afterwards (Feed returns
// ErrParserFailed) until Init; called from inside a Handler, it makes Feed
// stop after the callback returns.
func (p *Parser) Release() {
	p.flags |= fDead
	if p.flags&fFeeding == 0 {
		p.releaseState()
	}
}

func (p *Parser) releaseState() {
	if st := p.st; st != nil {
		p.st = nil
		st.release()
	}
}

// Feed parses data, calling h for every complete frame and every EOL
// between frames. data may be modified in place (header unescaping) and
// must not be used by the caller afterwards except through what h got.
// Frames that lie wholly inside data are parsed in place; the bytes of a
// frame that data ends in the middle of are copied into a pooled buffer
// until a later Feed completes the frame. After Feed returns an error the
// parser is dead: answer a *Error with an ERROR frame (its Reason) and close
// the connection. An error returned by h is passed through unchanged.
//
// Errors do not depend on how the stream is split: each is reported at the
// first byte that makes the stream invalid (a line or frame crossing a
// limit, a bad command or header once its line ends), so Feed detects it
// with the same bytes whether they came in one call or many.
func (p *Parser) Feed(data []byte, h Handler) error {
	if p.flags&fDead != 0 {
		return ErrParserFailed
	}
	st := p.st
	if st == nil {
		if len(data) == 0 {
			return nil
		}
		st = statePool.Get().(*state)
	}
	st.p = p
	p.flags |= fFeeding
	err := st.feed(data, h)
	p.flags &^= fFeeding
	st.p = nil
	if err != nil || p.flags&fDead != 0 {
		p.flags |= fDead
		p.st = nil
		st.release()
		return err
	}
	if st.idle() {
		p.st = nil
		st.release()
	} else {
		p.st = st
	}
	return nil
}

// Frame parsing phases.
const (
	phaseIdle uint8 = iota // between frames
	phaseCR                // between frames, after a CR (an LF must follow)
	phaseHead              // in the command line or the header lines
	phaseBody              // after the blank line, looking for the frame's end
)

// state is a parser's progress through the data, and the Frame handed to
// the Handler. It comes from statePool for the duration of one Feed, and
// stays attached to the Parser only while a frame (or a CRLF) is split
// across Feed calls. All offsets are relative to the current frame's first
// byte, so they stay valid when a split frame moves into buf.
type state struct {
	p     *Parser // the Parser being fed
	frame Frame   // what OnFrame gets
	spans []span  // header positions of the current frame; capacity reused
	buf   *[]byte // pooled copy of a split frame's bytes so far, nil otherwise

	phase     uint8
	cmd       Command // 0 until the command line is complete
	lineStart int     // phaseHead: where the current line starts
	scanned   int     // bytes of the current line or body already searched for its end
	bodyStart int     // phaseBody: first body byte
	bodyLen   int     // content-length (or the body length once known), -1 if absent
}

var statePool = sync.Pool{New: func() any { return new(state) }}

// maxKeptSpans caps the span capacity a pooled state keeps, so one frame
// with many headers does not pin memory in the pool.
const maxKeptSpans = 256

// idle reports whether s is between frames, holding nothing.
func (s *state) idle() bool { return s.phase == phaseIdle && s.buf == nil }

// release resets s and returns it, and its buffer, to their pools.
func (s *state) release() {
	s.releaseBuf()
	spans := s.spans[:0]
	if cap(spans) > maxKeptSpans {
		spans = nil
	}
	*s = state{spans: spans}
	statePool.Put(s)
}

func (s *state) releaseBuf() {
	if s.buf != nil {
		bufpool.Put(s.buf)
		s.buf = nil
	}
}

func (s *state) dead() bool { return s.p.flags&fDead != 0 }

// feed is Feed's loop.
func (s *state) feed(data []byte, h Handler) error {
	for len(data) > 0 && !s.dead() {
		if s.buf != nil {
			n, err := s.feedBuffered(data, h)
			if err != nil {
				return err
			}
			data = data[n:]
			continue
		}
		if s.phase <= phaseCR {
			n, err := s.eols(data, h)
			if err != nil {
				return err
			}
			data = data[n:]
			if len(data) == 0 || s.phase == phaseCR || s.dead() {
				return nil
			}
			s.startFrame()
		}
		n, err := s.scan(data)
		if err != nil {
			return err
		}
		if n == 0 { // data ends inside the frame
			s.keep(data)
			return nil
		}
		if err := s.deliver(data[:n], h); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// eols consumes EOLs between frames, reporting each, and returns the bytes
// consumed. It stops at the first byte of a frame.
func (s *state) eols(data []byte, h Handler) (int, error) {
	i := 0
	for i < len(data) {
		switch c := data[i]; {
		case s.phase == phaseCR:
			if c != '\n' {
				return i, ErrStrayCR
			}
			s.phase = phaseIdle
		case c == '\r':
			s.phase = phaseCR
			i++
			continue
		case c != '\n':
			return i, nil
		}
		i++
		if err := h.OnHeartbeat(); err != nil || s.dead() {
			return i, err
		}
	}
	return i, nil
}

// startFrame resets the progress for a frame starting now.
func (s *state) startFrame() {
	s.phase = phaseHead
	s.cmd = 0
	s.lineStart, s.scanned, s.bodyStart, s.bodyLen = 0, 0, 0, -1
	s.spans = s.spans[:0]
}

// deliver hands the complete frame b to h and returns to phaseIdle.
func (s *state) deliver(b []byte, h Handler) error {
	f := &s.frame
	end := s.bodyStart + s.bodyLen
	f.Command = s.cmd
	f.Headers = Headers{raw: b, spans: s.spans}
	f.Body = b[s.bodyStart:end:end]
	s.phase = phaseIdle
	err := h.OnFrame(f)
	*f = Frame{} // drop references to the caller's data
	s.spans = s.spans[:0]
	return err
}

// maxPrealloc caps how much of a split frame's announced length (its
// content-length) is allocated before the bytes arrive.
const maxPrealloc = 1 << 20

// keep copies data, the start of a frame that continues in a later Feed,
// into a pooled buffer sized for the whole frame when its length is known.
func (s *state) keep(data []byte) {
	want := 2 * len(data)
	if s.phase == phaseBody && s.bodyLen >= 0 {
		want = s.bodyStart + s.bodyLen + 1
	}
	want = min(want, len(data)+maxPrealloc)
	s.buf = bufpool.Get(want)
	*s.buf = append(*s.buf, data...)
}

// feedBuffered continues a split frame with data: it appends data to buf,
// a piece at a time so that bytes after the frame's end are rarely copied,
// and delivers the frame once complete. It returns the bytes of data used.
func (s *state) feedBuffered(data []byte, h Handler) (int, error) {
	used := 0
	for used < len(data) {
		take := s.want(data[used:])
		s.appendBuf(data[used : used+take])
		used += take
		b := *s.buf
		n, err := s.scan(b)
		if err != nil {
			return used, err
		}
		if n > 0 {
			used -= len(b) - n // appended bytes past the frame's end belong to the next one
			err := s.deliver(b[:n], h)
			s.releaseBuf()
			return used, err
		}
	}
	return used, nil
}

// want returns how many bytes of d to append to buf next: up to the next
// byte that may end the current line or body, and never more than makes buf
// cross Limits.MaxFrame by one byte, so buf stays bounded.
func (s *state) want(d []byte) int {
	n := len(d)
	have := len(*s.buf)
	switch {
	case s.phase == phaseBody && s.bodyLen >= 0:
		n = min(n, s.bodyStart+s.bodyLen+1-have)
	case s.phase == phaseBody:
		if k := indexNUL(d); k >= 0 {
			n = k + 1
		}
	default:
		if k := indexLF(d); k >= 0 {
			n = k + 1
		}
	}
	if lim := s.p.lim; lim != nil && lim.MaxFrame > 0 {
		n = min(n, lim.MaxFrame+1-have)
	}
	return max(n, 1)
}

// appendBuf appends p to buf, growing it through the pool.
func (s *state) appendBuf(p []byte) {
	cur := *s.buf
	if need := len(cur) + len(p); need > cap(cur) {
		nb := bufpool.Get(max(need, 2*cap(cur)))
		*nb = append(*nb, cur...)
		bufpool.Put(s.buf)
		s.buf = nb
		cur = *nb
	}
	*s.buf = append(cur, p...)
}
