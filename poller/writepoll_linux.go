package poller

import (
	"sync"
	"syscall"
)

// writePoller waits for EPOLLOUT on sockets whose queue the kernel refused,
// then resumes their flush. nbio owns reading; keeping writability in a
// second epoll set lets queues hold references to shared Bufs until the
// bytes are really written, instead of copying leftovers into nbio's own
// write cache.
type writePoller struct {
	epfd  int
	mu    sync.RWMutex
	conns []*Conn // by fd; guarded by mu
	stop  chan struct{}
	done  chan struct{}
}

func newWritePoller() (*writePoller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &writePoller{epfd: fd, stop: make(chan struct{}), done: make(chan struct{})}, nil
}

func (w *writePoller) add(c *Conn) {
	fd := int(c.fd)
	w.mu.Lock()
	if fd >= len(w.conns) {
		n := max(2*len(w.conns), fd+1, 1024)
		grown := make([]*Conn, n)
		copy(grown, w.conns)
		w.conns = grown
	}
	w.conns[fd] = c
	w.mu.Unlock()
}

func (w *writePoller) remove(c *Conn) {
	fd := int(c.fd)
	w.mu.Lock()
	if fd < len(w.conns) && w.conns[fd] == c {
		w.conns[fd] = nil
	}
	w.mu.Unlock()
	// No EPOLL_CTL_DEL: closing the socket already removed it from the
	// set, and by now the descriptor may belong to a new connection.
}

// arm asks for one EPOLLOUT notification for c.
func (w *writePoller) arm(c *Conn) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLOUT | syscall.EPOLLONESHOT, Fd: c.fd}
	err := syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_MOD, int(c.fd), &ev)
	if err == syscall.ENOENT {
		err = syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, int(c.fd), &ev)
	}
	return err
}

func (w *writePoller) run() {
	defer close(w.done)
	var events [256]syscall.EpollEvent
	for {
		n, err := syscall.EpollWait(w.epfd, events[:], 200)
		select {
		case <-w.stop:
			return
		default:
		}
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return
		}
		for i := 0; i < n; i++ {
			fd := int(events[i].Fd)
			w.mu.RLock()
			var c *Conn
			if fd < len(w.conns) {
				c = w.conns[fd]
			}
			w.mu.RUnlock()
			if c == nil {
				continue
			}
			c.nc.Lock()
			c.armed &^= armedPoll
			if closed, _ := c.nc.IsClosed(); closed {
				c.nc.Unlock()
				continue
			}
			_ = c.flushUnlock()
		}
	}
}

func (w *writePoller) close() {
	close(w.stop)
	<-w.done
	syscall.Close(w.epfd)
}
