package loadtest

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/loadtest/wsclient"
)

// The STOMP scenarios run the broadcast and echo scenarios over a STOMP
// endpoint (wsgate's /stomp, or any STOMP-over-WebSocket broker), with
// the frames @stomp/stompjs sends: CONNECT (accept-version 1.2, no
// heart-beats), SUBSCRIBE with a receipt, SEND with content-length. A
// connection counts as open for the scenario once its subscription's
// RECEIPT is back; MESSAGE bodies are what the wrapped scenario checks
// and times, and its sends go out as SEND frames.

// Per-connection STOMP progress, in wsclient.Conn.Tag above the scenario's bits.
const (
	tagStompConnected = 1 << 28 // CONNECTED read
	tagStompReady     = 1 << 29 // the subscription's RECEIPT read (or none needed)
	stompBits         = tagStompConnected | tagStompReady
)

// stompEvents wraps a scenario's wsclient.Events with STOMP framing.
type stompEvents struct {
	inner wsclient.Events
	// dest returns connection c's SEND destination; sub its subscription
	// ("" for none: a broadcast publisher).
	dest func(c *wsclient.Conn) string
	sub  func(c *wsclient.Conn) string
	mu   sync.Mutex
	ids  map[*wsclient.Conn]string // destinations, built once per connection
	// ownIDs gives each subscription an id of its own (the connection's
	// number) instead of 0.
	ownIDs bool
}

func (ev *stompEvents) destination(c *wsclient.Conn) string {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	d, ok := ev.ids[c]
	if !ok {
		d = ev.dest(c)
		ev.ids[c] = d
	}
	return d
}

// sendRaw sends one control frame (CONNECT, SUBSCRIBE) unwrapped and not
// counted as a scenario message.
func sendRaw(c *wsclient.Conn, b []byte) {
	c.Tag |= wsclient.TagRawFrame
	if c.SendLocked(frame.OpText, b) == nil {
		c.Recorder().C.MsgsOut.Add(-1)
		c.Recorder().C.BytesOut.Add(-int64(len(b)))
	}
	c.Tag &^= wsclient.TagRawFrame
}

func (ev *stompEvents) Open(c *wsclient.Conn) {
	sendRaw(c, []byte("CONNECT\naccept-version:1.2\nhost:wsload\nheart-beat:0,0\n\n\x00"))
}

func (ev *stompEvents) Message(c *wsclient.Conn, op frame.Opcode, p []byte) {
	for len(p) > 0 {
		for len(p) > 0 && (p[0] == '\n' || p[0] == '\r') {
			p = p[1:] // heart-beats
		}
		if len(p) == 0 {
			return
		}
		cmd, _, body, rest, ok := splitFrame(p)
		if !ok {
			c.Recorder().C.Corrupt.Add(1)
			return
		}
		p = rest
		switch string(cmd) {
		case "MESSAGE":
			t := c.Tag & stompBits // the wrapped scenario sees its own bits only
			c.Tag &^= stompBits
			ev.inner.Message(c, op, body)
			c.Tag |= t
		case "CONNECTED":
			c.Tag |= tagStompConnected
			if s := ev.sub(c); s != "" {
				id := "0"
				if ev.ownIDs {
					id = strconv.FormatUint(uint64(c.ID), 10)
				}
				sendRaw(c, []byte("SUBSCRIBE\nid:"+id+"\ndestination:"+s+"\nreceipt:sub\n\n\x00"))
			} else {
				ev.ready(c)
			}
		case "RECEIPT":
			ev.ready(c)
		default: // ERROR
			c.Recorder().ErrorFrame("stomp_error")
		}
	}
}

func (ev *stompEvents) ready(c *wsclient.Conn) {
	if c.Tag&tagStompReady == 0 {
		t := c.Tag&stompBits | tagStompReady
		c.Tag &^= stompBits
		ev.inner.Open(c)
		c.Tag |= t
	}
}

