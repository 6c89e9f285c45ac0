package loadtest

import (
	"context"
	"time"

	"github.com/wsgate/wsgate/frame"

	"github.com/wsgate/wsgate/loadtest/stats"
	"github.com/wsgate/wsgate/loadtest/wsclient"
)

// echoEvents drives the echo scenario. In closed loop every reply sends the
// next message on the same connection (InFlight per connection); in open
// loop a scheduler sends at a fixed total rate and replies are only
// measured.
type echoEvents struct {
	e        *env
	op       frame.Opcode
	template []byte // read-only payload with a zero stamp
	closed   bool   // closed loop
}

// wsclient.Conn.Tag bit used by the echo scenario: the first InFlight messages have
// been sent on this connection.
const tagStarted = 1

func newEchoEvents(e *env) *echoEvents {
	op := frame.OpText
	if e.cfg.Binary {
		op = frame.OpBinary
	}
	return &echoEvents{e: e, op: op, template: newPayload(e.cfg.Size, 1), closed: e.cfg.MsgRate == 0}
}

func (ev *echoEvents) Open(c *wsclient.Conn) {
	if ev.closed && ev.e.sending.Load() {
		ev.startLocked(c)
	}
}

// startLocked sends the first InFlight messages of a closed loop.
func (ev *echoEvents) startLocked(c *wsclient.Conn) {
	if c.Tag&tagStarted != 0 {
		return
	}
	c.Tag |= tagStarted
	for k := 0; k < ev.e.cfg.InFlight; k++ {
		ev.sendLocked(c, time.Now().UnixNano())
	}
}

// sendLocked sends one stamped message whose intended send time is ts.
func (ev *echoEvents) sendLocked(c *wsclient.Conn, ts int64) {
	b := c.GetBuf()
	p := append((*b)[:0], ev.template...)
	c.UserN++
	putStamp(p, ts, c.ID, uint64(c.UserN))
	_ = c.SendLocked(ev.op, p)
	*b = p[:0]
	c.PutBuf(b)
}

func (ev *echoEvents) Message(c *wsclient.Conn, op frame.Opcode, p []byte) {
	now := time.Now().UnixNano()
	rec := c.Recorder()
	countIn(c, p)
	ts, id, _, ok := parseStamp(p)
	if !ok || id != c.ID || len(p) != len(ev.template) || op != ev.op {
		if code := serverErrorCode(p); code != "" {
			// The server refused a message (rate_limited, say): that
			// message is answered, and the closed loop goes on.
			rec.ErrorFrame(code)
			ev.nextLocked(c, now)
			return
		}
		rec.C.Corrupt.Add(1)
		return
	}
	rec.C.Delivered.Add(1)
	rec.Record(stats.KindMessage, c.ID, time.Duration(now-ts))
	ev.nextLocked(c, now)
}

// nextLocked sends a closed loop's next message after a reply at now.
func (ev *echoEvents) nextLocked(c *wsclient.Conn, now int64) {
	if ev.closed && ev.e.sending.Load() {
		ev.sendLocked(c, now)
	}
}

func (ev *echoEvents) Close(*wsclient.Conn, bool, string) {}
func (ev *echoEvents) Fail(*wsclient.Conn, string, error) {}

// runEcho ramps up, sends for Duration, then drains replies for up to Drain.
func runEcho(ctx context.Context, e *env) error {
	ev := newEchoEvents(e)
	n := e.cfg.share(e.cfg.Conns)
	e.ramp(ctx, n, func(i int) { e.dialRole(i, e.target(i), ev, 0) })
	e.waitOpen(ctx, int64(n))
	if e.barrier != nil {
		if err := e.barrier(ctx); err != nil {
			return err
		}
	}
	e.startMeasure()
	end := time.Now().Add(e.cfg.Duration)
	if ev.closed {
		for _, c := range e.cl.Conns() {
			c.Lock()
			if c.OpenLocked() {
				ev.startLocked(c)
			}
			c.Unlock()
		}
		holdUntil(ctx, end)
	} else {
		ev.openLoop(ctx, end)
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

// answered counts the echo messages that got a reply: the echo itself,
// a reply that failed its checks, or the server's error message.
func answered(c *stats.LiveCounters) int64 {
	return c.Delivered.Load() + c.Corrupt.Load() + c.ErrorFrames.Load()
}

// drain waits up to Drain until done reports true.
// After an interrupt (ctx done) it still waits, but at most one second, so
// that messages in flight at Ctrl-C are not reported as lost.
func (e *env) drain(ctx context.Context, done func() bool) {
	limit := e.cfg.Drain
	if ctx.Err() != nil {
		limit = min(limit, time.Second)
	}
	deadline := time.Now().Add(limit)
	for !done() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	e.drained = time.Now()
}

// openLoop sends at MsgRate (this worker's share) over the open connections
// round robin until end. Each message carries its intended send time, so
// a scheduler or socket that falls behind shows up as latency
// (coordinated omission is not hidden).
func (ev *echoEvents) openLoop(ctx context.Context, end time.Time) {
	e := ev.e
	rate := e.cfg.MsgRate / float64(e.cfg.Workers)
	interval := time.Duration(float64(time.Second) / rate)
	if interval <= 0 {
		interval = 1
	}
	conns := e.cl.Conns()
	refresh := time.Now().Add(time.Second)
	start := time.Now()
	startUnix := start.UnixNano()
	total := int64(end.Sub(start) / interval) // messages in the schedule
	var i int64
	rr := 0
	defer func() {
		// Schedule slots never reached: the sender fell behind.
		if i < total {
			e.rec.C.Unsent.Add(total - i)
		}
	}()
	for ctx.Err() == nil && i < total {
		now := time.Now()
		if !now.Before(end) {
			return
		}
		if now.After(refresh) {
			conns, refresh = e.cl.Conns(), now.Add(time.Second)
		}
		for ; i < total; i++ {
			due := time.Duration(i) * interval
			if start.Add(due).After(now) {
				break
			}
			if i&63 == 63 {
				if now = time.Now(); !now.Before(end) {
					return
				}
			}
			if now.Sub(start)-due > time.Millisecond {
				e.rec.C.Late.Add(1)
			}
			if len(conns) == 0 {
				e.rec.C.Unsent.Add(1)
				continue
			}
			rr = (rr + 1) % len(conns)
			c := conns[rr]
			c.Lock()
			if c.OpenLocked() {
				ev.sendLocked(c, startUnix+int64(due))
			} else {
				e.rec.C.Unsent.Add(1) // its connection has closed
			}
			c.Unlock()
		}
		next := start.Add(time.Duration(i) * interval)
		if d := time.Until(next); d > 0 {
			sleepCtx(ctx, d)
		}
	}
}
