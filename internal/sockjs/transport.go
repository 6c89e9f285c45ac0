package sockjs

import (
	"bytes"
	"math"
	"strconv"
)

// chunk appends p as one HTTP chunk when chunked, else as it is.
func chunk(dst []byte, chunked bool, p []byte) []byte {
	if !chunked {
		return append(dst, p...)
	}
	dst = strconv.AppendUint(dst, uint64(len(p)), 16)
	dst = append(dst, '\r', '\n')
	dst = append(dst, p...)
	return append(dst, '\r', '\n')
}

// callbackParam returns the c (or callback) query parameter of a JSONP
// or htmlfile request, answering 500 when it is missing or invalid.
func (e *Endpoint) callbackParam(st Stream, req *Request, buf []byte) ([]byte, bool) {
	v, ok := FormValue(req.Query, "c", buf)
	if !ok {
		v, ok = FormValue(req.Query, "callback", buf)
	}
	switch {
	case !ok:
		e.simple(st, req, 500, `"callback" parameter required`)
		return nil, false
	case !ValidCallback(v):
		e.simple(st, req, 500, `invalid "callback" parameter`)
		return nil, false
	}
	return v, true
}

// serveReceive answers a receiving transport: the head (and prelude) now,
// then the session's frames.
func (e *Endpoint) serveReceive(req *Request, rt Route, st Stream, r *Receiver) Result {
	t := rt.Transport
	var cbBuf [maxCallback + 1]byte
	var cb []byte
	if t == TransportHTMLFile || t == TransportJSONPPolling {
		var ok bool
		if cb, ok = e.callbackParam(st, req, cbBuf[:0]); !ok {
			return ResultDone
		}
	}
	chunked := chunkedFor(req)
	h := head{status: 200, flags: hStream | hNoCache | hCookie}
	w := wireXHR
	switch t {
	case TransportXHRPolling, TransportXHRStreaming:
		h.ctype, h.flags = ctJavaScript, h.flags|hCORS
	case TransportEventSource:
		h.ctype, h.flags, w = ctEventSrc, h.flags|hCORSES, wireEventSource
	case TransportHTMLFile:
		h.ctype, w = ctHTML, wireHTMLFile
	case TransportJSONPPolling:
		h.ctype, h.flags = ctJavaScript, h.flags|hNoSniff
	}
	if chunked {
		w++ // the chunked form follows each plain one
	}
	b := getScratch()
	*b = e.appendHead(*b, req, &h)
	switch t {
	case TransportXHRStreaming:
		*b = chunk(*b, chunked, xhrStreamingPrelude)
	case TransportEventSource:
		*b = chunk(*b, chunked, []byte("\r\n"))
	case TransportHTMLFile:
		var page [htmlfileMin + 128]byte
		*b = chunk(*b, chunked, appendHTMLFilePrelude(page[:0], cb))
	}
	st.Write(*b)
	putScratch(b)

	r.stream, r.transport, r.wire = st, t, w
	r.reset()
	r.keepAlive = chunked && req.KeepAlive()
	r.cbLen = uint8(copy(r.callback[:], cb))
	r.sent, r.limit = 0, 1
	if t.Streaming() {
		r.limit = e.opts.responseLimit()
	}
	for {
		s := e.getOrCreate(rt.Session)
		if s.open(r.Open) {
			e.fire(s, evOpen)
		}
		ok, ev := s.attach(r)
		e.fire(s, ev)
		if ok {
			return ResultReceiving
		}
	}
}

// AttachWebSocket starts a session on a WebSocket whose handshake the
// server completed after ResultUpgrade: st carries RFC 6455 frames (the
// session sends ready-made unmasked text frames through Send and Write)
// and r becomes its receiver. The session has no id and lives as long as
// the connection: the server passes each text message to
// r.ReceiveWebSocket and calls r.Abort when the connection ends.
func (e *Endpoint) AttachWebSocket(st Stream, r *Receiver) *Session {
	r.stream, r.transport, r.wire = st, TransportWebSocket, wireWebSocket
	r.reset()
	r.keepAlive, r.cbLen, r.sent, r.limit = false, 0, 0, math.MaxInt
	s := &Session{ep: e}
	if s.open(r.Open) {
		e.fire(s, evOpen)
	}
	_, ev := s.attach(r)
	e.fire(s, ev)
	return s
}

// serveSend answers xhr_send and jsonp_send: the body's messages go to the
// session's Handler.
func (e *Endpoint) serveSend(req *Request, rt Route, st Stream) {
	body := req.Body
	form := getScratch()
	defer putScratch(form)
	if rt.Transport == TransportJSONPSend {
		ct := req.ContentType
		if i := bytes.IndexByte(ct, ';'); i >= 0 {
			ct = ct[:i]
		}
		if equalFold(trimOWS(ct), "application/x-www-form-urlencoded") {
			d, ok := FormValue(body, "d", *form)
			*form = d
			if !ok || len(d) == 0 {
				e.simple(st, req, 500, "Payload expected.")
				return
			}
			body = d
		}
	}
	s := e.Lookup(rt.Session)
	open := s != nil && s.State() == StateOpen
	sc := getScratch()
	var err error
	*sc, err = ParseMessages(body, *sc, func(msg []byte) {
		if open {
			e.opts.Handler.OnMessage(s, msg)
		}
	})
	putScratch(sc)
	switch {
	case err == ErrPayloadExpected:
		e.simple(st, req, 500, "Payload expected.")
	case err != nil:
		e.simple(st, req, 500, "Broken JSON encoding.")
	case s == nil:
		e.simple(st, req, 404, "404 Error: Page not found\n")
	case rt.Transport == TransportJSONPSend:
		e.reply(st, req, &head{status: 200, ctype: ctPlain, flags: hNoCache | hCookie}, []byte("ok"))
	default:
		e.reply(st, req, &head{status: 204, ctype: ctPlain, flags: hNoCache | hCookie | hCORS}, nil)
	}
}