func (ev *stompEvents) Close(c *wsclient.Conn, byPeer bool, reason string) {
	ev.inner.Close(c, byPeer, reason)
}
func (ev *stompEvents) Fail(c *wsclient.Conn, what string, err error) { ev.inner.Fail(c, what, err) }

// WrapPayload implements wsclient.PayloadWrapper: a SEND frame with content-length.
func (ev *stompEvents) WrapPayload(c *wsclient.Conn, dst, payload []byte) []byte {
	dst = append(dst, "SEND\ndestination:"...)
	dst = append(dst, ev.destination(c)...)
	dst = append(dst, "\ncontent-length:"...)
	dst = strconv.AppendInt(dst, int64(len(payload)), 10)
	dst = append(dst, "\n\n"...)
	dst = append(dst, payload...)
	return append(dst, 0)
}

// splitFrame splits the first frame off p: command, header block, body
// (content-length bytes when given, else up to the NUL) and the rest.
func splitFrame(p []byte) (cmd, headers, body, rest []byte, ok bool) {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		return
	}
	cmd = bytes.TrimSuffix(p[:i], []byte("\r"))
	hEnd := bytes.Index(p[i:], []byte("\n\n"))
	if hEnd < 0 {
		return
	}
	headers = p[i+1 : i+hEnd+1]
	start := i + hEnd + 2
	n := -1
	if k := bytes.Index(headers, []byte("content-length:")); k >= 0 && (k == 0 || headers[k-1] == '\n') {
		v := headers[k+len("content-length:"):]
		if e := bytes.IndexByte(v, '\n'); e >= 0 {
			v = v[:e]
		}
		if x, err := strconv.Atoi(string(v)); err == nil {
			n = x
		}
	}
	if n < 0 {
		n = bytes.IndexByte(p[start:], 0)
	}
	if n < 0 || start+n >= len(p) || p[start+n] != 0 {
		return
	}
	return cmd, headers, p[start : start+n], p[start+n+1:], true
}

// runStompBroadcast is the broadcast scenario over STOMP: subscribers on
// /topic/ROOM, publishers sending to it.
func runStompBroadcast(ctx context.Context, e *env) error {
	cfg := e.cfg
	inner := &bcastEvents{e: e, pubs: cfg.Publishers, pubc: map[uint32]*wsclient.Conn{}}
	dest := "/topic/" + cfg.Room
	ev := &stompEvents{inner: inner, ids: map[*wsclient.Conn]string{}, ownIDs: cfg.OwnSubIDs,
		dest: func(*wsclient.Conn) string { return dest },
		sub: func(c *wsclient.Conn) string {
			if c.Tag&^stompBits == tagPublisher {
				return ""
			}
			return dest
		},
	}
	var myPubs []uint32
	for p := cfg.WorkerIndex; p < cfg.Publishers; p += cfg.Workers {
		myPubs = append(myPubs, uint32(p))
	}
	n := cfg.share(cfg.Conns)
	e.ramp(ctx, n, func(i int) { e.dialRole(i, e.target(i), ev, tagSubscriber) })
	for k, id := range myPubs {
		_, _ = e.cl.Dial(e.target(k), ev, pubConnBit|id, tagPublisher)
	}
	e.waitOpen(ctx, int64(n+len(myPubs)))
	e.waitStompReady(ctx, int64(n), func() int { inner.mu.Lock(); defer inner.mu.Unlock(); return len(inner.pubc) }, len(myPubs))
	if e.barrier != nil {
		if err := e.barrier(ctx); err != nil {
			return err
		}
	}
	e.startMeasure()
	start := time.Now()
	end := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for _, id := range myPubs {
		wg.Add(1)
		go func(id uint32) {
			defer wg.Done()
			inner.publish(ctx, id, start, end)
		}(id)
	}
	wg.Wait()
	e.stopMeasure()
	e.drainBroadcast(ctx)
	return nil
}

