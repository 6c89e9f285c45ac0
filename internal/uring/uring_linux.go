// Package uring is a minimal io_uring over the raw system calls: one
// submission queue and one completion queue, socket sends and receives
// that never wait for their socket, and one io_uring_enter that submits a
// batch and waits for the whole of it. It is what an event loop needs to
// turn a readiness batch's many reads or writes into one system call.
//
// A Ring is used by one goroutine at a time. Buffers handed to Send and
// Recv must stay untouched until Run returns.
package uring

import (
	"errors"
	"sync/atomic"
	"syscall"
	"unsafe"
)

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

// Ring is one io_uring instance.
type Ring struct {
	fd      int
	maps    [][]byte
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
	size    int
}

// New sets up a ring whose submission queue holds entries operations (a
// power of two; the kernel rounds it up). It fails where io_uring is
// missing, disabled (the kernel.io_uring_disabled sysctl) or refused by a
// seccomp profile: callers fall back to plain system calls.
func New(entries uint32) (*Ring, error) {
	var p uringParams
	fd, _, errno := syscall.Syscall(sysIOUringSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, errno
	}
	r := &Ring{fd: int(fd)}
	mm := func(off int64, size int) ([]byte, error) {
		b, err := syscall.Mmap(r.fd, off, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
		if err == nil {
			r.maps = append(r.maps, b)
		}
		return b, err
	}
	sq, err := mm(offSQRing, int(p.sqOff.array+p.sqEntries*4))
	if err != nil {
		r.Close()
		return nil, err
	}
	cq, err := mm(offCQRing, int(p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(cqe{}))))
	if err != nil {
		r.Close()
		return nil, err
	}
	se, err := mm(offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(sqe{})))
	if err != nil {
		r.Close()
		return nil, err
	}
	u32 := func(b []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }
	r.sqHead, r.sqTail, r.sqMask = u32(sq, p.sqOff.head), u32(sq, p.sqOff.tail), *u32(sq, p.sqOff.ringMask)
	r.sqArray = unsafe.Slice(u32(sq, p.sqOff.array), p.sqEntries)
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&se[0])), p.sqEntries)
	r.cqHead, r.cqTail, r.cqMask = u32(cq, p.cqOff.head), u32(cq, p.cqOff.tail), *u32(cq, p.cqOff.ringMask)
	r.cqes = unsafe.Slice((*cqe)(unsafe.Pointer(&cq[p.cqOff.cqes])), p.cqEntries)
	r.size = int(p.sqEntries)
	return r, nil
}

// Close releases the ring. Nothing may be queued or running.
func (r *Ring) Close() {
	for _, b := range r.maps {
		_ = syscall.Munmap(b)
	}
	r.maps = nil
	if r.fd >= 0 {
		syscall.Close(r.fd)
		r.fd = -1
	}
}

// Size returns how many operations one Run can carry.
func (r *Ring) Size() int { return r.size }

// Queued returns how many operations wait for the next Run.
func (r *Ring) Queued() int { return r.queued }

// Send queues a send of p on the socket fd that never waits for it
// (MSG_DONTWAIT: the completion says -EAGAIN instead); tag comes back
// with its completion. p must not be empty, and at most Size operations
// may be queued before Run.
func (r *Ring) Send(fd int, p []byte, tag uint64) { r.queue(opSend, fd, p, tag) }

// Recv queues a receive into p from the socket fd, as Send does.
func (r *Ring) Recv(fd int, p []byte, tag uint64) { r.queue(opRecv, fd, p, tag) }

func (r *Ring) queue(op uint8, fd int, p []byte, tag uint64) {
	flags := uint32(syscall.MSG_DONTWAIT)
	if op == opSend {
		flags |= syscall.MSG_NOSIGNAL // a closed peer is an error, not a SIGPIPE
	}
	t := atomic.LoadUint32(r.sqTail)
	i := t & r.sqMask
	r.sqes[i] = sqe{opcode: op, fd: int32(fd), addr: uint64(uintptr(unsafe.Pointer(&p[0]))), len: uint32(len(p)),
		msgFlags: flags, userData: tag}
	r.sqArray[i] = i
	atomic.StoreUint32(r.sqTail, t+1)
	r.queued++
}

// ErrRing wraps an io_uring_enter failure other than an interruption.
var ErrRing = errors.New("uring: io_uring_enter failed")

// Run submits what is queued, waits until every queued operation has
// completed and calls done for each completion with its tag and result
// (bytes moved, or a negated errno). The sends and receives never wait
// for their sockets, so the wait is for the kernel's work on them alone.
func (r *Ring) Run(done func(tag uint64, res int32)) error {
	want := r.queued
	r.queued = 0
	if want == 0 {
		return nil
	}
	submit := want
	for got := 0; got < want; {
		n, _, errno := syscall.RawSyscall6(sysIOUringEnter, uintptr(r.fd), uintptr(submit), uintptr(want-got), enterGetEvents, 0, 0)
		if errno == 0 {
			submit -= int(n)
		} else if errno != syscall.EINTR && errno != syscall.EAGAIN && errno != syscall.EBUSY {
			return errors.Join(ErrRing, errno)
		}
		h, t := atomic.LoadUint32(r.cqHead), atomic.LoadUint32(r.cqTail)
		for ; h != t; h++ {
			c := &r.cqes[h&r.cqMask]
			done(c.userData, c.res)
			got++
		}
		atomic.StoreUint32(r.cqHead, h)
	}
	return nil
}
