package main

import (
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/wsgate/wsgate/internal/uring"
)

// The cost of one send and one receive on a loopback TCP socket, made as
// a system call each or as part of one io_uring_enter for a batch of
// sockets: what floor-ring saves over floor-rw, measured without a client.
//
//	go test -run '^$' -bench Loopback -count 6 ./bench/echofloor
//
// Each op is one 70-byte message (a masked frame of 64 bytes)
// on one of 1,000 connected socket pairs; batches cover every socket
// once. cpu-ns/op is the thread's CPU time (the loopback's delivery into
// the receiving socket runs in the sender's thread and is part of it).

const benchSockets = 1000

type socketPairs struct {
	srv, cli []int
}

func loopbackPairs(b *testing.B, n int) *socketPairs {
	b.Helper()
	lfd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer syscall.Close(lfd)
	if err := syscall.Bind(lfd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		b.Fatal(err)
	}
	if err := syscall.Listen(lfd, n); err != nil {
		b.Fatal(err)
	}
	sa, _ := syscall.Getsockname(lfd)
	p := &socketPairs{}
	b.Cleanup(func() {
		for _, fd := range append(p.srv, p.cli...) {
			syscall.Close(fd)
		}
	})
	for range n {
		c, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		p.cli = append(p.cli, c)
		if err := syscall.Connect(c, sa); err != nil {
			b.Fatal(err)
		}
		s, _, err := syscall.Accept4(lfd, syscall.SOCK_CLOEXEC)
		if err != nil {
			b.Fatal(err)
		}
		p.srv = append(p.srv, s)
		for _, fd := range []int{c, s} {
			_ = syscall.SetNonblock(fd, true)
			_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		}
	}
	return p
}

func threadCPU() time.Duration {
	var ts syscall.Timespec
	_, _, _ = syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, 3 /* CLOCK_THREAD_CPUTIME_ID */, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

func benchRing(b *testing.B) *uring.Ring {
	r, err := uring.New(2 * benchSockets)
	if err != nil {
		b.Skipf("this kernel refuses io_uring: %v", err)
	}
	b.Cleanup(r.Close)
	return r
}

func writeEach(fds []int, msg []byte) {
	for _, fd := range fds {
		_, _, _ = syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&msg[0])), uintptr(len(msg)))
	}
}

func readEach(fds []int, buf []byte) {
	for _, fd := range fds {
		_, _, _ = syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	}
}

// ringAll makes op on every socket with one io_uring_enter; it reports
// whether each moved at least a byte.
func ringAll(r *uring.Ring, send bool, fds []int, p []byte) bool {
	for i, fd := range fds {
		if send {
			r.Send(fd, p, uint64(i))
		} else {
			r.Recv(fd, p, uint64(i))
		}
	}
	ok := true
	err := r.Run(func(_ uint64, res int32) { ok = ok && res > 0 })
	return ok && err == nil
}

// measure runs batches of one op per socket until b.N ops, timing only
// the measured half of each batch, and reports its CPU per op.
func measure(b *testing.B, p *socketPairs, measured, other func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpu time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += len(p.srv) {
		t0 := threadCPU()
		measured()
		cpu += threadCPU() - t0
		b.StopTimer()
		other()
		b.StartTimer()
	}
	ops := (b.N + len(p.srv) - 1) / len(p.srv) * len(p.srv)
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(ops), "cpu-ns/op")
}

func BenchmarkLoopbackSend(b *testing.B) {
	msg := make([]byte, 70)
	buf := make([]byte, 4096)
	b.Run("write", func(b *testing.B) {
		p := loopbackPairs(b, benchSockets)
		measure(b, p, func() { writeEach(p.srv, msg) }, func() { readEach(p.cli, buf) })
	})
	b.Run("ring", func(b *testing.B) {
		p := loopbackPairs(b, benchSockets)
		r := benchRing(b)
		ok := true
		measure(b, p, func() { ok = ringAll(r, true, p.srv, msg) && ok }, func() { readEach(p.cli, buf) })
		if !ok {
			b.Fatal("a send failed or fell short")
		}
	})
}

func BenchmarkLoopbackRecv(b *testing.B) {
	msg := make([]byte, 70)
	buf := make([]byte, 4096)
	b.Run("read", func(b *testing.B) {
		p := loopbackPairs(b, benchSockets)
		writeEach(p.srv, msg)
		measure(b, p, func() { readEach(p.cli, buf) }, func() { writeEach(p.srv, msg) })
	})
	b.Run("ring", func(b *testing.B) {
		p := loopbackPairs(b, benchSockets)
		r := benchRing(b)
		writeEach(p.srv, msg)
		ok := true
		measure(b, p, func() { ok = ringAll(r, false, p.cli, buf) && ok }, func() { writeEach(p.srv, msg) })
		if !ok {
			b.Fatal("a receive failed or came back empty")
		}
	})
}
