package main

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"
)

// gorillaEngine runs one goroutine per connection on gorilla/websocket.
type gorillaEngine struct {
	cfg      *config
	payload  []byte
	sh       []*stats // connection i counts in sh[i%len(sh)]
	mu       sync.Mutex
	conns    []*websocket.Conn
	stopping atomic.Bool
	wg       sync.WaitGroup
}

func newGorilla(cfg *config) *gorillaEngine {
	fr := newFrames(cfg.Size, rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1)))
	e := &gorillaEngine{cfg: cfg, payload: fr.Server[len(fr.Server)-cfg.Size:]}
	for range runtime.GOMAXPROCS(0) * 4 {
		e.sh = append(e.sh, &stats{})
	}
	return e
}

func (e *gorillaEngine) shards() []*stats { return e.sh }

// dialer returns a gorilla dialer binding to src when it is valid.
func (e *gorillaEngine) dialer(src net.IP) *websocket.Dialer {
	nd := &net.Dialer{}
	if src != nil {
		nd.LocalAddr = &net.TCPAddr{IP: src}
		nd.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
			})
		}
	}
	return &websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: e.cfg.HandshakeTimeout}
}

func (e *gorillaEngine) connect() {
	dialers := []*websocket.Dialer{e.dialer(nil)}
	if len(e.cfg.Sources) > 0 {
		dialers = dialers[:0]
		for _, a := range e.cfg.Sources {
			dialers = append(dialers, e.dialer(a.AsSlice()))
		}
	}
	url := "ws://" + e.cfg.Host + e.cfg.Path
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(e.cfg.DialConc, e.cfg.Conns) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= e.cfg.Conns {
					return
				}
				st := e.sh[i%len(e.sh)]
				t0 := time.Now()
				c, _, err := dialers[i%len(dialers)].DialContext(context.Background(), url, nil)
				if err != nil {
					st.dialFailed(err)
					continue
				}
				st.opened.Add(1)
				st.hs.add(time.Since(t0))
				e.mu.Lock()
				e.conns = append(e.conns, c)
				e.mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func (e *gorillaEngine) start() {
	for i, c := range e.conns {
		e.wg.Add(1)
		go e.echoLoop(c, e.sh[i%len(e.sh)])
	}
}

// echoLoop sends a message, reads its echo, and again, until stop.
func (e *gorillaEngine) echoLoop(c *websocket.Conn, st *stats) {
	defer e.wg.Done()
	buf := make([]byte, len(e.payload)+1)
	for !e.stopping.Load() {
		t0 := time.Now()
		if err := c.WriteMessage(websocket.BinaryMessage, e.payload); err != nil {
			st.fail(err)
			return
		}
		mt, r, err := c.NextReader()
		if err != nil {
			if !e.stopping.Load() {
				st.fail(err)
			}
			return
		}
		// buf has room for one byte more than the payload: a longer echo
		// fills it, one of the right length ends in (unexpected) EOF.
		n, err := io.ReadFull(r, buf)
		short := err == io.ErrUnexpectedEOF || err == io.EOF
		if err != nil && !short {
			if !e.stopping.Load() { // a deadline of stop's, not an error
				st.fail(err)
			}
			return
		}
		if mt != websocket.BinaryMessage || !short || !bytes.Equal(buf[:n], e.payload) {
			st.fail(errEcho)
			return
		}
		st.msgs.Add(1)
		if st.measuring.Load() {
			st.rtt.add(time.Since(t0))
		}
	}
}

func (e *gorillaEngine) stop() {
	e.stopping.Store(true)
	deadline := time.Now().Add(e.cfg.Drain)
	for _, c := range e.conns {
		_ = c.SetReadDeadline(deadline)
	}
	e.wg.Wait()
	for _, c := range e.conns {
		_ = c.Close()
	}
}
