package loadtest

import (
	"context"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/loadtest/wsclient"
)

// nopEvents counts nothing beyond what the wsclient.Client records itself: the
// connect scenario only opens and holds connections.
type nopEvents struct{}

func (nopEvents) Open(*wsclient.Conn)                                {}
func (nopEvents) Message(c *wsclient.Conn, _ frame.Opcode, p []byte) { countIn(c, p) }
func (nopEvents) Close(*wsclient.Conn, bool, string)                 {}
func (nopEvents) Fail(*wsclient.Conn, string, error)                 {}

func countIn(c *wsclient.Conn, p []byte) {
	c.Recorder().C.MsgsIn.Add(1)
	c.Recorder().C.BytesIn.Add(int64(len(p)))
}

// runConnect ramps to Conns connections at ConnRate per second, then holds
// them for Duration. Handshake latency and failures by kind are recorded by
// the wsclient.Client.
func runConnect(ctx context.Context, e *env) error {
	n := e.cfg.share(e.cfg.Conns)
	e.ramp(ctx, n, func(i int) { e.dialRole(i, e.target(i), nopEvents{}, 0) })
	e.waitOpen(ctx, int64(n))
	e.startMeasure()
	sleepCtx(ctx, e.cfg.Duration)
	e.stopMeasure()
	return nil
}

// holdUntil sleeps until t or ctx ends.
func holdUntil(ctx context.Context, t time.Time) { sleepCtx(ctx, time.Until(t)) }
