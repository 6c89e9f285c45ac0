package broker

import (
	"context"
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wsgate/wsgate/internal/broker/wire"
)

// Interest. Subscribe and Unsubscribe only count, under the lock of one of
// interestShards shards, and queue the name for the reconciler when its
// count leaves or reaches zero. The reconciler, one goroutine, is the only
// one that talks to NATS about interest: it subscribes a name whose count
// is positive and has no subscription, and unsubscribes a name whose count
// has stayed zero for Options.Grace. So joins and leaves never wait on the
// network, and a name that flaps between 0 and 1 member keeps its one
// subscription.

const interestShards = 32

type interestKey struct {
	kind Kind
	name string
}

// interest is one room or user. Every field is guarded by its shard's
// lock; sub is written only by the reconciler.
type interest struct {
	count  int                // local members
	idleAt time.Time          // when count last fell to zero
	queued bool               // waiting in the reconciler's list
	timer  bool               // a grace timer will queue it again
	sub    *nats.Subscription // nil until the reconciler subscribes
}

type interestShard struct {
	mu sync.Mutex
	m  map[interestKey]*interest
}

// reconciler holds the names waiting to be reconciled.
type reconciler struct {
	mu      sync.Mutex
	pending []interestKey // guarded by mu
	wake    chan struct{}
	syncReq chan chan struct{}
}

func (r *reconciler) init() {
	r.wake = make(chan struct{}, 1)
	r.syncReq = make(chan chan struct{})
}

func (b *NATS) shardOf(k interestKey) *interestShard {
	return &b.shards[(maphash.String(b.seed, k.name)+uint64(k.kind))%interestShards]
}

// Subscribe implements Broker.
func (b *NATS) Subscribe(kind Kind, name string) error {
	if kind != Room && kind != User {
		return ErrKind
	}
	if err := checkName(b.prefix, kind, name); err != nil {
		return err
	}
	if b.closed.Load() {
		return ErrClosed
	}
	k := interestKey{kind, name}
	sh := b.shardOf(k)
	sh.mu.Lock()
	in := sh.m[k]
	if in == nil {
		k.name = strings.Clone(name) // name may alias a reused buffer
		in = &interest{}
		sh.m[k] = in
	}
	in.count++
	if in.count == 1 && in.sub == nil {
		b.enqueueLocked(k, in)
	}
	sh.mu.Unlock()
	return nil
}

// Unsubscribe implements Broker.
func (b *NATS) Unsubscribe(kind Kind, name string) {
	k := interestKey{kind, name}
	sh := b.shardOf(k)
	sh.mu.Lock()
	if in := sh.m[k]; in != nil && in.count > 0 {
		in.count--
		if in.count == 0 {
			in.idleAt = time.Now()
			b.enqueueLocked(k, in)
		}
	}
	sh.mu.Unlock()
}

