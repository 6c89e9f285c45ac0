package loadtest

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/loadtest/wsclient"
)

// churnEvents keeps Conns connection slots busy: each connection lives a
// jittered Lifetime, closes (with a close frame, or abruptly for
// AbruptFraction of them) and its slot reconnects after a jittered
// exponential backoff that grows with consecutive failures. wsclient.Conn.ID is the
// slot and wsclient.Conn.Tag the number of consecutive failures before this dial.
type churnEvents struct {
	e   *env
	ctx context.Context
}

func (ev *churnEvents) Open(c *wsclient.Conn) {
	life := jitter(ev.e.cfg.Lifetime)
	abrupt := rand.Float64() < ev.e.cfg.AbruptFraction
	time.AfterFunc(life, func() {
		if abrupt {
			c.Abort()
		} else {
			c.Close()
		}
	})
}

func (ev *churnEvents) Message(c *wsclient.Conn, _ frame.Opcode, p []byte) { countIn(c, p) }

func (ev *churnEvents) Close(c *wsclient.Conn, _ bool, _ string) { ev.redial(c.ID, 0) }

func (ev *churnEvents) Fail(c *wsclient.Conn, _ string, _ error) { ev.redial(c.ID, c.Tag+1) }

// redial schedules the slot's next connection after the backoff for the
// given number of consecutive failures.
func (ev *churnEvents) redial(slot, failures uint32) {
	if !ev.e.sending.Load() || ev.ctx.Err() != nil {
		return
	}
	d := backoff(ev.e.cfg.BackoffBase, ev.e.cfg.BackoffMax, failures)
	time.AfterFunc(d, func() {
		if !ev.e.sending.Load() || ev.ctx.Err() != nil {
			return
		}
		if _, err := ev.e.cl.Dial(ev.e.target(int(slot)), ev, slot, failures); err == nil {
			ev.e.rec.C.Reconnects.Add(1)
		}
	})
}

// backoff returns d = base*2^failures capped at max, jittered to a uniform
// value in [d/2, 3d/2) so that reconnecting clients spread out.
func backoff(base, max time.Duration, failures uint32) time.Duration {
	d := base
	for i := uint32(0); i < failures && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return jitter(d)
}

// jitter returns a uniform value in [d/2, 3d/2) (d +- 50%).
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + time.Duration(rand.Int64N(int64(d)))
}

// runChurn ramps the slots up and lets them churn for Duration.
func runChurn(ctx context.Context, e *env) error {
	ev := &churnEvents{e: e, ctx: ctx}
	e.startMeasure()
	n := e.cfg.share(e.cfg.Conns)
	end := time.Now().Add(e.cfg.Duration)
	e.ramp(ctx, n, func(i int) { e.dialRole(i, e.target(i), ev, 0) })
	holdUntil(ctx, end)
	e.stopMeasure()
	return nil
}
