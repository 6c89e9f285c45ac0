package deflate

// scanner walks a Sec-WebSocket-Extensions value (RFC 6455 section 9.1,
// RFC 7230 token, quoted-string and OWS rules) without allocating.
type scanner struct {
	s []byte
	i int
}

// Bits of the seen set in element, one per parameter, to catch duplicates.
const (
	seenServerNoCtx = 1 << iota
	seenClientNoCtx
	seenServerBits
	seenClientBits
)

// value holds an unescaped parameter value; only short values can be valid
// (window bits have at most two digits), longer ones set long.
type value struct {
	b    [2]byte
	n    int
	long bool
}

// eof skips white space and empty list elements and reports whether the
// value is exhausted.
func (sc *scanner) eof() bool {
	for sc.i < len(sc.s) && (isOWS(sc.s[sc.i]) || sc.s[sc.i] == ',') {
		sc.i++
	}
	return sc.i >= len(sc.s)
}

// element parses one extension element up to and including the next comma
// at list level. Parameters are checked only for permessage-deflate; offer
// selects the offer rules (client_max_window_bits may lack a value). On
// error the scanner skips past the element.
func (sc *scanner) element(offer bool) (name []byte, p Params, err error) {
	sc.eof()
	if name = sc.token(); len(name) == 0 {
		return nil, Params{}, sc.fail(ErrSyntax)
	}
	ours := isExtensionName(name)
	var seen uint8
	for {
		sc.skipOWS()
		if sc.i == len(sc.s) {
			return name, p, nil
		}
		switch sc.s[sc.i] {
		case ',':
			sc.i++
			return name, p, nil
		case ';':
			sc.i++
		default:
			return nil, Params{}, sc.fail(ErrSyntax)
		}
		sc.skipOWS()
		pname := sc.token()
		if len(pname) == 0 {
			return nil, Params{}, sc.fail(ErrSyntax)
		}
		sc.skipOWS()
		var v value
		has := sc.i < len(sc.s) && sc.s[sc.i] == '='
		if has {
			sc.i++
			sc.skipOWS()
			if !sc.value(&v) {
				return nil, Params{}, sc.fail(ErrSyntax)
			}
		}
		if !ours {
			continue
		}
		if err := p.set(pname, &v, has, &seen, offer); err != nil {
			return nil, Params{}, sc.fail(err)
		}
	}
}

// set applies one permessage-deflate parameter to p.
func (p *Params) set(name []byte, v *value, has bool, seen *uint8, offer bool) error {
	bit := paramBit(name)
	switch {
	case bit == 0:
		return ErrUnknownParam
	case *seen&bit != 0:
		return ErrDuplicateParam
	}
	*seen |= bit
	switch bit {
	case seenServerNoCtx, seenClientNoCtx:
		if has {
			return ErrBadValue
		}
		p.ServerNoContextTakeover = p.ServerNoContextTakeover || bit == seenServerNoCtx
		p.ClientNoContextTakeover = p.ClientNoContextTakeover || bit == seenClientNoCtx
		return nil
	}
	if !has {
		if bit == seenClientBits && offer {
			p.ClientMaxWindowBitsNoValue = true
			return nil
		}
		return ErrBadValue
	}
	bits := v.windowBits()
	if bits < 0 {
		return ErrBadValue
	}
	if bit == seenServerBits {
		p.ServerMaxWindowBits = bits
	} else {
		p.ClientMaxWindowBits = bits
	}
	return nil
}

// paramBit returns the seen bit of a parameter name, 0 if unknown.
func paramBit(name []byte) uint8 {
	switch {
	case equalFold(name, paramServerNoCtx):
		return seenServerNoCtx
	case equalFold(name, paramClientNoCtx):
		return seenClientNoCtx
	case equalFold(name, paramServerBits):
		return seenServerBits
	case equalFold(name, paramClientBits):
		return seenClientBits
	}
	return 0
}

// windowBits returns the value as window bits 8..15, or -1 if it is not
// a decimal integer without leading zeros in that range (RFC 7692 section
// 7.1.2.1).
func (v *value) windowBits() int {
	switch {
	case v.long:
		return -1
	case v.n == 1 && (v.b[0] == '8' || v.b[0] == '9'):
		return int(v.b[0] - '0')
	case v.n == 2 && v.b[0] == '1' && v.b[1] >= '0' && v.b[1] <= '5':
		return 10 + int(v.b[1]-'0')
	}
	return -1
}

// value scans a token or a quoted-string into v (unescaped).
func (sc *scanner) value(v *value) bool {
	if sc.i < len(sc.s) && sc.s[sc.i] == '"' {
		return sc.quoted(v)
	}
	t := sc.token()
	for _, c := range t {
		v.add(c)
	}
	return len(t) > 0
}

// quoted scans a quoted-string starting at the opening quote.
func (sc *scanner) quoted(v *value) bool {
	for sc.i++; sc.i < len(sc.s); sc.i++ {
		c := sc.s[sc.i]
		switch {
		case c == '"':
			sc.i++
			return true
		case c == '\\':
			sc.i++
			if sc.i == len(sc.s) || !isQuotedPairChar(sc.s[sc.i]) {
				return false
			}
			v.add(sc.s[sc.i])
		case isQDText(c):
			v.add(c)
		default:
			return false
		}
	}
	return false // unterminated
}

func (v *value) add(c byte) {
	if v.n == len(v.b) {
		v.long = true
		return
	}
	v.b[v.n] = c
	v.n++
}

// token scans 1*tchar and returns it (empty if none).
func (sc *scanner) token() []byte {
	start := sc.i
	for sc.i < len(sc.s) && isTChar(sc.s[sc.i]) {
		sc.i++
	}
	return sc.s[start:sc.i]
}

func (sc *scanner) skipOWS() {
	for sc.i < len(sc.s) && isOWS(sc.s[sc.i]) {
		sc.i++
	}
}

// fail skips to just after the next list-level comma and returns err.
func (sc *scanner) fail(err error) error {
	inQuote := false
	for ; sc.i < len(sc.s); sc.i++ {
		switch c := sc.s[sc.i]; {
		case inQuote && c == '\\':
			sc.i++
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			sc.i++
			return err
		}
	}
	return err
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// isTChar reports whether c is a token character (RFC 7230 section 3.2.6).
func isTChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

func isQDText(c byte) bool {
	return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80
}

func isQuotedPairChar(c byte) bool { return c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f) }

// equalFold reports whether b equals the lower-case ASCII string s, ignoring
// ASCII case in b.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
