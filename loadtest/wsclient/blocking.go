package wsclient

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"

	"github.com/wsgate/wsgate/loadtest/stats"
)

// DialBlocking opens a WebSocket connection to t outside the event loop,
// as an ordinary blocking net.Conn whose reads and writes are the
// caller's (slow and stalled readers). It counts the attempt, the
// handshake latency and the open connection, or the failure by kind, as
// Dial does; the caller counts the close (LiveCounters.Open). Nothing past
// the response head is read: the server's first frames stay unread.
func (cl *Client) DialBlocking(t *Target) (net.Conn, error) {
	rec := cl.rec
	rec.C.ConnectAttempts.Add(1)
	start := time.Now()
	fail := func(err error) (net.Conn, error) {
		rec.Fail(FailureKind(err), err)
		return nil, err
	}
	d := net.Dialer{Timeout: cl.opts.DialTimeout, LocalAddr: cl.localAddr()}
	if d.LocalAddr != nil {
		d.Control = bindNoPort
	}
	nc, err := d.Dial("tcp", t.Addr)
	if err != nil {
		return fail(err)
	}
	if t.TLS {
		cfg := cl.tlsCfg.Clone()
		cfg.ServerName, _, _ = net.SplitHostPort(t.Addr)
		tconn := tls.Client(nc, cfg)
		_ = nc.SetDeadline(time.Now().Add(cl.opts.HandshakeTimeout))
		if err := tconn.Handshake(); err != nil {
			nc.Close()
			return fail(&tlsError{err})
		}
		nc = tconn
	}
	var r Rand
	r.Seed(uint64(start.UnixNano()))
	var key [24]byte
	var accept [28]byte
	makeKey(&r, &key, &accept)
	_ = nc.SetDeadline(time.Now().Add(cl.opts.HandshakeTimeout))
	if _, err := nc.Write(t.appendRequest(nil, key[:], false)); err != nil {
		nc.Close()
		return fail(err)
	}
	head, err := readHead(nc)
	if err == nil {
		_, err = parseResponse(head, &accept, false)
	}
	if err != nil {
		nc.Close()
		return fail(err)
	}
	_ = nc.SetDeadline(time.Time{})
	rec.Record(stats.KindHandshake, 0, time.Since(start))
	rec.C.Connected.Add(1)
	rec.C.Open.Add(1)
	return nc, nil
}

// readHead reads byte by byte up to the end of the response head, so that
// no frame bytes are consumed (a stalled reader must leave them unread).
func readHead(nc net.Conn) ([]byte, error) {
	var head []byte
	var b [1]byte
	for len(head) < maxResponseHeader {
		if _, err := io.ReadFull(nc, b[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, errEOF
			}
			return nil, err
		}
		head = append(head, b[0])
		if n := len(head); n >= 4 && string(head[n-4:]) == "\r\n\r\n" {
			return head, nil
		}
	}
	return nil, ErrHeaderTooBig
}
