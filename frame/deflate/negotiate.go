package deflate

import (
	"errors"
	"strconv"
)

// Errors returned by ParseResponse and ValidateResponse (client side).
var (
	// ErrSyntax: the header value is not a valid extension list.
	ErrSyntax = errors.New("deflate: malformed extension header")
	// ErrUnknownExtension: the response names an extension other than
	// permessage-deflate, or names it twice.
	ErrUnknownExtension = errors.New("deflate: unexpected extension in response")
	// ErrUnknownParam: a parameter RFC 7692 does not define.
	ErrUnknownParam = errors.New("deflate: unknown extension parameter")
	// ErrDuplicateParam: the same parameter appears twice.
	ErrDuplicateParam = errors.New("deflate: duplicate extension parameter")
	// ErrBadValue: a value on a flag parameter, a missing or out-of-range
	// window bits value.
	ErrBadValue = errors.New("deflate: bad extension parameter value")
	// ErrNotOffered: the response carries or lacks a parameter in a way the
	// offer did not allow (RFC 7692 section 7.1).
	ErrNotOffered = errors.New("deflate: response does not match the offer")
)

// Parameter names (RFC 7692 section 7.1).
const (
	paramServerNoCtx = "server_no_context_takeover"
	paramClientNoCtx = "client_no_context_takeover"
	paramServerBits  = "server_max_window_bits"
	paramClientBits  = "client_max_window_bits"
)

// Negotiator is the server side of the negotiation. Feed it every
// Sec-WebSocket-Extensions header line of the upgrade request, in order,
// then ask Accepted. The zero value behaves as after Reset(nil). A
// Negotiator is small, allocation free and owned by the goroutine handling
// the handshake.
type Negotiator struct {
	ctxTakeover bool
	done        bool
	accepted    Params
}

// Reset prepares n for a new handshake with the policy opts (nil means the
// zero Options). Only opts.ContextTakeover matters for negotiation.
func (n *Negotiator) Reset(opts *Options) {
	*n = Negotiator{ctxTakeover: opts != nil && opts.ContextTakeover}
}

// Offer parses one header value: a comma-separated list of extension
// offers. Offers of other extensions are skipped; so is a
// permessage-deflate offer with an unknown or duplicate parameter, a bad
// value, or a syntax error (RFC 7692 section 7: decline it and look at the
// next one). The first acceptable offer over all calls wins; later ones are
// ignored.
func (n *Negotiator) Offer(headerValue []byte) {
	sc := scanner{s: headerValue}
	for !n.done && !sc.eof() {
		name, p, err := sc.element(true)
		if err != nil || !isExtensionName(name) {
			continue
		}
		n.accepted = n.respond(p)
		n.done = true
	}
}

// respond turns an acceptable offer into the response parameters.
func (n *Negotiator) respond(offer Params) Params {
	r := Params{
		ServerNoContextTakeover:    true,
		ClientNoContextTakeover:    true,
		ServerMaxWindowBits:        offer.ServerMaxWindowBits,
		ClientMaxWindowBits:        offer.ClientMaxWindowBits,
		ClientMaxWindowBitsNoValue: offer.ClientMaxWindowBitsNoValue,
	}
	if n.ctxTakeover {
		r.ServerNoContextTakeover = offer.ServerNoContextTakeover
		r.ClientNoContextTakeover = offer.ClientNoContextTakeover
	}
	return r
}

// Accepted returns the parameters to answer with and apply, and whether an
// acceptable permessage-deflate offer was seen. With ok false the
// connection proceeds without compression.
func (n *Negotiator) Accepted() (p Params, ok bool) {
	return n.accepted, n.done
}

// AppendResponse appends the Sec-WebSocket-Extensions response value for p
// (without the header name), e.g. "permessage-deflate;
// server_no_context_takeover; client_no_context_takeover". A
// client_max_window_bits parameter is written only with a value.
func AppendResponse(dst []byte, p Params) []byte {
	p.ClientMaxWindowBitsNoValue = false
	return appendParams(dst, p)
}

// AppendOffer appends a client's Sec-WebSocket-Extensions offer value for p
// (without the header name). client_max_window_bits is written without a
// value when p.ClientMaxWindowBitsNoValue is set and p.ClientMaxWindowBits
// is 0.
func AppendOffer(dst []byte, p Params) []byte {
	return appendParams(dst, p)
}

func appendParams(dst []byte, p Params) []byte {
	dst = append(dst, ExtensionName...)
	if p.ServerNoContextTakeover {
		dst = append(dst, "; "+paramServerNoCtx...)
	}
	if p.ClientNoContextTakeover {
		dst = append(dst, "; "+paramClientNoCtx...)
	}
	if p.ServerMaxWindowBits != 0 {
		dst = append(dst, "; "+paramServerBits+"="...)
		dst = strconv.AppendInt(dst, int64(p.ServerMaxWindowBits), 10)
	}
	switch {
	case p.ClientMaxWindowBits != 0:
		dst = append(dst, "; "+paramClientBits+"="...)
		dst = strconv.AppendInt(dst, int64(p.ClientMaxWindowBits), 10)
	case p.ClientMaxWindowBitsNoValue:
		dst = append(dst, "; "+paramClientBits...)
	}
	return dst
}

// ParseResponse parses the Sec-WebSocket-Extensions value a server answered
// with (client side). It must hold exactly one permessage-deflate element
// with known, non-duplicate, well-formed parameters; client_max_window_bits
// must carry a value. Check it against the offer with ValidateResponse.
func ParseResponse(headerValue []byte) (Params, error) {
	sc := scanner{s: headerValue}
	name, p, err := sc.element(false)
	switch {
	case err != nil:
		return Params{}, err
	case !isExtensionName(name):
		return Params{}, ErrUnknownExtension
	case !sc.eof():
		return Params{}, ErrUnknownExtension
	}
	return p, nil
}

// ValidateResponse checks a parsed response against the offer the client
// sent (RFC 7692 section 7.1): client_max_window_bits only if offered and
// not above the offered value; server_max_window_bits present and not above
// the offered value if offered; server_no_context_takeover present if
// offered. It returns ErrNotOffered otherwise.
func ValidateResponse(offer, resp Params) error {
	if resp.ClientMaxWindowBits != 0 {
		if offer.ClientMaxWindowBits == 0 && !offer.ClientMaxWindowBitsNoValue {
			return ErrNotOffered
		}
		if offer.ClientMaxWindowBits != 0 && resp.ClientMaxWindowBits > offer.ClientMaxWindowBits {
			return ErrNotOffered
		}
	}
	if offer.ServerMaxWindowBits != 0 &&
		(resp.ServerMaxWindowBits == 0 || resp.ServerMaxWindowBits > offer.ServerMaxWindowBits) {
		return ErrNotOffered
	}
	if offer.ServerNoContextTakeover && !resp.ServerNoContextTakeover {
		return ErrNotOffered
	}
	return nil
}

// isExtensionName reports whether name is permessage-deflate (tokens are
// compared ASCII case-insensitively).
func isExtensionName(name []byte) bool { return equalFold(name, ExtensionName) }
