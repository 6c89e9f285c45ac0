package poller

import (
	"errors"
	"net"
	"sync"
	"time"
)

// listener is the net.Listener nbio's acceptor goroutine loops on. nbio
// retries Accept at once on any error that is not a timeout, so a closed
// listener or a process out of descriptors would spin a core. The wrapper
// pauses on EMFILE/ENFILE, and after StopAccepting closes the socket (new
// connections are refused by the kernel) but parks Accept until the engine
// stops.
//
// With raw set (the usual case, see accept_linux.go) Accept returns nbio
// connections built around descriptors from accept4; otherwise it wraps
// the standard library's listener.
type listener struct {
	net.Listener // nil when raw is set
	raw          *rawListener
	stopOnce     sync.Once
	stopped      chan struct{} // closed by stopAccepting
	doneOnce     sync.Once
	done         chan struct{} // closed by Close (engine stop)
	acceptOnce   sync.Once
	accepting    chan struct{} // closed when nbio's acceptor first calls Accept
}

func newListener(ln net.Listener) *listener {
	return &listener{Listener: ln, stopped: make(chan struct{}), done: make(chan struct{}), accepting: make(chan struct{})}
}

func newRawListenerWrapper(r *rawListener) *listener {
	return &listener{raw: r, stopped: make(chan struct{}), done: make(chan struct{}), accepting: make(chan struct{})}
}

var errListenerClosed = errors.New("poller: listener closed")

// Addr implements net.Listener.
func (l *listener) Addr() net.Addr {
	if l.raw != nil {
		return l.raw.addr
	}
	return l.Listener.Addr()
}

// Accept implements net.Listener.
func (l *listener) Accept() (net.Conn, error) {
	l.acceptOnce.Do(func() { close(l.accepting) })
	select {
	case <-l.stopped:
		return nil, l.parked()
	default:
	}
	c, err := l.accept()
	if err == nil {
		return c, nil
	}
	select {
	case <-l.stopped:
		return nil, l.parked()
	default:
	}
	if errOutOfFiles(err) {
		// Out of descriptors: wait for some to be released.
		time.Sleep(outOfFilesPause)
	}
	return nil, err
}

func (l *listener) accept() (net.Conn, error) {
	if l.raw != nil {
		c, err := l.raw.accept()
		if err != nil {
			return nil, err // not a nil *nbio.Conn in an interface
		}
		return c, nil
	}
	return l.Listener.Accept()
}

// parked waits for the engine to stop after StopAccepting, then releases
// a raw listener's descriptor (here, on the acceptor goroutine, so no
// accept4 can run on a reused descriptor).
func (l *listener) parked() error {
	<-l.done
	if l.raw != nil {
		l.raw.close()
	}
	return errListenerClosed
}

// stopAccepting closes the listening socket; established connections are
// untouched.
func (l *listener) stopAccepting() {
	l.stopOnce.Do(func() {
		close(l.stopped)
		if l.raw != nil {
			l.raw.shutdown()
			return
		}
		_ = l.Listener.Close()
	})
}

// Close implements net.Listener; nbio calls it when the engine stops.
func (l *listener) Close() error {
	l.stopAccepting()
	l.doneOnce.Do(func() { close(l.done) })
	return nil
}
