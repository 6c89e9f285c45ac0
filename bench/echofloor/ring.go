package main

import (
	"syscall"
)

// runRing runs the ring's queued operations; the floor has no way on from a
// ring that fails.
func (l *loop) runRing(done func(tag uint64, res int32)) {
	if err := l.r.Run(done); err != nil {
		panic("echofloor: " + err.Error())
	}
}

// serveBatch serves one epoll batch in ring mode: every open socket's
// receive goes into one io_uring_enter, every answer into another.
// Handshakes and sockets with output waiting take the syscall path; they
// are not the steady state this mode measures.
func (l *loop) serveBatch(events []syscall.EpollEvent) {
	l.batch, l.dead = l.batch[:0], l.dead[:0]
	for i := range events {
		c := l.ready(&events[i])
		if c == nil {
			continue
		}
		if !c.open || len(c.out) > 0 {
			l.readSyscall(c)
			continue
		}
		k := len(l.batch)
		l.batch = append(l.batch, c)
		l.r.Recv(c.fd, l.slots[k*slotSize:(k+1)*slotSize], uint64(k))
	}
	if len(l.batch) == 0 {
		return
	}
	l.out = l.out[:0]
	clear(l.spans[:len(l.batch)])
	l.runRing(func(tag uint64, res int32) {
		c := l.batch[tag]
		switch {
		case res == -int32(syscall.EAGAIN) || res == -int32(syscall.EINTR):
			return
		case res <= 0:
			l.dead = append(l.dead, c)
			return
		}
		at := len(l.out)
		if !l.consume(c, l.slots[int(tag)*slotSize:int(tag)*slotSize+int(res)]) {
			l.dead = append(l.dead, c)
		}
		l.spans[tag] = [2]int{at, len(l.out)}
	})
	for k, c := range l.batch {
		if sp := l.spans[k]; sp[1] > sp[0] {
			l.r.Send(c.fd, l.out[sp[0]:sp[1]], uint64(k))
		}
	}
	l.runRing(func(tag uint64, res int32) {
		c, sp := l.batch[tag], l.spans[tag]
		switch {
		case res == -int32(syscall.EAGAIN):
			l.keep(c, l.out[sp[0]:sp[1]])
		case res < 0:
			l.dead = append(l.dead, c)
		default:
			l.keep(c, l.out[sp[0]+int(res):sp[1]])
		}
	})
	for _, c := range l.batch {
		if c.bye && len(c.out) == 0 {
			l.dead = append(l.dead, c)
		}
	}
	for _, c := range l.dead {
		l.closeConn(c)
	}
}
