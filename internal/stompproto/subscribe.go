package stompproto

import (
	"strings"
	"sync/atomic"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/hub"
	"github.com/wsgate/wsgate/internal/stomp"
)

// Destination kinds.
const (
	destTopic uint8 = iota + 1 // /topic/NAME: room NAME
	destQueue                  // /queue/NAME: competing consumers
	destUser                   // /user/queue/NAME, /user/topic/NAME: the user's own
	destApp                    // /app/...: the application backend
)

// Ack modes.
const (
	ackAuto uint8 = iota
	ackClient
	ackIndividual
)

// maxDestination and maxSubID bound a destination and a subscription id,
// so a MESSAGE head stays small.
const (
	maxDestination = 512
	maxSubID       = 256
)

// parseDestination classifies d and returns the room or queue name
// ("/" in it becomes ".") for topics and queues.
func parseDestination(d string) (kind uint8, name string, ok bool) {
	switch {
	case len(d) > maxDestination:
		return 0, "", false
	case strings.HasPrefix(d, "/topic/"):
		kind, name = destTopic, d[len("/topic/"):]
	case strings.HasPrefix(d, "/queue/"):
		kind, name = destQueue, d[len("/queue/"):]
	case strings.HasPrefix(d, "/user/"):
		return destUser, d, true
	case strings.HasPrefix(d, "/app/") && len(d) > len("/app/"):
		return destApp, d, true
	default:
		return 0, "", false
	}
	if strings.IndexByte(name, '/') >= 0 {
		name = strings.ReplaceAll(name, "/", ".")
	}
	return kind, name, hub.ValidName(name)
}

// sub is one subscription: a fan-out Subscriber of its own (a topic
// delivers once per subscription), or a /queue consumer, or a user
// destination filter.
type sub struct {
	sess *session
	id   string
	dest string // as subscribed
	name string // room or queue name; for user subscriptions the normalized destination
	// prefix is the constant start of this subscription's MESSAGE heads:
	// "MESSAGE\ndestination:D\nsubscription:ID\nmessage-id:".
	prefix string
	kind   uint8
	ack    uint8
	dead   atomic.Bool // unsubscribed or closed: deliver nothing more
	// unacked are the /queue messages delivered and not yet acknowledged,
	// oldest first (ack client and client-individual; guarded by the
	// queues' mutex).
	unacked []pending
}

// Deliver implements fanout.Subscriber for topic subscriptions.
func (sb *sub) Deliver(d *fanout.Delivery) (flush, ok bool) {
	if sb.dead.Load() {
		return false, false
	}
	return sb.sess.p.deliverTopic(sb, d)
}

// Flush implements fanout.Subscriber.
func (sb *sub) Flush() { sb.sess.c.Flush() }

// subscribe handles SUBSCRIBE.
func (s *session) subscribe(f *stomp.Frame) {
	h := &f.Headers
	rid := receiptOf(f)
	dest := string(h.Get(stomp.HeaderDestination))
	id := h.Get(stomp.HeaderID)
	if id == nil && s.ver == stomp.V10 {
		id = []byte(dest) // 1.0 subscriptions may go without id
	}
	switch {
	case dest == "":
		s.fail(errDestination, "SUBSCRIBE without destination", rid, frame.CloseProtocolError)
		return
	case len(id) == 0 || len(id) > maxSubID || !frame.ValidUTF8(id):
		s.fail(errSubscription, "SUBSCRIBE needs an id header of 1-256 UTF-8 bytes", rid, frame.CloseProtocolError)
		return
	case s.findSub(id) != nil:
		s.fail(errSubscription, "subscription id "+string(id)+" already in use", rid, frame.CloseProtocolError)
		return
	case len(s.subs) >= s.p.o.MaxSubscriptions:
		s.fail(errTooManySubs, "too many subscriptions", rid, frame.ClosePolicyViolation)
		return
	}
	kind, name, ok := parseDestination(dest)
	if ok && kind == destUser {
		name, ok = userDestination(dest)
	}
	if !ok || kind == destApp || !frame.ValidUTF8([]byte(dest)) {
		s.fail(errDestination, "cannot subscribe to "+dest+": use /topic/NAME, /queue/NAME or /user/queue/NAME", rid, frame.CloseProtocolError)
		return
	}
	if kind != destUser && !s.mayJoin(name) {
		if s.p.m != nil {
			s.p.m.ForbiddenJoin.Inc()
		}
		s.fail(errForbidden, "token does not allow subscribing to "+dest, rid, frame.ClosePolicyViolation)
		return
	}
	var ack uint8
	switch string(h.Get(stomp.HeaderAck)) {
	case "", "auto":
	case "client":
		ack = ackClient
	case "client-individual":
		ack = ackIndividual
	default:
		s.fail(errSubscription, "ack must be auto, client or client-individual", rid, frame.CloseProtocolError)
		return
	}
	sb := &sub{sess: s, id: string(id), dest: dest, name: name, kind: kind, ack: ack}
	sb.prefix = s.headPrefix(dest, sb.id)
	s.mu.Lock()
	s.subs = append(s.subs, sb)
	s.mu.Unlock()
	switch kind {
	case destTopic:
		s.joinTopic(sb, f)
	case destQueue:
		s.p.queues.subscribe(sb)
		s.receipt(f)
	default:
		s.receipt(f)
	}
}