// waitStompReady waits, within the handshake timeout, until subs
// subscribers have their RECEIPT and pubs publishers their CONNECTED.
func (e *env) waitStompReady(ctx context.Context, subs int64, pubsReady func() int, pubs int) {
	deadline := time.Now().Add(e.cfg.HandshakeTimeout + e.cfg.DialTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if e.rec.C.Subscribers.Load() >= subs && pubsReady() >= pubs {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runStompEcho is the echo scenario over STOMP: each connection
// subscribes to /topic/ROOM.eID and sends there, so every message makes
// a round trip through the server's fan-out.
func runStompEcho(ctx context.Context, e *env) error {
	inner := newEchoEvents(e)
	mine := func(c *wsclient.Conn) string {
		return "/topic/" + e.cfg.Room + ".e" + strconv.FormatUint(uint64(c.ID), 10)
	}
	ev := &stompEvents{inner: inner, ids: map[*wsclient.Conn]string{}, dest: mine, sub: mine, ownIDs: e.cfg.OwnSubIDs}
	n := e.cfg.share(e.cfg.Conns)
	e.ramp(ctx, n, func(i int) { e.dialRole(i, e.target(i), ev, 0) })
	e.waitOpen(ctx, int64(n))
	deadline := time.Now().Add(e.cfg.HandshakeTimeout + e.cfg.DialTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil && e.stompReady() < n {
		time.Sleep(5 * time.Millisecond)
	}
	if e.barrier != nil {
		if err := e.barrier(ctx); err != nil {
			return err
		}
	}
	e.startMeasure()
	end := time.Now().Add(e.cfg.Duration)
	if inner.closed {
		for _, c := range e.cl.Conns() {
			c.Lock()
			if c.OpenLocked() && c.Tag&tagStompReady != 0 {
				inner.startLocked(c)
			}
			c.Unlock()
		}
		holdUntil(ctx, end)
	} else {
		inner.openLoop(ctx, end)
	}
	e.stopMeasure()
	e.drain(ctx, func() bool {
		c := &e.rec.C
		return answered(c) >= c.MsgsOut.Load()
	})
	c := &e.rec.C
	c.Expected.Store(c.MsgsOut.Load())
	if lost := c.MsgsOut.Load() - answered(c); lost > 0 {
		c.Lost.Store(lost)
	}
	return nil
}

// stompIdleEvents is the inner scenario of stomp-connect: it counts the
// connections whose subscription is in place and what arrives on them.
type stompIdleEvents struct{ nopEvents }

func (stompIdleEvents) Open(c *wsclient.Conn) { c.Recorder().C.Subscribers.Add(1) }

// runStompConnect is the connect scenario over STOMP: each connection
// sends CONNECT and SUBSCRIBEs to /topic/ROOM (with a receipt); once
// every subscription is in place the connections are held, idle, for
// Duration. It measures what an idle STOMP session costs a server.
func runStompConnect(ctx context.Context, e *env) error {
	dest := "/topic/" + e.cfg.Room
	ev := &stompEvents{inner: stompIdleEvents{}, ids: map[*wsclient.Conn]string{}, ownIDs: e.cfg.OwnSubIDs,
		dest: func(*wsclient.Conn) string { return dest }, sub: func(*wsclient.Conn) string { return dest }}
	n := e.cfg.share(e.cfg.Conns)
	e.ramp(ctx, n, func(i int) { e.dialRole(i, e.target(i), ev, 0) })
	e.waitOpen(ctx, int64(n))
	e.waitStompReady(ctx, int64(n), func() int { return 0 }, 0)
	if e.barrier != nil {
		if err := e.barrier(ctx); err != nil {
			return err
		}
	}
	e.startMeasure()
	sleepCtx(ctx, e.cfg.Duration)
	e.stopMeasure()
	return nil
}

// stompReady counts connections whose subscription is in place.
func (e *env) stompReady() int {
	n := 0
	for _, c := range e.cl.Conns() {
		c.Lock()
		if c.Tag&tagStompReady != 0 {
			n++
		}
		c.Unlock()
	}
	return n
}
