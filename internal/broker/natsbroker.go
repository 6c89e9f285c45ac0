package broker

import (
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/nats-io/nats.go"
	"github.com/wsgate/wsgate/internal/broker/wire"
)

// NATS is the broker of a cluster: nodes meet on NATS subjects (see
// Subjects). It holds two client connections to the NATS servers:
//
//   - the main one carries every publish, the room and user
//     subscriptions and the nodes' own traffic. It is opened with NoEcho,
//     so the server never sends a node its own room and user messages
//     (and the origin check on receipt drops any that come back anyway);
//   - the queue one carries only queue subscriptions, so that a queue
//     message published on the main connection can reach a consumer on
//     the publishing node too (NoEcho would hide it).
//
// # Order
//
// Messages that one goroutine publishes to one room reach every node in
// the order published. They leave on the one main connection, whose
// writes are serialised; a NATS server forwards one client's messages in
// order, over the single route between two servers of a full-mesh cluster
// (pooled routes pin an account to one connection), and writes them in
// order to the subscriber's connection; on the receiving node all
// messages of one subject go through one delivery queue served by one
// goroutine.
//
// A failover is the one time two paths exist at once: when the
// publisher's server dies, messages it had already taken may still be
// leaving on its routes while the publisher, reconnected elsewhere, sends
// the next ones by a faster path. So every message carries its origin's
// sequence number (stamped under one lock in the order messages enter the
// connection) and a delivery goroutine drops a message older than one it
// already delivered from the same origin. Order holds; the failover costs
// messages (counted in State.Stale, and those lost in flight) but never
// delivers them out of order or twice.
//
// Publishes are not flushed one by one: nats.go gathers them in its write
// buffer and a flusher goroutine writes whatever has accumulated.
type NATS struct {
	opts   Options
	self   Node
	prefix string
	log    *slog.Logger
	nc     *nats.Conn // main connection
	qc     *nats.Conn // queue subscriptions

	subjHello, subjStats, subjPresence string

	published, received, pubDropped, malformed, echoed, stale atomic.Uint64
	retiredDropped                                            atomic.Uint64 // slow-consumer drops of removed subscriptions
	dropLogged                                                atomic.Bool   // a drop was logged since the last connect

	seed   maphash.Seed
	shards [interestShards]interestShard
	nsubs  atomic.Int64
	rec    reconciler
	disp   []*dispatcher

	pubMu sync.Mutex
	seq   uint64 // last Seq stamped; guarded by pubMu

	qmu   sync.Mutex
	qsubs map[*natsQueueSub]struct{} // guarded by qmu

	pmu   sync.Mutex
	peers map[string]peer // guarded by pmu

	missedMu   sync.Mutex  // one Options.Missed call at a time
	dropsSeen  atomic.Bool // a slow-consumer drop since the recovery's last look
	recovering atomic.Bool // a recovery goroutine is running

	closed atomic.Bool
	done   chan struct{}
	wg     sync.WaitGroup
}

// NewNATS connects to the NATS servers of opts.URLs and returns at once,
// connected or not: when no server answers, the broker keeps trying in
// the background, buffers publishes up to Options.ReconnectBuffer, and
// reports Connected false until a server appears. It fails only on a bad
// option (including unreadable TLS or credential files).
func NewNATS(opts Options) (*NATS, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if len(opts.URLs) == 0 {
		return nil, fmt.Errorf("broker: no NATS URL")
	}
	opts = opts.withDefaults()
	b := &NATS{
		opts:         opts,
		self:         Node{ID: opts.NodeID, Name: opts.NodeName},
		prefix:       opts.SubjectPrefix,
		log:          opts.Logger.With("component", "broker"),
		subjHello:    opts.SubjectPrefix + ".nodes.hello",
		subjStats:    opts.SubjectPrefix + ".nodes.stats",
		subjPresence: opts.SubjectPrefix + ".nodes.presence",
		seed:         maphash.MakeSeed(),
		qsubs:        make(map[*natsQueueSub]struct{}),
		peers:        make(map[string]peer),
		done:         make(chan struct{}),
	}
	for i := range b.shards {
		b.shards[i].m = make(map[interestKey]*interest)
	}
	b.rec.init()
	// Start from the clock so that a node restarted with the same NodeID
	// continues above the numbers its previous run used.
	b.seq = uint64(time.Now().UnixNano())
	var err error
	if b.nc, err = b.connect("main"); err != nil {
		return nil, err
	}
	if b.qc, err = b.connect("queue"); err != nil {
		b.nc.Close()
		return nil, err
	}
	if err = b.startCluster(); err != nil {
		b.nc.Close()
		b.qc.Close()
		return nil, err
	}
	b.disp = make([]*dispatcher, opts.Dispatchers)
	for i := range b.disp {
		d := &dispatcher{ch: make(chan *nats.Msg, opts.DispatchQueue), last: make(map[string]*uint64)}
		b.disp[i] = d
		b.wg.Add(1)
		go b.dispatch(d)
	}
	b.wg.Add(1)
	go b.reconcileLoop()
	return b, nil
}

