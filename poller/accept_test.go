package poller

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestAcceptOutOfDescriptors fills the process's descriptor table while
// clients connect: the listener's accepts fail with EMFILE, each failure
// is reported to OnAcceptError, and once descriptors are free again every
// waiting connection is accepted and served.
func TestAcceptOutOfDescriptors(t *testing.T) {
	var errs, emfile atomic.Int64
	h := &testHandler{echo: true}
	e, err := New(Config{Addrs: []string{"127.0.0.1:0"}, Pollers: 1, OnAcceptError: func(err error) {
		errs.Add(1)
		if errors.Is(err, syscall.EMFILE) {
			emfile.Add(1)
		}
	}}, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	sa := &syscall.SockaddrInet4{Port: e.Addrs()[0].(*net.TCPAddr).Port, Addr: [4]byte{127, 0, 0, 1}}

	// The clients' sockets exist before the table is full: connecting
	// them takes no descriptor, accepting them does.
	const n = 4
	var fds [n]int
	for i := range fds {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds[i] = fd
		defer syscall.Close(fd)
	}
	var saved syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &saved); err != nil {
		t.Fatal(err)
	}
	restore := func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &saved); err != nil {
			t.Error(err)
		}
	}
	defer restore()
	// The lowest free descriptor becomes the limit: no new one can be made.
	free, err := syscall.Dup(0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Close(free)
	full := saved
	full.Cur = uint64(free)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &full); err != nil {
		t.Fatal(err)
	}
	for i, fd := range fds {
		if err := syscall.Connect(fd, sa); err != nil {
			restore()
			t.Fatalf("client %d: connect: %v", i, err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for emfile.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	restore()
	if emfile.Load() < 2 {
		t.Fatalf("%d accept errors reported (%d EMFILE) with a full descriptor table, want at least 2 EMFILE", errs.Load(), emfile.Load())
	}
	// Accepting resumes: every client is served.
	for i, fd := range fds {
		msg := []byte{'a' + byte(i), 'b', 'c'}
		if _, err := syscall.Write(fd, msg); err != nil {
			t.Fatalf("client %d: write: %v", i, err)
		}
		tv := syscall.Timeval{Sec: 30}
		_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
		got := make([]byte, len(msg))
		if k, err := syscall.Read(fd, got); err != nil || k != len(msg) || string(got) != string(msg) {
			t.Fatalf("client %d after the descriptors were freed: read %d %q %v, want the echo %q", i, k, got[:max(k, 0)], err, msg)
		}
	}
	t.Logf("%d accepts failed with EMFILE while the table was full; all %d clients served afterwards", emfile.Load(), n)
}
