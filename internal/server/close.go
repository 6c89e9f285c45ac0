package server

import (
	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/metrics"
)

// closeMode says where a close frame goes and how the connection ends
// after it.
type closeMode uint8

const (
	// closeQueued, from any goroutine: the close frame goes after
	// everything already queued, and the peer's close is awaited for the
	// close timeout (longer while queued messages are still being
	// written).
	closeQueued closeMode = iota
	// closeAfterBatch, on the event loop inside a read: the close frame
	// goes after the read's output; the peer's close is awaited.
	closeAfterBatch
	// closeFailed, on the event loop: a protocol failure (RFC 6455 section
	// 7.1.7). The close frame goes after the read's output, further input
	// is ignored, and the write side is shut once it is out, so the peer
	// reads the frame rather than a reset.
	closeFailed
	// closeEcho, on the event loop: the peer sent a close frame. It is
	// echoed (unless it answers ours) and TCP closes once that is out.
	closeEcho
	// closeDropQueue, from any goroutine: a slow consumer. Whatever is
	// queued will not be read in time: it is dropped (all but a partly
	// written frame) so the close frame goes next and a reader that is
	// merely slow still learns why.
	closeDropQueue
)

// close is the one way an open connection starts closing: it records why
// (the first reason wins; it feeds the log and
// wsgate_connections_closed_total), moves the state, writes the close
// frame with code and text, and arms the close timer. It reports false
// when the connection was not open (already closing), in which case
// nothing is sent, except that closeEcho and closeFailed still finish
// the connection.
func (c *conn) close(code frame.CloseCode, text string, why closeReason, mode closeMode) bool {
	ours := true // whether this call sends the close frame
	switch mode {
	case closeFailed:
		switch c.swapState(stateFailed) {
		case stateOpen:
		case stateClosing:
			ours = false // our close frame is already out
		default:
			return false
		}
	case closeEcho:
		ours = c.casState(stateOpen, stateClosing)
	default:
		if !c.casState(stateOpen, stateClosing) {
			return false
		}
	}
	c.setReason(why)
	var buf [4 + frame.MaxControlPayload]byte
	var fr []byte
	if ours {
		if code == frame.CloseNoStatus {
			fr = append(buf[:0], frame.CompiledCloseEmpty...)
		} else {
			fr = frame.AppendClose(buf[:0], code, text)
		}
	}
	s := c.srv()
	switch mode {
	case closeQueued:
		_ = c.Write(fr)
	case closeDropQueue:
		if n := c.DropOldest(0); n > 0 {
			s.m.Dropped.Add(n)
		}
		_ = c.Write(fr)
		c.CloseWhenFlushed()
	case closeAfterBatch:
		b := c.batch()
		b.b = append(b.b, fr...)
	case closeFailed, closeEcho:
		b := c.batch()
		b.b = append(b.b, fr...)
		c.writeBatch(b, false) // now: what follows depends on Queued
		if mode == closeFailed && c.Queued() == 0 {
			c.ShutdownWrite()
		} else {
			c.CloseWhenFlushed()
		}
	}
	s.eng.Schedule(&c.Conn, s.cfg.CloseTimeout)
	return true
}

// stillFlushing reports whether a closing connection still has queued
// bytes that its socket is taking (not refused for the write timeout).
func (c *conn) stillFlushing() bool {
	if c.Queued() == 0 {
		return false
	}
	s := c.srv()
	since := c.BlockedSince()
	return since == 0 || s.eng.Now()-since < s.eng.Ticks(s.cfg.WriteTimeout)
}

// slowConsumer applies the configured policy to a connection whose queue
// passed its limit, or (stuck) whose socket refused bytes for the write
// timeout.
func (c *conn) slowConsumer(stuck bool) {
	s := c.srv()
	if s.cfg.SlowPolicy == "drop-oldest" {
		limit := int(s.cfg.SendQueue)
		if stuck {
			limit = 0
		}
		if n := c.DropOldest(limit); n > 0 {
			s.m.SlowConsumer[metrics.PolicyDropOldest].Inc()
			s.m.Dropped.Add(n)
		}
		return
	}
	if stuck {
		if c.casState(stateOpen, stateClosing) {
			s.m.SlowConsumer[metrics.PolicyClose].Inc()
			c.setReason(reasonWriteTimeout)
			_ = c.Close()
		}
		return
	}
	if c.close(frame.ClosePolicyViolation, "slow consumer", reasonSlowConsumer, closeDropQueue) {
		s.m.SlowConsumer[metrics.PolicyClose].Inc()
	}
}

// batch returns the output batch of the event loop serving c.
func (c *conn) batch() *batch { return c.srv().eng.LoopOf(&c.Conn).Data.(*batch) }

// flushBatch writes the loop's batched output for c, with the loop's
// other sends when the engine batches them (-io-uring).
func (c *conn) flushBatch(b *batch) { c.writeBatch(b, true) }

// writeBatch writes the loop's batched output for c; with batched false
// the bytes go to the socket (or c's queue) before it returns.
func (c *conn) writeBatch(b *batch, batched bool) {
	if len(b.b) == 0 {
		return
	}
	if batched && b.l != nil {
		_ = c.WriteFrom(b.l, b.b)
	} else {
		_ = c.Write(b.b)
	}
	if cap(b.b) > 1<<20 {
		b.b = nil // do not pin a huge echo buffer
	} else {
		b.b = b.b[:0]
	}
}
