package loadtest

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/wsgate/wsgate/loadtest/wsclient"
)

// plainSet holds the slow and stalled readers. They use ordinary blocking
// net.Conns outside the event loop: a stalled reader is never read after its
// handshake (the server's send queue to it fills up), a slow reader is read
// by its own goroutine at Config.SlowRate bytes per second. They are few by
// design (a fraction of the run), so a goroutine each is acceptable.
type plainSet struct {
	e     *env
	mu    sync.Mutex
	conns []*plainConn // guarded by mu
	wg    sync.WaitGroup
	stop  chan struct{}
	once  sync.Once
}

type plainConn struct {
	nc     net.Conn
	slow   bool
	closed bool // slow: the server closed it (set by its reader goroutine)
}

func (s *plainSet) stopCh() chan struct{} {
	s.once.Do(func() { s.stop = make(chan struct{}) })
	return s.stop
}

// start dials one slow (slow=true) or stalled reader in the background.
func (s *plainSet) start(t *wsclient.Target, slow bool) {
	stop := s.stopCh()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		pc, err := s.dial(t, slow)
		if err != nil {
			return
		}
		if slow {
			s.readSlowly(pc, stop)
		}
	}()
}

func (s *plainSet) dial(t *wsclient.Target, slow bool) (*plainConn, error) {
	nc, err := s.e.cl.DialBlocking(t)
	if err != nil {
		return nil, err
	}
	if slow {
		s.e.rec.C.SlowConns.Add(1)
	} else {
		s.e.rec.C.StalledConns.Add(1)
	}
	pc := &plainConn{nc: nc, slow: slow}
	s.mu.Lock()
	s.conns = append(s.conns, pc)
	s.mu.Unlock()
	return pc, nil
}

// readSlowly reads pc at SlowRate bytes per second until stop or an error.
func (s *plainSet) readSlowly(pc *plainConn, stop chan struct{}) {
	rate := s.e.cfg.SlowRate
	chunk := rate / 10
	if chunk < 1 {
		chunk = 1
	}
	br := bufio.NewReaderSize(pc.nc, 16)
	buf := make([]byte, chunk)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		_ = pc.nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, err := br.Read(buf)
		s.e.rec.C.BytesIn.Add(int64(n))
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			s.mu.Lock()
			pc.closed = true
			s.mu.Unlock()
			return
		}
	}
}

// finish stops the slow readers, checks which stalled readers the server
// disconnected (by draining what they never read, up to a bound), and
// closes them all.
func (s *plainSet) finish() {
	close(s.stopCh())
	s.wg.Wait()
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	rec := s.e.rec
	// A disconnect shows only after the unread bytes before it: drain them
	// (bounded, all connections at once) unless the reader saw the end.
	deadline := time.Now().Add(300 * time.Millisecond)
	var wg sync.WaitGroup
	for _, pc := range conns {
		wg.Add(1)
		go func(pc *plainConn) {
			defer wg.Done()
			closed := pc.closed || serverClosed(pc.nc, deadline)
			switch {
			case closed && pc.slow:
				rec.C.SlowClosed.Add(1)
			case closed:
				rec.C.StalledClosed.Add(1)
			}
			_ = pc.nc.Close()
			rec.C.Open.Add(-1)
		}(pc)
	}
	wg.Wait()
}

// serverClosed drains nc for at most 64 MiB or until deadline and reports
// whether it ended with EOF or a reset.
func serverClosed(nc net.Conn, deadline time.Time) bool {
	buf := make([]byte, 64<<10)
	_ = nc.SetReadDeadline(deadline)
	for total := 0; total < 64<<20; {
		n, err := nc.Read(buf)
		total += n
		if err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
	}
	return false
}
