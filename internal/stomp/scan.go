package stomp

import "bytes"

// The scanner below works on b, the bytes of the current frame received so
// far (b[0] is the command's first byte), resuming from the progress in
// state. It returns the frame's length once the frame is complete, or 0
// when more bytes are needed.
//
// Limits are checked against the bytes available, so a frame over a limit
// fails as soon as its bytes cross the limit, without waiting for (or
// buffering) the rest. When several problems become certain, the one at the
// earliest byte wins; content problems of a line (command, colon, escapes,
// content-length) are known at its LF. That makes the result independent of
// how the bytes were split across Feed calls.

func indexLF(b []byte) int  { return bytes.IndexByte(b, '\n') }
func indexNUL(b []byte) int { return bytes.IndexByte(b, 0) }

// scan advances through b and returns the frame length, or 0 if the frame
// continues beyond b.
func (s *state) scan(b []byte) (int, error) {
	for s.phase == phaseHead {
		ls := s.lineStart
		if ls >= len(b) {
			return 0, nil
		}
		if b[ls] == 0 && s.cmd != 0 {
			return s.endAtLineStart(ls)
		}
		from := max(ls, s.scanned)
		k := indexLF(b[from:])
		if k < 0 {
			s.scanned = len(b)
			return 0, s.checkLine(ls, len(b))
		}
		nl := from + k
		if err := s.checkLine(ls, nl+1); err != nil {
			return 0, err
		}
		if err := s.line(b, ls, nl); err != nil {
			return 0, err
		}
		s.lineStart, s.scanned = nl+1, nl+1
	}
	return s.scanBody(b)
}

// checkLine checks the line starting at ls, of which the bytes up to end
// (exclusive) are known, against the line and frame size limits.
func (s *state) checkLine(ls, end int) error {
	lim := s.p.lim
	if lim == nil {
		return nil
	}
	at, err := end, error(nil)
	if m := lim.MaxHeaderLine; m > 0 && end-ls > m {
		at, err = ls+m, ErrHeaderTooLong
	}
	if m := lim.MaxFrame; m > 0 && end > m && m < at {
		err = ErrFrameTooLarge
	}
	return err
}

// endAtLineStart ends a frame at a NUL found where a header line would
// start. The grammar wants a blank line first, but the STOMP 1.2 spec's own
// DISCONNECT and RECEIPT examples omit it, so it is accepted as an empty
// body.
func (s *state) endAtLineStart(ls int) (int, error) {
	if lim := s.p.lim; lim != nil && lim.MaxFrame > 0 && ls >= lim.MaxFrame {
		return 0, ErrFrameTooLarge
	}
	if s.bodyLen > 0 {
		return 0, ErrBadContentLength
	}
	s.phase = phaseBody
	s.bodyStart, s.bodyLen = ls, 0
	return ls + 1, nil
}

// line handles the complete line b[ls:nl] (nl is the index of its LF).
func (s *state) line(b []byte, ls, nl int) error {
	end := nl
	if end > ls && b[end-1] == '\r' {
		end--
	}
	if s.cmd == 0 {
		c := lookupCommand(b[ls:end])
		if c == 0 {
			return ErrBadCommand
		}
		s.cmd = c
		return nil
	}
	if end == ls {
		return s.endHeaders(nl + 1)
	}
	if lim := s.p.lim; lim != nil && lim.MaxHeaders > 0 && len(s.spans) >= lim.MaxHeaders {
		return ErrTooManyHeaders
	}
	return s.header(b, ls, end)
}

// header records the header line b[ls:end] (EOL excluded), unescaping its
// name and value in place when the frame's command and the version call
// for it, and notes the first content-length.
func (s *state) header(b []byte, ls, end int) error {
	line := b[ls:end]
	c := bytes.IndexByte(line, ':')
	if c <= 0 {
		return ErrBadHeader
	}
	sp := span{ns: ls, ne: ls + c, vs: ls + c + 1, ve: end}
	if v := s.p.Version(); v >= V11 && s.cmd.Escaped() && bytes.IndexByte(line, '\\') >= 0 {
		var err error
		if sp.ne, err = unescape(b, sp.ns, sp.ne, v >= V12); err != nil {
			return err
		}
		if sp.ve, err = unescape(b, sp.vs, sp.ve, v >= V12); err != nil {
			return err
		}
	}
	if s.bodyLen < 0 && string(b[sp.ns:sp.ne]) == HeaderContentLength {
		n, err := parseContentLength(b[sp.vs:sp.ve])
		if err != nil {
			return err
		}
		s.bodyLen = n
	}
	s.spans = append(s.spans, sp)
	return nil
}

// parseContentLength parses a content-length value: decimal digits only.
func parseContentLength(v []byte) (int, error) {
	if len(v) == 0 {
		return 0, ErrBadContentLength
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, ErrBadContentLength
		}
		if n > (maxInt-9)/10 {
			return 0, ErrBodyTooLarge
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

const maxInt = int(^uint(0) >> 1)

// endHeaders starts the body at bs, right after the blank line. A
// content-length is checked against the limits at once.
func (s *state) endHeaders(bs int) error {
	s.phase = phaseBody
	s.bodyStart, s.scanned = bs, bs
	n := s.bodyLen
	if n < 0 {
		return nil
	}
	if n > 0 && !s.cmd.AllowsBody() {
		return ErrUnexpectedBody
	}
	if lim := s.p.lim; lim != nil {
		if lim.MaxBody > 0 && n > lim.MaxBody {
			return ErrBodyTooLarge
		}
		if lim.MaxFrame > 0 && n > lim.MaxFrame-bs-1 {
			return ErrFrameTooLarge
		}
	}
	return nil
}

// scanBody looks for the end of the body: content-length bytes and a NUL,
// or the first NUL.
func (s *state) scanBody(b []byte) (int, error) {
	if n := s.bodyLen; n >= 0 {
		end := s.bodyStart + n
		if len(b) <= end {
			return 0, nil
		}
		if b[end] != 0 {
			return 0, ErrMissingNUL
		}
		return end + 1, nil
	}
	from := s.scanned
	k := indexNUL(b[from:])
	end, complete := len(b), k >= 0 // end: first byte that is not body
	if complete {
		end = from + k
	}
	if err := s.checkBody(end, complete); err != nil {
		return 0, err
	}
	if !complete {
		s.scanned = len(b)
		return 0, nil
	}
	s.bodyLen = end - s.bodyStart
	return end + 1, nil
}

// checkBody checks a body without content-length whose bytes known so far
// end at end (at the NUL when complete) against the body rules and limits.
func (s *state) checkBody(end int, complete bool) error {
	if end > s.bodyStart && !s.cmd.AllowsBody() {
		return ErrUnexpectedBody
	}
	lim := s.p.lim
	if lim == nil {
		return nil
	}
	at, err := maxInt, error(nil)
	if m := lim.MaxBody; m > 0 && end-s.bodyStart > m {
		at, err = s.bodyStart+m, ErrBodyTooLarge
	}
	size := end
	if complete {
		size++ // the NUL
	}
	if m := lim.MaxFrame; m > 0 && size > m && m < at {
		err = ErrFrameTooLarge
	}
	return err
}
