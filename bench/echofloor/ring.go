package main

import (
	"sync/atomic"
	"syscall"
	"unsafe"
)

// A minimal io_uring: one submission queue and one completion queue,
// used from a single locked thread that submits a batch and waits for the
// whole batch before it touches the buffers again.

const (
	sysIOUringSetup = 425
	sysIOUringEnter = 426

	opSend = 26 // IORING_OP_SEND
	opRecv = 27 // IORING_OP_RECV

	enterGetEvents = 1 // IORING_ENTER_GETEVENTS

	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000
)

type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqRingOffsets
	cqOff                                                                  cqRingOffsets
}

type sqRingOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqRingOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// sqe is struct io_uring_sqe (64 bytes) with the fields a send or a
// receive uses.
type sqe struct {
	opcode   uint8
	flags    uint8
	ioprio   uint16
	fd       int32
	off      uint64
	addr     uint64
	len      uint32
	msgFlags uint32
	userData uint64
	_        [24]byte
}

type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

type ring struct {
	fd      int
	sqHead  *uint32
	sqTail  *uint32
	sqMask  uint32
	sqArray []uint32
	sqes    []sqe
	cqHead  *uint32
	cqTail  *uint32
	cqMask  uint32
	cqes    []cqe
	queued  int
}

func newRing(entries uint32) (*ring, error) {
	var p uringParams
	fd, _, errno := syscall.Syscall(sysIOUringSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, errno
	}
	r := &ring{fd: int(fd)}
	mm := func(off int64, size int) ([]byte, error) {
		return syscall.Mmap(r.fd, off, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	}
	sq, err := mm(offSQRing, int(p.sqOff.array+p.sqEntries*4))
	if err != nil {
		syscall.Close(r.fd)
		return nil, err
	}
	cq, err := mm(offCQRing, int(p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(cqe{}))))
	if err != nil {
		syscall.Close(r.fd)
		return nil, err
	}
	se, err := mm(offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(sqe{})))
	if err != nil {
		syscall.Close(r.fd)
		return nil, err
	}
	u32 := func(b []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }
	r.sqHead, r.sqTail, r.sqMask = u32(sq, p.sqOff.head), u32(sq, p.sqOff.tail), *u32(sq, p.sqOff.ringMask)
	r.sqArray = unsafe.Slice(u32(sq, p.sqOff.array), p.sqEntries)
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&se[0])), p.sqEntries)
	r.cqHead, r.cqTail, r.cqMask = u32(cq, p.cqOff.head), u32(cq, p.cqOff.tail), *u32(cq, p.cqOff.ringMask)
	r.cqes = unsafe.Slice((*cqe)(unsafe.Pointer(&cq[p.cqOff.cqes])), p.cqEntries)
	return r, nil
}

// queue adds a send or receive of p on fd that never waits for the socket
// (MSG_DONTWAIT: the completion says EAGAIN instead); tag comes back with
// its completion.
func (r *ring) queue(op uint8, fd int, p []byte, tag uint64) {
	t := atomic.LoadUint32(r.sqTail)
	i := t & r.sqMask
	r.sqes[i] = sqe{opcode: op, fd: int32(fd), addr: uint64(uintptr(unsafe.Pointer(&p[0]))), len: uint32(len(p)),
		msgFlags: syscall.MSG_DONTWAIT, userData: tag}
	r.sqArray[i] = i
	atomic.StoreUint32(r.sqTail, t+1)
	r.queued++
}

// run submits what is queued with one system call, waits until every
// queued operation has completed and calls done for each completion.
func (r *ring) run(done func(tag uint64, res int32)) {
	want := r.queued
	r.queued = 0
	if want == 0 {
		return
	}
	submit := want
	for got := 0; got < want; {
		n, _, errno := syscall.RawSyscall6(sysIOUringEnter, uintptr(r.fd), uintptr(submit), uintptr(want-got), enterGetEvents, 0, 0)
		if errno == 0 {
			submit -= int(n)
		} else if errno != syscall.EINTR && errno != syscall.EAGAIN && errno != syscall.EBUSY {
			panic("echofloor: io_uring_enter: " + errno.Error())
		}
		h, t := atomic.LoadUint32(r.cqHead), atomic.LoadUint32(r.cqTail)
		for ; h != t; h++ {
			c := &r.cqes[h&r.cqMask]
			done(c.userData, c.res)
			got++
		}
		atomic.StoreUint32(r.cqHead, h)
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
		l.r.queue(opRecv, c.fd, l.slots[k*slotSize:(k+1)*slotSize], uint64(k))
	}
	if len(l.batch) == 0 {
		return
	}
	l.out = l.out[:0]
	clear(l.spans[:len(l.batch)])
	l.r.run(func(tag uint64, res int32) {
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
			l.r.queue(opSend, c.fd, l.out[sp[0]:sp[1]], uint64(k))
		}
	}
	l.r.run(func(tag uint64, res int32) {
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
