package poller

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// listener wraps the net.Listener nbio's acceptor goroutine loops on. nbio
// retries Accept at once on any error that is not a timeout, so a closed
// listener or a process out of descriptors would spin a core. The wrapper
// pauses on EMFILE/ENFILE, and after StopAccepting closes the socket (new
// connections are refused by the kernel) but parks Accept until the engine
// stops.
type listener struct {
	net.Listener
	stopOnce   sync.Once
	stopped    chan struct{} // closed by stopAccepting
	doneOnce   sync.Once
	done       chan struct{} // closed by Close (engine stop)
	acceptOnce sync.Once
	accepting  chan struct{} // closed when nbio's acceptor first calls Accept
}

func newListener(ln net.Listener) *listener {
	return &listener{Listener: ln, stopped: make(chan struct{}), done: make(chan struct{}), accepting: make(chan struct{})}
}

var errListenerClosed = errors.New("poller: listener closed")

// Accept implements net.Listener.
func (l *listener) Accept() (net.Conn, error) {
	l.acceptOnce.Do(func() { close(l.accepting) })
	select {
	case <-l.stopped:
		<-l.done
		return nil, errListenerClosed
	default:
	}
	c, err := l.Listener.Accept()
	if err == nil {
		return c, nil
	}
	select {
	case <-l.stopped:
		<-l.done
		return nil, errListenerClosed
	default:
	}
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
		// Out of descriptors: wait for some to be released.
		time.Sleep(50 * time.Millisecond)
	}
	return nil, err
}

// stopAccepting closes the listening socket; established connections are
// untouched.
func (l *listener) stopAccepting() {
	l.stopOnce.Do(func() {
		close(l.stopped)
		_ = l.Listener.Close()
	})
}

// Close implements net.Listener; nbio calls it when the engine stops.
func (l *listener) Close() error {
	l.stopAccepting()
	l.doneOnce.Do(func() { close(l.done) })
	return nil
}
