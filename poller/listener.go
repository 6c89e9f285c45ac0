package poller

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/lesismal/nbio"
)

// listener wraps the net.Listener nbio's acceptor goroutine loops on. nbio
// retries Accept at once on any error that is not a timeout, so a closed
// listener or a process out of descriptors would spin a core. The wrapper
// pauses on EMFILE/ENFILE, and after StopAccepting closes the socket (new
// connections are refused by the kernel) but parks Accept until the engine
// stops.
//
// nbio adopts an accepted connection by duplicating its descriptor, and
// closes the connection without a word when that fails: with one
// descriptor left, every client would be accepted and dropped at once,
// unseen. The wrapper adopts it itself, and while descriptors are
// exhausted it reports each failure and retries every 50 ms with the
// client waiting, instead. (A raw listener, rawaccept_linux.go, hands
// over nbio connections already: there is nothing to duplicate.)
type listener struct {
	net.Listener
	onErr      func(error) // Config.OnAcceptError, or nil
	stopOnce   sync.Once
	stopped    chan struct{} // closed by stopAccepting
	doneOnce   sync.Once
	done       chan struct{} // closed by Close (engine stop)
	acceptOnce sync.Once
	accepting  chan struct{} // closed when nbio's acceptor first calls Accept
}

func newListener(ln net.Listener, onErr func(error)) *listener {
	return &listener{Listener: ln, onErr: onErr, stopped: make(chan struct{}), done: make(chan struct{}), accepting: make(chan struct{})}
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
		return l.adopt(c)
	}
	select {
	case <-l.stopped:
		<-l.done
		return nil, errListenerClosed
	default:
	}
	if l.onErr != nil {
		l.onErr(err)
	}
	if outOfDescriptors(err) {
		// Out of descriptors: wait for some to be released.
		time.Sleep(descriptorPause)
	}
	return nil, err
}

// descriptorPause is how long accepting waits after running out of
// descriptors.
const descriptorPause = 50 * time.Millisecond

func outOfDescriptors(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// adopt turns an accepted connection into nbio's own, retrying while the
// process is out of descriptors (see the type's comment).
func (l *listener) adopt(c net.Conn) (net.Conn, error) {
	for {
		nc, err := nbioConn(c)
		if err == nil {
			return nc, nil
		}
		if l.onErr != nil {
			l.onErr(err)
		}
		if !outOfDescriptors(err) {
			_ = c.Close()
			return nil, err
		}
		select {
		case <-l.stopped:
			_ = c.Close()
			<-l.done
			return nil, errListenerClosed
		case <-time.After(descriptorPause):
		}
	}
}

// nbioConn is nbio.NBConn, whose duplicate of the descriptor is marked
// close-on-exec as Go marks its own sockets, under the same lock that
// os/exec holds while it forks. Without the mark, every process the
// gateway's process starts (a test's client, a hook) would hold every
// connection open at that moment for its whole life: closing one would
// neither end the TCP connection nor leave the poller's epoll set, whose
// events for the stale descriptor number would then reach the next
// connection given that number.
//
// A raw listener's connections are nbio's already, accepted with
// close-on-exec set: they pass through without a system call.
func nbioConn(c net.Conn) (*nbio.Conn, error) {
	if nc, ok := c.(*nbio.Conn); ok {
		return nc, nil
	}
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	nc, err := nbio.NBConn(c)
	if err == nil {
		syscall.CloseOnExec(nc.Hash())
	}
	return nc, err
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
