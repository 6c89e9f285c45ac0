package stompproto

import (
	"strings"
	"sync/atomic"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/history"
	"github.com/wsgate/wsgate/internal/hub"
	"github.com/wsgate/wsgate/internal/stomp"
	"github.com/wsgate/wsgate/poller"
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
// destination filter. It is small: its destination and id live in its
// head prefix, interned and shared by every subscription alike, and a
// session's subscriptions form a list through next.
type sub struct {
	sess *session
	// key is the constant start of the subscription's MESSAGE heads,
	// escaped for the session's version:
	// "MESSAGE\ndestination:D\nsubscription:ID\n". The subscriptions of
	// a topic's many clients mostly share one (stompjs names every
	// client's first subscription sub-0), and with it the heads built
	// from it (see headCache).
	key  *subKey
	next *sub // the session's next subscription (guarded by its lock)
	kind uint8
	ack  uint8
	dead atomic.Bool // unsubscribed or closed: deliver nothing more
}

// subInfo is a subscription's description, read back from its prefix.
type subInfo struct {
	dest string // as subscribed
	id   string
	name string // room or queue name; for user subscriptions the destination
}

// prefix returns the subscription's head prefix.
func (sb *sub) prefix() string { return sb.key.prefix }

// k returns the subscription's description. It allocates only for what
// was escaped in the prefix, and for topic and queue names with "/".
func (sb *sub) k() subInfo {
	k := splitPrefix(sb.key.prefix, sb.sess.ver != stomp.V10)
	k.name = k.dest
	if sb.kind == destTopic || sb.kind == destQueue {
		_, k.name, _ = parseDestination(k.dest)
	}
	return k
}

// splitPrefix reads destination and id back from a head prefix, escaped
// (STOMP 1.1 and 1.2) or not (1.0).
func splitPrefix(prefix string, escaped bool) subInfo {
	rest := prefix[len("MESSAGE\ndestination:"):]
	i := strings.IndexByte(rest, '\n')
	dest := rest[:i]
	rest = rest[i+1+len("subscription:"):]
	id := rest[:strings.IndexByte(rest, '\n')]
	if escaped {
		dest, id = unescapeHeader(dest), unescapeHeader(id)
	}
	return subInfo{dest: dest, id: id}
}

// unescapeHeader undoes a header value's escapes (\n, \r, \c, \\).
func unescapeHeader(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 'c':
				c = ':'
			default:
				c = s[i]
			}
		}
		b = append(b, c)
	}
	return string(b)
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
	case s.countSubs() >= s.p.o.MaxSubscriptions:
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
	since, ok := parseSince(h)
	if !ok {
		s.fail(errSubscription, "since must be last, or since-offset a number with since-epoch", rid, frame.CloseProtocolError)
		return
	}
	var tmp [2*maxDestination + 2*maxSubID + 64]byte
	sb := &sub{sess: s, kind: kind, ack: ack, key: s.p.keys.acquire(s.appendPrefix(tmp[:0], dest, id))}
	mu := s.lock()
	mu.Lock()
	sb.next, s.subs = s.subs, sb
	mu.Unlock()
	switch kind {
	case destTopic:
		s.joinTopic(sb, f, since)
	case destQueue:
		s.p.queues.subscribe(sb)
		s.receipt(f)
	default:
		s.receipt(f)
	}
}

// appendPrefix appends a subscription's constant MESSAGE head start, with
// the session's escaping rules, to b.
func (s *session) appendPrefix(b []byte, dest string, id []byte) []byte {
	b = append(b, "MESSAGE\n"...)
	if s.ver == stomp.V10 {
		b = append(b, "destination:"...)
		b = append(b, dest...)
		b = append(b, "\nsubscription:"...)
		b = append(b, id...)
		b = append(b, '\n')
	} else {
		b = stomp.AppendHeader(b, stomp.CmdMessage, stomp.HeaderDestination, dest)
		b = stomp.AppendHeader(b, stomp.CmdMessage, stomp.HeaderSubscription, id)
	}
	return b
}

// joinTopic adds a topic subscription to its room on the room's worker,
// in order with the room's messages; the RECEIPT goes out from there,
// after the join. A full queue refuses the SUBSCRIBE.
// A room with history joins with a resume (history.go).
func (s *session) joinTopic(sb *sub, f *stomp.Frame, since history.Since) {
	var rb *poller.Buf
	k := sb.k()
	j := fanout.Job{Room: k.name, Ctl: membership{sb: sb, join: true}, From: sb}
	if s.p.keeps(k.name) {
		var rid []byte
		if r := receiptOf(f); r != nil {
			rid = append(rid, r...)
		}
		j.Ctl = &resumeMembership{sb: sb, since: since, rid: rid}
	} else {
		rb = receiptBuf(f)
		j.Buf = rb
	}
	if !s.p.pool.TrySubmit(j) {
		if rb != nil {
			rb.Release()
		}
		s.forgetSub(sb)
		s.overloaded(receiptOf(f), k.dest)
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
	name := sb.k().name
	mu := s.lock()
	mu.Lock()
	if !m.join {
		d.Hub().Leave(name, sb)
	} else if !s.closed && !sb.dead.Load() {
		d.Hub().Join(name, sb)
	}
	mu.Unlock()
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
		name := sb.k().name
		if s.p.pool.TrySubmit(fanout.Job{Room: name, Ctl: membership{sb: sb}, From: sb, Buf: rb}) {
			return
		}
		if rb != nil {
			rb.Release()
		}
		s.p.pool.Hub().Leave(name, sb) // the dead flag already stops its messages
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
		p.pool.Hub().Leave(sb.k().name, sb)
	case destQueue:
		p.queues.unsubscribe(sb)
	}
}

// findSub returns the subscription with id, or nil. Event loop only.
func (s *session) findSub(id []byte) *sub {
	for sb := s.subs; sb != nil; sb = sb.next {
		if sb.k().id == string(id) {
			return sb
		}
	}
	return nil
}

// countSubs returns the number of the session's subscriptions. Event loop
// only.
func (s *session) countSubs() int {
	n := 0
	for sb := s.subs; sb != nil; sb = sb.next {
		n++
	}
	return n
}

// forgetSub removes sb from the session's list and releases its key.
func (s *session) forgetSub(sb *sub) {
	mu := s.lock()
	mu.Lock()
	defer mu.Unlock()
	for p := &s.subs; *p != nil; p = &(*p).next {
		if *p == sb {
			*p = sb.next
			s.p.keys.release(sb.key)
			return
		}
	}
}
