package uring

import (
	"bytes"
	"syscall"
	"testing"
)

// TestSendRecv: sends and receives on socket pairs complete in one Run,
// each with its tag and result; a receive with nothing to read reports
// -EAGAIN instead of waiting, and a send to a closed peer an error.
func TestSendRecv(t *testing.T) {
	r, err := New(8)
	if err != nil {
		t.Skipf("io_uring unavailable here: %v", err)
	}
	defer r.Close()
	if r.Size() < 8 {
		t.Fatalf("Size %d", r.Size())
	}
	pair := func() [2]int {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Close(fds[0]); syscall.Close(fds[1]) })
		return [2]int{fds[0], fds[1]}
	}
	a, b, gone := pair(), pair(), pair()
	syscall.Close(gone[1])
	msg := []byte("hello, ring")
	r.Send(a[0], msg, 1)
	r.Send(gone[0], msg, 2)
	if r.Queued() != 2 {
		t.Fatalf("Queued %d", r.Queued())
	}
	got := map[uint64]int32{}
	if err := r.Run(func(tag uint64, res int32) { got[tag] = res }); err != nil {
		t.Fatal(err)
	}
	if got[1] != int32(len(msg)) || got[2] >= 0 || len(got) != 2 {
		t.Fatalf("send results %v", got)
	}
	buf, empty := make([]byte, 64), make([]byte, 64)
	r.Recv(a[1], buf, 3)
	r.Recv(b[1], empty, 4)
	clear(got)
	if err := r.Run(func(tag uint64, res int32) { got[tag] = res }); err != nil {
		t.Fatal(err)
	}
	if got[3] != int32(len(msg)) || !bytes.Equal(buf[:len(msg)], msg) {
		t.Fatalf("receive: %v, %q", got, buf)
	}
	if got[4] != -int32(syscall.EAGAIN) {
		t.Fatalf("receive with nothing to read: %d, want -EAGAIN", got[4])
	}
	if err := r.Run(func(uint64, int32) { t.Fatal("a completion from an empty Run") }); err != nil {
		t.Fatal(err)
	}
}