// headPrefix builds a subscription's constant MESSAGE head start, with
// the session's escaping rules.
func (s *session) headPrefix(dest, id string) string {
	var tmp [2*maxDestination + 2*maxSubID + 64]byte
	b := append(tmp[:0], "MESSAGE\n"...)
	if s.ver == stomp.V10 {
		b = append(b, "destination:"+dest+"\nsubscription:"+id+"\n"...)
	} else {
		b = stomp.AppendHeader(b, stomp.CmdMessage, stomp.HeaderDestination, dest)
		b = stomp.AppendHeader(b, stomp.CmdMessage, stomp.HeaderSubscription, id)
	}
	return string(append(b, "message-id:"...))
}

// joinTopic adds a topic subscription to its room on the room's worker,
// in order with the room's messages; the RECEIPT goes out from there,
// after the join. A full queue refuses the SUBSCRIBE.
func (s *session) joinTopic(sb *sub, f *stomp.Frame) {
	rb := receiptBuf(f)
	j := fanout.Job{Room: sb.name, Ctl: membership{sb: sb, join: true}, From: sb, Buf: rb}
	if !s.p.pool.TrySubmit(j) {
		if rb != nil {
			rb.Release()
		}
		s.forgetSub(sb)
		s.overloaded(receiptOf(f), sb.dest)
	}
}

// overloaded fails the session: a fan-out queue was full.
func (s *session) overloaded(rid []byte, dest string) {
	if s.p.m != nil {
		s.p.m.Overloaded.Inc()
	}
	s.fail(errOverloaded, "server overloaded at "+dest+"; try again later", rid, frame.CloseTryAgainLater)
}

// membership joins or leaves a topic subscription on its room's worker
// and queues the RECEIPT (the job's Buf), if any, after it. A join of a
// subscription that ended meanwhile is skipped.
type membership struct {
	sb   *sub
	join bool
}

// Apply implements fanout.Control.
func (m membership) Apply(d *fanout.Delivery) bool {
	sb := m.sb
	s := sb.sess
	s.mu.Lock()
	if !m.join {
		d.Hub().Leave(sb.name, sb)
	} else if !s.closed && !sb.dead.Load() {
		d.Hub().Join(sb.name, sb)
	}
	s.mu.Unlock()
	if b := d.Job().Buf; b != nil {
		first, ok := s.c.Queue(b)
		return first && ok
	}
	return false
}

// unsubscribe handles UNSUBSCRIBE.
func (s *session) unsubscribe(f *stomp.Frame) {
	id := f.Headers.Get(stomp.HeaderID)
	if id == nil && s.ver == stomp.V10 {
		id = f.Headers.Get(stomp.HeaderDestination)
	}
	sb := s.findSub(id)
	if sb == nil {
		s.fail(errSubscription, "no subscription "+string(id), receiptOf(f), frame.CloseProtocolError)
		return
	}
	s.forgetSub(sb)
	sb.dead.Store(true)
	if sb.kind == destTopic {
		rb := receiptBuf(f)
		if s.p.pool.TrySubmit(fanout.Job{Room: sb.name, Ctl: membership{sb: sb}, From: sb, Buf: rb}) {
			return
		}
		if rb != nil {
			rb.Release()
		}
		s.p.pool.Hub().Leave(sb.name, sb) // the dead flag already stops its messages
	} else {
		s.p.dropSub(sb)
	}
	s.receipt(f)
}

// dropSub ends a subscription of a closing session or an UNSUBSCRIBE: it
// leaves its room or queue.
func (p *Protocol) dropSub(sb *sub) {
	sb.dead.Store(true)
	switch sb.kind {
	case destTopic:
		p.pool.Hub().Leave(sb.name, sb)
	case destQueue:
		p.queues.unsubscribe(sb)
	}
}

// findSub returns the subscription with id, or nil. Event loop only.
func (s *session) findSub(id []byte) *sub {
	for _, sb := range s.subs {
		if sb.id == string(id) {
			return sb
		}
	}
	return nil
}

// forgetSub removes sb from the session's list.
func (s *session) forgetSub(sb *sub) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.subs {
		if x == sb {
			last := len(s.subs) - 1
			s.subs[i] = s.subs[last]
			s.subs[last] = nil
			s.subs = s.subs[:last]
			return
		}
	}
}