// enqueueLocked hands k to the reconciler. The shard lock is held.
func (b *NATS) enqueueLocked(k interestKey, in *interest) {
	if in.queued {
		return
	}
	in.queued = true
	r := &b.rec
	r.mu.Lock()
	r.pending = append(r.pending, k)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// requeue is a grace timer's end: look at k again.
func (b *NATS) requeue(k interestKey) {
	sh := b.shardOf(k)
	sh.mu.Lock()
	if in := sh.m[k]; in != nil {
		in.timer = false
		if !b.closed.Load() {
			b.enqueueLocked(k, in)
		}
	}
	sh.mu.Unlock()
}

func (b *NATS) reconcileLoop() {
	defer b.wg.Done()
	var batch []interestKey
	for {
		select {
		case <-b.rec.wake:
			batch = b.reconcileAll(batch)
		case done := <-b.rec.syncReq:
			batch = b.reconcileAll(batch)
			close(done)
		case <-b.done:
			return
		}
	}
}

// reconcileAll reconciles every pending name, including those queued
// meanwhile, and returns the emptied batch slice for reuse.
func (b *NATS) reconcileAll(batch []interestKey) []interestKey {
	r := &b.rec
	for {
		r.mu.Lock()
		batch, r.pending = r.pending, batch[:0]
		r.mu.Unlock()
		if len(batch) == 0 {
			return batch
		}
		for _, k := range batch {
			b.reconcile(k)
		}
		clear(batch)
	}
}

// reconcile brings k's NATS subscription in line with its count.
func (b *NATS) reconcile(k interestKey) {
	sh := b.shardOf(k)
	sh.mu.Lock()
	in := sh.m[k]
	if in == nil {
		sh.mu.Unlock()
		return
	}
	in.queued = false
	switch {
	case in.count > 0 && in.sub == nil:
		sh.mu.Unlock()
		sub, err := b.nc.ChanSubscribe(wire.Subject(b.prefix, k.kind, k.name), b.disp[b.dispatcherOf(k)].ch)
		if err != nil {
			if !b.closed.Load() {
				b.log.Error("subscribe failed", "kind", k.kind.String(), "name", k.name, "err", err)
			}
			return
		}
		b.nsubs.Add(1)
		sh.mu.Lock()
		in.sub = sub // a fall to zero meanwhile has queued k again
		sh.mu.Unlock()
		if k.kind == Room && b.opts.RoomFollowed != nil {
			b.opts.RoomFollowed(k.name)
		}
	case in.count == 0 && in.sub != nil:
		if wait := b.opts.Grace - time.Since(in.idleAt); wait > 0 {
			if !in.timer {
				in.timer = true
				time.AfterFunc(wait, func() { b.requeue(k) })
			}
			sh.mu.Unlock()
			return
		}
		sub := in.sub
		delete(sh.m, k)
		sh.mu.Unlock()
		b.retire(sub)
		if k.kind == Room && b.opts.RoomUnfollowed != nil {
			b.opts.RoomUnfollowed(k.name)
		}
	case in.count == 0:
		delete(sh.m, k)
		sh.mu.Unlock()
	default:
		sh.mu.Unlock()
	}
}

// retire unsubscribes sub, keeping its count of dropped messages.
func (b *NATS) retire(sub *nats.Subscription) {
	if n, err := sub.Dropped(); err == nil {
		b.retiredDropped.Add(uint64(n))
	}
	b.nsubs.Add(-1)
	if err := sub.Unsubscribe(); err != nil && !b.closed.Load() {
		b.log.Warn("unsubscribe failed", "subject", sub.Subject, "err", err)
	}
}

func (b *NATS) dispatcherOf(k interestKey) int {
	return int((maphash.String(b.seed, k.name) >> 8) % uint64(len(b.disp)))
}

// liveDropped sums the slow-consumer drops of the current subscriptions.
func (b *NATS) liveDropped() uint64 {
	var n uint64
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		for _, in := range sh.m {
			if in.sub != nil {
				if d, err := in.sub.Dropped(); err == nil {
					n += uint64(d)
				}
			}
		}
		sh.mu.Unlock()
	}
	b.qmu.Lock()
	for q := range b.qsubs {
		if d, err := q.sub.Dropped(); err == nil {
			n += uint64(d)
		}
	}
	b.qmu.Unlock()
	return n
}

// Sync returns once the interest changes made before the call have
// reached the NATS server this node is connected to (grace removals that
// are still waiting excepted). Other servers of the cluster learn of them
// shortly after, over their routes. It fails if ctx ends first or the
// connection is down.
func (b *NATS) Sync(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case b.rec.syncReq <- done:
	case <-b.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.nc.FlushWithContext(ctx)
}

// Interest reports this node's count of local members of a room or user,
// and whether it currently holds a NATS subscription for it.
func (b *NATS) Interest(kind Kind, name string) (count int, subscribed bool) {
	k := interestKey{kind, name}
	sh := b.shardOf(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if in := sh.m[k]; in != nil {
		return in.count, in.sub != nil
	}
	return 0, false
}