// connect opens one client connection; role is "main" or "queue".
func (b *NATS) connect(role string) (*nats.Conn, error) {
	o := b.opts
	log := b.log.With("conn", role)
	opts := []nats.Option{
		nats.Name("wsgate " + o.NodeName + " " + o.NodeID + " " + role),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(o.ReconnectWait),
		nats.ReconnectBufSize(o.ReconnectBuffer),
		nats.FlusherTimeout(o.WriteTimeout),
		nats.ReconnectOnFlusherError(),
		nats.PingInterval(o.PingInterval),
		nats.ConnectHandler(func(nc *nats.Conn) {
			b.dropLogged.Store(false)
			log.Info("NATS connected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if b.closed.Load() {
				return
			}
			log.Warn("NATS disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.dropLogged.Store(false)
			log.Info("NATS reconnected", "server", nc.ConnectedUrlRedacted())
			if role == "main" {
				b.announce(true)
				b.missed()
			}
		}),
		nats.ClosedHandler(func(*nats.Conn) { log.Info("NATS connection closed") }),
		nats.LameDuckModeHandler(func(nc *nats.Conn) {
			log.Info("NATS server entering lame duck mode", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				log.Warn("NATS subscription error", "subject", sub.Subject, "err", err)
				if role == "main" && errors.Is(err, nats.ErrSlowConsumer) {
					b.afterDrops()
				}
				return
			}
			log.Warn("NATS error", "err", err)
		}),
	}
	if role == "main" {
		opts = append(opts, nats.NoEcho())
	}
	if o.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.TLSCA != "" {
		opts = append(opts, nats.RootCAs(o.TLSCA))
	}
	if o.TLSCert != "" {
		opts = append(opts, nats.ClientCert(o.TLSCert, o.TLSKey))
	}
	nc, err := nats.Connect(strings.Join(o.URLs, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("broker: NATS %s connection: %w", role, err)
	}
	if !nc.IsConnected() {
		log.Warn("NATS not reachable yet; connecting in the background", "servers", strings.Join(o.URLs, ","))
	}
	return nc, nil
}

// Self names this node.
func (b *NATS) Self() Node { return b.self }

var pubBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Publish implements Broker. It encodes m once into a pooled buffer and
// hands it to nats.go, which copies it into its write buffer: it allocates
// nothing in steady state and never waits for the network, except that a
// full socket makes nats.go write part of its buffer inline.
func (b *NATS) Publish(m Message) error {
	if !m.Kind.Valid() {
		return ErrKind
	}
	if b.closed.Load() {
		return ErrClosed
	}
	m.Origin = b.self.ID
	bp := pubBufs.Get().(*[]byte)
	buf := wire.AppendSubject((*bp)[:0], b.prefix, m.Kind, m.Target)
	n := len(buf)
	var err error
	if n > wire.MaxSubjectLen {
		err = ErrNameTooLong
	} else {
		buf = wire.AppendMessage(buf, &m)
		// nats.go copies the subject into its buffer and keeps no
		// reference, so it may alias ours.
		b.pubMu.Lock()
		b.seq++
		wire.SetSeq(buf[n:], b.seq)
		err = b.nc.Publish(unsafe.String(&buf[0], n), buf[n:])
		b.pubMu.Unlock()
	}
	if cap(buf) <= 64<<10 {
		*bp = buf[:0]
		pubBufs.Put(bp)
	}
	switch err {
	case nil:
		b.published.Add(1)
		return nil
	case ErrNameTooLong:
		return err
	}
	return b.dropped(err)
}

// dropped counts a failed publish and logs the first of a run.
func (b *NATS) dropped(err error) error {
	b.pubDropped.Add(1)
	if b.dropLogged.CompareAndSwap(false, true) {
		b.log.Warn("dropping messages to other nodes", "err", err)
	}
	return fmt.Errorf("%w: %w", ErrDropped, err)
}

// missed calls Options.Missed, if set, never twice at once.
func (b *NATS) missed() {
	if b.opts.Missed == nil {
		return
	}
	b.missedMu.Lock()
	defer b.missedMu.Unlock()
	b.opts.Missed()
}

// drainPoll is how often the broker looks whether its delivery queues
// have drained after NATS dropped messages for it.
const drainPoll = 20 * time.Millisecond

// afterDrops is called when NATS dropped messages for the node because a
// delivery queue was full (a slow consumer). NATS reports that once, at
// the first drop of an episode; later messages of the same episode may be
// dropped too, up to the first one a queue has room for. A room's gap is
// noticed at the room's next message, but nothing reveals the loss of a
// room's last message: so once the queues have drained (the episode is
// over, every drop is in the past), Missed makes the history store ask
// the log where each room stands. Not before: asking the log for every
// room while the node cannot keep up would add to what it cannot keep up
// with.
func (b *NATS) afterDrops() {
	if b.opts.Missed == nil || b.closed.Load() {
		return
	}
	b.dropsSeen.Store(true)
	if b.recovering.CompareAndSwap(false, true) {
		go b.recover()
	}
}

func (b *NATS) recover() {
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for {
		b.dropsSeen.Store(false)
		for !b.drained() {
			select {
			case <-b.done:
				b.recovering.Store(false)
				return
			case <-t.C:
			}
		}
		b.log.Info("delivery queues drained after dropped messages; catching up from the history log")
		b.missed()
		b.recovering.Store(false)
		// A drop reported after the look above and before the flag fell
		// found the flag still up and started nothing: look again.
		if !b.dropsSeen.Load() || !b.recovering.CompareAndSwap(false, true) {
			return
		}
	}
}

// drained reports whether every delivery queue is empty.
func (b *NATS) drained() bool {
	for _, d := range b.disp {
		if len(d.ch) > 0 {
			return false
		}
	}
	return true
}

// dispatcher is one delivery goroutine and its queue. Every room or user
// subscription feeds exactly one dispatcher.
type dispatcher struct {
	ch chan *nats.Msg
	// last is the Seq of the latest message delivered from each origin.
	// Owned by the dispatcher's goroutine.
	last map[string]*uint64
}

// maxOrigins bounds a dispatcher's memory of origins; nodes that restart
// with random IDs would otherwise add up. Forgetting them all at once
// only relaxes the stale check until each origin's next message.
const maxOrigins = 1024

// dispatch is one delivery goroutine.
func (b *NATS) dispatch(d *dispatcher) {
	defer b.wg.Done()
	for {
		select {
		case msg := <-d.ch:
			b.deliver(d, msg)
		case <-b.done:
			return
		}
	}
}

func (b *NATS) deliver(d *dispatcher, msg *nats.Msg) {
	m, err := wire.Decode(msg.Data)
	if err != nil {
		b.malformed.Add(1)
		return
	}
	if msg.Header != nil {
		// From the history stream: every node delivers it, the
		// publisher's too, in the stream's order.
		if !stamped(&m, msg.Header) {
			b.malformed.Add(1)
			return
		}
		b.received.Add(1)
		b.opts.Handler(m)
		return
	}
	if m.Origin == b.self.ID {
		b.echoed.Add(1)
		return
	}
	if last := d.last[m.Origin]; last != nil {
		if m.Seq <= *last {
			b.stale.Add(1)
			return
		}
		*last = m.Seq
	} else {
		if len(d.last) >= maxOrigins {
			clear(d.last)
		}
		seq := m.Seq
		d.last[strings.Clone(m.Origin)] = &seq
	}
	b.received.Add(1)
	b.opts.Handler(m)
}

// State implements Broker.
func (b *NATS) State() State {
	s := State{
		Mode:           "nats",
		Connected:      b.nc.IsConnected(),
		Published:      b.published.Load(),
		Received:       b.received.Load(),
		PublishDropped: b.pubDropped.Load(),
		ReceiveDropped: b.retiredDropped.Load() + b.liveDropped(),
		Malformed:      b.malformed.Load(),
		Stale:          b.stale.Load(),
		Subscriptions:  int(b.nsubs.Load()),
		Nodes:          len(b.Peers()),
	}
	if s.Connected {
		s.Server = b.nc.ConnectedUrlRedacted()
	}
	return s
}

// Conn returns the main NATS connection, for tests and diagnostics.
func (b *NATS) Conn() *nats.Conn { return b.nc }

// Close implements Broker: it says goodbye to the other nodes, sends what
// is buffered (waiting at most a second for the server), and closes both
// connections.
func (b *NATS) Close() error {
	if b.closed.Swap(true) {
		return ErrClosed
	}
	b.announceBye()
	if b.nc.IsConnected() {
		_ = b.nc.FlushTimeout(time.Second)
	}
	close(b.done)
	b.nc.Close()
	b.qc.Close()
	b.wg.Wait()
	return nil
}
