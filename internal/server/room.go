package server

import (
	"sync"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/frame/deflate"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/poller"
)

// connExt is the state only some connections need (a room, a user id); it
// is allocated at upgrade only for them, so an echo connection stays small.
type connExt struct {
	hs   *[]byte // partial upgrade request (pooled) while it is split across reads
	room string
	user string
	id   *auth.Identity // the verified token; nil for anonymous clients
	// readOnly: the token may join room but not publish to it.
	readOnly bool
	mux      *muxState // the rooms of a /ws connection (mux.go); nil otherwise
	// Context-takeover compression state (only with
	// -deflate-context-takeover); mu orders compression with queueing.
	mu     sync.Mutex
	comp   *deflate.Compressor
	decomp *deflate.Decompressor
}

// maxBurst bounds how many queued jobs a worker folds into one flush.
const maxBurst = 64

// runJobs is the worker body: it fans out first and then any jobs already
// waiting (up to maxBurst), queueing references to each job's shared
// frame, and only then flushes every connection it touched, once. A burst
// of small messages to one room costs each member one writev.
func (s *Server) runJobs(w *worker, first job) {
	s.enqueueJob(w, &first)
	for i := 1; i < maxBurst; i++ {
		j, ok := w.q.tryPop()
		if !ok {
			break
		}
		s.enqueueJob(w, &j)
	}
	for _, c := range w.dirty {
		_ = c.Flush()
	}
	clear(w.dirty)
	w.dirty = w.dirty[:0]
}

func (s *Server) enqueueJob(w *worker, j *job) {
	if j.ctl != 0 {
		s.runMuxCtl(w, j)
		return
	}
	if j.room != "" {
		w.members = s.hub.AppendMembers(w.members[:0], j.room)
	} else {
		w.members = s.hub.AppendUser(w.members[:0], j.user)
	}
	sent := 0
	for _, c := range w.members {
		if c == j.from && !s.cfg.EchoSelf {
			continue
		}
		var first, ok, handled bool
		if c.endpoint() == endpointMux {
			first, ok = s.deliverMux(j, c, w)
			handled = true
		} else if c.dflBits() != 0 && c.ext != nil && s.cfg.DeflateContextTakeover {
			first, ok, handled = s.deliverTakeover(j, c, w)
		}
		if !handled {
			first, ok = c.deliver(s.variantFor(j, c.dflBits(), w))
		}
		if ok {
			sent++
			if first {
				w.dirty = append(w.dirty, c)
			}
		}
	}
	for i, v := range w.vars {
		if v != nil {
			v.Release()
			w.vars[i] = nil
		}
	}
	w.releaseMux()
	op := opIndex(j.op)
	s.m.MessagesOut[op].Add(sent)
	s.m.BytesOut[op].Add(sent * (len(j.buf.B) - j.hdr)) // payload bytes, as for echo
	s.m.Broadcasts.Inc()
	clear(w.members)
	j.buf.Release()
}

func opIndex(op frame.Opcode) int {
	if op == frame.OpBinary {
		return metrics.OpBinary
	}
	return metrics.OpText
}

// deliver queues one more reference to b. first reports that the queue was
// empty, so the caller must flush; ok is false if the connection is not
// open.
func (c *conn) deliver(b *poller.Buf) (first, ok bool) {
	if c.loadState() != stateOpen {
		return false, false
	}
	b.Retain()
	queued, err := c.Send(b)
	if err != nil {
		return false, false
	}
	if int64(queued) > c.srv().cfg.SendQueue {
		c.slowConsumer(false)
	}
	return queued == len(b.B), true
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
	if !c.casState(stateOpen, stateClosing) {
		return
	}
	s.m.SlowConsumer[metrics.PolicyClose].Inc()
	if stuck {
		c.setReason(reasonWriteTimeout)
		_ = c.Close()
		return
	}
	c.setReason(reasonSlowConsumer)
	// Whatever is queued will not be read in time: drop it (all but a
	// partly written frame) and let the close frame go next, so a reader
	// that is merely slow still learns why.
	c.DropOldest(0)
	var buf [32]byte
	_ = c.Write(frame.AppendClose(buf[:0], frame.ClosePolicyViolation, "slow consumer"))
	c.CloseWhenFlushed()
	s.eng.Schedule(&c.Conn, s.cfg.CloseTimeout)
}

// joinRooms registers an upgraded connection in the hub.
func (c *conn) joinRooms() {
	if c.ext == nil {
		return
	}
	if c.ext.room != "" {
		c.srv().hub.Join(c.ext.room, c)
	}
	if c.ext.user != "" {
		c.srv().hub.AddUser(c.ext.user, c)
	}
}

// leaveRooms removes a closed connection from the hub, whatever the reason
// it closed.
func (c *conn) leaveRooms() {
	if c.ext == nil {
		return
	}
	if c.ext.room != "" {
		c.srv().hub.Leave(c.ext.room, c)
	}
	if c.ext.user != "" {
		c.srv().hub.RemoveUser(c.ext.user, c)
	}
	c.leaveMuxRooms()
}

// limitNames label wsgate_rate_limited_total{kind}.
var limitNames = [...]string{"messages", "bytes", "user_messages", "user_bytes", "connection_rate", "connections_per_ip", "connections_per_user", "connections_total"}
