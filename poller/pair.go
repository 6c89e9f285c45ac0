package poller

// SendPair queues head and then tail as one message, taking over one
// reference to each, without writing (call Flush). Nothing another
// goroutine queues can come between them, and DropOldest drops or keeps
// them together: a message made of a small per-receiver head and a body
// shared by many receivers goes out without copying the body. It returns
// the bytes now queued.
func (c *Conn) SendPair(head, tail *Buf) (int, error) {
	c.nc.Lock()
	if c.closedLocked() {
		c.nc.Unlock()
		head.Release()
		tail.Release()
		return 0, ErrClosed
	}
	// pushLocked twice, with one count of the bytes.
	if c.q == nil {
		c.q = queuePool.Get().(*outQueue)
	}
	c.q.items = append(c.q.items, qitem{b: head, pair: pairHead}, qitem{b: tail, pair: pairTail})
	n := len(head.B) + len(tail.B)
	c.queued += int32(n)
	c.e.countQueued(c.fd, int64(n))
	queued := c.queued
	c.nc.Unlock()
	return int(queued), nil
}

// dropItemLocked releases the queued item at i (not partly written) and
// leaves a hole (nil Buf) that DropOldest compacts.
func (c *Conn) dropItemLocked(i int) {
	it := &c.q.items[i]
	c.queued -= int32(len(it.b.B) - it.off)
	c.e.countQueued(c.fd, -int64(len(it.b.B)-it.off))
	it.b.Release()
	it.b = nil
}
