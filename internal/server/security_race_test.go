package server_test

// A reproduction of a handshake race: a
// request that completes just as its handshake timer fires can be
// upgraded and counted while the timer's close runs OnClose, which then
// finds nothing to release; the slot is lost for the life of the process.

import (
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

// TestHandshakeDeadlineFreesSlots sends 3,000 upgrade requests timed
// around a 30 ms handshake deadline, then checks every one of MaxConns
// (40) slots is free again. The upgrade and the deadline's timer each
// claim the connection with a compare-and-swap, so exactly one of them
// releases its slot; when both could act, 2-4 slots leaked per run and
// -race reported a race on conn.ext.
func TestHandshakeDeadlineFreesSlots(t *testing.T) {
	const maxConns = 40
	srv, addr, _ := secServer(t, func(c *config.Config) {
		c.HandshakeTimeout = 30 * time.Millisecond
		c.Tick = 10 * time.Millisecond
		c.MaxConns = maxConns
		c.ConnRate, c.MaxConnsPerIP, c.MaxConnsPerUser = 0, 0, 0
	})
	tok := "Authorization: Bearer " + hsToken(t, "racer", "r")
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range 3000 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			defer nc.Close()
			time.Sleep(20*time.Millisecond + rand.N(30*time.Millisecond)) // around the deadline
			path := "/echo"
			if i%2 == 0 {
				path = "/room/r"
			}
			if _, err := nc.Write(wstest.Request(addr, path, wstest.NewKey(), tok)); err != nil {
				return
			}
			_ = nc.SetReadDeadline(time.Now().Add(2 * time.Second))
			var b [16]byte
			_, _ = nc.Read(b[:])
		}()
	}
	wg.Wait()
	waitOpen(t, srv, 0, 10*time.Second)
	var cs []*wstest.Conn
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	for i := range maxConns {
		// A leaked slot shows as a refusal (503). The server still has its
		// 30 ms handshake deadline, which a busy machine can miss between
		// the dial and the request: such a connection is closed (EOF)
		// and its slot freed, so it is dialled again.
		c, err := wstest.Connect(addr, "/echo", tok)
		for try := 0; err != nil && strings.Contains(err.Error(), "EOF") && try < 20; try++ {
			c, err = wstest.Connect(addr, "/echo", tok)
		}
		if err != nil {
			t.Fatalf("connection %d of MaxConns %d with none open: %v (slots leaked)", i+1, maxConns, err)
		}
		cs = append(cs, c)
	}
	if st := srv.Stats(); st.Rooms != 0 {
		t.Errorf("rooms left in the hub with no member connected: %+v", st)
	}
}
