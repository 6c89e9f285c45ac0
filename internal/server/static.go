package server

// The demo chat at the root of the WebSocket listener (dev mode only).
// The listener is not net/http: a request that is not an upgrade, for one
// of the demo's paths, is answered from the event loop with a response
// package web recorded at start-up (web.RecordDemo), and the connection is
// closed after it.

// serveStatic answers a plain HTTP request for the demo, if it is one,
// and closes the connection after the response; it reports whether it
// did.
func (c *conn) serveStatic(site staticSite, req []byte) bool {
	resp := site.Response(req)
	if resp == nil {
		return false
	}
	s := c.srv()
	c.setReason(reasonHTTP)
	c.storeState(stateRejected) // nothing more is read; the wheel closes it if the client does not
	_ = c.Write(resp)
	c.ShutdownWrite()
	s.eng.Schedule(&c.Conn, s.cfg.CloseTimeout)
	return true
}

// staticSite is what the listener asks for the demo's responses.
type staticSite interface {
	Response(req []byte) []byte
}
